"""recon.bundle: bundle adjustment recovers cameras and focal lengths from consistent points,
keeps a fixed focal length, shrugs off wrong matches, and the gauge helpers are exact."""

from __future__ import annotations

import numpy as np
import pytest

from recon.bundle import Observations, bundle_adjust, similarity_to, triangulate
from recon.cameras import rodrigues_to_matrix, rotation_angle
from recon.structures import Camera


def _scene(views: int = 5, points: int = 200, noise_px: float = 0.5, seed: int = 0) -> tuple[list[Camera], np.ndarray, Observations]:
    """A face-sized cloud (5 cm spread) seen from yaw -30..+30 degrees with 1000-1800 px lenses."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 0.05, (points, 3))
    cams = []
    for k in range(views):
        R = rodrigues_to_matrix(np.array([0.0, np.radians(-30 + 60 * k / max(views - 1, 1)), 0.0]))
        f = 1000.0 + 200.0 * k
        cams.append(Camera(K=np.array([[f, 0, 499.5], [0, f, 499.5], [0, 0, 1.0]]), R=R, t=np.array([0.0, 0.0, 0.4 + 0.1 * k]), width=1000, height=1000))
    view, point, xy = [], [], []
    for k, c in enumerate(cams):
        uv = (X @ c.R.T + c.t) @ c.K.T
        view += [k] * points
        point += list(range(points))
        xy.append(uv[:, :2] / uv[:, 2:] + rng.normal(0.0, noise_px, (points, 2)))
    return cams, X, Observations(view, point, np.concatenate(xy), 1.0)


def _perturbed(cams: list[Camera], focal: float, seed: int = 1) -> list[Camera]:
    rng = np.random.default_rng(seed)
    out = []
    for c in cams:
        K = c.K.copy()
        K[0, 0] = K[1, 1] = c.K[0, 0] * focal
        out.append(Camera(K=K, R=rodrigues_to_matrix(rng.normal(0.0, 0.03, 3)) @ c.R, t=c.t * 0.8, width=c.width, height=c.height))
    return out


def test_recovers_focal_lengths_and_relative_rotations() -> None:
    true, _, obs = _scene()
    start = _perturbed(true, focal=0.75)  # every focal 25 % short, rotations ~2 degrees off
    result = bundle_adjust(start, triangulate(start, obs, 200), obs)
    ratios = [c.K[0, 0] / t.K[0, 0] for c, t in zip(result.cameras, true)]
    # measured: within 0.7 % of the truth (0.5 px noise); 25 % off at the start
    assert np.abs(np.array(ratios) - 1).max() < 0.03
    # the gauge (a similarity) leaves relative rotations: each camera's to the first one's
    for c, t in zip(result.cameras[1:], true[1:]):
        assert rotation_angle((c.R @ result.cameras[0].R.T) @ (t.R @ true[0].R.T).T) < 0.3
    assert np.median(result.errors_px) < 1.0  # the noise's own size (0.5 px per axis)
    assert result.iterations < 200


def test_fixed_focal_length_stays() -> None:
    true, _, obs = _scene(seed=3)
    start = _perturbed(true, focal=0.9)
    fixed = np.array([True, False, True, False, True])
    result = bundle_adjust(start, triangulate(start, obs, 200), obs, refine_focal=~fixed)
    for c, s, keep in zip(result.cameras, start, fixed):
        if keep:
            assert c.K[0, 0] == pytest.approx(s.K[0, 0], rel=1e-9)
        else:
            assert c.K[0, 0] != pytest.approx(s.K[0, 0], rel=1e-3)


def test_wrong_matches_do_not_pull_the_cameras() -> None:
    true, _, obs = _scene(seed=5)
    rng = np.random.default_rng(7)
    bad = rng.choice(len(obs.xy), len(obs.xy) // 10, replace=False)  # 10 % of the observations 20-60 px off
    obs.xy[bad] += rng.uniform(20, 60, (len(bad), 2)) * rng.choice([-1, 1], (len(bad), 2))
    start = _perturbed(true, focal=0.8)
    result = bundle_adjust(start, triangulate(start, obs, 200), obs)
    ratios = np.array([c.K[0, 0] / t.K[0, 0] for c, t in zip(result.cameras, true)])
    assert np.abs(ratios - 1).max() < 0.05
    good = np.setdiff1d(np.arange(len(obs.xy)), bad)
    assert np.median(result.errors_px[good]) < 1.0 and np.median(result.errors_px[bad]) > 10.0


def test_triangulate_and_similarity_are_exact() -> None:
    true, X, obs = _scene(noise_px=0.0)
    assert np.allclose(triangulate(true, obs, len(X)), X, atol=1e-9)
    single = Observations([0], [0], np.zeros((1, 2)), 1.0)  # one view: no point
    assert np.isnan(triangulate(true, single, 1)).all()
    # a world moved by a similarity: the cameras moved onto it make the same images of the moved points
    Q = rodrigues_to_matrix(np.array([0.2, -0.4, 0.1]))
    moved_X = 1.7 * X @ Q.T + np.array([0.1, -0.2, 0.3])
    moved, scale, carried = similarity_to(true, X[:20], moved_X[:20], carry=X[20:])
    assert scale == pytest.approx(1.7) and np.allclose(carried, moved_X[20:], atol=1e-9)
    for a, b in zip(true, moved):
        ua, ub = (X @ a.R.T + a.t) @ a.K.T, (moved_X @ b.R.T + b.t) @ b.K.T
        assert np.allclose(ua[:, :2] / ua[:, 2:], ub[:, :2] / ub[:, 2:], atol=1e-8)
