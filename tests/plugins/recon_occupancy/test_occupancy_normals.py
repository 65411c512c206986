"""Normals: PCA, flood-fill orientation, spanning-tree propagation."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from recon_occupancy.normals import coarse_field, orient_normals, pca_normals


def torus_cloud(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, trimesh.Trimesh]:
    """Points on a torus around the Z axis (radii 0.3 and 0.1)."""
    tm = trimesh.creation.torus(0.3, 0.1, major_sections=64, minor_sections=32)
    pts, _ = trimesh.sample.sample_surface(tm, n, seed=seed)
    return np.asarray(pts), tm


def test_normals_are_oriented_outward_on_a_torus() -> None:
    pts, tm = torus_cloud()
    tree = cKDTree(pts)
    n = orient_normals(pts, pca_normals(pts, tree, 20), tree, coarse_field(pts))[0]
    # outward for a torus: away from the tube's centre circle
    rho = np.hypot(pts[:, 0], pts[:, 1])
    centre = np.stack([pts[:, 0] * 0.3 / rho, pts[:, 1] * 0.3 / rho, np.zeros(len(pts))], axis=1)
    outward = pts - centre
    assert ((n * outward).sum(axis=1) > 0).mean() > 0.99


def test_orientation_without_an_interior_uses_the_tree() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.5, 0.5, (3000, 2))
    pts = np.stack([xy[:, 0], xy[:, 1], 0.1 * np.sin(3 * xy[:, 0])], axis=1)  # an open sheet
    assert coarse_field(pts) is None
    tree = cKDTree(pts)
    n, _ = orient_normals(pts, pca_normals(pts, tree, 20), tree, None)
    assert abs(np.sign(n[:, 2]).mean()) > 0.99  # all on one side
