"""A tracked clip as training data: the video method's ``tracking.npz`` (per-frame head pose, ARKit
weights, the textured head) and the clip's frames cropped to one fixed square around the head and
scaled to the training size.

The crop is the same for every frame (the camera does not move), so a background plate can be
estimated once for the clip: the per-pixel median of the training frames.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.structures import Camera

HELD_OUT_EVERY = 10  # every 10th tracked frame is held out of training
MIN_TRACKED_FRAMES = 10  # fewer tracked frames than this is too short a clip: 9 to learn from, 1 held out


@dataclass
class HeadParts:
    """The tracked person's textured head in its own frame (metres, +Y up, facing +Z): all parts
    joined into one mesh (``part`` says which part each face is), their 51 expression offsets,
    and each part's UVs and texture for the mesh baseline."""

    names: list[str]
    vertices: np.ndarray  # (V, 3) float32, the neutral head
    faces: np.ndarray  # (F, 3) int64 into vertices
    part: np.ndarray  # (F,) int64 index into names
    expression: np.ndarray  # (51, V, 3) float32
    uvs: list[np.ndarray]
    textures: list[np.ndarray]
    offsets: list[int]  # first vertex of each part

    @functools.cached_property
    def skin_faces(self) -> np.ndarray:
        return self.faces[self.part == self.names.index(_skin_name(self.names))]

    def displacement(self, weights: np.ndarray) -> np.ndarray:
        """(V, 3) how far expression ``weights`` (51,) move each vertex (head frame)."""
        return np.tensordot(np.asarray(weights, np.float32), self.expression, axes=1)

    def posed(self, weights: np.ndarray) -> np.ndarray:
        """(V, 3) vertices with expression ``weights`` (51,) applied (head frame)."""
        return self.vertices + self.displacement(weights)


def _skin_name(names: list[str]) -> str:
    skin = [n for n in names if n.endswith("skin")]
    if not skin:
        raise BadInputError(f"the tracked head has no skin part (parts: {', '.join(names)}); track the clip again with this recon")
    return skin[0]


@dataclass
class Tracking:
    """``tracking.npz`` of a face_video run: per tracked frame the head-to-camera ``R``, ``t``
    (OpenCV), the 51 ``weights`` and the frame's index in the clip; the clip's ``K``, size and
    frame rate; the textured head."""

    path: Path
    R: np.ndarray
    t: np.ndarray
    weights: np.ndarray
    found: np.ndarray
    frame_index: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]
    fps: float
    weight_names: list[str]
    head: HeadParts
    landmarks: np.ndarray  # (T, 478, 2) pixels, NaN where no face was found

    @classmethod
    def load(cls, path: Path) -> Tracking:
        """Read a ``tracking.npz``; a file that is not one (or from a recon too old to store the
        textured head) is a :class:`BadInputError` naming it."""
        try:
            z = np.load(path, allow_pickle=False)
            names = [str(n) for n in z["head_parts"]]
            offsets, total, faces, parts = [], 0, [], []
            for i, n in enumerate(names):
                offsets.append(total)
                faces.append(z[f"{n}_faces"] + total)
                parts.append(np.full(len(z[f"{n}_faces"]), i))
                total += len(z[f"{n}_vertices"])
            head = HeadParts(
                names=names,
                vertices=np.concatenate([z[f"{n}_vertices"] for n in names]).astype(np.float32),
                faces=np.concatenate(faces).astype(np.int64),
                part=np.concatenate(parts).astype(np.int64),
                expression=np.concatenate([z[f"{n}_expression"] for n in names], axis=1).astype(np.float32),
                uvs=[z[f"{n}_uvs"] for n in names],
                textures=[z[f"{n}_texture"] for n in names],
                offsets=offsets,
            )
            w, h = (int(v) for v in z["image_size"])
            tracking = cls(
                path=path, R=z["R"], t=z["t"], weights=z["weights"].astype(np.float32), found=z["found"].astype(bool),
                frame_index=z["frame_index"], K=z["K"], image_size=(w, h), fps=float(np.asarray(z["fps"]).reshape(-1)[0]),
                weight_names=[str(n) for n in z["weight_names"]], head=head, landmarks=z["landmarks"],
            )
        except (OSError, KeyError, ValueError) as exc:
            raise BadInputError(f"{path}: not a face_video tracking file with the textured head ({exc}); track the clip with `recon reconstruct CLIP --method face_video`") from None
        _skin_name(names)
        return tracking

    def camera(self, k: int, K: np.ndarray | None = None, size: tuple[int, int] | None = None) -> Camera:
        """Frame ``k``'s camera in the head's frame (world = head), optionally with a crop's K and size."""
        w, h = size or self.image_size
        return Camera(K=self.K if K is None else K, R=self.R[k], t=self.t[k], width=w, height=h)


