"""A fast CPU triangle rasterizer (NumPy), recon's CPU path for depth buffers and UV atlases.

PyTorch3D's CPU kernel tests every face against every pixel (it has no coarse-to-fine binning on
the CPU); here each triangle visits only the pixels of its bounding box, vectorised over all
triangles at once. On a GPU, recon uses PyTorch3D's CUDA rasterizer instead.

Pixel convention: OpenCV's (pixel (row v, column u) has its centre at (u, v)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures import Camera

# Candidate pixels handled per batch of triangles: bounds peak memory (~100 bytes each).
_BATCH_PIXELS = 4_000_000


@dataclass
class Raster:
    """Per-pixel nearest face (-1 = none), barycentrics (H, W, 3) and depth (H, W; 0 = none)."""

    face_index: np.ndarray
    bary: np.ndarray
    depth: np.ndarray


def rasterize(
    xy: np.ndarray,
    faces: np.ndarray,
    height: int,
    width: int,
    depth: np.ndarray | None = None,
    perspective_correct: bool = True,
) -> Raster:
    """Rasterize triangles whose vertices sit at pixel positions ``xy`` (N, 2).

    :param depth: (N,) positive camera depth per vertex; the nearest triangle wins. ``None`` for
        flat layouts (UV atlases) where triangles do not overlap.
    :param perspective_correct: barycentrics interpolate 1/depth-weighted (what a pinhole camera
        sees); only with ``depth``.
    """
    xy = np.asarray(xy, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    tri = xy[faces]  # (F, 3, 2)
    zf = None if depth is None else np.asarray(depth, dtype=np.float64)[faces]  # (F, 3)
    keep = np.ones(len(faces), bool) if zf is None else (zf > 0).all(axis=1)
    x0 = np.clip(np.ceil(tri[:, :, 0].min(axis=1)), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(tri[:, :, 0].max(axis=1)), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(tri[:, :, 1].min(axis=1)), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(tri[:, :, 1].max(axis=1)), -1, height - 1).astype(np.int64)
    w = np.where(keep, x1 - x0 + 1, 0).clip(min=0)
    h = np.where(keep, y1 - y0 + 1, 0).clip(min=0)
    counts = w * h

    best = np.full(height * width, np.inf)
    face_index = np.full(height * width, -1, dtype=np.int64)
    bary = np.zeros((height * width, 3))
    zbuf = np.zeros(height * width)
    order = np.nonzero(counts)[0]
    cum = np.cumsum(counts[order])
    start = 0
    while start < len(order):
        base = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, base + _BATCH_PIXELS, side="right")), start + 1)
        batch = order[start:stop]
        _fill(batch, counts, x0, y0, w, tri, zf, perspective_correct, width, best, face_index, bary, zbuf)
        start = stop
    return Raster(face_index.reshape(height, width), bary.reshape(height, width, 3), zbuf.reshape(height, width).astype(np.float32))


def _fill(
    batch: np.ndarray,
    counts: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    w: np.ndarray,
    tri: np.ndarray,
    zf: np.ndarray | None,
    perspective_correct: bool,
    width: int,
    best: np.ndarray,
    face_index: np.ndarray,
    bary: np.ndarray,
    zbuf: np.ndarray,
) -> None:
    """Test every bounding-box pixel of the triangles in ``batch``; keep the nearest per pixel."""
    n = counts[batch]
    f = np.repeat(batch, n)
    local = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    px = x0[f] + local % w[f]
    py = y0[f] + local // w[f]
    a, b, c = tri[f, 0], tri[f, 1], tri[f, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    ok = np.abs(area) > 1e-12
    safe = np.where(ok, area, 1.0)
    w0 = ((b[:, 0] - px) * (c[:, 1] - py) - (b[:, 1] - py) * (c[:, 0] - px)) / safe
    w1 = ((c[:, 0] - px) * (a[:, 1] - py) - (c[:, 1] - py) * (a[:, 0] - px)) / safe
    w2 = 1.0 - w0 - w1
    inside = ok & (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
    f, px, py, w0, w1, w2 = f[inside], px[inside], py[inside], w0[inside], w1[inside], w2[inside]
    pix = py * width + px
    weights = np.stack([w0, w1, w2], axis=1)
    if zf is None:
        z = np.zeros(len(f))
    else:
        inv = weights / zf[f]
        z = 1.0 / inv.sum(axis=1)  # depth interpolates as 1/z in screen space
        if perspective_correct:
            weights = inv * z[:, None]
    # Nearest first, then the first occurrence of each pixel wins; then merge with earlier batches.
    order = np.lexsort((z, pix))
    pix, first = np.unique(pix[order], return_index=True)
    sel = order[first]
    closer = z[sel] < best[pix]
    pix, sel = pix[closer], sel[closer]
    best[pix] = z[sel]
    face_index[pix] = f[sel]
    bary[pix] = weights[sel]
    zbuf[pix] = z[sel]


def rasterize_view(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> Raster:
    """Rasterize a mesh as ``camera`` sees it (perspective-correct, nearest surface wins)."""
    depth = camera.world_to_camera(vertices)[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = camera.project(vertices)
    xy = np.where(np.isfinite(xy), xy, -1e9)
    return rasterize(xy, faces, camera.height, camera.width, depth=np.where(depth > 0, depth, -1.0))
