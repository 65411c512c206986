"""recon.texture: a baked texture reproduces the photos it was baked from."""

import numpy as np
import pytest
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


def test_unwrap_does_not_depend_on_how_the_mesh_was_numbered() -> None:
    """The same surface numbered and ordered another way (as another release of a library might
    extract it) gets the same atlas: a golden of an unwrapped output stays valid."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    v, f = np.asarray(sphere.vertices) * 0.1, np.asarray(sphere.faces)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(v))
    shuffled = np.roll(np.argsort(perm)[f][rng.permutation(len(f))], 1, axis=1)
    a, b = unwrap(Mesh(v, f)), unwrap(Mesh(v[perm], shuffled))
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    np.testing.assert_array_equal(a.uvs, b.uvs)


def _striped_sphere_views() -> tuple[Mesh, list, list]:
    """A vertex-coloured sphere (10 cm), six PyTorch3D renders of it around a ring, and the same
    sphere unwrapped (UVs, no colours) to bake into."""
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = np.asarray(sphere.vertices) * 0.1
    colors = (127 + 120 * np.sin(25 * v)).astype(np.uint8)
    truth = Mesh(v, sphere.faces, vertex_colors=colors)
    cams = _ring(6)
    photos = [render(truth, c, device="cpu").rgb for c in cams]
    return unwrap(Mesh(v, sphere.faces)), cams, photos


def test_bake_reproduces_the_views() -> None:
    mesh, cams, photos = _striped_sphere_views()
    texture, coverage = bake(mesh, photos, cams, size=256)
    assert (coverage > 0).mean() > 0.3
    mesh.texture = texture
    for cam, photo in zip(cams, photos):
        again = render(mesh, cam, device="cpu")
        err = np.abs(again.rgb.astype(int) - photo.astype(int))[again.mask].mean()
        assert err < 12, f"mean colour error {err:.1f} grey levels"
    # No black seams: every covered texel got a colour.
    assert texture.reshape(-1, 3).max(axis=1).min() > 0


# -- bake_views and its parts -------------------------------------------------------------------
def test_atlas_is_cached_and_matches_texel_surface() -> None:
    from recon.texture import atlas

    mesh = unwrap(Mesh(*(lambda s: (s.vertices * 0.1, s.faces))(trimesh.creation.icosphere(subdivisions=2))))
    a = atlas(mesh.uvs, mesh.faces, 128)
    assert atlas(mesh.uvs.copy(), mesh.faces.copy(), 128) is a  # cached on the layout's bytes
    s = texel_surface(mesh, 128)
    np.testing.assert_array_equal(s.rows, a.rows)
    np.testing.assert_allclose(a.interpolate(mesh.vertices), s.points, atol=1e-6)


def test_edge_distance_sees_silhouettes_and_occlusions() -> None:
    from recon.raster import Raster
    from recon.texture import edge_distance

    face = np.full((40, 40), -1)
    face[5:35, 5:35] = 0
    depth = np.where(face >= 0, 1.0, 0.0).astype(np.float32)
    depth[5:35, 20:35] = 0.5  # a nearer surface on the right half: a depth edge at column 20
    d = edge_distance(Raster(face, np.zeros((40, 40, 3)), depth))
    assert d[0, 0] == 0 and d[20, 12] == pytest.approx(7, abs=0.5)  # 7 px from the silhouette
    assert d[20, 18] <= 2 and d[20, 27] <= 7  # near the occlusion edge


def test_colour_gains_equalise_overlapping_photos() -> None:
    from recon.texture import colour_gains

    rng = np.random.default_rng(0)
    truth = rng.uniform(60, 200, (500, 3))
    idx = np.arange(500)
    gains = np.array([[1.0, 1.0, 1.0], [1.3, 1.1, 0.8], [0.7, 0.9, 1.0]])
    samples = [(idx[k * 100 : k * 100 + 300], truth[k * 100 : k * 100 + 300] * gains[k], np.ones(300)) for k in range(3)]
    g = colour_gains(samples, 500)
    corrected = g[:, None, :] * gains[:, None, :]  # what each photo becomes
    np.testing.assert_allclose(corrected[1] / corrected[0], 1.0, rtol=1e-3)
    np.testing.assert_allclose(corrected[2] / corrected[0], 1.0, rtol=1e-3)
    assert colour_gains(samples[:1], 500).tolist() == [[1.0, 1.0, 1.0]]


def test_push_pull_fills_holes_smoothly_and_keeps_known_texels() -> None:
    from recon.texture import fill_push_pull

    y, x = np.mgrid[0:64, 0:64]
    tex = np.stack([x * 2.0, y * 2.0, np.full_like(x, 100.0)], -1).astype(np.float32)
    known = np.ones((64, 64), np.float32)
    known[20:40, 20:40] = 0
    known[:, 60:] = 0
    filled = fill_push_pull(np.where(known[..., None] > 0, tex, 0), known)
    np.testing.assert_array_equal(filled[known > 0], tex[known > 0])
    hole = known == 0
    assert np.abs(filled[hole] - tex[hole]).mean() < 12  # a smooth ramp is continued roughly
    assert np.isfinite(filled).all() and filled[..., 2].min() > 99


def test_bake_views_reproduces_the_views_and_reports() -> None:
    from recon.texture import bake_views

    mesh, cams, photos = _striped_sphere_views()
    result = bake_views(mesh.uvs, mesh.faces, [mesh.vertices] * 6, photos, cams, size=256, oversample=4.0)
    assert result.texture.shape == (256, 256, 3) and len(result.view_coverage) == 6
    np.testing.assert_allclose(result.gains, 1.0, atol=0.03)  # the same light everywhere: no correction
    mesh.texture = result.texture
    for cam, photo in zip(cams, photos):
        again = render(mesh, cam, device="cpu")
        err = np.abs(again.rgb.astype(int) - photo.astype(int))[again.mask].mean()
        assert err < 12, f"mean colour error {err:.1f} grey levels"
    # every other photo 20 % darker: equalised, they brighten and the others darken
    darker = [(p * 0.8).astype(np.uint8) if i % 2 else p for i, p in enumerate(photos)]
    dim = bake_views(mesh.uvs, mesh.faces, [mesh.vertices] * 6, darker, cams, size=256, oversample=4.0)
    np.testing.assert_allclose(dim.gains[1] / dim.gains[0], 1 / 0.8, rtol=0.03)
    assert result.texture.reshape(-1, 3).max(axis=1).min() > 0  # no black anywhere


def test_bake_resolution_follows_the_photos() -> None:
    from recon.cameras import look_at
    from recon.texture import bake_resolution

    uvs = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    verts = np.array([[-0.1, -0.1, 0.0], [0.1, -0.1, 0.0], [-0.1, 0.1, 0.0]])
    near = look_at(np.array([0, 0, 0.5]), np.zeros(3), 1000.0, 1000, 1000)  # 400 px across
    far = look_at(np.array([0, 0, 5.0]), np.zeros(3), 1000.0, 1000, 1000)  # 40 px across
    assert bake_resolution(uvs, [verts], [far], 2048) == 256
    assert bake_resolution(uvs, [verts], [near], 2048) == 512
    assert bake_resolution(uvs, [verts, verts], [far, near], 2048, oversample=3.0) == 2048
    assert bake_resolution(uvs, [verts], [near], 300, oversample=3.0) == 300
