"""Photometric refinement of a multi-photo face fit: make the photos agree on the skin's colour.

MediaPipe's landmarks are biased on turned heads (they slide towards the silhouette), so a fit to
landmarks alone leaves the camera rotations a few degrees off and the face some 6 % too deep.
Every photo sees the same skin, though: with the right cameras and shape, a point of the face has
the same colour (up to each photo's exposure) in every photo that sees it. This stage samples
points on the skin triangles (not the eye and mouth fills, not the outline), projects them into
every photo that sees them (z-buffer visibility from :mod:`recon.raster`, grazing views left out)
and minimises the robust spread of their colours about the per-point mean, coarse to fine on
band-passed working copies of the photos (the face about ``working_radius_px`` across; a
difference of Gaussians, so slow shading from the lighting drops out). The unknowns are each
photo's pose, focal length (when not known) and colour gain, and the face's depth scale; the shape
otherwise stays the landmark fit's (freer shapes fitted the synthetic renders better and real
photos, with their lighting and expressions, worse). The landmarks stay in the cost with a small
weight: they hold the similarity gauge that photo-consistency cannot see. PyTorch autograd and
L-BFGS, with the unknowns in comparable units (degrees, millimetres, percent).

It needs two photos or more; expressions are left out (fitted afterwards with the cameras kept),
so photos of one neutral face agree best, and photos with strong expressions agree on the rigid
upper face.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera
from recon_face.fit import FitResult, FitSettings, Observation
from recon_face.template import FaceTemplate

if TYPE_CHECKING:
    import torch


@dataclass
class PhotometricSettings:
    """Knobs of the refinement.

    :param blur: Gaussian blur of each level, as a fraction of the face's RMS radius in the photo.
    :param iterations: L-BFGS iterations per level.
    :param subdivisions: sample points per skin triangle = ``subdivisions**2``.
    :param landmark_weight: the landmark cost's weight relative to the landmark fit's.
    :param colour_sigma: colour differences (0-1 RGB) at which the robust loss turns linear.
    :param min_cosine: a photo sees a point only when it faces the camera at least this squarely.
    :param working_radius_px: the face's RMS radius in the working copies of the photos.
    :param band_pass: each level also subtracts a blur this many times wider (a difference of
        Gaussians), so shading that varies slowly across the face (real lighting) is left out; 0
        compares the blurred colours themselves.
    :param skip_outline: leave out the triangles on the face's outline (hair, ears and background
        creep in there).
    :param min_shared_samples: fewer sample points seen by two photos or more than this, and the
        refinement stops (reported in the level's ``skipped``).
    """

    blur: tuple[float, ...] = (0.08, 0.04, 0.02)
    iterations: int = 40
    subdivisions: int = 2
    landmark_weight: float = 0.03
    colour_sigma: float = 0.03
    min_cosine: float = 0.25
    working_radius_px: float = 80.0
    band_pass: float = 3.0
    skip_outline: bool = True
    min_shared_samples: int = 200


def barycentric_samples(n: int) -> np.ndarray:
    """(n², 3) barycentric coordinates of the centroids of a triangle's n² sub-triangles."""
    out = []
    for i in range(n):
        for j in range(n - i):
            out.append(((i + 1 / 3) / n, (j + 1 / 3) / n))
            if i + j < n - 1:
                out.append(((i + 2 / 3) / n, (j + 2 / 3) / n))
    b = np.array(out)
    return np.column_stack([1.0 - b.sum(1), b])


@dataclass
class _WorkingPhoto:
    """A photo cropped around the face and scaled: ``A`` maps full-resolution pixels to its pixels."""

    image: np.ndarray  # (h, w, 3) float32 0-1
    A: np.ndarray  # (3, 3)


def _working_photo(image: np.ndarray, landmarks: np.ndarray, radius: float, target: float) -> _WorkingPhoto:
    from PIL import Image

    h, w = image.shape[:2]
    lo, hi = landmarks.min(0), landmarks.max(0)
    margin = 0.25 * (hi - lo)
    x0, y0 = (np.floor(np.maximum(lo - margin, 0))).astype(int)
    x1, y1 = (np.ceil(np.minimum(hi + margin, [w - 1, h - 1]))).astype(int) + 1
    crop = image[y0:y1, x0:x1, :3]
    s = min(1.0, target / max(radius, 1e-6))
    cw, ch = max(int(round((x1 - x0) * s)), 2), max(int(round((y1 - y0) * s)), 2)
    small = np.asarray(Image.fromarray(crop).resize((cw, ch), Image.BILINEAR if s == 1.0 else Image.LANCZOS), dtype=np.float32) / 255.0
    sx, sy = cw / (x1 - x0), ch / (y1 - y0)
    # pixel centres at integers (OpenCV): u' = (u - x0 + 0.5) sx - 0.5
    A = np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5], [0.0, 0.0, 1.0]])
    return _WorkingPhoto(small, A)


