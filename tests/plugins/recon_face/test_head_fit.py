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

