"""Inside/outside supervision for fitting an occupancy network to one point cloud (fit mode).

How a cloud without normals becomes labelled training points:

1. **Normalise** into the unit cube (bounding-box centre, longest side 1); large clouds are
   subsampled (``max_points``).
2. **Normals** by PCA of the 20 nearest neighbours, **oriented** by a flood fill of the empty
   space plus a minimum spanning tree (:mod:`recon_occupancy.normals`); normals in the file are
   used as given.
3. **Denoise** by projecting every point onto its osculating quadric (jets,
   :mod:`recon_occupancy.jets`), the neighbourhood size chosen by leave-one-out cross-validation.
4. **Signed distance near the points**: implicit moving least squares (Kolluri 2005) over the
   neighbours' quadrics rather than their tangent planes (no bulge on curved parts), restricted to
   the nearest point's sheet (thin parts stay thin).
5. **Inside/outside elsewhere**: the generalised winding number of the oriented points
   (:mod:`recon_occupancy.winding`): beyond a band around the points, and beside a sheet (past a
   rim or a tip) where the half-space test of IMLS extrapolates badly. Holes in a scan get a
   smooth, minimal-looking cap, as with Poisson.

Occupancy targets are ``sigmoid(-d / tau)``: soft near the surface, 0/1 away from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from recon.errors import BadInputError
from recon_occupancy.jets import Jets, choose_jet_k, jet_denoise
from recon_occupancy.normals import PAD, CoarseField, coarse_field, orient_normals, pca_normals
from recon_occupancy.winding import point_areas, winding_number

__all__ = [
    "PAD", "CoarseField", "Jets", "Normalization", "Supervision", "build_supervision", "check_points", "choose_jet_k",
    "coarse_field", "imls", "jet_denoise", "normalize", "orient_normals", "pca_normals", "point_areas", "spacing",
    "subsample", "training_points", "winding_number",
]

@dataclass
class Normalization:
    """``normalised = (world - centre) / scale``."""

    centre: np.ndarray
    scale: float

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.centre) / self.scale

    def to_world(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self.scale + self.centre


def check_points(points: np.ndarray, source: str = "points") -> None:
    """Reject clouds no surface can be fitted to.

    :raises BadInputError: fewer than 10 points, non-finite values, all points identical or
        (nearly) collinear.
    """
    n = len(points)
    if n == 0:
        raise BadInputError(f"{source}: the point cloud is empty; give a cloud of at least 10 points")
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points).all(axis=1)).sum())
        raise BadInputError(f"{source}: {bad} points are NaN or infinite; remove them and re-export")
    if n < 10:
        raise BadInputError(f"{source}: only {n} point{'s' if n != 1 else ''}; a surface needs at least 10")
    extent = points.max(axis=0) - points.min(axis=0)
    size = float(extent.max())
    if size <= 1e-12 * max(1.0, float(np.abs(points).max())):
        raise BadInputError(f"{source}: all {n} points are identical; there is no surface to mesh")
    centred = points - points.mean(axis=0)
    sv = np.linalg.svd(centred[:: max(1, n // 20000)], compute_uv=False)
    if sv[1] <= 1e-6 * sv[0]:
        raise BadInputError(f"{source}: the {n} points lie on a line; there is no surface to mesh")


def normalize(points: np.ndarray) -> Normalization:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return Normalization(centre=(lo + hi) / 2, scale=float((hi - lo).max()))


def subsample(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points (all when fewer), sorted."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(rng.choice(n, max_points, replace=False))


def spacing(tree: cKDTree, points: np.ndarray, k: int = 6) -> float:
    """Typical distance between neighbouring points (median of the mean k-NN distance)."""
    sample = points[:: max(1, len(points) // 5000)]
    d, _ = tree.query(sample, k=k + 1, workers=-1)
    return float(np.median(d[:, 1:].mean(axis=1)))


def imls(
    query: np.ndarray, points: np.ndarray, normals: np.ndarray, tree: cKDTree, h: float, k: int = 16, jets: Jets | None = None
) -> np.ndarray:
    """Signed distance (positive outside) of the IMLS surface at ``query`` (N, 3): a Gaussian-weighted
    average of the distances to the neighbours' tangent planes, or, given ``jets``, to their
    osculating quadrics (which removes the plane version's bulge on curved parts)."""
    k = min(k, len(points))
    d, idx = tree.query(query, k=k, workers=-1)
    d2 = d**2
    w = np.exp(-(d2 - d2[:, :1]) / (h * h))
    # only the sheet of the nearest point: across a thin part the far side's normals face away
    w = w * ((normals[idx] * normals[idx[:, :1]]).sum(axis=2) > -0.3)
    diff = query[:, None, :] - points[idx]
    plane = (diff * normals[idx]).sum(axis=2)
    if jets is not None:
        r = jets.radius[idx]
        u = np.clip((diff * jets.t1[idx]).sum(axis=2), -r, r)
        v = np.clip((diff * jets.t2[idx]).sum(axis=2), -r, r)
        q = jets.quad[idx]
        plane = plane - (q[..., 0] * u * u + q[..., 1] * u * v + q[..., 2] * v * v)
    return (w * plane).sum(axis=1) / w.sum(axis=1)


@dataclass
class Supervision:
    """Denoised, oriented points and the signed field that labels training points.

    :param points: jet-denoised points (N, 3) in the normalised frame.
    :param normals: their outward unit normals.
    :param band: IMLS is used within this distance of the points; the winding number beyond.
    :param gwn_points: the subsample (with ``gwn_weights`` = area x normal) the winding number sums.
    """

    points: np.ndarray
    normals: np.ndarray
    tree: cKDTree
    spacing: float
    bandwidth: float
    band: float
    gwn_points: np.ndarray
    gwn_weights: np.ndarray
    figures: dict[str, float | int | str]
    jets: Jets | None = None
    far_field: Callable[[np.ndarray], np.ndarray] | None = None
    _coarse_w: np.ndarray | None = None

    def winding(self, x: np.ndarray) -> np.ndarray:
        """Exact winding number of the subsample at ``x`` (or the ``far_field`` given instead,
        e.g. the occupancy prior's inside probability)."""
        if self.far_field is not None:
            return np.asarray(self.far_field(np.asarray(x, dtype=np.float32)), dtype=np.float64)
        return winding_number(x, self.gwn_points, self.gwn_weights, np.ones(len(self.gwn_points)))

    def coarse_winding(self, x: np.ndarray) -> np.ndarray:
        """Winding number trilinearly interpolated from a 33^3 grid over the domain (for points far
        from the surface, where it varies slowly)."""
        if self._coarse_w is None:
            axis = np.linspace(-0.5 - PAD, 0.5 + PAD, 33)
            grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
            self._coarse_w = self.winding(grid).reshape(33, 33, 33)
        idx = (np.asarray(x) + 0.5 + PAD) / ((1 + 2 * PAD) / 32)
        return ndimage.map_coordinates(self._coarse_w, idx.T, order=1, mode="nearest")

    def signed_distance(self, x: np.ndarray, k: int = 16) -> np.ndarray:
        """Signed distance (positive outside) at ``x`` (N, 3).

        Within ``band`` of the points: IMLS. Its sign is trusted only where ``x`` lies roughly
        along the nearest point's normal; off to the side of a sheet (beyond a rim, an ear tip, a
        crease) the half-space test extrapolates badly, so there, and everywhere beyond the band,
        the sign comes from the generalised winding number (exact up to two band widths, from a
        coarse grid beyond two) and the size from the distance to the nearest point.
        """
        x = np.asarray(x, dtype=np.float64)
        near, j = self.tree.query(x, k=1, workers=-1)
        d = near.copy()
        in_band = near <= self.band
        exact = (near > self.band) & (near <= 2 * self.band)
        if in_band.any():
            xb = x[in_band]
            d[in_band] = imls(xb, self.points, self.normals, self.tree, self.bandwidth, k, self.jets)
            off = ((xb - self.points[j[in_band]]) * self.normals[j[in_band]]).sum(axis=1)
            lateral = (np.abs(off) < 0.7 * near[in_band]) & (near[in_band] > 0.5 * self.spacing)
            exact[np.flatnonzero(in_band)[lateral]] = True
        w = np.zeros(len(x))
        if exact.any():
            w[exact] = self.winding(x[exact])
        far = ~in_band & ~exact
        if far.any():
            w[far] = self.coarse_winding(x[far])
        ask = exact | far
        magnitude = np.where(in_band[ask], np.maximum(np.abs(d[ask]), 1e-5), near[ask])
        d[ask] = np.where(w[ask] < 0.5, magnitude, -magnitude)
        return d


def build_supervision(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    k_normals: int = 20,
    k_jet: int = -1,
    jet_passes: int = 1,
    use_quadrics: bool = True,
    bandwidth: float | None = None,
    band: float | None = None,
    gwn_points: int = 3000,
    seed: int = 0,
) -> Supervision:
    """Normals, orientation, jet denoising and the winding-number sources for unit-cube-normalised
    ``points`` (see the module docs)."""
    import time

    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    rng = np.random.default_rng(seed)
    tree = cKDTree(points)
    s = spacing(tree, points)
    figures: dict[str, float | int | str] = {"points": int(len(points)), "spacing": round(s, 6)}
    have = normals is not None and np.isfinite(normals).all() and bool((np.linalg.norm(normals, axis=1) > 1e-6).all())
    if have:
        normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        figures["normals"] = "given"
    else:
        coarse = coarse_field(points)
        figures["flood_fill_resolution"] = coarse.resolution if coarse is not None else 0
        lap("flood_fill")
        normals = pca_normals(points, tree, k_normals)
        lap("normals")
        normals, fig = orient_normals(points, normals, tree, coarse)
        lap("orient")
        figures.update(fig)
        figures["normals"] = "estimated"
    jets = None
    if k_jet == 0:
        figures["k_jet"] = 0
    else:
        if k_jet < 0:  # automatic
            k_jet, cv = choose_jet_k(points, normals, tree, seed=seed)
            figures["jet_cv_error"] = {str(k): float(f"{e:.4g}") for k, e in cv.items()}
        figures["k_jet"] = int(k_jet)
    for _ in range(jet_passes if k_jet > 0 else 0):
        jets = jet_denoise(points, normals, tree, k_jet)
        points, normals = jets.points, jets.normals
        tree = cKDTree(points)
    if not use_quadrics:
        jets = None
    lap("jets")
    h = (bandwidth if bandwidth is not None else 1.0) * s
    band_width = band if band is not None else max(2.0 * s, 0.02)
    sub = rng.choice(len(points), min(gwn_points, len(points)), replace=False)
    areas = point_areas(points, tree) * (len(points) / len(sub))
    lap("areas")
    figures.update({"bandwidth": round(h, 6), "band": round(band_width, 6), "timings_s": timings})
    return Supervision(points, normals, tree, s, h, band_width, points[sub], normals[sub] * areas[sub, None], figures, jets)


def training_points(
    sup: Supervision, n: int, rng: np.random.Generator, cell: float, uniform_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled points: most near the surface (two noise scales), the rest uniform in the
    domain; returns (points (n, 3) float32, signed distance (n,) float32)."""
    lo, hi = -0.5 - PAD, 0.5 + PAD
    n_uni = int(n * uniform_fraction)
    n_near = n - n_uni
    base = sup.points[rng.integers(0, len(sup.points), n_near)]
    scales = np.where(rng.random(n_near) < 0.5, 0.75 * cell, 3.0 * cell)[:, None]
    near = base + scales * rng.normal(size=(n_near, 3))
    uni = rng.uniform(lo, hi, (n_uni, 3))
    x = np.clip(np.concatenate([near, uni]), lo, hi)
    return x.astype(np.float32), sup.signed_distance(x).astype(np.float32)


