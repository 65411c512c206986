"""Mesh scores: Chamfer-L1, normal consistency, F-score, IoU, exact surface distances."""

from __future__ import annotations

import numpy as np
import trimesh

from recon_occupancy.metrics import compare_meshes, point_to_mesh_distance, surface_chamfer


def sphere(radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    tm = trimesh.creation.icosphere(4, radius=radius)
    return np.asarray(tm.vertices), np.asarray(tm.faces)


def test_identical_meshes_score_perfectly() -> None:
    v, f = sphere()
    m = compare_meshes(v, f, v, f, samples=20_000, iou_points=5000, iou_sources=4000)
    assert m["chamfer_l1_relative"] < 0.005  # only the sampling floor
    assert m["normal_consistency"] > 0.99 and m["fscore_1pct"] > 0.99 and m["iou"] > 0.97


def test_a_bigger_sphere_scores_as_expected() -> None:
    v, f = sphere(1.0)
    v2, f2 = sphere(1.1)
    m = compare_meshes(v2, f2, v, f, samples=20_000, iou_points=20_000, iou_sources=4000)
    assert abs(m["accuracy"] - 0.1) < 0.01 and abs(m["completeness"] - 0.1) < 0.01
    assert abs(m["iou"] - 1 / 1.1**3) < 0.03
    assert m["fscore_1pct"] < 0.05  # 0.1 apart, threshold 0.035


def test_exact_surface_distances() -> None:
    v, f = sphere(1.0)
    q = np.array([[0, 0, 2.0], [0, 0, 0.5], [3, 0, 0]])
    d = point_to_mesh_distance(q, v, f)
    np.testing.assert_allclose(d, [1.0, 0.5, 2.0], atol=2e-3)
    assert surface_chamfer(v, f, v, f, samples=5000) < 1e-12
    assert abs(surface_chamfer(v * 1.05, f, v, f, samples=5000) - 0.05) < 2e-3
