"""The shell around a posed head and the mesh-anchored map of its samples to the canonical head."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from recon.structures import Camera
from recon_avatar.field import AvatarField, render_rays
from recon_avatar.shell import INNER_M, THICKNESS_M, ShellRays, shell_rays


def _sphere() -> tuple[np.ndarray, np.ndarray]:
    s = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    return np.asarray(s.vertices, dtype=np.float32), np.asarray(s.faces, dtype=np.int64)


def _camera(size: int = 48) -> Camera:
    f = 1.5 * size
    K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1.0]])
    return Camera(K=K, R=np.diag([1.0, -1.0, -1.0]), t=np.array([0.0, 0.0, 0.6]), width=size, height=size)


def test_rays_cross_the_shell_and_reach_the_surface() -> None:
    v, f = _sphere()
    rays = shell_rays(v, f, f, np.zeros_like(v), _camera())
    centre = rays.origin + rays.core[:, None] * rays.direction
    hit = np.linalg.norm(centre, axis=1)
    on_sphere = np.abs(hit - 0.1) < 0.005
    assert 0.5 < on_sphere.mean() < 0.7  # (0.1 / 0.13)^2 = 0.59 of the shell's silhouette is the sphere's
    entry = np.linalg.norm(rays.origin + rays.near[:, None] * rays.direction, axis=1)
    assert np.all(entry < 0.1 + THICKNESS_M + 0.003)
    assert np.all(rays.far >= rays.core) and np.all(rays.core >= rays.near)
    assert np.allclose(rays.far[on_sphere] - rays.core[on_sphere], INNER_M, atol=1e-4)
    silhouette = np.zeros(48 * 48, bool)
    silhouette[rays.pixel] = True
    assert 0.2 < silhouette.mean() < 0.8


def test_samples_map_back_through_the_displacement() -> None:
    """A head whose expression moved every vertex by d: the surface hit maps back to the neutral
    sphere (|x - d| = r), a pure rigid case of the mesh-anchored map."""
    v, f = _sphere()
    d = np.array([0.02, -0.01, 0.0], np.float32)
    rays = shell_rays(v + d, f, f, np.broadcast_to(d, v.shape).copy(), _camera())
    assert np.allclose(rays.disp_near, d, atol=1e-6) and np.allclose(rays.disp_core, d, atol=1e-6)
    hit = rays.origin + rays.core[:, None] * rays.direction - rays.disp_core
    on = np.abs(np.linalg.norm(hit, axis=1) - 0.1) < 0.005
    assert on.mean() > 0.5


def test_render_rays_is_a_valid_composite() -> None:
    v, f = _sphere()
    rays = shell_rays(v, f, f, np.zeros_like(v), _camera(24))
    torch.manual_seed(0)
    field = AvatarField(torch.full((3,), -0.2), torch.full((3,), 0.2), 16)
    t = {k: torch.as_tensor(a) for k, a in rays.arrays().items() if k != "pixel"}
    rgb, acc = render_rays(field, t, torch.zeros((len(rays), 51)), 12)
    assert rgb.shape == (len(rays), 3) and acc.shape == (len(rays),)
    assert torch.all((acc >= 0) & (acc <= 1)) and torch.all(rgb <= acc[:, None] + 1e-5)
    rgb.sum().backward()
    assert field.planes.grad is not None and field.planes.grad.abs().sum() > 0


def test_upsampling_keeps_the_field() -> None:
    torch.manual_seed(0)
    field = AvatarField(torch.full((3,), -1.0), torch.full((3,), 1.0), 8)
    with torch.no_grad():
        field.planes.copy_(torch.linspace(0, 1, 8)[None, None, :, None].expand(3, 16, 8, 8))  # smooth: a ramp
    p = torch.rand(100, 3) * 2 - 1
    before = field.features(p)
    field.upsample(32)
    assert field.resolution == 32
    assert torch.allclose(field.features(p), before, atol=1e-4)


def test_concatenate_keeps_order() -> None:
    v, f = _sphere()
    a = shell_rays(v, f, f, np.zeros_like(v), _camera(16))
    both = ShellRays.concatenate([a, a])
    assert len(both) == 2 * len(a) and np.array_equal(both.pixel[len(a):], a.pixel)


def test_a_part_outside_the_shell_still_gets_a_forward_span() -> None:
    """A part that sticks out of the skin's shell (eyelashes, a nose ring) is sampled too: every
    ray's span runs forward and holds the surface it meets."""
    v, f = _sphere()
    bump = v * 0.2 + np.array([0.0, 0.0, 0.16], np.float32)  # a small ball 3 cm in front of the skin's shell
    vertices = np.concatenate([v, bump])
    faces = np.concatenate([f, f + len(v)])
    rays = shell_rays(vertices, faces, f, np.zeros_like(vertices), _camera())
    assert np.all(rays.far > rays.near) and np.all((rays.core >= rays.near) & (rays.core <= rays.far))
    front = np.linalg.norm(rays.origin + rays.core[:, None] * rays.direction - [0, 0, 0.16], axis=1) < 0.021
    assert front.sum() > 10
