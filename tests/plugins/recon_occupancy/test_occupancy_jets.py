"""Jets: quadric projection and the cross-validated neighbourhood size."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from recon_occupancy.jets import choose_jet_k, jet_denoise


def sphere_cloud(n: int = 4000, noise: float = 0.0, seed: int = 0, radius: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p = radius * p / np.linalg.norm(p, axis=1, keepdims=True)
    return p + rng.normal(0, noise, p.shape)


def test_jets_remove_noise_and_keep_the_radius() -> None:
    pts = sphere_cloud(6000, noise=0.004)
    tree = cKDTree(pts)
    normals = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    jets = jet_denoise(pts, normals, tree, 40)
    before = np.abs(np.linalg.norm(pts, axis=1) - 0.4).mean()
    after = np.abs(np.linalg.norm(jets.points, axis=1) - 0.4).mean()
    assert after < 0.5 * before
    assert abs(np.linalg.norm(jets.points, axis=1).mean() - 0.4) < 5e-4  # no shrinkage
    # curvature of a sphere of radius r: height -(u^2 + v^2) / (2 r)
    np.testing.assert_allclose(np.median(jets.quad[:, [0, 2]]), -1 / 0.8, rtol=0.1)


def test_cross_validation_prefers_large_neighbourhoods_on_smooth_shapes() -> None:
    pts = sphere_cloud(6000, noise=0.004)
    normals = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    k, errors = choose_jet_k(pts, normals, cKDTree(pts), holdout=1000)
    assert k >= 56 and set(errors) == {24, 32, 40, 56, 72, 96}
