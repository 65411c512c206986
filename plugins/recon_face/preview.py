"""``preview.png``: the fitted mesh drawn over each photo, with the detected landmarks.

Drawn with :mod:`recon.raster` (no torch on the CPU path): a head-lit grey shading of the mesh
as that photo shows it, blended over the photo, its wireframe's silhouette sharpened by the
blend, and the detected landmarks as green dots.
"""

from __future__ import annotations

import numpy as np

from recon.structures import Camera

HEIGHT = 384
MAX_VIEWS = 6


def overlay(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, camera: Camera, landmarks: np.ndarray | None, height: int = HEIGHT) -> np.ndarray:
    """One square tile around the face (1.8 times the mesh's projected size), ``height`` pixels,
    with the shaded mesh blended over the photo and the detected landmarks dotted in green."""
    from PIL import Image

    from recon.raster import rasterize_view

    proj = camera.project(np.asarray(vertices, dtype=np.float64))
    centre = 0.5 * (proj.min(0) + proj.max(0))
    side = 1.8 * float(np.max(np.ptp(proj, axis=0)))
    x0, y0 = centre - side / 2
    scale = height / side
    # a camera whose image is the tile: shift the principal point, then scale
    K = camera.K.copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    K[:2] *= scale
    K[0, 2] += 0.5 * scale - 0.5
    K[1, 2] += 0.5 * scale - 0.5
    tile_cam = Camera(K=K, R=camera.R, t=camera.t, width=height, height=height)
    # the photo resampled into the tile (pixel centres mapped exactly, black outside)
    box = (x0 - 0.5 + 0.5, y0 - 0.5 + 0.5, x0 + side, y0 + side)
    photo = np.asarray(
        Image.fromarray(image).transform((height, height), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR),
        dtype=np.float32,
    )
    raster = rasterize_view(vertices, faces, tile_cam)
    covered = raster.face_index >= 0
    v = np.asarray(vertices, dtype=np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
    shade = np.clip(-(fn @ camera.R.T)[:, 2], 0, 1)  # a head light looking along the camera's +z
    lum = np.zeros(covered.shape, dtype=np.float32)
    lum[covered] = 60 + 170 * shade[raster.face_index[covered]]
    mesh_rgb = np.stack([lum, lum * 0.95, lum * 0.9], axis=-1)
    out = np.where(covered[..., None], 0.45 * photo + 0.55 * mesh_rgb, photo)
    if landmarks is not None:
        pts = (np.asarray(landmarks)[:, :2] - [x0, y0]) * scale + 0.5 * scale - 0.5
        r = max(1, round(height / 320))
        for x, y in np.round(pts).astype(int):
            if 0 <= x < height and 0 <= y < height:
                out[max(y - r + 1, 0) : y + r, max(x - r + 1, 0) : x + r] = (40, 230, 60)
    return np.clip(out, 0, 255).astype(np.uint8)


def tile(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles side by side (padded to one height), separated by a dark gap."""
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    gap = np.full((tiles[0].shape[0], 4, 3), 20, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for t in tiles:
        parts += [t, gap]
    return np.concatenate(parts[:-1], axis=1)
