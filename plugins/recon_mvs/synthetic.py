"""Synthetic multi-view training data with exact depth: random rooms with boxes in them, seen by a
handheld camera moving a little between views (the situation of an indoor sweep).

Every surface is a subdivided quad mesh rasterized by :mod:`recon.raster` (each pixel's surface
point and depth); its colour is a procedural function of the 3D point (so it is the same in every
view): a base colour, a sum of random sinusoids at random wavelengths (8 cm to 1.5 m), and about
a third of the surfaces nearly plain (walls with nothing to match, as real rooms have), times
Lambert shading from a light fixed in the room; then a camera's look (:func:`camera_look`:
gamma, contrast, exposure, blur, noise). Given a bank of photographs (:func:`photo_bank`), about
half of the surfaces wear a photograph instead, projected along the surface's dominant axis
(real image statistics: edges, clutter, print), scaled to 0.4-3 m a photograph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures import Camera


@dataclass
class Sample:
    """``images`` (V, H, W, 3) uint8, view 0 the reference; ``cameras`` (V); ``depth`` (H, W) of
    the reference (metres along z, 0 where nothing is)."""

    images: np.ndarray
    cameras: list[Camera]
    depth: np.ndarray


def _quad(origin: np.ndarray, u: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A (n x n)-cell grid over the parallelogram origin + s u + t v, s, t in [0, 1]."""
    s = np.linspace(0.0, 1.0, n + 1)
    grid = origin + s[:, None, None] * u + s[None, :, None] * v
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return grid.reshape(-1, 3), faces


