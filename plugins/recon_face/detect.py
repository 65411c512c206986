"""Faces and their 478 landmarks in one photo, with MediaPipe 0.10.21 (models inside the wheel).

Two stages, both offline:

1. **Face boxes** on a copy downscaled to at most :data:`DETECT_SIZE` pixels: MediaPipe's
   short-range and full-range BlazeFace detectors, merged (non-maximum suppression). Faces are
   ordered largest first; ``face_index`` picks one.
2. **Landmarks** on a square crop around the chosen box (twice its size, padded where it leaves
   the photo), resized to :data:`CROP_SIZE`: MediaPipe Face Mesh with refined landmarks (468
   mesh points + 10 iris points). The points are mapped back to the full-resolution photo; ``z``
   (MediaPipe's relative depth, in the same units as ``x``) is scaled to full-resolution pixels.

Face Mesh always runs on a square image: MediaPipe 0.10.21 warns that its landmark projection
supports only square regions without image dimensions, and square crops side-step that.

When neither detector finds a face (a face filling the whole photo can defeat both), Face Mesh
runs on the whole photo padded to a square, with its own detector.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from recon.structures import Frame, Landmarks

DETECT_SIZE = 1024
CROP_SIZE = 512
CROP_SCALE = 2.0
MIN_SCORE = 0.5
N_LANDMARKS = 478

_lock = threading.Lock()
_models: dict[str, Any] = {}


@dataclass
class FaceBox:
    """A detected face in full-resolution pixels: ``(x0, y0, x1, y1)``, detector score, and
    BlazeFace's six keypoints (6, 2): the subject's right eye, left eye, nose tip, mouth centre,
    right ear tragion, left ear tragion."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None = None

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))


@dataclass
class Detection:
    """The chosen face of one photo.

    :param landmarks: 478 points in full-resolution pixels (x, y) and relative depth z (pixels,
        MediaPipe's sign: smaller is nearer), visibility 1 inside the photo and 0 outside.
    :param box: the chosen face box (full-resolution pixels), or ``None`` when Face Mesh found
        the face without a box (the fallback).
    :param score: detector score of the chosen box (``None`` for the fallback).
    :param faces: how many faces the detectors found.
    :param face_index: which of them (largest first) was chosen.
    """

    landmarks: Landmarks
    box: np.ndarray | None
    score: float | None
    faces: int
    face_index: int


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence what MediaPipe's C++ side (TFLite, absl, glog) prints straight to file
    descriptor 2 ("Created TensorFlow Lite XNNPACK delegate", feedback-manager warnings), so a
    failing run still ends in one clear error line. Python's own stderr is flushed first."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _model(name: str) -> Any:
    """MediaPipe solutions, created once per process (creating one costs ~10 ms; reuse is safe
    under the lock)."""
    if name not in _models:
        from mediapipe.python.solutions import face_detection, face_mesh

        if name == "mesh":
            _models[name] = face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=3, min_detection_confidence=0.3
            )
        else:
            _models[name] = face_detection.FaceDetection(
                model_selection=1 if name == "full" else 0, min_detection_confidence=MIN_SCORE
            )
    return _models[name]


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 resized to ``size`` = (width, height) with PIL (area-averaging downscale)."""
    from PIL import Image

    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def detect_faces(image: np.ndarray) -> list[FaceBox]:
    """Face boxes in full-resolution pixels, largest first (both BlazeFace models, merged)."""
    h, w = image.shape[:2]
    scale = min(1.0, DETECT_SIZE / max(h, w))
    small = _resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    sh, sw = small.shape[:2]
    found: list[FaceBox] = []
    with _lock, _native_stderr_silenced():
        results = [_model(name).process(small) for name in ("full", "short")]
    for result in results:
        for det in result.detections or []:
            bb = det.location_data.relative_bounding_box
            box = np.array([bb.xmin * sw, bb.ymin * sh, (bb.xmin + bb.width) * sw, (bb.ymin + bb.height) * sh]) / scale
            keypoints = np.array([(k.x * sw, k.y * sh) for k in det.location_data.relative_keypoints]) / scale
            found.append(FaceBox(box, float(det.score[0]), keypoints if len(keypoints) == 6 else None))
    found.sort(key=lambda f: -f.score)
    kept: list[FaceBox] = []
    for face in found:
        if all(_iou(face.box, k.box) < 0.3 for k in kept):
            kept.append(face)
    kept.sort(key=lambda f: -f.area)
    return kept


def _square_crop(image: np.ndarray, center: np.ndarray, side: float, out: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A ``side`` x ``side`` square of ``image`` around ``center`` (zero-padded outside), resized
    to ``out`` pixels; returns (crop, top-left corner in full-resolution pixels, full pixels per
    crop pixel)."""
    h, w = image.shape[:2]
    side = max(int(round(side)), 8)
    x0 = int(round(center[0] - side / 2))
    y0 = int(round(center[1] - side / 2))
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    size = min(out, side) if side < out else out
    crop = _resize(canvas, (size, size))
    return crop, np.array([x0, y0], dtype=np.float64), side / size


