"""``preview.mp4``: the clip with the tracked head's wireframe and the detected landmarks drawn
over each frame (H.264 through PyAV).

Frames are added one at a time and encoded as they come; the file is built in memory (a preview of
a long clip at :data:`MAX_SIDE` pixels is a few megabytes) and handed to the run's output folder.
"""

from __future__ import annotations

import numpy as np

from recon.structures import Camera

MAX_SIDE = 640  # the preview's longer side, pixels (frames are scaled down to it, never up)
RASTER_STEP = 2  # the head is rasterized at half the preview's size (4x cheaper), drawn in 2x2 blocks


class PreviewVideo:
    """An H.264 MP4 in memory (:class:`recon.mp4.Mp4Writer`) at ``fps``, frames of ``width`` x ``height`` scaled to :data:`MAX_SIDE`."""

    def __init__(self, fps: float, width: int, height: int, max_side: int = MAX_SIDE) -> None:
        from recon.mp4 import Mp4Writer, even_size

        self.scale = min(1.0, max_side / max(width, height))
        self.size = even_size(width, height, self.scale)
        self.writer = Mp4Writer(fps, self.size)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def add(self, image: np.ndarray, camera: Camera, mesh: tuple[np.ndarray, np.ndarray] | None, landmarks: np.ndarray | None) -> None:
        """One frame: ``image`` with the wireframe of ``mesh`` (vertices, faces; ``None``: no
        head) as ``camera`` sees it, its faces turned away left out, and ``landmarks`` (N, 2+)
        dotted in green."""
        from PIL import Image

        w, h = self.size
        sx, sy = w / image.shape[1], h / image.shape[0]
        photo = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR)).copy()
        if mesh is not None:
            _draw_wireframe(photo, camera, mesh[0], mesh[1], (sx, sy))
        if landmarks is not None:
            xy = np.round((np.asarray(landmarks)[:, :2] + 0.5) * (sx, sy) - 0.5).astype(int)
            ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
            photo[xy[ok, 1], xy[ok, 0]] = (40, 230, 60)
        self.writer.add(photo)

    def finish(self) -> bytes:
        """The MP4's bytes (the encoder flushed, the container closed)."""
        return self.writer.finish()


def _draw_wireframe(photo: np.ndarray, camera: Camera, vertices: np.ndarray, faces: np.ndarray, scale: tuple[float, float], samples: int = 6) -> None:
    """Draw the edges of the faces that face ``camera`` into ``photo`` (in place, light blue, half
    blended), ``samples`` dots an edge; ``scale`` maps the camera's pixels to the photo's."""
    v = camera.world_to_camera(vertices)
    tri = v[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    front = faces[(normal * tri.mean(1)).sum(1) < 0]
    uv = v[:, :2] / np.maximum(v[:, 2:3], 1e-6) * np.diag(camera.K)[:2] + camera.K[:2, 2]
    uv = (uv + 0.5) * scale - 0.5
    edges = np.concatenate([front[:, [0, 1]], front[:, [1, 2]], front[:, [2, 0]]])
    t = np.linspace(0.0, 1.0, samples)[None, :, None]
    dots = np.round(uv[edges[:, 0]][:, None] * (1 - t) + uv[edges[:, 1]][:, None] * t).reshape(-1, 2).astype(np.int64)
    h, w = photo.shape[:2]
    ok = (dots[:, 0] >= 0) & (dots[:, 0] < w) & (dots[:, 1] >= 0) & (dots[:, 1] < h)
    y, x = dots[ok, 1], dots[ok, 0]
    photo[y, x] = (photo[y, x] // 2 + np.array([90, 110, 127], dtype=np.uint8)).astype(np.uint8)
