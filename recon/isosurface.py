"""Iso-surfaces of values on a regular grid: PyTorch3D's marching cubes, made crack-free.

Values are logits (inside > 0) on a grid whose index (i, j, k) is (x, y, z). PyTorch3D's marching
cubes snaps a vertex onto a grid corner whose value is within 1e-5 of the iso-level, and then
gives one corner several vertex ids, which leaves cracks; the values are scaled by 1e4 after
values within 1e-3 of zero are nudged off it (and all clipped to +-50), so nothing snaps.
"""

from __future__ import annotations

import numpy as np

_SCALE = 1e4


def marching_cubes(values: np.ndarray, origin: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Iso-surface at logit 0 of ``values`` (X, Y, Z) whose corner (0, 0, 0) is at ``origin``,
    ``step`` apart: vertices (V, 3) float64 and faces (F, 3) winding counter-clockwise seen from
    outside."""
    import torch
    from pytorch3d.ops.marching_cubes import marching_cubes as p3d_marching_cubes

    # logits beyond +-50 only say "far inside/outside"; |logit| < 1e-3 (a shift of the surface by
    # ~1e-3 cells) is pushed off zero so no vertex comes within PyTorch3D's snapping distance
    vol = np.clip(np.asarray(values, dtype=np.float64), -50.0, 50.0)
    tiny = np.abs(vol) < 1e-3
    vol[tiny] = np.where(vol[tiny] < 0, -1e-3, 1e-3)
    vol = (vol * _SCALE).astype(np.float32)
    verts, faces = p3d_marching_cubes(torch.from_numpy(np.ascontiguousarray(vol.transpose(2, 1, 0)))[None], 0.0, return_local_coords=False)
    if len(verts[0]) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    v = verts[0].numpy().astype(np.float64) * step + origin
    f = faces[0].numpy().astype(np.int64)[:, ::-1]  # PyTorch3D winds inward for inside > iso
    return v, np.ascontiguousarray(f)


def canonical_order(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same mesh with its vertices sorted by position (x, then y, then z) and its faces by
    their vertex indices, each face starting at its smallest index (winding kept): an order that
    depends only on the geometry, not on how a library's extraction or clean-up happened to
    number it (UV unwrapping, and so a golden mesh, depend on the input order)."""
    vertices, faces = np.asarray(vertices), np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        return vertices, faces
    order = np.lexsort(vertices.T[::-1])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    f = rank[faces]
    f = np.take_along_axis(f, (np.argmin(f, axis=1)[:, None] + np.arange(3)) % 3, axis=1)  # a rotation keeps the winding
    f = f[np.lexsort(f.T[::-1])]
    return vertices[order], f
