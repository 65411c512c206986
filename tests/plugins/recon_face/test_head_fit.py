"""recon_face.head_fit's skin-point step: the head's skin moved onto points triangulated from the
photos (another person's face, known here) comes near them, and the face with it."""

from __future__ import annotations

import numpy as np

from recon_face.head_fit import HeadFit, HeadFitSettings, fit_skin_points, off_surface
from recon_face.head_model import HeadModel


def test_skin_points_bring_the_average_head_onto_another_face() -> None:
    model = HeadModel.load("low")
    rng = np.random.default_rng(0)
    person = np.zeros(len(model.identity))
    person[:10] = rng.normal(0.0, 1.5, 10)  # someone else: the first ten components, 1.5 sigma
    truth = model.vertices(person).astype(np.float64)
    skin = model.part("skin").vertex_index
    nose = model.landmark_points(truth)[1]  # MediaPipe's nose tip
    face = skin[np.linalg.norm(truth[skin] - nose, axis=1) < 0.06]
    points = truth[face] + rng.normal(0.0, 0.0002, (len(face), 3))  # 0.2 mm of triangulation noise
    head = HeadFit.average(model)
    summary = fit_skin_points(model, head, points, HeadFitSettings())
    faces = model.part("skin").faces
    before = np.abs(off_surface(model.vertices(np.zeros(len(model.identity)))[face], truth[skin], faces)[0])
    after = np.abs(off_surface(head.neutral(model)[face], truth[skin], faces)[0])
    # measured: the points 0.60 -> 0.19 mm from the skin; the face's vertices 0.65 -> 0.19 mm from the true face
    assert summary["skin_points"] >= 0.9 * min(len(face), HeadFitSettings().skin_points)
    assert summary["skin_gap_mm_after"] < 0.5 * summary["skin_gap_mm_before"]
    assert np.median(after) < 0.5 * np.median(before)



def _box_problem(seed: int, n: int = 57) -> tuple[np.ndarray, ...]:
    """A positive definite quadratic like the per-frame fit's: six free pose coordinates and
    ``n - 6`` weights in a box, some of them pinned."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3 * n, n))
    H = A.T @ A + 0.1 * np.eye(n)
    g = rng.normal(size=n) * 5
    w = rng.uniform(0, 1, n - 6) * (rng.uniform(size=n - 6) < 0.5)  # half of the weights at 0
    lo = np.concatenate([np.full(6, -np.inf), -w])
    hi = np.concatenate([np.full(6, np.inf), 1.0 - w])
    lo[-3:] = hi[-3:] = 0.0  # pinned shapes
    return H, g, lo, hi


def test_box_quadratic_matches_a_bounded_solver_from_any_start() -> None:
    """The active-set step solves the box QP as scipy's bounded least squares does, whether it
    starts with every coordinate free, from the right bounds, or from wrong ones (a previous
    Gauss-Newton step's)."""
    from scipy.optimize import lsq_linear

    from recon_face.head_fit import _box_quadratic

    for seed in range(5):
        H, g, lo, hi = _box_problem(seed)
        L = np.linalg.cholesky(H)  # 0.5 x'Hx - g'x = 0.5 |L'x - L^-1 g|^2 + const
        truth = lsq_linear(L.T, np.linalg.solve(L, g), bounds=(lo, np.where(lo == hi, hi + 1e-12, hi)), tol=1e-12).x
        x, held = _box_quadratic(H, g, lo, hi, sweeps=200)
        np.testing.assert_allclose(x, truth, atol=1e-6)
        again, _ = _box_quadratic(H, g, lo, hi, sweeps=200, held=held)
        np.testing.assert_allclose(again, truth, atol=1e-6)
        wrong = (~held[0] & ~held[1] & np.isfinite(lo), held[0] & (lo < hi))  # the free ones at 0, the ones at 0 at 1
        from_wrong, _ = _box_quadratic(H, g, lo, hi, sweeps=200, held=wrong)
        np.testing.assert_allclose(from_wrong, truth, atol=1e-6)
        assert np.all(x >= lo - 1e-12) and np.all(x <= hi + 1e-12)