def _box(lo: np.ndarray, hi: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    size = hi - lo
    ex, ey, ez = np.diag(size)
    return [
        _quad(lo, ex, ey, n), _quad(lo + ez, ex, ey, n), _quad(lo, ex, ez, n),
        _quad(lo + ey, ex, ez, n), _quad(lo, ey, ez, n), _quad(lo + ex, ey, ez, n),
    ]


def photo_bank(folders: list[object], size: int = 384) -> list[np.ndarray]:
    """The images (``*.jpg``, ``*.png``) in ``folders``, each resized to ``size`` pixels across,
    float (H, W, 3) in [0, 1]: the photographs :func:`random_scene` may put on surfaces."""
    from pathlib import Path

    from PIL import Image

    bank = []
    for folder in folders:
        for path in sorted(p for p in Path(str(folder)).iterdir() if p.suffix.lower() in (".jpg", ".png")):
            with Image.open(path) as im:
                im = im.convert("RGB")
                im = im.resize((size, max(1, round(size * im.height / im.width))), Image.Resampling.LANCZOS)
                bank.append(np.asarray(im, dtype=np.float64) / 255.0)
    return bank


class _Texture:
    """A procedural colour of 3D points, or a photograph projected onto them."""

    def __init__(self, rng: np.random.Generator, photos: list[np.ndarray] | None = None) -> None:
        self.photo = photos[int(rng.integers(len(photos)))] if photos and rng.random() < 0.5 else None
        self.metres = rng.uniform(0.4, 3.0)  # the photograph's width on the surface
        self.offset = rng.uniform(0.0, 1.0, 2)
        self.base = rng.uniform(0.15, 0.9, 3)
        plain = rng.random() < 0.33
        k = 0 if plain else int(rng.integers(3, 10))
        self.freq = rng.normal(size=(k, 3)) * (2 * np.pi / np.exp(rng.uniform(np.log(0.08), np.log(1.5), (k, 1))))
        self.phase = rng.uniform(0, 2 * np.pi, k)
        self.amp = rng.uniform(0.05, 0.35, (k, 3)) * (0.3 if plain else 1.0)
        self.gradient = rng.normal(size=3) * 0.05

    def __call__(self, p: np.ndarray, normal: np.ndarray) -> np.ndarray:
        if self.photo is not None:
            return self._photo(p, normal)
        c = self.base + p @ self.gradient[:, None] * np.ones(3)
        if len(self.phase):
            c = c + np.sin(p @ self.freq.T + self.phase) @ self.amp
        return np.clip(c, 0.0, 1.0)

    def _photo(self, p: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """Bilinear samples of the photograph, tiled, in the plane across each point's dominant normal axis."""
        h, w = self.photo.shape[:2]
        axis = np.abs(normal).argmax(1)
        first, second = np.where(axis == 0, 2, 0), np.where(axis == 1, 2, 1)
        rows = np.arange(len(p))
        u = (p[rows, first] / self.metres + self.offset[0]) * w
        v = (p[rows, second] / self.metres + self.offset[1]) * w
        u0, v0 = np.floor(u), np.floor(v)
        fu, fv = (u - u0)[:, None], (v - v0)[:, None]
        x0, y0 = u0.astype(int) % w, v0.astype(int) % h
        x1, y1 = (x0 + 1) % w, (y0 + 1) % h
        top = self.photo[y0, x0] * (1 - fu) + self.photo[y0, x1] * fu
        bottom = self.photo[y1, x0] * (1 - fu) + self.photo[y1, x1] * fu
        return top * (1 - fv) + bottom * fv


def random_scene(rng: np.random.Generator, photos: list[np.ndarray] | None = None) -> list[tuple[np.ndarray, np.ndarray, _Texture]]:
    """A room (floor, ceiling, four walls) with a few boxes on the floor: (vertices, faces, texture)
    each; surfaces may wear one of ``photos`` (:func:`photo_bank`)."""
    w, h, d = rng.uniform(3.0, 8.0), rng.uniform(2.3, 3.2), rng.uniform(3.0, 8.0)
    lo, hi = np.array([-w / 2, 0.0, -d / 2]), np.array([w / 2, h, d / 2])
    parts = [(v, f, _Texture(rng, photos)) for v, f in _box(lo, hi, 24)]
    for _ in range(int(rng.integers(2, 9))):
        size = rng.uniform([0.2, 0.2, 0.2], [1.4, 1.5, 1.4])
        centre = rng.uniform(lo + size / 2 + 0.3, hi - size / 2 - 0.3)
        centre[1] = size[1] / 2 if rng.random() < 0.8 else rng.uniform(size[1] / 2, h - size[1] / 2)
        parts += [(v, f, _Texture(rng, photos)) for v, f in _box(centre - size / 2, centre + size / 2, 6)]
    return parts


def _look(eye: np.ndarray, forward: np.ndarray, roll: float) -> np.ndarray:
    z = forward / np.linalg.norm(forward)
    x = np.cross(np.array([0.0, -1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ R


def render_view(parts: list, camera: Camera, light: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image and (H, W) depth of the scene."""
    from recon.raster import rasterize_view

    vertices = np.concatenate([p[0] for p in parts])
    offsets = np.cumsum([0] + [len(p[0]) for p in parts])
    faces = np.concatenate([p[1] + offsets[i] for i, p in enumerate(parts)])
    owner = np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(parts)])
    raster = rasterize_view(vertices, faces, camera)
    h, w = camera.height, camera.width
    image = np.zeros((h, w, 3))
    hit = raster.face_index >= 0
    f = raster.face_index[hit]
    corners = vertices[faces[f]]
    points = np.einsum("nk,nkd->nd", raster.bary[hit], corners)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    shade = 0.45 + 0.55 * np.abs(normal @ light)
    colour = np.zeros((len(f), 3))
    for i in np.unique(owner[f]):
        sel = owner[f] == i
        colour[sel] = parts[i][2](points[sel], normal[sel])
    image[hit] = colour * shade[:, None]
    image += rng.normal(0.0, 0.01, image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), np.where(hit, raster.depth, 0.0).astype(np.float32)


def random_sample(rng: np.random.Generator, views: int = 3, width: int = 192, height: int = 128, photos: list[np.ndarray] | None = None) -> Sample:
    """One reference view and ``views - 1`` sources of a new random room (see the module docstring)."""
    parts = random_scene(rng, photos)
    room = np.concatenate([p[0] for p in parts[:6]])
    lo, hi = room.min(0), room.max(0)
    f = width * rng.uniform(0.8, 1.1)
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
    eye = rng.uniform(lo + [0.5, 1.0, 0.5], hi - [0.5, 1.0, 0.5])
    eye[1] = rng.uniform(1.0, min(2.0, hi[1] - 0.3))
    to_centre = (lo + hi) / 2 - eye  # look across the room rather than at the nearest wall
    yaw, pitch = np.arctan2(to_centre[0], to_centre[2]) + rng.uniform(-1.0, 1.0), rng.uniform(-0.45, 0.1)
    forward = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    light = rng.normal(size=3)
    light /= np.linalg.norm(light)
    cameras, images = [], []
    for k in range(views):
        step = np.zeros(3) if k == 0 else rng.normal(size=3) * rng.uniform(0.04, 0.25)
        turn = np.zeros(3) if k == 0 else rng.normal(size=3) * 0.05
        R = _look(eye + step, forward + turn, rng.normal() * 0.03 if k else 0.0)
        camera = Camera(K=K, R=R, t=-R @ (eye + step), width=width, height=height)
        image, depth = render_view(parts, camera, light, rng)
        cameras.append(camera)
        images.append(image)
        if k == 0:
            ref_depth = depth
    return Sample(camera_look(np.stack(images), rng), cameras, ref_depth)


def camera_look(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a real camera does to the renders: a random gamma, contrast and brightness for the
    sequence, a little exposure change from view to view, defocus blur and sensor noise."""
    from scipy.ndimage import gaussian_filter

    x = images.astype(np.float64) / 255.0
    x = x ** rng.uniform(0.6, 1.6)
    x = (x - 0.5) * rng.uniform(0.5, 1.2) + 0.5 + rng.uniform(-0.15, 0.1)
    x = x * rng.uniform(0.9, 1.1, (len(x), 1, 1, 1))
    sigma = rng.uniform(0.0, 1.3)
    if sigma > 0.2:
        x = gaussian_filter(x, (0, sigma, sigma, 0))
    x = x + rng.normal(0.0, rng.uniform(0.0, 0.03), x.shape)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
