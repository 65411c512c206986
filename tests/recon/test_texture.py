"""recon.texture: a baked texture reproduces the photos it was baked from."""

import numpy as np
import trimesh

from recon.cameras import look_at
from recon.render import render
from recon.structures import Mesh
from recon.texture import bake, texel_surface, unwrap


def _ring(n: int, size: int = 96) -> list:
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n
        cams.append(look_at(np.array([0.5 * np.sin(a), 0.15, 0.5 * np.cos(a)]), np.zeros(3), 160.0, size, size))
    return cams


def test_unwrap_keeps_geometry_and_covers_the_atlas() -> None:
    mesh = Mesh(*(lambda s: (s.vertices * 0.1, s.faces))(trimesh.creation.icosphere(subdivisions=2)))
    u = unwrap(mesh)
    assert len(u.faces) == len(mesh.faces) and u.uvs is not None
    assert u.uvs.min() >= 0 and u.uvs.max() <= 1
    assert np.isclose(trimesh.Trimesh(u.vertices, u.faces).area, trimesh.Trimesh(mesh.vertices, mesh.faces).area)
    s = texel_surface(u, 128)
    assert len(s.points) > 0.3 * 128 * 128
    # Every texel's 3-D point lies on the sphere of radius 0.1 (up to the flat facets).
    r = np.linalg.norm(s.points, axis=1)
    assert r.max() <= 0.1 + 1e-6 and r.min() > 0.09


def test_bake_reproduces_the_views() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = np.asarray(sphere.vertices) * 0.1
    colors = (127 + 120 * np.sin(25 * v)).astype(np.uint8)
    truth = Mesh(v, sphere.faces, vertex_colors=colors)
    cams = _ring(6)
    photos = [render(truth, c, device="cpu").rgb for c in cams]
    mesh = unwrap(Mesh(v, sphere.faces))
    texture, coverage = bake(mesh, photos, cams, size=256)
    assert (coverage > 0).mean() > 0.3
    mesh.texture = texture
    for cam, photo in zip(cams, photos):
        again = render(mesh, cam, device="cpu")
        err = np.abs(again.rgb.astype(int) - photo.astype(int))[again.mask].mean()
        assert err < 12, f"mean colour error {err:.1f} grey levels"
    # No black seams: every covered texel got a colour.
    assert texture.reshape(-1, 3).max(axis=1).min() > 0
