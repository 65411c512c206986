"""Generalised winding numbers of oriented points."""

from __future__ import annotations

import numpy as np

from recon_occupancy.winding import winding_number


def sphere_cloud(n: int = 4000, noise: float = 0.0, seed: int = 0, radius: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p = radius * p / np.linalg.norm(p, axis=1, keepdims=True)
    return p + rng.normal(0, noise, p.shape)


def test_winding_number_inside_outside_and_across_a_hole() -> None:
    pts = sphere_cloud(5000)
    normals = pts / 0.4
    areas = np.full(len(pts), 4 * np.pi * 0.4**2 / len(pts))
    w = winding_number(np.array([[0, 0, 0], [0.9, 0, 0], [0.2, 0.1, 0]]), pts, normals, areas)
    np.testing.assert_allclose(w, [1, 0, 1], atol=0.05)
    cap = pts[:, 2] < 0.3  # cut a hole: the winding number at its centre is about one half
    w_hole = winding_number(np.array([[0, 0, 0.4]]), pts[cap], normals[cap], areas[cap])
    assert 0.3 < w_hole[0] < 0.7
