"""Fusing per-view depth maps into one coloured point cloud with normals.

A pixel's depth is kept when it is confident enough and when enough of its source views agree:
its 3D point projected into a source, that source's depth there lifted back to 3D and projected
into the reference must land within ``pixel_tolerance`` pixels with a depth within
``depth_tolerance`` (relative) of the reference's (MVSNet's geometric consistency check). The kept
point is the mean of the agreeing points; its colour is the reference pixel's; its normal comes
from the reference depth map's neighbours, turned towards the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures import Camera, PointCloud


@dataclass
class DepthView:
    """One view's depth (H, W, metres along z), confidence, colour image (H, W, 3) and camera."""

    depth: np.ndarray
    confidence: np.ndarray
    image: np.ndarray
    camera: Camera


def backproject(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """(H, W, 3) world points of every pixel of ``depth``."""
    h, w = depth.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = np.stack([xs, ys, np.ones_like(xs)], axis=-1) @ np.linalg.inv(camera.K).T
    x_cam = rays * depth[..., None]
    return (x_cam - camera.t) @ camera.R


def _normals(points: np.ndarray, camera: Camera) -> np.ndarray:
    """(H, W, 3) unit normals of a point map from its neighbours, facing ``camera``."""
    dx = np.zeros_like(points)
    dy = np.zeros_like(points)
    dx[:, 1:-1] = points[:, 2:] - points[:, :-2]
    dy[1:-1] = points[2:] - points[:-2]
    n = np.cross(dx, dy)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    towards = camera.center - points
    return np.where((np.einsum("hwd,hwd->hw", n, towards) < 0)[..., None], -n, n)


def agreement(
    views: list[DepthView], sources: list[list[int]], depth_tolerance: float = 0.01, pixel_tolerance: float = 1.0,
    maps: list[np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per view, how many of its ``sources`` confirm each pixel's depth (H, W) and the sum of the
    pixel's own point and the confirming sources' points (H, W, 3): the pixel's 3D point projected
    into a source, that source's depth there lifted back to 3D and projected into the view must
    land within ``pixel_tolerance`` pixels with a depth within ``depth_tolerance`` (relative).
    ``maps``: the views' :func:`backproject` point maps, when the caller has them."""
    maps = [backproject(v.depth, v.camera) for v in views] if maps is None else maps
    out = []
    for i, view in enumerate(views):
        h, w = view.depth.shape
        agree = np.zeros((h, w), np.int32)
        total = maps[i].copy()
        pts = maps[i].reshape(-1, 3)
        ys, xs = np.divmod(np.arange(h * w), w)
        depth = view.depth.reshape(-1)
        for j in sources[i]:
            other = views[j]
            with np.errstate(divide="ignore", invalid="ignore"):
                q = other.camera.project(pts)
            u = np.round(q[:, 0]).astype(np.int64)
            v = np.round(q[:, 1]).astype(np.int64)
            inside = (u >= 0) & (u < other.depth.shape[1]) & (v >= 0) & (v < other.depth.shape[0])
            back = np.full_like(pts, np.nan)
            back[inside] = maps[j][v[inside], u[inside]]
            with np.errstate(divide="ignore", invalid="ignore"):
                p = view.camera.project(back)
                z = view.camera.world_to_camera(back)[:, 2]
            ok = inside & (np.hypot(p[:, 0] - xs, p[:, 1] - ys) < pixel_tolerance)
            ok &= np.abs(z - depth) < depth_tolerance * depth
            ok &= (other.depth[np.clip(v, 0, other.depth.shape[0] - 1), np.clip(u, 0, other.depth.shape[1] - 1)] > 0)
            ok = ok.reshape(h, w)
            agree += ok
            total[ok] += back.reshape(h, w, 3)[ok]
        out.append((agree, total))
    return out


def fuse(
    views: list[DepthView],
    sources: list[list[int]],
    min_agree: int = 2,
    depth_tolerance: float = 0.01,
    pixel_tolerance: float = 1.0,
    min_confidence: float = 0.1,
) -> tuple[PointCloud, list[dict[str, float]]]:
    """The fused cloud and, per view, the share of its pixels kept."""
    maps = [backproject(v.depth, v.camera) for v in views]
    clouds, colours, normals, stats = [], [], [], []
    for view, points, (agree, total) in zip(views, maps, agreement(views, sources, depth_tolerance, pixel_tolerance, maps)):
        valid = (view.depth > 0) & np.isfinite(view.depth) & (view.confidence >= min_confidence)
        keep = valid & (agree >= min_agree)
        clouds.append((total[keep] / (agree[keep] + 1)[:, None]).astype(np.float32))
        colours.append(view.image[keep])
        normals.append(_normals(points, view.camera)[keep].astype(np.float32))
        stats.append({"kept": round(float(keep.mean()), 4), "confident": round(float(valid.mean()), 4)})
    cloud = PointCloud(np.concatenate(clouds), normals=np.concatenate(normals), colors=np.concatenate(colours))
    return cloud, stats
