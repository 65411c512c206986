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
    if depth is None:
        return _rasterize_flat(tri, height, width)
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


def _rasterize_flat(tri: np.ndarray, height: int, width: int) -> Raster:
    """``rasterize`` without depth (UV atlases): the same pixels and barycentrics (the same inside
    test; where triangles share a pixel the lowest face index wins), but each triangle visits only
    its scanline spans (plus one pixel either side) instead of its bounding box, and no depth
    sort is needed."""
    F = len(tri)
    y0 = np.clip(np.ceil(tri[:, :, 1].min(axis=1)), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(tri[:, :, 1].max(axis=1)), -1, height - 1).astype(np.int64)
    nrows = (y1 - y0 + 1).clip(min=0)
    f = np.repeat(np.arange(F), nrows)
    y = (y0[f] + np.arange(nrows.sum()) - np.repeat(np.cumsum(nrows) - nrows, nrows)).astype(np.float64)
    xl = np.full(len(f), np.inf)
    xr = np.full(len(f), -np.inf)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        p, q = tri[f, i], tri[f, j]
        lo, hi = np.minimum(p[:, 1], q[:, 1]), np.maximum(p[:, 1], q[:, 1])
        on = (y >= lo - 1e-9) & (y <= hi + 1e-9)
        dy = q[:, 1] - p[:, 1]
        flat = np.abs(dy) < 1e-12
        t = np.where(flat, 0.0, (y - p[:, 1]) / np.where(flat, 1.0, dy))
        x = p[:, 0] + t * (q[:, 0] - p[:, 0])
        xl = np.where(on, np.minimum(xl, np.where(flat, np.minimum(p[:, 0], q[:, 0]), x)), xl)
        xr = np.where(on, np.maximum(xr, np.where(flat, np.maximum(p[:, 0], q[:, 0]), x)), xr)
    ok = np.isfinite(xl) & np.isfinite(xr)
    xs = np.where(ok, np.clip(np.ceil(np.where(ok, xl, 0.0)) - 1, 0, width), 0).astype(np.int64)
    xe = np.where(ok, np.clip(np.floor(np.where(ok, xr, 0.0)) + 1, -1, width - 1), -1).astype(np.int64)
    n = (xe - xs + 1).clip(min=0)
    face_index = np.full(height * width, -1, dtype=np.int64)
    bary = np.zeros((height * width, 3))
    # batches of whole spans, in face order, bounded in candidate pixels
    cum = np.cumsum(n)
    start = 0
    while start < len(n):
        base = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, base + _BATCH_PIXELS, side="right")), start + 1)
        m = n[start:stop]
        sf = np.repeat(f[start:stop], m)
        px = np.repeat(xs[start:stop], m) + np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)
        py = np.repeat(y[start:stop].astype(np.int64), m)
        a, b, c = tri[sf, 0], tri[sf, 1], tri[sf, 2]
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        good = np.abs(area) > 1e-12
        safe = np.where(good, area, 1.0)
        w0 = ((b[:, 0] - px) * (c[:, 1] - py) - (b[:, 1] - py) * (c[:, 0] - px)) / safe
        w1 = ((c[:, 0] - px) * (a[:, 1] - py) - (c[:, 1] - py) * (a[:, 0] - px)) / safe
        w2 = 1.0 - w0 - w1
        inside = good & (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
        sf, px, py, w0, w1, w2 = sf[inside], px[inside], py[inside], w0[inside], w1[inside], w2[inside]
        pix = py * width + px
        free = face_index[pix] < 0  # earlier batches (lower face indices) keep their pixels
        sf, pix, w0, w1, w2 = sf[free], pix[free], w0[free], w1[free], w2[free]
        counts = np.bincount(pix, minlength=height * width)
        dup = np.nonzero(counts[pix] > 1)[0]
        keep = np.ones(len(pix), bool)
        if len(dup):
            keep[dup] = False
            _, first = np.unique(pix[dup], return_index=True)  # candidates are in face order
            keep[dup[first]] = True
        pix, sf = pix[keep], sf[keep]
        face_index[pix] = sf
        bary[pix] = np.stack([w0[keep], w1[keep], w2[keep]], axis=1)
        start = stop
    return Raster(face_index.reshape(height, width), bary.reshape(height, width, 3), np.zeros((height, width), np.float32))


def rasterize_view(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> Raster:
    """Rasterize a mesh as ``camera`` sees it (perspective-correct, nearest surface wins)."""
    depth = camera.world_to_camera(vertices)[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = camera.project(vertices)
    xy = np.where(np.isfinite(xy), xy, -1e9)
    return rasterize(xy, faces, camera.height, camera.width, depth=np.where(depth > 0, depth, -1.0))
