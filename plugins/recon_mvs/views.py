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


DEFAULT_RANGE_M = (0.3, 6.0)
"""The depth range when nothing else tells it: a room seen from inside (metric cameras)."""


def depth_range(camera: Camera, points: np.ndarray | None = None, bounds: np.ndarray | None = None, focus: np.ndarray | None = None) -> tuple[float, float]:
    """The depths (near, far) in metres along ``camera``'s z axis worth sweeping, from the first
    of: ``points`` (sparse scene points: their 2nd to 98th depth percentiles among those the camera
    sees, widened by a quarter), ``bounds`` ((2, 3) box: its corners' depths), ``focus`` (the point
    a ring of cameras looks at: 0.4 to 2.5 times its depth), else :data:`DEFAULT_RANGE_M`."""
    if points is not None and len(points):
        z = camera.world_to_camera(points)[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pix = camera.project(points)
        seen = (z > 0) & (pix[:, 0] >= 0) & (pix[:, 0] < camera.width) & (pix[:, 1] >= 0) & (pix[:, 1] < camera.height)
        if seen.sum() >= 10:
            lo, hi = np.percentile(z[seen], [2, 98])
            return float(lo / 1.25), float(hi * 1.25)
    if bounds is not None:
        corners = np.array([[bounds[i][0], bounds[j][1], bounds[k][2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        z = camera.world_to_camera(corners)[:, 2]
        if (z > 0).any():
            return float(max(z[z > 0].min(), 1e-3 * z.max())), float(z.max())
    if focus is not None:
        z = float(camera.world_to_camera(focus[None])[0, 2])
        if z > 0:
            return 0.4 * z, 2.5 * z
    return DEFAULT_RANGE_M


def converging_focus(cameras: list[Camera]) -> np.ndarray | None:
    """The point a ring of cameras looks at (:func:`recon.cameras.focus_point`), or None when the
    optical axes do not meet near one point in front of every camera (a walk through a room)."""
    from recon.cameras import focus_point

    p = focus_point(cameras)
    depths = np.array([c.world_to_camera(p[None])[0, 2] for c in cameras])
    if (depths <= 0).any():
        return None
    off_axis = np.array([np.linalg.norm(np.cross(c.R[2], p - c.center)) for c in cameras])
    return p if np.median(off_axis) < 0.25 * np.median(depths) else None
