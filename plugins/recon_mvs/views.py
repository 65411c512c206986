"""View selection for multi-view stereo: for each reference view, the source views that see the
same surface from a useful angle (MVSNet's ``pair.txt`` score).

Points are sampled on the reference view's frustum at a middle depth; a source scores
``sum over the points it sees of G(angle)``, the angle between the two viewing rays at the point,
``G`` a Gaussian around :data:`BEST_ANGLE_DEG` (narrower below it: too small a baseline gives no
depth, too wide a one matches badly).
"""

from __future__ import annotations

import numpy as np

from recon.structures import Camera

BEST_ANGLE_DEG = 5.0
SIGMA_BELOW_DEG, SIGMA_ABOVE_DEG = 1.0, 10.0
GRID = (16, 12)


def frustum_points(camera: Camera, depth: float) -> np.ndarray:
    """(N, 3) world points on a grid over ``camera``'s image at ``depth`` metres."""
    xs = (np.arange(GRID[0]) + 0.5) / GRID[0] * camera.width - 0.5
    ys = (np.arange(GRID[1]) + 0.5) / GRID[1] * camera.height - 0.5
    pix = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    homog = np.concatenate([pix, np.ones((len(pix), 1))], axis=1)
    x_cam = (np.linalg.inv(camera.K) @ homog.T).T * depth
    return (x_cam - camera.t) @ camera.R  # R^T (x - t)


def pair_score(ref: Camera, src: Camera, points: np.ndarray) -> float:
    """MVSNet's score of ``src`` for ``ref`` over ``points`` (world)."""
    x_src = src.world_to_camera(points)
    with np.errstate(divide="ignore", invalid="ignore"):
        pix = src.project(points)
    seen = (x_src[:, 2] > 0) & (pix[:, 0] >= -0.5) & (pix[:, 0] <= src.width - 0.5) & (pix[:, 1] >= -0.5) & (pix[:, 1] <= src.height - 0.5)
    if not seen.any():
        return 0.0
    a = ref.center - points[seen]
    b = src.center - points[seen]
    cos = np.einsum("nd,nd->n", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    theta = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    sigma = np.where(theta <= BEST_ANGLE_DEG, SIGMA_BELOW_DEG, SIGMA_ABOVE_DEG)
    return float(np.exp(-((theta - BEST_ANGLE_DEG) ** 2) / (2 * sigma**2)).sum())


def select_sources(cameras: list[Camera], ref: int, count: int, depth: float) -> list[int]:
    """The ``count`` best source views for view ``ref`` (best first), at a middle ``depth``;
    views that see none of the reference's points are never chosen."""
    points = frustum_points(cameras[ref], depth)
    scores = [(pair_score(cameras[ref], c, points), i) for i, c in enumerate(cameras) if i != ref]
    ranked = sorted((s for s in scores if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return [i for _, i in ranked[:count]]
