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
        self._faces: np.ndarray | None = None  # the faces whose edges are cached
        self._edges: tuple[np.ndarray, np.ndarray] | None = None

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
        if image.shape[:2] == (h, w):
            photo = np.array(image, dtype=np.uint8)
        else:
            photo = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR)).copy()
        if mesh is not None:
            if self._faces is not mesh[1]:
                self._faces, self._edges = mesh[1], mesh_edges(mesh[1])
            _draw_wireframe(photo, camera, mesh[0], mesh[1], (sx, sy), self._edges)
        if landmarks is not None:
            xy = np.round((np.asarray(landmarks)[:, :2] + 0.5) * (sx, sy) - 0.5).astype(int)
            ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
            photo[xy[ok, 1], xy[ok, 0]] = (40, 230, 60)
        self.writer.add(photo)

    def finish(self) -> bytes:
        """The MP4's bytes (the encoder flushed, the container closed)."""
        return self.writer.finish()


def mesh_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's edges, each once, (E, 2) vertex indices, and (E, 2) two faces each borders (the
    same one twice on an open border)."""
    import trimesh

    mesh = trimesh.Trimesh(np.zeros((int(faces.max()) + 1, 3)), faces, process=False)
    owner = mesh.edges_face
    first = np.full(len(mesh.edges_unique), len(faces), np.int64)
    last = np.full(len(mesh.edges_unique), -1, np.int64)
    np.minimum.at(first, mesh.edges_unique_inverse, owner)
    np.maximum.at(last, mesh.edges_unique_inverse, owner)
    return np.asarray(mesh.edges_unique, np.int64), np.stack([first, last], axis=1)


def _draw_wireframe(
    photo: np.ndarray, camera: Camera, vertices: np.ndarray, faces: np.ndarray, scale: tuple[float, float],
    edges: tuple[np.ndarray, np.ndarray] | None = None, samples: int = 6,
) -> None:
    """Draw the edges of the faces that face ``camera`` into ``photo`` (in place, light blue, half
    blended), ``samples`` dots an edge; ``scale`` maps the camera's pixels to the photo's;
    ``edges``: :func:`mesh_edges` of ``faces``, when the caller keeps them. In float32 and on
    the drawn pixels only (a whole-frame uint8 operation costs milliseconds on a CPU without AVX-512)."""
    v = camera.world_to_camera(vertices).astype(np.float32)
    # a face turns to the camera when its normal points against its corners' ray: v0 . (v1 x v2) < 0
    front = np.einsum("fd,fd->f", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])) < 0
    ends, borders = edges if edges is not None else mesh_edges(faces)
    shown = ends[front[borders[:, 0]] | front[borders[:, 1]]]
    f, c = np.diag(camera.K)[:2].astype(np.float32), camera.K[:2, 2].astype(np.float32)
    uv = ((v[:, :2] / np.maximum(v[:, 2:3], 1e-6) * f + c + 0.5) * np.asarray(scale, np.float32) - 0.5).T  # (2, V)
    t = np.linspace(0.0, 1.0, samples, dtype=np.float32)
    a, b = uv[:, shown[:, 0]], uv[:, shown[:, 1]]  # (2, E)
    xy = np.rint(a[:, :, None] + (b - a)[:, :, None] * t).astype(np.int32)  # (2, E, samples)
    h, w = photo.shape[:2]
    x, y = xy[0].ravel(), xy[1].ravel()
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    drawn = np.zeros(h * w, bool)
    drawn[y[ok] * w + x[ok]] = True
    pixels = photo.reshape(-1, 3)
    at = np.flatnonzero(drawn)
    pixels[at] = (pixels[at] >> 1) + np.array([90, 110, 127], dtype=np.uint8)
