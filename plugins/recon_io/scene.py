"""Calibrated multi-view scene folders: images with known cameras, in recon's (OpenCV) convention.

A folder is a scene when it holds one of these (checked in this order):

1. ``cameras.json``, recon's own format (written by :func:`write_scene_cameras`)::

       {"convention": "opencv",
        "frames": [{"file": "view_000.png", "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                    "R": [[...], [...], [...]], "t": [tx, ty, tz], "width": 640, "height": 480,
                    "mask": "view_000_mask.png"}],
        "bounds": [[xmin, ymin, zmin], [xmax, ymax, zmax]]}

   ``x_cam = R @ X + t``, pixel ``= K @ x_cam`` with pixel centres on integer coordinates (the
   centre of the top-left pixel is (0, 0)). ``file`` and the optional ``mask`` (white = object) are
   relative to the folder; ``bounds`` (optional) is the object's world-space bounding box.
2. A Middlebury ``*_par.txt``: a count line, then ``name.png k11..k33 r11..r33 t1 t2 t3`` per view,
   projection ``K [R | t]``. K is used as given, i.e. read in the OpenCV pixel convention. The
   dataset README only says "origin top-left"; the calibration and the tools that consume it project
   with ``K [R | t]`` and index the pixel whose centre is at the rounded result, which is OpenCV's
   convention. The other reading (origin at the pixel corner) would move every projection by
   0.5 px, below the calibration's own accuracy. The bounding box printed in a sibling
   ``README.txt`` ("bounding box ... (x y z) (x y z)") becomes the bounds.
3. An MVSNet layout: ``cams/<id>_cam.txt`` (see :func:`recon.cameras.from_mvsnet`) and
   ``images/<id>.<ext>``; each frame's :class:`recon.cameras.DepthRange` goes in
   ``Frame.meta["depth_range"]``.

Every frame carries a :class:`recon.structures.Camera` named after its image file, a mask from the
image's alpha channel (or the ``mask`` file), and the bounds as a (2, 3) array in
``Frame.meta["bounds"]`` when known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.structures import Camera, Frame, Inputs

CAMERAS_JSON = "cameras.json"


def is_scene_folder(path: Path) -> bool:
    """True for a folder holding ``cameras.json``, a ``*_par.txt`` or ``cams/*_cam.txt`` + ``images/``."""
    if not path.is_dir():
        return False
    if (path / CAMERAS_JSON).is_file() or any(path.glob("*_par.txt")):
        return True
    return (path / "images").is_dir() and any((path / "cams").glob("*_cam.txt"))


def read_scene(path: Path, options: dict[str, Any]) -> Inputs:
    """The frames of a scene folder, each with its camera (see the module docstring)."""
    if (path / CAMERAS_JSON).is_file():
        frames = _read_cameras_json(path / CAMERAS_JSON)
    elif pars := sorted(path.glob("*_par.txt")):
        if len(pars) > 1:
            names = ", ".join(p.name for p in pars)
            raise BadInputError(f"{path}: several camera files ({names}); keep one *_par.txt per folder")
        frames = _read_middlebury(pars[0])
    elif is_scene_folder(path):
        frames = _read_mvsnet(path)
    else:
        raise BadInputError(f"{path}: not a scene folder; add {CAMERAS_JSON} (see recon_io.scene)")
    if not frames:
        raise BadInputError(f"{path}: the scene lists no views; add at least one image with its camera")
    return Inputs(paths=[str(path)], frames=frames)


def write_scene_cameras(
    frames_or_cameras: Sequence[Frame] | Sequence[Camera], path: Path, bounds: np.ndarray | None = None
) -> Path:
    """Write ``cameras.json`` (into ``path`` when it is a folder) and return the file written.

    Frames give their camera and their source's file name; cameras give their ``name``.
    """
    path = Path(path)
    target = path / CAMERAS_JSON if path.is_dir() else path
    entries = []
    for item in frames_or_cameras:
        camera = item.camera if isinstance(item, Frame) else item
        file = Path(item.source).name if isinstance(item, Frame) else item.name
        if camera is None or not file:
            raise ValueError("write_scene_cameras needs frames with cameras, or cameras with names")
        entries.append({
            "file": file,
            "K": camera.K.tolist(),
            "R": camera.R.tolist(),
            "t": camera.t.tolist(),
            "width": camera.width,
            "height": camera.height,
        })
    doc: dict[str, Any] = {"convention": "opencv", "frames": entries}
    if bounds is not None:
        doc["bounds"] = np.asarray(bounds, dtype=np.float64).reshape(2, 3).tolist()
    target.write_text(json.dumps(doc, indent=1) + "\n")
    return target


# -- the three layouts -----------------------------------------------------------------------------
def _read_cameras_json(file: Path) -> list[Frame]:
    try:
        doc = json.loads(file.read_text())
        entries = doc["frames"]
        bounds = _bounds(doc.get("bounds"))
        frames = []
        for entry in entries:
            camera = Camera(
                K=entry["K"], R=entry["R"], t=entry["t"], width=entry["width"], height=entry["height"], name=entry["file"]
            )
            frame = _frame(file.parent / entry["file"], camera, file, bounds)
            if entry.get("mask"):
                frame.mask = _mask(file.parent / entry["mask"], frame)
            frames.append(frame)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise BadInputError(f"{file}: invalid cameras file ({_reason(exc)}); see the format in recon_io.scene") from None
    return frames


def _read_middlebury(file: Path) -> list[Frame]:
    lines = [line.split() for line in file.read_text().splitlines() if line.strip()]
    bounds = _readme_bounds(file.parent / "README.txt")
    frames = []
    for number, words in enumerate(lines[1:], start=2):
        if len(words) != 22:
            raise BadInputError(f"{file}: line {number} has {len(words) - 1} numbers, expected 21 (K, R, t); fix or remove it")
        try:
            values = np.array(words[1:], dtype=np.float64)
        except ValueError:
            raise BadInputError(f"{file}: line {number} is not 'name k11..k33 r11..r33 t1 t2 t3'; fix or remove it") from None
        K, R, t = values[:9].reshape(3, 3), values[9:18].reshape(3, 3), values[18:]
        image = file.parent / words[0]
        size = _image_size(image, file)
        frames.append(_frame(image, Camera(K=K, R=R, t=t, width=size[0], height=size[1], name=words[0]), file, bounds))
    return frames


def _read_mvsnet(folder: Path) -> list[Frame]:
    from recon.cameras import from_mvsnet

    images = {p.stem: p for p in (folder / "images").iterdir() if p.is_file()}
    frames = []
    for cam_file in sorted((folder / "cams").glob("*_cam.txt")):
        stem = cam_file.name[: -len("_cam.txt")]
        if stem not in images:
            raise BadInputError(f"{cam_file}: no image images/{stem}.* for this camera; add it or remove the camera file")
        image = images[stem]
        width, height = _image_size(image, cam_file)
        try:
            camera, depth = from_mvsnet(cam_file.read_text(), width, height, name=image.name)
        except ValueError as exc:
            raise BadInputError(f"{cam_file}: {_reason(exc)}; fix the camera file") from None
        frame = _frame(image, camera, cam_file, None)
        frame.meta["depth_range"] = depth
        frames.append(frame)
    return frames


# -- helpers ---------------------------------------------------------------------------------------
def _frame(image: Path, camera: Camera, listed_in: Path, bounds: np.ndarray | None) -> Frame:
    """Load ``image`` for ``camera``, checking the sizes agree."""
    from recon_io.images import load_frame

    if not image.is_file():
        raise BadInputError(f"{listed_in}: lists {image.name}, which is missing from {image.parent}; add it or remove its line")
    frame = load_frame(image)
    if (frame.width, frame.height) != (camera.width, camera.height):
        raise BadInputError(
            f"{image}: image is {frame.width}x{frame.height} but {listed_in.name} says "
            f"{camera.width}x{camera.height}; fix the camera size or the image"
        )
    frame.camera = camera
    if bounds is not None:
        frame.meta["bounds"] = bounds.copy()
    return frame


def _mask(file: Path, frame: Frame) -> np.ndarray:
    from PIL import Image

    with Image.open(file) as img:
        mask = np.asarray(img.convert("L")) >= 128
    if mask.shape != frame.image.shape[:2]:
        raise ValueError(f"mask {file.name} is {mask.shape[1]}x{mask.shape[0]}, its image {frame.width}x{frame.height}")
    return mask


def _image_size(image: Path, listed_in: Path) -> tuple[int, int]:
    from PIL import Image

    if not image.is_file():
        raise BadInputError(f"{listed_in}: lists {image.name}, which is missing from {image.parent}; add it or remove its line")
    try:
        with Image.open(image) as img:
            return img.size
    except OSError as exc:
        raise BadInputError(f"{image}: cannot read image ({_reason(exc)}); re-export it as PNG or JPEG") from None


def _bounds(raw: Any) -> np.ndarray | None:
    if raw is None:
        return None
    bounds = np.asarray(raw, dtype=np.float64)
    if bounds.shape != (2, 3) or not np.all(np.isfinite(bounds)) or np.any(bounds[0] > bounds[1]):
        raise ValueError("bounds must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] with min <= max")
    return bounds


def _readme_bounds(readme: Path) -> np.ndarray | None:
    """The '(x y z) (x y z)' pair after 'bounding box' in a Middlebury README, if any."""
    if not readme.is_file():
        return None
    text = readme.read_text(errors="replace")
    number = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    triple = rf"\(\s*({number})\s+({number})\s+({number})\s*\)"
    match = re.search(rf"bounding box.*?{triple}\s*{triple}", text, flags=re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    try:
        return _bounds(np.array(match.groups(), dtype=np.float64).reshape(2, 3))
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
