"""Unoriented normals from local PCA, and their orientation.

Orientation (Hoppe et al. 1992, seeded globally): a flood fill of the empty space around the
voxelised points, from the grid border inwards, finds the inside; tried from fine to coarse grids
until an interior appears, so holes in a scan close at the coarser grids. Each normal points to
where the blurred fill is more "outside"; where that cannot tell (thin parts, no interior at all)
the orientation comes from confident neighbours along a minimum spanning tree of the k-NN graph
weighted by normal agreement. Without any interior, one extreme point seeds the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial import cKDTree

PAD = 0.05
"""Padding of the working cube around the unit-cube-normalised cloud: the domain is [-0.55, 0.55]^3."""


def pca_normals(points: np.ndarray, tree: cKDTree, k: int = 20) -> np.ndarray:
    """Unoriented unit normals: the least-variance direction of each point's k neighbours."""
    k = min(k, len(points))
    _, idx = tree.query(points, k=k, workers=-1)
    nb = torch.as_tensor(points[idx])
    nb = nb - nb.mean(dim=1, keepdim=True)
    _, vecs = torch.linalg.eigh(nb.transpose(1, 2) @ nb)
    return vecs[:, :, 0].numpy()


@dataclass
class CoarseField:
    """Flood-fill inside/outside on a voxel grid over the padded unit cube.

    ``outside`` is a float grid: 1 for voxels the flood reaches, 0 inside, 0.5 on the voxels that
    hold points (dilated), then Gaussian-blurred by one voxel.
    """

    resolution: int
    lo: float
    step: float
    outside: np.ndarray
    interior_fraction: float

    def sample(self, x: np.ndarray) -> np.ndarray:
        """Trilinear value of ``outside`` at points (N, 3) (1 beyond the grid)."""
        idx = (x - self.lo) / self.step - 0.5
        return ndimage.map_coordinates(self.outside, idx.T, order=1, mode="constant", cval=1.0)


def coarse_field(points: np.ndarray, resolutions: tuple[int, ...] = (96, 64, 48, 32, 24, 16)) -> CoarseField | None:
    """The finest flood fill with a real interior, or ``None`` (an open sheet, a line of points).

    A grid counts when its interior holds at least a quarter as many voxels as the shell of
    point-holding voxels, so a scan with holes falls through to a grid coarse enough to close them.
    """
    lo, hi = -0.5 - PAD, 0.5 + PAD
    for res in resolutions:
        step = (hi - lo) / res
        ijk = np.clip(((points - lo) / step).astype(np.int64), 0, res - 1)
        shell = np.zeros((res, res, res), dtype=bool)
        shell[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True
        shell = ndimage.binary_dilation(shell, iterations=1)
        free = ~shell
        labels, _ = ndimage.label(free)
        border = np.unique(np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(), labels[:, :, [0, -1]].ravel()]))
        exterior = np.isin(labels, border[border > 0])
        interior = free & ~exterior
        n_in, n_shell = int(interior.sum()), int(shell.sum())
        if n_in >= 0.25 * n_shell and n_in > 0:
            outside = np.where(exterior, 1.0, np.where(interior, 0.0, 0.5)).astype(np.float32)
            outside = ndimage.gaussian_filter(outside, 1.0, mode="nearest")
            return CoarseField(res, lo, step, outside, n_in / float(res**3))
    return None


def orient_normals(
    points: np.ndarray, normals: np.ndarray, tree: cKDTree, coarse: CoarseField | None, k: int = 10
) -> tuple[np.ndarray, dict[str, float]]:
    """Consistently outward normals (see the module docs); returns (normals, figures)."""
    n = len(points)
    normals = normals.copy()
    confident = np.zeros(n, dtype=bool)
    if coarse is not None:
        delta = 1.5 * coarse.step
        diff = coarse.sample(points + delta * normals) - coarse.sample(points - delta * normals)
        normals[diff < 0] *= -1
        confident = np.abs(diff) > 0.15
    if not confident.any():
        seed = int(np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1)))
        if np.dot(normals[seed], points[seed] - points.mean(axis=0)) < 0:
            normals[seed] *= -1
        confident[seed] = True
    propagated = _propagate(points, normals, tree, confident, k)
    return propagated, {"confident_fraction": round(float(confident.mean()), 4)}


def _propagate(points: np.ndarray, normals: np.ndarray, tree: cKDTree, confident: np.ndarray, k: int) -> np.ndarray:
    """Flip unconfident normals to agree with their parent in a minimum spanning tree rooted at a
    virtual node joined to every confident point."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

    n = len(points)
    if confident.all():
        return normals
    k = min(k + 1, n)
    _, idx = tree.query(points, k=k, workers=-1)
    rows = np.repeat(np.arange(n), k - 1)
    cols = idx[:, 1:].ravel()
    w = 1.0 - np.abs((normals[rows] * normals[cols]).sum(axis=1)) + 1e-3
    root = n
    conf = np.flatnonzero(confident)
    rows = np.concatenate([rows, np.full(len(conf), root)])
    cols = np.concatenate([cols, conf])
    w = np.concatenate([w, np.full(len(conf), 1e-6)])
    graph = coo_matrix((w, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    graph = graph.maximum(graph.T)
    mst = minimum_spanning_tree(graph)
    mst = mst + mst.T
    order, pred = breadth_first_order(mst, root, directed=False, return_predecessors=True)
    out = normals.copy()
    for node in order[1:]:
        parent = pred[node]
        if parent != root and parent >= 0 and np.dot(out[node], out[parent]) < 0:
            out[node] = -out[node]
    # points the tree did not reach (disconnected k-NN components) keep their coarse orientation
    return out
