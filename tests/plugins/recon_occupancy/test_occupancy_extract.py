"""Marching cubes to closed manifold meshes: orientation, crack repair, components, checks."""

from __future__ import annotations

import numpy as np
import trimesh

from recon.isosurface import marching_cubes
from recon_occupancy.extract import boundary_loops, close_cracks, extract_surface, manifold_report


def grid(n: int = 48) -> np.ndarray:
    axis = np.linspace(-1, 1, n)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)


def test_sphere_is_closed_outward_and_in_the_world_frame() -> None:
    x = grid()
    values = 0.6 - np.linalg.norm(x, axis=-1)
    step = 2 / 47
    s = extract_surface(values, np.array([-1.0, -1.0, -1.0]), step)
    tm = trimesh.Trimesh(s.vertices, s.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    r = np.linalg.norm(s.vertices, axis=1)
    assert abs(r.mean() - 0.6) < 0.01
    assert manifold_report(s.vertices, s.faces)["manifold"]


def test_noisy_fields_give_closed_manifold_meshes() -> None:
    rng = np.random.default_rng(0)
    x = grid(40)
    for _ in range(3):
        values = 0.5 - np.linalg.norm(x, axis=-1) + 0.08 * rng.normal(size=x.shape[:3])
        s = extract_surface(values, np.zeros(3), 1.0, min_component=0.0)
        report = manifold_report(s.vertices, s.faces)
        assert report["watertight"] and report["manifold"], report


def test_exact_zeros_do_not_crack_the_surface() -> None:
    x = grid(33)
    values = np.round(0.5 - np.abs(x).max(axis=-1), 6)  # a cube whose faces fall on grid planes
    s = extract_surface(values, np.zeros(3), 1.0)
    assert manifold_report(s.vertices, s.faces)["watertight"]


def test_small_components_are_dropped() -> None:
    x = grid(48)
    big = 0.5 - np.linalg.norm(x, axis=-1)
    small = 0.06 - np.linalg.norm(x - [0.8, 0.8, 0.8], axis=-1)
    s = extract_surface(np.maximum(big, small), np.zeros(3), 1.0, min_component=0.05)
    assert s.removed_components == 1
    keep = extract_surface(np.maximum(big, small), np.zeros(3), 1.0, min_component=0.0)
    assert keep.removed_components == 0 and len(keep.faces) > len(s.faces)


def test_crack_filling_closes_a_hole() -> None:
    tm = trimesh.creation.icosphere(2)
    faces = np.asarray(tm.faces)[1:]  # punch a one-triangle hole
    loops = boundary_loops(faces)
    assert [len(loop) for loop in loops] == [3]
    v, f, n = close_cracks(np.asarray(tm.vertices), faces)
    assert n == 1 and manifold_report(v, f)["manifold"]


def test_manifold_report_flags_defects() -> None:
    tm = trimesh.creation.box()
    v, f = np.asarray(tm.vertices), np.asarray(tm.faces)
    assert manifold_report(v, f)["manifold"]
    assert manifold_report(v, f[1:])["boundary_edges"] == 3
    flipped = f.copy()
    flipped[0] = flipped[0, ::-1]
    assert manifold_report(v, flipped)["inconsistent_edges"] > 0
    # two boxes sharing one corner vertex: watertight but not manifold at that vertex
    b2v = v + (v.max(0) - v.min(0))
    corner = np.argmax(v.sum(1))
    b2_min = np.argmin(b2v.sum(1))
    allv = np.concatenate([v, b2v])
    f2 = f + len(v)
    f2[f2 == b2_min + len(v)] = corner
    report = manifold_report(allv, np.concatenate([f, f2]))
    assert report["watertight"] and report["nonmanifold_vertices"] == 1 and not report["manifold"]


def test_empty_field_gives_no_faces() -> None:
    v, f = marching_cubes(-np.ones((8, 8, 8)), np.zeros(3), 1.0)
    assert len(v) == 0 and len(f) == 0
