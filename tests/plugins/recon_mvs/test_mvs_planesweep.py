"""The plane sweep's parts: box means by summed-area tables, the warp into a source view."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recon.structures import Camera
from recon_mvs.planesweep import box_mean, warp_grid


@pytest.mark.parametrize("window", [3, 7, 15])
def test_box_mean_is_the_windowed_mean_inside_the_image(window: int) -> None:
    x = torch.rand(2, 1, 23, 31, generator=torch.Generator().manual_seed(0))
    expected = F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)
    assert torch.allclose(box_mean(x, window), expected, atol=1e-5)


def test_warp_lands_where_the_plane_point_projects() -> None:
    K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])
    ref = Camera(K=K, R=np.eye(3), t=np.zeros(3), width=64, height=48)
    angle = np.radians(5)
    R = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    src = Camera(K=K, R=R, t=np.array([-0.2, 0.01, 0.0]), width=64, height=48)
    grid = warp_grid(ref, src, torch.tensor([2.0]), "cpu")[0].numpy()
    y, x = 10, 40
    point = 2.0 * np.linalg.inv(K) @ np.array([x, y, 1.0])  # on the plane z = 2 of the reference
    pixel = src.project(point[None])[0]
    np.testing.assert_allclose(grid[y, x], (pixel + 0.5) / [64, 48] * 2 - 1, atol=1e-5)
