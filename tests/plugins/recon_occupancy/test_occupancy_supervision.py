"""Supervision from a bare cloud: checks, normalisation, the signed field, training points."""

from __future__ import annotations

import numpy as np
import pytest

from recon.errors import BadInputError
from recon_occupancy.supervision import build_supervision, check_points, normalize, training_points


def sphere_cloud(n: int = 4000, noise: float = 0.0, seed: int = 0, radius: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p = radius * p / np.linalg.norm(p, axis=1, keepdims=True)
    return p + rng.normal(0, noise, p.shape)


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros((0, 3)), "empty"),
        (np.zeros((1, 3)), "only 1 point;"),
        (np.ones((30, 3)), "identical"),
        (np.stack([np.linspace(0, 1, 30)] * 3, axis=1), "on a line"),
        (np.array([[0, 0, 0], [np.inf, 0, 0]] + [[i, 1, 0] for i in range(10)], float), "NaN or infinite"),
    ],
)
def test_unusable_clouds_are_bad_input(points: np.ndarray, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        check_points(points, "cloud.ply")


def test_normalize_round_trip() -> None:
    pts = sphere_cloud() * 7 + 100
    norm = normalize(pts)
    unit = norm.to_unit(pts)
    assert np.isclose(np.ptp(unit, axis=0).max(), 1.0)
    np.testing.assert_allclose(norm.to_world(unit), pts)







def test_signed_distance_of_a_noisy_sphere() -> None:
    pts = sphere_cloud(5000, noise=0.003)
    sup = build_supervision(pts, seed=0)
    x = np.array([[0, 0, 0], [0.38, 0, 0], [0.42, 0, 0], [0, 0, 0.5], [0.55, 0.55, 0.55]])
    d = sup.signed_distance(x)
    assert d[0] < 0 and d[1] < 0 and d[2] > 0 and d[3] > 0 and d[4] > 0
    np.testing.assert_allclose(d[1:3], [-0.02, 0.02], atol=0.004)
    assert sup.figures["normals"] == "estimated" and sup.figures["confident_fraction"] > 0.95


def test_given_normals_are_used() -> None:
    pts = sphere_cloud(3000)
    sup = build_supervision(pts, pts / 0.4, k_jet=0)
    assert sup.figures["normals"] == "given"
    np.testing.assert_allclose(sup.normals, pts / 0.4, atol=1e-9)


def test_training_points_labels_match_the_sphere() -> None:
    pts = sphere_cloud(4000, noise=0.002)
    sup = build_supervision(pts, seed=0)
    x, d = training_points(sup, 20_000, np.random.default_rng(0), cell=1.1 / 64)
    truth = np.linalg.norm(x, axis=1) - 0.4
    confident = np.abs(truth) > 0.01
    assert (np.sign(d[confident]) == np.sign(truth[confident])).mean() > 0.995
