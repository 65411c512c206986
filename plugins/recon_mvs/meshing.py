"""From the fused cloud to a clean mesh: screened Poisson reconstruction (COLMAP's, through
pycolmap), trimmed where the points are sparse, floaters removed, decimated.

Cleaning: Poisson closes every surface, also across holes the photos never saw; ``trim`` (COLMAP's
option, in octree-density units; 0 keeps the surface closed) cuts where the point density is low,
then faces farther than ``reach`` times the cloud's median point spacing from every point go,
and so do the connected pieces with fewer than 2 % of the largest piece's faces (floaters); then
quadric decimation down to ``max_faces``. With ``closed`` (:func:`closed_surface`) nothing is
cut and only the largest piece is kept, so the result is watertight (an object in the middle of
a ring of photos); decimation would pinch thin parts open, so the octree depth is lowered
instead until the piece has at most ``max_faces``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from recon.errors import BadInputError
from recon.structures import Mesh, PointCloud

MIN_POINTS = 500
FLOATER_SHARE = 0.02


def poisson_surface(cloud: PointCloud, depth: int = 9, trim: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) vertices and (F, 3) faces of the screened Poisson surface of ``cloud`` (with normals)."""
    import pycolmap
    import trimesh

    if cloud.normals is None:
        raise ValueError("poisson_surface needs a cloud with normals")
    if len(cloud) < MIN_POINTS:
        raise BadInputError(f"only {len(cloud)} points agree across the views (fewer than {MIN_POINTS}): the photos do not see a common textured surface")
    with tempfile.TemporaryDirectory(prefix="recon-poisson-") as tmp:
        source, target = Path(tmp) / "points.ply", Path(tmp) / "mesh.ply"
        source.write_bytes(PointCloud(cloud.points, normals=cloud.normals).to_ply())
        options = pycolmap.PoissonMeshingOptions()
        options.depth = int(depth)
        options.trim = float(trim)
        options.color = False
        with _quiet_stderr(Path(tmp) / "stderr.txt"):  # PoissonRecon prints warnings straight to fd 2
            pycolmap.poisson_meshing(source, target, options)
        if not target.is_file():
            raise BadInputError("Poisson meshing made no surface from the fused points")
        mesh = trimesh.load(target, process=False, force="mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


@contextlib.contextmanager
def _quiet_stderr(sink: Path) -> Iterator[None]:
    """Send what native code writes to file descriptor 2 into ``sink`` while the block runs."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(sink, "wb") as f:
            os.dup2(f.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_surface(cloud: PointCloud, depth: int = 9, trim: float = 7.0, reach: float = 4.0, max_faces: int = 150_000) -> Mesh:
    """The trimmed, cleaned, decimated surface of a scene (see the module docstring)."""
    import trimesh
    from scipy.spatial import cKDTree

    mesh = trimesh.Trimesh(*poisson_surface(cloud, depth, trim), process=True)
    tree = cKDTree(cloud.points.astype(np.float64))
    spacing = float(np.median(tree.query(cloud.points[:: max(1, len(cloud) // 20000)].astype(np.float64), k=2)[0][:, 1]))
    distance = tree.query(mesh.triangles_center, workers=-1)[0]
    mesh.update_faces(distance <= reach * max(spacing, 1e-9))
    mesh.remove_unreferenced_vertices()
    pieces = _pieces(mesh)
    largest = max(len(p.faces) for p in pieces)
    mesh = trimesh.util.concatenate([p for p in pieces if len(p.faces) >= FLOATER_SHARE * largest])
    if len(mesh.faces) > max_faces:
        mesh = mesh.simplify_quadric_decimation(face_count=max_faces)
    return Mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), name="mvs")


def closed_surface(cloud: PointCloud, depth: int = 9, max_faces: int = 150_000) -> Mesh:
    """The largest piece of the untrimmed surface, at the deepest octree (from ``depth`` down)
    where it is watertight and within ``max_faces``; when no depth gives both, the smallest
    watertight piece found (coarse octrees can leave a pinched, open piece)."""
    import trimesh

    best = None
    for level in range(depth, 4, -1):
        mesh = trimesh.Trimesh(*poisson_surface(cloud, level, 0.0), process=True)
        piece = max(_pieces(mesh), key=lambda p: len(p.faces))
        if piece.is_watertight:
            best = piece
            if len(piece.faces) <= max_faces:
                break
        elif best is not None:
            break
    piece = best if best is not None else piece
    if piece.is_volume and piece.volume < 0:
        piece.invert()
    return Mesh(np.asarray(piece.vertices), np.asarray(piece.faces), name="mvs")


def _pieces(mesh: object) -> list:
    pieces = mesh.split(only_watertight=False)
    if not len(pieces):
        raise BadInputError("the fused points gave no surface: too few views agree on the depth")
    return list(pieces)
