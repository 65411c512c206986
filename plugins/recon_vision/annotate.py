"""Detections as data: per image, and for every reconstruction's report and GLB (``recon_annotate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")


def detect_frame(image: np.ndarray, detector: tuple[Any, list[str], str] | None, min_score: float = 0.5) -> dict[str, Any]:
    """``{"width", "height", "faces": [...], "objects": [...] or None, "object_model"}`` for one
    RGB image; ``objects`` is ``None`` without a detector."""
    from recon_face import find_faces
    from recon_vision.objects import detect_objects

    faces = [
        {
            "box": [round(float(v), 1) for v in f.box],
            "score": round(float(f.score), 4),
            "keypoints": None if f.keypoints is None else np.round(f.keypoints, 1).tolist(),
        }
        for f in find_faces(image)
    ]
    out: dict[str, Any] = {"width": int(image.shape[1]), "height": int(image.shape[0]), "faces": faces, "objects": None, "object_model": None}
    if detector is not None:
        model, categories, arch = detector
        out["objects"] = [{"label": o.label, "score": o.score, "box": list(o.box)} for o in detect_objects(image, model, categories, min_score)]
        out["object_model"] = arch
    return out


def annotate_photos(views: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Faces (and objects, with COCO weights in torch's cache) in each photo a reconstruction
    used, keyed by file name; ``None`` when its inputs were not photos."""
    from recon_vision.objects import cached_weights, load_detector

    photos = sorted({v["input"] for v in views if isinstance(v.get("input"), str) and Path(v["input"]).suffix.lower() in IMAGE_SUFFIXES and "frame" not in v})
    if not photos:
        return None
    source = cached_weights()
    detector = load_detector(source) if source is not None else None
    found = {}
    for photo in photos:
        try:
            image = _rgb(Path(photo))
        except OSError:
            continue  # gone or unreadable since the run read it: nothing to say about it
        result = detect_frame(image, detector)
        found[Path(photo).name] = {k: result[k] for k in ("faces", "objects") if result[k] is not None}
    return {"detections": found, "face_detector": "MediaPipe BlazeFace (short + full range)", "object_model": detector[2] if detector else None}


def _rgb(path: Path) -> np.ndarray:
    """The photo as the run saw it: EXIF orientation applied, RGB."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
