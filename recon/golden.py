"""Golden meshes: compare a mesh to a stored reference, with numbers in every failure.

A golden file is an ``.npz`` with ``vertices``, ``faces`` and, when present, ``uvs`` and
``texture``. Topology must match exactly (when required), vertices within ``vertex_atol``
(Euclidean distance per vertex), UVs within ``uv_atol``, surfaces within Chamfer / Hausdorff
bounds, textures above a PSNR bound. Vertex colours and morph targets are not compared.

Files are only written on purpose: ``regen=True`` (pytest ``--force-regen`` / ``--recon-regen``)
writes a golden that is missing or no longer matches and leaves a matching one untouched;
``recon golden update`` always writes. Files are byte-for-byte reproducible (fixed zip
timestamps), so rewriting an unchanged mesh does not show up as a change in version control.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recon.errors import BadInputError, GoldenMismatch
from recon.structures import Mesh

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Tolerance:
    """Bounds in model units (metres for recon's metric meshes); ``None`` skips that check.

    ``vertex_atol`` bounds the largest Euclidean distance between corresponding vertices and
    ``uv_atol`` the largest per-coordinate UV difference; both need ``topology=True``, since
    only then do vertices correspond. ``texture_psnr`` and ``uv_atol`` set to ``None`` ignore
    the appearance.
    """

    vertex_atol: float | None = 1e-5
    chamfer: float | None = 1e-5
    hausdorff: float | None = 1e-4
    texture_psnr: float | None = 40.0
    topology: bool = True
    uv_atol: float | None = 1e-4


@dataclass
class Comparison:
    """The numbers of one comparison and the checks that failed.

    ``regenerated`` is true when :func:`check` (re)wrote the golden file.
    """

    name: str
    topology_match: bool
    vertex_max_error: float | None
    chamfer: float
    hausdorff: float
    texture_psnr: float | None
    metric: bool
    failures: list[str] = field(default_factory=list)
    uv_max_error: float | None = None
    regenerated: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def _length(self, value: float) -> str:
        if self.metric and math.isfinite(value):
            return f"{value:.3g} ({value * 1000:.3g} mm)"
        return f"{value:.3g}"

    def summary(self) -> str:
        """One line with every number."""
        vmax = self.vertex_max_error
        parts = [
            f"topology {'same' if self.topology_match else 'DIFFERENT'}",
            f"max vertex error {'n/a' if vmax is None else self._length(vmax)}",
            f"chamfer {self._length(self.chamfer)}",
            f"hausdorff {self._length(self.hausdorff)}",
            f"max uv error {'n/a' if self.uv_max_error is None else f'{self.uv_max_error:.3g}'}",
            f"texture PSNR {'n/a' if self.texture_psnr is None else f'{self.texture_psnr:.1f} dB'}",
        ]
        head = f"golden {self.name!r}: " + ("ok" if self.ok else "MISMATCH (" + "; ".join(self.failures) + ")")
        return head + " | " + ", ".join(parts)


def save_golden(mesh: Mesh, path: Path) -> None:
    """Write ``mesh`` as a golden ``.npz`` at exactly ``path`` (no suffix is added).

    The write is atomic and reproducible: the same mesh gives the same bytes.
    """
    path = Path(path)
    arrays = {"vertices": mesh.vertices, "faces": mesh.faces}
    if mesh.uvs is not None:
        arrays["uvs"] = mesh.uvs
    if mesh.texture is not None:
        arrays["texture"] = mesh.texture
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, array in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_golden(path: Path) -> Mesh:
    """Read a golden ``.npz`` back into a :class:`Mesh`.

    :raises BadInputError: the file is not a golden mesh (unreadable, keys missing, bad shapes).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return Mesh(
                data["vertices"],
                data["faces"],
                uvs=data["uvs"] if "uvs" in data else None,
                texture=data["texture"] if "texture" in data else None,
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else "empty or truncated file"
        raise BadInputError(
            f"{path}: not a golden mesh ({type(exc).__name__}: {reason}); write one with 'recon golden update MESH {path}'"
        ) from None


def surface_samples(mesh: Mesh) -> np.ndarray:
    """Deterministic surface points: the vertices and the face centroids."""
    if len(mesh.faces) == 0:
        return mesh.vertices.astype(np.float64)
    centroids = mesh.vertices[mesh.faces].astype(np.float64).mean(axis=1)
    return np.concatenate([mesh.vertices.astype(np.float64), centroids])


def chamfer_hausdorff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Symmetric mean (Chamfer-L1: average of both directions) and max (Hausdorff) distances.

    Both are 0 for two empty sets, inf when only one is empty and nan with non-finite points.
    """
    from scipy.spatial import cKDTree

    if len(a) == 0 or len(b) == 0:
        return (0.0, 0.0) if len(a) == len(b) else (math.inf, math.inf)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan, math.nan
    d_ab, _ = cKDTree(b).query(a)
    d_ba, _ = cKDTree(a).query(b)
    return float((d_ab.mean() + d_ba.mean()) / 2), float(max(d_ab.max(), d_ba.max()))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of equal shape (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"psnr needs images of equal shape, got {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"


def _exceeds(value: float | None, bound: float) -> bool:
    """True when ``value`` is missing, nan or above ``bound`` (nan never passes)."""
    return value is None or not value <= bound


def compare(mesh: Mesh, golden: Mesh, tol: Tolerance = Tolerance(), name: str = "mesh", metric: bool = True) -> Comparison:
    """Compare ``mesh`` to ``golden`` under ``tol``; never raises for a mismatch.

    ``metric`` prints lengths in millimetres too (the model unit is the metre).
    """
    topology = mesh.faces.shape == golden.faces.shape and bool(np.array_equal(mesh.faces, golden.faces))
    same_vertices = mesh.vertices.shape == golden.vertices.shape
    vmax = None
    if same_vertices and len(mesh.vertices):
        diff = mesh.vertices.astype(np.float64) - golden.vertices.astype(np.float64)
        vmax = float(np.sqrt((diff**2).sum(axis=1)).max())
    elif same_vertices:
        vmax = 0.0
    uvmax = None
    if mesh.uvs is not None and golden.uvs is not None and mesh.uvs.shape == golden.uvs.shape and len(mesh.uvs):
        uvmax = float(np.abs(mesh.uvs.astype(np.float64) - golden.uvs.astype(np.float64)).max())
    chamfer, hausdorff = chamfer_hausdorff(surface_samples(mesh), surface_samples(golden))
    tex = None
    if mesh.texture is not None and golden.texture is not None and mesh.texture.shape == golden.texture.shape:
        tex = psnr(mesh.texture, golden.texture)
    result = Comparison(name, topology, vmax, chamfer, hausdorff, tex, metric, uv_max_error=uvmax)
    f, length = result.failures, result._length

    if not np.isfinite(mesh.vertices).all():
        f.append(f"{int((~np.isfinite(mesh.vertices).all(axis=1)).sum())} vertices are not finite")
    if tol.topology and not topology:
        if mesh.faces.shape != golden.faces.shape:
            f.append(f"faces differ ({len(mesh.faces)} faces vs golden {len(golden.faces)})")
        else:
            changed = int((mesh.faces != golden.faces).any(axis=1).sum())
            f.append(f"faces differ ({changed} of {len(mesh.faces)} faces changed)")
    if tol.topology and tol.vertex_atol is not None:
        if not same_vertices:
            f.append(f"vertex count differs ({len(mesh.vertices)} vs golden {len(golden.vertices)})")
        elif _exceeds(vmax, tol.vertex_atol):
            f.append(f"max vertex error {length(vmax)} > {length(tol.vertex_atol)}")
    if tol.chamfer is not None and _exceeds(chamfer, tol.chamfer):
        f.append(f"chamfer {length(chamfer)} > {length(tol.chamfer)}")
    if tol.hausdorff is not None and _exceeds(hausdorff, tol.hausdorff):
        f.append(f"hausdorff {length(hausdorff)} > {length(tol.hausdorff)}")
    if tol.topology and tol.uv_atol is not None and same_vertices and (mesh.uvs is not None or golden.uvs is not None):
        if mesh.uvs is None or golden.uvs is None:
            f.append("uvs missing in the mesh" if mesh.uvs is None else "uvs present but the golden has none")
        elif uvmax is not None and _exceeds(uvmax, tol.uv_atol):
            f.append(f"max uv error {uvmax:.3g} > {tol.uv_atol:g}")
    if tol.texture_psnr is not None and (mesh.texture is not None or golden.texture is not None):
        if mesh.texture is None:
            f.append(f"texture missing in the mesh (golden has a {_size(golden.texture)} texture)")
        elif golden.texture is None:
            f.append(f"mesh has a {_size(mesh.texture)} texture but the golden has none")
        elif tex is None:
            f.append(f"texture size {_size(mesh.texture)} differs from golden {_size(golden.texture)}")
        elif not tex >= tol.texture_psnr:
            f.append(f"texture PSNR {tex:.1f} dB < {tol.texture_psnr:g} dB")
    return result


def check(mesh: Mesh, path: Path, tol: Tolerance = Tolerance(), regen: bool = False, metric: bool = True) -> Comparison:
    """Compare ``mesh`` with the golden file at ``path``.

    With ``regen`` a missing or mismatching golden is (re)written and the returned comparison has
    ``regenerated`` set; a golden that already matches is left untouched.

    :raises GoldenMismatch: the golden file is missing (and not ``regen``) or the mesh differs.
    :raises BadInputError: the golden file exists but is not a golden mesh (and not ``regen``).
    """
    path = Path(path)
    name = path.stem
    if regen:
        if path.exists():
            try:
                result = compare(mesh, load_golden(path), tol, name, metric)
            except BadInputError:
                result = None
            if result is not None and result.ok:
                return result
        save_golden(mesh, path)
        result = compare(mesh, load_golden(path), tol, name, metric)
        result.regenerated = True
        return result
    if not path.exists():
        raise GoldenMismatch(
            f"golden {name!r} not found at {path}; create it on purpose with pytest --force-regen "
            "(or --recon-regen) or 'recon golden update MESH GOLDEN'"
        )
    result = compare(mesh, load_golden(path), tol, name, metric)
    if not result.ok:
        raise GoldenMismatch(result.summary())
    return result
