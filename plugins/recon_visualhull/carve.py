"""Silhouette masks, the working volume and voxel carving."""

from __future__ import annotations

import numpy as np

from recon.structures import Camera, Frame


def silhouette(frame: Frame, threshold: float) -> np.ndarray:
    """The frame's mask, or pixels farther than ``threshold`` grey levels from the border colour."""
    if frame.mask is not None:
        return frame.mask
    img = frame.image.astype(np.int16)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    background = np.median(border, axis=0)
    return np.abs(img - background).max(axis=2) > threshold


def carve(
    masks: list[np.ndarray],
    cameras: list[Camera],
    bounds: np.ndarray,
    resolution: int,
    chunk: int = 1 << 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy of a voxel grid over ``bounds`` ((2, 3) min/max): a voxel stays when every view
    that sees it (projects inside the image, in front of the camera) sees foreground.

    :returns: (occupancy (D, H, W) float32 indexed [z, y, x], voxel size (3,)).
    """
    extent = bounds[1] - bounds[0]
    step = extent.max() / resolution
    shape = np.maximum(np.ceil(extent / step).astype(int), 2)  # (nx, ny, nz)
    axes = [bounds[0][i] + (np.arange(shape[i]) + 0.5) * step for i in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)
    keep = np.ones(len(points), dtype=bool)
    for start in range(0, len(points), chunk):
        sl = slice(start, start + chunk)
        p = points[sl]
        alive = keep[sl]
        for mask, cam in zip(masks, cameras):
            depth = cam.world_to_camera(p)[:, 2]
            pix = np.round(cam.project(p)).astype(np.int64)
            inside = (depth > 0) & (pix[:, 0] >= 0) & (pix[:, 0] < cam.width) & (pix[:, 1] >= 0) & (pix[:, 1] < cam.height)
            fg = np.zeros(len(p), dtype=bool)
            fg[inside] = mask[pix[inside, 1], pix[inside, 0]]
            alive &= fg | ~inside
        keep[sl] = alive
    occupancy = keep.reshape(shape[2], shape[1], shape[0]).astype(np.float32)
    return occupancy, np.full(3, step)


def occupied_bounds(occupancy: np.ndarray, bounds: np.ndarray, step: float, margin: int = 2) -> np.ndarray | None:
    """Tight (2, 3) bounds of the occupied voxels plus ``margin`` voxels; None when empty."""
    idx = np.argwhere(occupancy > 0.5)  # (n, 3) as z, y, x
    if len(idx) == 0:
        return None
    lo = idx.min(axis=0)[::-1] - margin
    hi = idx.max(axis=0)[::-1] + 1 + margin
    return np.stack([bounds[0] + lo * step, bounds[0] + hi * step])