def _mesh_landmarks(crop: np.ndarray) -> list[np.ndarray]:
    """Face Mesh on a square crop: a list of (478, 3) arrays in crop pixels (z scaled like x)."""
    with _lock, _native_stderr_silenced():
        result = _model("mesh").process(crop)
    n = crop.shape[0]
    faces = []
    for lms in result.multi_face_landmarks or []:
        pts = np.array([(p.x, p.y, p.z) for p in lms.landmark], dtype=np.float64)
        if len(pts) == N_LANDMARKS:
            faces.append(pts * n)
    return faces


def _pick_centered(faces: list[np.ndarray], center: np.ndarray) -> np.ndarray | None:
    if not faces:
        return None
    return min(faces, key=lambda p: float(np.linalg.norm(p[:, :2].mean(axis=0) - center)))


def to_frame_pixels(pts: np.ndarray, origin: np.ndarray, step: float) -> np.ndarray:
    """(N, 3) crop landmarks (crop pixels) to full-resolution pixels, ``z`` scaled like ``x``."""
    # Crop pixel p covers full-resolution [origin + p * step, origin + (p + 1) * step): the
    # normalised coordinate x * n maps to origin + x * n * step, pixel centres at +0.5 shift.
    full = np.empty_like(pts)
    full[:, 0] = origin[0] + pts[:, 0] * step - 0.5
    full[:, 1] = origin[1] + pts[:, 1] * step - 0.5
    full[:, 2] = pts[:, 2] * step
    return full


def inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) bool: the points (pixels) that fall inside a ``width`` x ``height`` image."""
    x, y = points[:, 0], points[:, 1]
    return (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)


def detect(frame: Frame, face_index: int = 0, near: np.ndarray | None = None) -> Detection | None:
    """The ``face_index``-th largest face of ``frame`` (or, with ``near``, the face whose box
    centre is nearest that point, pixels) and its landmarks, or ``None`` if no face.

    :raises IndexError: ``face_index`` is beyond the faces found (the message says how many).
    """
    image = frame.image
    h, w = image.shape[:2]
    boxes = detect_faces(image)
    if boxes and near is not None:
        face_index = int(np.argmin([np.linalg.norm(0.5 * (b.box[:2] + b.box[2:]) - near) for b in boxes]))
    if boxes:
        if not 0 <= face_index < len(boxes):
            raise IndexError(f"face_index={face_index} but {frame.name} has {len(boxes)} face(s) (0 is the largest)")
        chosen = boxes[face_index]
        center = 0.5 * (chosen.box[:2] + chosen.box[2:])
        side = CROP_SCALE * max(chosen.box[2] - chosen.box[0], chosen.box[3] - chosen.box[1])
        crop, origin, step = _square_crop(image, center, side, CROP_SIZE)
        pts = _pick_centered(_mesh_landmarks(crop), np.array([crop.shape[1] / 2, crop.shape[0] / 2]))
        box, score, count = chosen.box, chosen.score, len(boxes)
    else:
        pts = None
        box, score, count = None, None, 0
    if pts is None:
        # Fallback: Face Mesh's own detector on the whole photo, padded to a square.
        side = max(h, w)
        crop, origin, step = _square_crop(image, np.array([(w - 1) / 2 + 0.5, (h - 1) / 2 + 0.5]), side, max(CROP_SIZE, 256))
        faces = _mesh_landmarks(crop)
        if not faces:
            return None
        if box is None:
            faces.sort(key=lambda p: -float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])))
            count = len(faces)
            if not 0 <= face_index < count:
                raise IndexError(f"face_index={face_index} but {frame.name} has {count} face(s) (0 is the largest)")
            pts = faces[face_index]
        else:
            pts = _pick_centered(faces, (np.array([center[0], center[1]]) - origin) / step)
    full = to_frame_pixels(pts, origin, step)
    return Detection(
        landmarks=Landmarks(full.astype(np.float32), inside(full, w, h).astype(np.float32)),
        box=None if box is None else np.asarray(box, dtype=np.float64),
        score=score,
        faces=count,
        face_index=face_index,
    )