def refine(
    template: FaceTemplate,
    observations: list[Observation],
    images: list[np.ndarray],
    start: FitResult,
    settings: PhotometricSettings | None = None,
    fit_settings: FitSettings | None = None,
) -> FitResult:
    """Refine ``start``'s identity and cameras (its expressions are ignored) so the photos agree
    on the skin's colour; returns a neutral :class:`FitResult` with the refined identity, cameras,
    projections and landmark errors."""
    import torch

    from recon.device import one_blas_thread

    cfg = settings or PhotometricSettings()
    with one_blas_thread(), torch.no_grad():
        return _refine(template, observations, images, start, cfg, fit_settings or FitSettings(neutral=True))


def _rotation(w: torch.Tensor) -> torch.Tensor:
    """Rodrigues: (K, 3) rotation vectors -> (K, 3, 3), differentiable at zero."""
    import torch

    theta = torch.sqrt((w * w).sum(1, keepdim=True) + 1e-24)
    k = w / theta
    z = torch.zeros_like(k[:, 0])
    Kx = torch.stack([z, -k[:, 2], k[:, 1], k[:, 2], z, -k[:, 0], -k[:, 1], k[:, 0], z], 1).reshape(-1, 3, 3)
    s, c = torch.sin(theta)[..., None], torch.cos(theta)[..., None]
    return torch.eye(3, dtype=w.dtype) + s * Kx + (1 - c) * (Kx @ Kx)


def _camera(K: np.ndarray, focal_scale: float, R: np.ndarray, t_mm: np.ndarray, width: int, height: int, name: str = "") -> Camera:
    """A :class:`Camera` from intrinsics whose focal length is scaled, a pose in millimetres."""
    K = K.copy()
    K[:2, :2] *= focal_scale
    return Camera(K=K, R=R.copy(), t=t_mm / 1000.0, width=width, height=height, name=name)


