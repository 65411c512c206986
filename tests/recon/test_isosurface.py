"""``recon.isosurface``: the order-independent numbering of an extracted surface."""

from __future__ import annotations

import numpy as np
import trimesh

from recon.isosurface import canonical_order


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    return float(trimesh.Trimesh(vertices, faces, process=False).volume)


def test_canonical_order_ignores_how_the_mesh_was_numbered() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(v))
    inverse = np.argsort(perm)
    shuffled_f = inverse[f][rng.permutation(len(f))]  # vertices and faces renumbered, faces reordered
    shuffled_f = np.roll(shuffled_f, 1, axis=1)  # each face starting at another corner, same winding
    a = canonical_order(v, f)
    b = canonical_order(v[perm], shuffled_f)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # the same surface, winding kept: the enclosed volume is unchanged, outward normals stay outward
    assert abs(_signed_volume(*a) - _signed_volume(v, f)) < 1e-9
    assert _signed_volume(*a) > 0


def test_canonical_order_of_an_empty_mesh() -> None:
    v, f = canonical_order(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert v.shape == (0, 3) and f.shape == (0, 3)
