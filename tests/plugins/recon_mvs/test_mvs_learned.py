"""The synthetic training rooms and the MVSNet: exact depth across views, shapes, a step that learns."""

from __future__ import annotations

import numpy as np
import torch

from recon_mvs.fusion import backproject
from recon_mvs.mvsnet import MVSNet, mvsnet_depth
from recon_mvs.synthetic import random_sample, render_view, random_scene


def test_synthetic_depth_agrees_across_views() -> None:
    """One room rendered from two cameras: the first view's depth lifted to 3D and projected into
    the second meets the second's own depth there (exact depth; occlusions aside)."""
    from recon.structures import Camera

    rng = np.random.default_rng(4)
    sample = random_sample(rng, views=2, width=96, height=64)
    assert sample.images.shape == (2, 64, 96, 3) and (sample.depth > 0).mean() > 0.99
    parts = random_scene(np.random.default_rng(7))
    a = sample.cameras[0]
    b = Camera(K=a.K, R=a.R, t=a.t + np.array([0.1, 0.0, 0.0]), width=96, height=64)
    light = np.array([0.0, 1.0, 0.0])
    _, depth_a = render_view(parts, a, light, rng)
    _, depth_b = render_view(parts, b, light, rng)
    points = backproject(depth_a, a).reshape(-1, 3)
    pix = np.round(b.project(points)).astype(int)
    z = b.world_to_camera(points)[:, 2]
    ok = (pix[:, 0] >= 0) & (pix[:, 0] < 96) & (pix[:, 1] >= 0) & (pix[:, 1] < 64) & (depth_a.reshape(-1) > 0)
    agree = np.abs(depth_b[pix[ok, 1], pix[ok, 0]] - z[ok]) < 0.02 * z[ok]
    assert ok.mean() > 0.5 and agree.mean() > 0.8


def test_mvsnet_shapes_and_one_step_learns() -> None:
    torch.manual_seed(0)
    sample = random_sample(np.random.default_rng(1), views=3, width=64, height=48)
    net = MVSNet(planes=16)
    images = torch.as_tensor(sample.images).permute(0, 3, 1, 2).float() / 255
    depth, confidence = net(images, sample.cameras, 0.3, 6.0)
    assert depth.shape == (24, 32) and confidence.shape == (24, 32)  # the fine stage: half size
    assert torch.all((depth >= 0.3 - 1e-4) & (depth <= 6.0 + 1e-4)) and torch.all((confidence >= 0) & (confidence <= 1))
    truth = torch.as_tensor(sample.depth)[1::2, 1::2]
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        d, _ = net(images, sample.cameras, 0.3, 6.0)
        loss = torch.nn.functional.smooth_l1_loss(1 / d, 1 / truth)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    net.eval()
    result = mvsnet_depth(net, sample.images[0], sample.cameras[0], [(sample.images[i], sample.cameras[i]) for i in (1, 2)], 0.3, 6.0)
    assert result.depth.shape == (48, 64) and np.isfinite(result.depth).all()
