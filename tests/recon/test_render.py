"""recon.render: colours, depth and mask land where the camera projects the mesh."""

import numpy as np
import trimesh

from recon.cameras import look_at
from recon.render import render
from recon.structures import Mesh


def test_depth_and_mask_match_the_projection() -> None:
    box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    mesh = Mesh(box.vertices, box.faces, vertex_colors=np.full((8, 3), 200, np.uint8))
    cam = look_at(np.array([0.0, 0.0, 0.5]), np.zeros(3), 300.0, 120, 100)
    out = render(mesh, cam, device="cpu")
    # The front face (z = +0.05) spans +-0.05 at depth 0.45: 300 * 0.05 / 0.45 = 33.3 px around the centre.
    cx, cy = (120 - 1) / 2, (100 - 1) / 2
    half = 300 * 0.05 / 0.45
    assert out.mask[int(cy), int(cx)]
    assert not out.mask[int(cy), int(cx + half + 2)] and out.mask[int(cy), int(cx + half - 2)]
    np.testing.assert_allclose(out.depth[int(cy), int(cx)], 0.45, rtol=1e-4)
    assert (out.rgb[out.mask] == 200).all() and (out.rgb[~out.mask] == 0).all()


def test_recon_and_pytorch3d_rasterizers_render_the_same_texture() -> None:
    sphere = trimesh.creation.uv_sphere(radius=0.1, count=[24, 24])
    uv = np.asarray(sphere.vertices)[:, :2] / 0.2 + 0.5
    texture = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    mesh = Mesh(sphere.vertices, sphere.faces, uvs=uv, texture=texture)
    cam = look_at(np.array([0.1, 0.2, 0.5]), np.zeros(3), 250.0, 80, 64)
    a = render(mesh, cam, device="cpu", rasterizer="recon").rgb.astype(int)
    b = render(mesh, cam, device="cpu", rasterizer="pytorch3d").rgb.astype(int)
    assert np.mean(np.abs(a - b) > 2) < 0.01, "more than 1% of pixels differ"