def split(tracking: Tracking) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) positions among the tracked frames: every :data:`HELD_OUT_EVERY`-th
    tracked frame held out (the 10th, 20th, ...); bridged frames (no face) in neither."""
    tracked = np.flatnonzero(tracking.found)
    if len(tracked) < MIN_TRACKED_FRAMES:
        raise BadInputError(
            f"{tracking.path.parent}: only {len(tracked)} frames with a tracked face; an avatar needs at least "
            f"{MIN_TRACKED_FRAMES} (give a longer clip, or a lower --fps)"
        )
    held = (np.arange(len(tracked)) % HELD_OUT_EVERY) == HELD_OUT_EVERY - 1
    return tracked[~held], tracked[held]


@dataclass
class Crop:
    """A square ``side`` pixels wide at (``x0``, ``y0``) of the clip's frames, scaled to ``size``."""

    x0: int
    y0: int
    side: int
    size: int

    def intrinsics(self, K: np.ndarray) -> np.ndarray:
        """The clip's ``K`` for the cropped, scaled frames (pixel centres kept consistent)."""
        out = np.array(K, dtype=np.float64)
        out[:2, :2] *= self.size / self.side
        out[:2, 2] = self.points(K[None, :2, 2])[0]
        return out

    def apply(self, image: np.ndarray) -> np.ndarray:
        """``image`` cropped and scaled (area-averaged) to ``size`` x ``size``."""
        from PIL import Image

        patch = image[self.y0 : self.y0 + self.side, self.x0 : self.x0 + self.side]
        return np.asarray(Image.fromarray(patch).resize((self.size, self.size), Image.Resampling.BOX if self.side >= self.size else Image.Resampling.BILINEAR))

    def points(self, xy: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``xy`` (N, 2) of the clip's frames in the cropped, scaled frames."""
        s = self.size / self.side
        return (np.asarray(xy, dtype=np.float64) - [self.x0, self.y0] + 0.5) * s - 0.5

    def as_dict(self) -> dict[str, int]:
        return {"x0": self.x0, "y0": self.y0, "side": self.side, "size": self.size}


def head_crop(tracking: Tracking, frames: np.ndarray, size: int, margin_m: float) -> Crop:
    """The square around the head in every frame of ``frames`` (its vertices pushed out by
    ``margin_m`` for hair, plus 8 % of room), inside the image."""
    w, h = tracking.image_size
    head = tracking.head
    boxes = []
    for k in frames:
        v = head.posed(tracking.weights[k])
        centre = v.mean(0)
        v = v + margin_m * (v - centre) / np.maximum(np.linalg.norm(v - centre, axis=1, keepdims=True), 1e-9)
        xy = tracking.camera(k).project(v)
        boxes.append([*xy.min(0), *xy.max(0)])
    b = np.array(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    side = int(min(round(max(x1 - x0, y1 - y0) * 1.08), w, h))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(np.clip(round(cx - side / 2), 0, w - side))
    top = int(np.clip(round(cy - side / 2), 0, h - side))
    return Crop(left, top, side, size)


def read_frames(host: Any, clip: Path, tracking: Tracking, positions: np.ndarray, crop: Crop, read_options: dict[str, Any], progress: Any = None) -> np.ndarray:
    """(len(positions), size, size, 3) uint8: the clip's frames at the tracked ``positions``,
    cropped; decoded once, in order. The clip must give the frames it gave the tracker."""
    from recon.pipeline import read_inputs

    frames = read_inputs([clip], host.registry, read_options).frames
    if len(frames) != len(tracking.found):
        raise BadInputError(f"{clip}: {len(frames)} frames but its tracking has {len(tracking.found)}; track this clip again (same --fps and --max-frames)")
    wanted = set(int(p) for p in positions)
    out = {}
    for pos, frame in enumerate(frames):
        if pos in wanted:
            if frame.index is not None and int(frame.index) != int(tracking.frame_index[pos]):
                raise BadInputError(f"{clip}: frame {pos} is video frame {frame.index}, its tracking says {tracking.frame_index[pos]}; track this clip again")
            out[pos] = crop.apply(frame.image)
            if progress is not None:
                progress()
        if len(out) == len(wanted):
            break
    return np.stack([out[int(p)] for p in positions])
