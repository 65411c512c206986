"""Procedural shapes: surface samples on the union's boundary, part labels, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from recon.shapes import CLASSES, PARTS, classification_sample, classification_set, make_shape


@pytest.mark.parametrize("label", range(len(CLASSES)), ids=CLASSES)
def test_samples_lie_on_the_union_boundary(label: int) -> None:
    rng = np.random.default_rng(label)
    shape = make_shape(label, rng)
    pts, normals, parts = shape.sample(2000, rng)
    assert pts.shape == (2000, 3) and normals.shape == (2000, 3)
    outside = ~shape.occupancy(pts + 0.004 * normals)
    inside = shape.occupancy(pts - 0.004 * normals)
    # offset points near the junction of two primitives can fall into the other one
    assert outside.mean() > 0.95 and inside.mean() > 0.97, (outside.mean(), inside.mean())
    assert set(np.unique(parts)) <= set(range(len(PARTS)))


def test_part_labels_match_the_class() -> None:
    rng = np.random.default_rng(0)
    chair = make_shape(CLASSES.index("chair"), rng)
    _, _, parts = chair.sample(3000, rng)
    assert {PARTS[p] for p in np.unique(parts)} == {"chair_seat", "chair_back", "chair_leg"}
    box = make_shape(CLASSES.index("box"), rng)
    assert set(np.unique(box.sample(500, rng)[2])) == {PARTS.index("body")}


def test_classification_sample_is_normalised_and_seeded() -> None:
    a, pa = classification_sample(3, np.random.default_rng(5), 512)
    b, pb = classification_sample(3, np.random.default_rng(5), 512)
    assert a.dtype == np.float32 and a.shape == (512, 3) and pa.shape == (512,)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)
    assert np.linalg.norm(a, axis=1).max() < 1.1


def test_classification_set_is_balanced() -> None:
    x, y, parts = classification_set(2, seed=1, n_points=128)
    assert x.shape == (2 * len(CLASSES), 128, 3) and parts.shape == (2 * len(CLASSES), 128)
    assert np.bincount(y).tolist() == [2] * len(CLASSES)
