"""The preview's wireframe: each edge drawn once, only where a face turned to the camera borders it."""

from __future__ import annotations

import numpy as np

from recon.structures import Camera
from recon_face.video_preview import _draw_wireframe, mesh_edges


def test_mesh_edges_lists_each_edge_once_with_the_faces_it_borders() -> None:
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    ends, borders = mesh_edges(faces)
    assert len(ends) == 5
    shared = [k for k, (a, b) in enumerate(ends) if {int(a), int(b)} == {1, 2}]
    assert len(shared) == 1 and sorted(borders[shared[0]]) == [0, 1]
    rest = np.delete(borders, shared[0], axis=0)
    assert (rest[:, 0] == rest[:, 1]).all()


def test_only_the_edges_of_faces_turned_to_the_camera_are_drawn() -> None:
    """Two triangles side by side at 2 m, one wound to face the camera and one away: the first is
    drawn, the second's own edges are not; the shared edge is (it borders the first)."""
    camera = Camera(K=np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]]), R=np.eye(3), t=np.zeros(3), width=100, height=100)
    vertices = np.array([[-0.6, -0.4, 2.0], [0.0, 0.4, 2.0], [0.0, -0.4, 2.0], [0.6, 0.4, 2.0]])
    facing = np.array([0, 1, 2]) if np.cross(vertices[1] - vertices[0], vertices[2] - vertices[0]) @ vertices[:3].mean(0) < 0 else np.array([0, 2, 1])
    away = np.array([2, 3, 1]) if np.cross(vertices[3] - vertices[2], vertices[1] - vertices[2]) @ vertices[1:].mean(0) > 0 else np.array([2, 1, 3])
    photo = np.zeros((100, 100, 3), np.uint8)
    _draw_wireframe(photo, camera, vertices, np.stack([facing, away]), (1.0, 1.0))
    drawn = photo.any(axis=2)
    assert drawn[:, :48].sum() >= 6  # the facing triangle's outer edges (left half), six dots an edge
    assert drawn[:, 53:].sum() == 0  # the other one's outer edges (right half)
    assert drawn[:, 49:52].sum() >= 4  # the shared edge, at x = 50
    assert (photo[drawn] == (90, 110, 127)).all()  # half of black plus the light blue
