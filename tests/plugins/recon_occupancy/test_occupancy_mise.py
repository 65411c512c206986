"""MISE: the same grid as dense evaluation where it matters, with far fewer evaluations."""

from __future__ import annotations

import numpy as np
import pytest

from recon_occupancy.extract import extract_surface
from recon_occupancy.metrics import surface_chamfer
from recon_occupancy.mise import _upsample, dense_grid, mise


def torus_logits(x: np.ndarray) -> np.ndarray:
    """Inside > 0: a torus of radii 0.3 / 0.1 plus a thin rod, in [-0.55, 0.55]^3."""
    rho = np.hypot(x[:, 0], x[:, 2])
    torus = 0.1 - np.hypot(rho - 0.3, x[:, 1])
    rod = 0.03 - np.hypot(x[:, 0] - 0.3, x[:, 1])  # a thin rod crossing the ring
    rod = np.minimum(rod, 0.45 - np.abs(x[:, 2]))
    return 50 * np.maximum(torus, rod)


def test_upsample_keeps_known_values_and_interpolates() -> None:
    v = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    up = _upsample(v)
    assert up.shape == (5, 5, 5)
    np.testing.assert_array_equal(up[::2, ::2, ::2], v)
    assert up[1, 0, 0] == pytest.approx((v[0, 0, 0] + v[1, 0, 0]) / 2)
    assert up[1, 1, 1] == pytest.approx(v[:2, :2, :2].mean())


def test_mise_matches_dense_with_fewer_evaluations() -> None:
    sparse = mise(torus_logits, -0.55, 0.55, start=32, steps=2)
    dense = dense_grid(torus_logits, -0.55, 0.55, 128)
    assert sparse.values.shape == dense.values.shape == (129, 129, 129)
    assert dense.evaluations / sparse.evaluations >= 5, (dense.evaluations, sparse.evaluations)
    a = extract_surface(sparse.values, sparse.origin, sparse.step)
    b = extract_surface(dense.values, dense.origin, dense.step)
    assert len(a.faces) == len(b.faces)
    diag = float(np.linalg.norm(b.vertices.max(0) - b.vertices.min(0)))
    assert surface_chamfer(a.vertices, a.faces, b.vertices, b.faces, samples=20_000) / diag < 1e-3


def test_unevaluated_points_keep_their_side() -> None:
    sparse = mise(torus_logits, -0.55, 0.55, start=32, steps=2)
    dense = dense_grid(torus_logits, -0.55, 0.55, 128)
    agree = np.sign(sparse.values) == np.sign(dense.values)
    assert agree.mean() == 1.0


def test_levels_are_reported() -> None:
    seen = []
    grid = mise(torus_logits, -0.55, 0.55, start=8, steps=2, on_level=lambda level, n: seen.append((level, n)))
    assert [lv for lv, _ in seen] == [0, 1, 2] and seen[0][1] == 9**3 and seen[-1][1] == grid.evaluations
