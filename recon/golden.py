"""Golden meshes: compare a mesh to a stored reference, with numbers in every failure.

A golden file is an ``.npz`` with ``vertices``, ``faces`` and, when textured, ``uvs`` and
``texture``. Topology must match exactly (when required), vertices within ``vertex_atol``,
surfaces within Chamfer / Hausdorff bounds, textures above a PSNR bound. Files are only written
on purpose: ``regen=True`` (pytest ``--force-regen``, ``recon golden update``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recon.errors import GoldenMismatch
from recon.structures import Mesh


@dataclass(frozen=True)
class Tolerance:
    """Bounds in model units (metres for recon's metric meshes); ``None`` skips that check."""

    vertex_atol: float | None = 1e-5
    chamfer: float | None = 1e-5
    hausdorff: float | None = 1e-4
    texture_psnr: float | None = 40.0
    topology: bool = True


@dataclass
class Comparison:
    """The numbers of one comparison and the checks that failed."""

    name: str
    topology_match: bool
    vertex_max_error: float | None
    chamfer: float
    hausdorff: float
    texture_psnr: float | None
    metric: bool
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def _length(self, value: float) -> str:
        return f"{value:.3g} ({value * 1000:.3g} mm)" if self.metric else f"{value:.3g}"

    def summary(self) -> str:
        """One line with every number."""
        parts = [
            f"topology {'same' if self.topology_match else 'DIFFERENT'}",
            f"max vertex error {self._length(self.vertex_max_error) if self.vertex_max_error is not None else 'n/a'}",
            f"chamfer {self._length(self.chamfer)}",
            f"hausdorff {self._length(self.hausdorff)}",
            f"texture PSNR {'n/a' if self.texture_psnr is None else f'{self.texture_psnr:.1f} dB'}",
        ]
        head = f"golden {self.name!r}: " + ("ok" if self.ok else "MISMATCH (" + "; ".join(self.failures) + ")")
        return head + " | " + ", ".join(parts)


def save_golden(mesh: Mesh, path: Path) -> None:
    """Write ``mesh`` as a golden ``.npz``."""
    arrays = {"vertices": mesh.vertices, "faces": mesh.faces}
    if mesh.textured:
        arrays |= {"uvs": mesh.uvs, "texture": mesh.texture}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_golden(path: Path) -> Mesh:
    """Read a golden ``.npz`` back into a :class:`Mesh`."""
    with np.load(path) as data:
        return Mesh(
            data["vertices"],
            data["faces"],
            uvs=data["uvs"] if "uvs" in data else None,
            texture=data["texture"] if "texture" in data else None,
        )


def surface_samples(mesh: Mesh) -> np.ndarray:
    """Deterministic surface points: the vertices and the face centroids."""
    if len(mesh.faces) == 0:
        return mesh.vertices.astype(np.float64)
    centroids = mesh.vertices[mesh.faces].mean(axis=1)
    return np.concatenate([mesh.vertices, centroids]).astype(np.float64)


def chamfer_hausdorff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Symmetric mean (Chamfer-L1: average of both directions) and max (Hausdorff) distances."""
    from scipy.spatial import cKDTree

    d_ab, _ = cKDTree(b).query(a)
    d_ba, _ = cKDTree(a).query(b)
    return float((d_ab.mean() + d_ba.mean()) / 2), float(max(d_ab.max(), d_ba.max()))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of equal shape (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def compare(mesh: Mesh, golden: Mesh, tol: Tolerance = Tolerance(), name: str = "mesh", metric: bool = True) -> Comparison:
    """Compare ``mesh`` to ``golden`` under ``tol``; never raises for a mismatch."""
    topology = mesh.faces.shape == golden.faces.shape and bool(np.array_equal(mesh.faces, golden.faces))
    vmax = float(np.abs(mesh.vertices - golden.vertices).max()) if mesh.vertices.shape == golden.vertices.shape else None
    chamfer, hausdorff = chamfer_hausdorff(surface_samples(mesh), surface_samples(golden))
    tex = None
    if mesh.texture is not None and golden.texture is not None and mesh.texture.shape == golden.texture.shape:
        tex = psnr(mesh.texture, golden.texture)
    result = Comparison(name, topology, vmax, chamfer, hausdorff, tex, metric)
    f = result.failures
    if tol.topology and not topology:
        f.append(f"faces differ ({len(mesh.faces)} vs golden {len(golden.faces)})")
    if tol.vertex_atol is not None and tol.topology and (vmax is None or vmax > tol.vertex_atol):
        f.append(f"vertex error {'shape differs' if vmax is None else f'{vmax:.3g}'} > {tol.vertex_atol:g}")
    if tol.chamfer is not None and chamfer > tol.chamfer:
        f.append(f"chamfer {chamfer:.3g} > {tol.chamfer:g}")
    if tol.hausdorff is not None and hausdorff > tol.hausdorff:
        f.append(f"hausdorff {hausdorff:.3g} > {tol.hausdorff:g}")
    if tol.texture_psnr is not None and (mesh.texture is not None or golden.texture is not None):
        if tex is None:
            f.append("texture missing or of another size")
        elif tex < tol.texture_psnr:
            f.append(f"texture PSNR {tex:.1f} dB < {tol.texture_psnr:g} dB")
    return result


def check(mesh: Mesh, path: Path, tol: Tolerance = Tolerance(), regen: bool = False, metric: bool = True) -> Comparison:
    """Compare ``mesh`` with the golden file at ``path``; write it instead when ``regen``.

    :raises GoldenMismatch: the golden file is missing (and not ``regen``) or the mesh differs.
    """
    name = path.stem
    if regen:
        save_golden(mesh, path)
        return compare(mesh, mesh, tol, name, metric)
    if not path.exists():
        raise GoldenMismatch(f"golden {name!r} not found at {path}; create it on purpose with --force-regen or 'recon golden update'")
    result = compare(mesh, load_golden(path), tol, name, metric)
    if not result.ok:
        raise GoldenMismatch(result.summary())
    return result