def _seen(
    vertices: np.ndarray, faces: np.ndarray, skin: np.ndarray, sample_face: np.ndarray, points: np.ndarray, camera: Camera, min_cosine: float
) -> np.ndarray:
    """(N,) how well ``camera`` sees each sample point (metres): cos² of its skin triangle's
    normal to the ray, 0 where hidden (z-buffer), outside the photo or seen too obliquely."""
    from recon.raster import rasterize_view

    normals = np.cross(vertices[skin[:, 1]] - vertices[skin[:, 0]], vertices[skin[:, 2]] - vertices[skin[:, 0]])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    ray = camera.center - points
    cos = (normals[sample_face] * ray).sum(1) / np.linalg.norm(ray, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        px = np.round(camera.project(points)).astype(int)
    w, h = camera.width, camera.height
    inside = (px[:, 0] >= 1) & (px[:, 1] >= 1) & (px[:, 0] < w - 1) & (px[:, 1] < h - 1)
    px = np.clip(px, 0, [w - 1, h - 1])
    depth = rasterize_view(vertices, faces, camera).depth
    front = np.abs(depth[px[:, 1], px[:, 0]] - camera.world_to_camera(points)[:, 2]) < 0.002  # 2 mm
    return np.where(inside & front & (cos > min_cosine), cos**2, 0.0)


def _band_passed(photo: torch.Tensor, sigma: float, band_pass: float) -> torch.Tensor:
    """A Gaussian blur of ``photo`` (1, 3, h, w) at ``sigma`` pixels, minus one ``band_pass``
    times wider (when ``band_pass`` > 0): slow shading from the lighting drops out."""
    import kornia

    def blur(s: float) -> torch.Tensor:
        size = 2 * math.ceil(3 * s) + 1
        return kornia.filters.gaussian_blur2d(photo, (size, size), (s, s))

    return blur(sigma) - blur(band_pass * sigma) if band_pass else blur(sigma)


def _refine(
    template: FaceTemplate,
    observations: list[Observation],
    images: list[np.ndarray],
    start: FitResult,
    cfg: PhotometricSettings,
    fcfg: FitSettings,
) -> FitResult:
    import torch

    t_start = time.perf_counter()
    dt = torch.float64
    K = len(observations)
    pts_np = np.stack([o.points for o in observations]).astype(np.float64)
    radius_np = np.sqrt(((pts_np - pts_np.mean(1, keepdims=True)) ** 2).sum(-1).mean(1))
    work = [_working_photo(im, o.points, r, cfg.working_radius_px) for im, o, r in zip(images, observations, radius_np)]
    Kfull = np.stack([c.K for c in start.cameras])
    Kw = torch.tensor(np.stack([w.A @ Kk for w, Kk in zip(work, Kfull)]), dtype=dt)  # working intrinsics
    Kf = torch.tensor(Kfull, dtype=dt)
    pts = torch.tensor(pts_np, dtype=dt)
    radius = torch.tensor(radius_np, dtype=dt)
    view_w = torch.tensor([o.weight for o in observations], dtype=dt)
    lw_np = np.stack([np.where(template.contour, fcfg.contour_weight, 1.0) * np.where(o.visible > 0.5, 1.0, fcfg.outside_weight) for o in observations])
    lw = torch.tensor(lw_np / lw_np.sum(1, keepdims=True), dtype=dt) * view_w[:, None]
    free_f = torch.tensor([0.0 if o.focal_known else 1.0 for o in observations], dtype=dt)

    skin = template.faces[template.kind == 0]
    if cfg.skip_outline:  # hair and background creep in along the face's outline
        skin = skin[~template.contour[skin].any(1)]
    bary = barycentric_samples(cfg.subdivisions)
    sample_face = np.repeat(np.arange(len(skin)), len(bary))
    sample_bary = torch.tensor(np.tile(bary, (len(skin), 1)), dtype=dt)
    sample_tri = torch.tensor(skin[sample_face])
    photos = [torch.tensor(w.image).permute(2, 0, 1)[None] for w in work]

    R0 = torch.tensor(np.stack([c.R for c in start.cameras]), dtype=dt)
    t0 = torch.tensor(np.stack([c.t * 1000.0 for c in start.cameras]), dtype=dt)
    X0 = torch.tensor(start.identity * 1000.0, dtype=dt)
    centre = X0.mean(0)
    depth_axis = torch.tensor([0.0, 0.0, 1.0], dtype=dt)  # the template looks along +Z
    # unknowns in units that move the picture comparably (L-BFGS is not scale-free): rotations in
    # degrees, translations in mm, the depth scale, focal lengths and gains in percent
    unit_rot, unit_pct = math.radians(1.0), 0.01
    log_depth = torch.zeros(1, dtype=dt, requires_grad=True)
    w_rot = torch.zeros(K, 3, dtype=dt, requires_grad=True)
    d_t = torch.zeros(K, 3, dtype=dt, requires_grad=True)
    d_logf = torch.zeros(K, dtype=dt, requires_grad=True)
    log_gain = torch.zeros(K, 3, dtype=dt, requires_grad=True)

    def model() -> tuple:
        X = centre + (X0 - centre) * torch.exp(log_depth * unit_pct * depth_axis)
        R = _rotation(w_rot * unit_rot) @ R0
        t = t0 + d_t
        scale = torch.exp(d_logf * unit_pct * free_f)
        return X, R, t, scale

    def project(P: torch.Tensor, R: torch.Tensor, t: torch.Tensor, scale: torch.Tensor, Kmat: torch.Tensor) -> tuple:
        """P (N, 3) in mm -> (K, N, 2) pixels with intrinsics Kmat whose focal is scaled."""
        Xc = P[None] @ R.transpose(1, 2) + t[:, None]
        z = Xc[..., 2]
        f = Kmat[:, 0, 0] * scale
        u = f[:, None] * Xc[..., 0] / z + Kmat[:, 0, 2, None]
        v = f[:, None] * Xc[..., 1] / z + Kmat[:, 1, 2, None]
        return torch.stack([u, v], -1), z

    levels: list[dict] = []
    for sigma in cfg.blur:
        with torch.no_grad():
            X, R, t, scale = model()
            P = (sample_bary[:, :, None] * X[sample_tri]).sum(1)
            Xm, Pm = X.numpy() / 1000.0, P.numpy() / 1000.0
            seen = np.zeros((K, len(sample_face)))
            for k in range(K):
                h, w = work[k].image.shape[:2]
                cam = _camera(Kw[k].numpy(), float(scale[k]), R[k].numpy(), t[k].numpy(), w, h)
                seen[k] = _seen(Xm, template.faces, skin, sample_face, Pm, cam, cfg.min_cosine) * float(view_w[k])
            keep = (seen > 0).sum(0) >= 2
            if keep.sum() < cfg.min_shared_samples:  # e.g. two profiles: nothing to compare
                levels.append({"blur": sigma, "samples": int(keep.sum()), "skipped": "the photos share too little visible skin"})
                break
            vis = torch.tensor(seen[:, keep], dtype=dt)
            blurred = [_band_passed(photos[k], float(sigma * radius_np[k] * work[k].A[0, 0]), cfg.band_pass).to(dt) for k in range(K)]
        tri, bar = sample_tri[keep], sample_bary[keep]

        def closure() -> torch.Tensor:
            opt.zero_grad()
            X, R, t, scale = model()
            uvl, _ = project(X, R, t, scale, Kf)
            d2 = ((uvl - pts) ** 2).sum(-1) / (radius[:, None] * fcfg.sigma) ** 2
            landmarks = (2.0 * (torch.sqrt(1.0 + d2) - 1.0) * lw).sum()
            P = (bar[:, :, None] * X[tri]).sum(1)
            uv, _ = project(P, R, t, scale, Kw)
            colours = []
            for k in range(K):
                h, w = blurred[k].shape[-2:]
                grid = torch.stack([(2 * uv[k, :, 0] + 1) / w - 1, (2 * uv[k, :, 1] + 1) / h - 1], -1)[None, None]
                c = torch.nn.functional.grid_sample(blurred[k], grid, mode="bilinear", align_corners=False, padding_mode="border")[0, :, 0].T
                colours.append(c * torch.exp(log_gain[k] * unit_pct))
            C = torch.stack(colours)
            mean = (vis[..., None] * C).sum(0) / vis.sum(0)[:, None]
            r2 = ((C - mean) ** 2).sum(-1) / cfg.colour_sigma**2
            photo = (vis * 2.0 * (torch.sqrt(1.0 + r2) - 1.0)).sum() / vis.sum() * K
            prior = fcfg.focal_prior * ((d_logf * unit_pct * free_f) ** 2).sum()
            prior = prior + 100.0 * ((log_gain * unit_pct).mean(0) ** 2).sum()  # the gains' mean stays 1
            loss = cfg.landmark_weight * landmarks + photo + prior
            loss.backward()
            return loss

        opt = torch.optim.LBFGS([log_depth, w_rot, d_t, d_logf, log_gain], lr=1, max_iter=cfg.iterations, line_search_fn="strong_wolfe", history_size=20)
        with torch.enable_grad():
            first = float(closure().detach())
            opt.step(closure)
            last = float(closure().detach())
        levels.append({"blur": sigma, "samples": int(keep.sum()), "cost_before": round(first, 4), "cost_after": round(last, 4)})

    X, R, t, scale = (x.detach() for x in model())
    identity = X.numpy() / 1000.0
    cameras = []
    for k, o in enumerate(observations):
        cameras.append(_camera(Kfull[k], float(scale[k]), R[k].numpy(), t[k].numpy(), o.width, o.height, o.name))
    projected = [c.project(identity) for c in cameras]
    errors = [np.linalg.norm(p - o.points, axis=1) for p, o in zip(projected, observations)]
    timings = {**start.timings, "photometric": time.perf_counter() - t_start}
    zero = [np.zeros_like(identity) for _ in observations]
    return FitResult(identity, zero, cameras, projected, errors, start.cost, start.iterations, timings, {"photometric_levels": levels})
