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
4. A sequence (DeepVideoMVS's layout): ``K.txt`` (3x3 intrinsics shared by every frame),
   ``poses.txt`` (one CAMERA-TO-WORLD 4x4 pose per line, 16 numbers row-major, metres) and
   ``images/``, in the order of ``frames.txt`` when present (one file name per line), else sorted.

Every frame carries a :class:`recon.structures.Camera` named after its image file, a mask from the
image's alpha channel (or the ``mask`` file), and the bounds as a (2, 3) array in
``Frame.meta["bounds"]`` when known.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recon.cameras import axes_spread, focus_point
from recon.errors import BadInputError
from recon.structures import Camera, Frame, Inputs
from recon.structures.checks import check_array

CAMERAS_JSON = "cameras.json"


def is_scene_folder(path: Path) -> bool:
    """True for a folder holding ``cameras.json``, a ``*_par.txt``, ``cams/*_cam.txt`` + ``images/``
    or ``K.txt`` + ``poses.txt`` + ``images/``."""
    if not path.is_dir():
        return False
    if (path / CAMERAS_JSON).is_file() or any(path.glob("*_par.txt")):
        return True
    if (path / "images").is_dir() and (path / "K.txt").is_file() and (path / "poses.txt").is_file():
        return True
    return (path / "images").is_dir() and any((path / "cams").glob("*_cam.txt"))


def read_scene(path: Path, options: dict[str, Any]) -> Inputs:
    """The frames of a scene folder, each with its camera (see the module docstring)."""
    walk = False  # a sequence: its axes may meet anywhere (a pan meets beside the camera), not checked
    if (path / CAMERAS_JSON).is_file():
        camera_file = path / CAMERAS_JSON
        frames = _read_cameras_json(camera_file)
    elif pars := sorted(path.glob("*_par.txt")):
        if len(pars) > 1:
            names = ", ".join(p.name for p in pars)
            raise BadInputError(f"{path}: several camera files ({names}); keep one *_par.txt per folder")
        camera_file = pars[0]
        frames = _read_middlebury(camera_file)
    elif (path / "poses.txt").is_file() and (path / "K.txt").is_file():
        camera_file = path / "poses.txt"
        frames = _read_sequence(path)
        walk = True
    elif is_scene_folder(path):
        camera_file = path / "cams"
        frames = _read_mvsnet(path)
    else:
        raise BadInputError(f"{path}: not a scene folder; add {CAMERAS_JSON} (see recon_io.scene)")
    if not frames:
        raise BadInputError(f"{path}: the scene lists no views; add at least one image with its camera")
    if not walk:
        _check_common_view(frames, camera_file)
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
        doc = json.loads(file.read_bytes())
    except (ValueError, OSError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadInputError(f"{file}: invalid cameras file ({_reason(exc)}); see the format in recon_io.scene") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("frames"), list):
        raise BadInputError(f"{file}: invalid cameras file (no 'frames' list); see the format in recon_io.scene")
    try:
        bounds = _bounds(doc.get("bounds"))
    except ValueError as exc:
        raise BadInputError(f"{file}: invalid cameras file ({_reason(exc)}); see the format in recon_io.scene") from None
    frames = []
    for i, entry in enumerate(doc["frames"]):
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"frame {i} is not an object")
            name, mask = entry["file"], entry.get("mask")
            if not isinstance(name, str) or not name.strip() or not (mask is None or isinstance(mask, str)):
                raise ValueError(f"frame {i}: 'file' and 'mask' must be image file names")
            raw = [entry[key] for key in ("K", "R", "t", "width", "height")]
        except (KeyError, ValueError) as exc:
            raise BadInputError(f"{file}: invalid cameras file ({_reason(exc)}); see the format in recon_io.scene") from None
        camera = _camera(file, f"frame {i} ({_printable(name)})", *raw, name=name)
        frame = _attach(_load(file.parent / name, file), camera, file, bounds)
        if mask:
            frame.mask = _mask(file.parent / mask, frame, file)
        frames.append(frame)
    return frames


def _read_middlebury(file: Path) -> list[Frame]:
    try:
        text = file.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise BadInputError(f"{file}: cannot read ({_reason(exc)}); check the file is readable") from None
    lines = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise BadInputError(f"{file}: empty camera file; write the number of views, then one line per view")
    first, *views = lines
    count = int(first[1][0]) if len(first[1]) == 1 and re.fullmatch(r"[0-9]+", first[1][0]) else None
    if count is None:
        raise BadInputError(f"{file}: line {first[0]} should be the number of views; add it as the first line")
    if count != len(views):
        raise BadInputError(f"{file}: line {first[0]} says {count} views but {len(views)} follow; fix the count or restore the missing lines")
    bounds = _readme_bounds(file.parent / "README.txt")
    frames = []
    for number, words in views:
        if len(words) != 22:
            raise BadInputError(f"{file}: line {number} has {len(words) - 1} numbers, expected 21 (K, R, t); fix or remove it")
        try:
            values = np.array(words[1:], dtype=np.float64)
        except ValueError:
            raise BadInputError(f"{file}: line {number} is not 'name k11..k33 r11..r33 t1 t2 t3'; fix or remove it") from None
        frame = _load(file.parent / words[0], file)
        K, R, t = values[:9].reshape(3, 3), values[9:18].reshape(3, 3), values[18:]
        camera = _camera(file, f"line {number} ({words[0]})", K, R, t, frame.width, frame.height, name=words[0])
        frames.append(_attach(frame, camera, file, bounds))
    return frames


def _read_mvsnet(folder: Path) -> list[Frame]:
    from recon.cameras import from_mvsnet

    images = {p.stem: p for p in (folder / "images").iterdir() if p.is_file()}
    frames = []
    for cam_file in sorted((folder / "cams").glob("*_cam.txt")):
        stem = cam_file.name[: -len("_cam.txt")]
        if stem not in images:
            raise BadInputError(f"{cam_file}: no image images/{stem}.* for this camera; add it or remove the camera file")
        frame = _load(images[stem], cam_file)
        try:
            text = cam_file.read_bytes().decode("utf-8", errors="replace")
            parsed, depth = from_mvsnet(text, frame.width, frame.height, name=images[stem].name)
        except (ValueError, OverflowError, OSError) as exc:
            raise BadInputError(f"{cam_file}: {_reason(exc)}; fix the camera file") from None
        depths = [depth.depth_min, depth.depth_interval] + ([] if depth.depth_max is None else [depth.depth_max])
        if not np.isfinite(depths).all():
            raise BadInputError(f"{cam_file}: the depth line holds NaN or infinite numbers; write 'depth_min depth_interval [depth_num depth_max]'")
        camera = _camera(cam_file, "", parsed.K, parsed.R, parsed.t, frame.width, frame.height, name=parsed.name)
        frame = _attach(frame, camera, cam_file, None)
        frame.meta["depth_range"] = depth
        frames.append(frame)
    return frames


def _numbers(file: Path, line: str, count: int, what: str) -> np.ndarray:
    try:
        values = np.array([float(x) for x in line.split()], dtype=np.float64)
    except ValueError:
        raise BadInputError(f"{file}: {_printable(line[:60])!r} is not {count} numbers; write {what}") from None
    if len(values) != count:
        raise BadInputError(f"{file}: a line of {len(values)} numbers; write {what}")
    return values


def _read_sequence(folder: Path) -> list[Frame]:
    """A sequence folder (layout 4 of the module docstring)."""
    k_file, pose_file = folder / "K.txt", folder / "poses.txt"
    K = _numbers(k_file, " ".join(_text(k_file).split()), 9, "the 3x3 intrinsic matrix (9 numbers)").reshape(3, 3)
    lines = [ln for ln in _text(pose_file).splitlines() if ln.strip()]
    listing = folder / "frames.txt"
    if listing.is_file():
        names = [ln.strip() for ln in _text(listing).splitlines() if ln.strip()]
    else:
        names = sorted(p.name for p in (folder / "images").iterdir() if p.is_file() and not p.name.startswith("."))
    if len(lines) != len(names):
        raise BadInputError(f"{pose_file}: {len(lines)} poses for {len(names)} images; write one camera-to-world pose per image, in order")
    frames = []
    for k, (name, line) in enumerate(zip(names, lines)):
        pose = _numbers(pose_file, line, 16, "a camera-to-world 4x4 matrix, 16 numbers row-major").reshape(4, 4)
        label = f"line {k + 1} ({name})"
        if not np.isfinite(pose).all():
            raise BadInputError(f"{pose_file}: {label}: the pose holds NaN or infinite numbers; write finite numbers")
        if np.abs(pose[3] - [0.0, 0.0, 0.0, 1.0]).max() > 1e-6:
            raise BadInputError(f"{pose_file}: {label}: the last row is not 0 0 0 1; write a camera-to-world 4x4 matrix")
        frame = _load(folder / "images" / name, pose_file)
        R = pose[:3, :3].T
        camera = _camera(pose_file, label, K, R, -R @ pose[:3, 3], frame.width, frame.height, name=name)
        frames.append(_attach(frame, camera, pose_file, None))
    return frames


def _text(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise BadInputError(f"{file}: cannot read it ({_reason(exc)})") from None


# -- validation ------------------------------------------------------------------------------------
ROTATION_TOLERANCE = 1e-3  # largest |R @ R.T - I| entry accepted (calibration files print ~6 digits)
_CONVERGENCE = 0.5  # axes "meet" when the median sine of the angle between axis and point is below this
_SPREAD = 0.01  # smallest eigenvalue of the mean axis projector: below it the axes are near parallel


def _camera(listed_in: Path, label: str, K: Any, R: Any, t: Any, width: Any, height: Any, name: str) -> Camera:
    """A :class:`Camera` from raw values, or :class:`BadInputError` naming ``listed_in`` and ``label``.

    Checks: K, R and t have their shapes and finite numbers; K is ``[[fx, s, cx], [0, fy, cy],
    [0, 0, 1]]`` with fx, fy > 0; R is a rotation (orthonormal within :data:`ROTATION_TOLERANCE`,
    det +1); width and height are positive whole numbers.
    """
    where = f"{listed_in}: {label}: " if label else f"{listed_in}: "
    arrays = {}
    for key, value, shape, form in (("K", K, (3, 3), "a 3x3 matrix"), ("R", R, (3, 3), "a 3x3 matrix"), ("t", t, (3,), "3 numbers")):
        try:
            arrays[key] = check_array(f"Camera.{key}", value, shape, np.float64)
        except (ValueError, TypeError, OverflowError) as exc:
            raise BadInputError(f"{where}{_reason(exc)}; write {key} as {form}") from None
        if not np.isfinite(arrays[key]).all():
            raise BadInputError(f"{where}{key} holds NaN or infinite numbers; write finite numbers")
    size = []
    for key, value in (("width", width), ("height", height)):
        pixels = _pixels(value)
        if pixels is None:
            raise BadInputError(f"{where}{key} is {_short(value)}; write the image size in pixels (a positive whole number)")
        size.append(pixels)
    K, R = arrays["K"], arrays["R"]
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise BadInputError(f"{where}K has focal lengths fx = {K[0, 0]:.6g}, fy = {K[1, 1]:.6g}; both must be positive (pixels)")
    scale = max(1.0, K[0, 0], K[1, 1])
    if abs(K[1, 0]) > 1e-6 * scale or np.abs(K[2] - [0.0, 0.0, 1.0]).max() > 1e-6:
        raise BadInputError(f"{where}K = {_matrix(K)} is not an intrinsic matrix; write it as [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
    with np.errstate(all="ignore"):  # huge entries overflow to inf: still refused, without a warning
        off = float(np.abs(R @ R.T - np.eye(3)).max())
        det = float(np.linalg.det(R))
    off = off if np.isfinite(off) else np.inf
    if off > ROTATION_TOLERANCE or det < 0:
        raise BadInputError(
            f"{where}R is not a rotation (R R^T is off the identity by {off:.3g}, tolerance {ROTATION_TOLERANCE:g}; "
            f"det R = {det:.3g}); give a rotation matrix (orthonormal, det +1), world to camera"
        )
    return Camera(K=K, R=R, t=arrays["t"], width=size[0], height=size[1], name=name)


def _pixels(value: Any) -> int | None:
    """``value`` as an image size in pixels (1 to 10^6; 640 or 640.0), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        return None
    return int(value) if 0 < value <= 1_000_000 else None


def _check_common_view(frames: list[Frame], camera_file: Path) -> None:
    """:raises BadInputError: the cameras' optical axes meet at a point most of them do not see.

    Captures around an object (rings, domes, turntables, a facade) have optical axes that pass
    near one point, the object: it must lie in front of at least half the cameras and inside their
    images. Axes that meet behind the cameras are what a wrong translation gives (camera-to-world
    ``t``, or its sign flipped). Near-parallel axes (a stereo pair, forward motion) and axes that
    meet nowhere (a room swept by a handheld camera) have no such point and are not checked; nor
    is a sequence (``poses.txt``), whose camera-to-world poses say their convention and whose
    walk may pan about the camera (axes meeting beside it).
    """
    with np.errstate(all="ignore"):  # far-out cameras overflow: the point is then seen by none, and refused
        _common_view(frames, camera_file)


def _common_view(frames: list[Frame], camera_file: Path) -> None:
    cameras = [f.camera for f in frames if f.camera is not None]
    n = len(cameras)
    if n < 2:
        return
    if axes_spread(cameras) < _SPREAD:
        return
    point = focus_point(cameras)  # least squares: nearest to all optical axes
    axes = np.array([c.R[2] for c in cameras])
    offsets = point - np.array([c.center for c in cameras])
    dist = np.linalg.norm(offsets, axis=1)
    miss = np.linalg.norm(np.cross(axes, offsets), axis=1)  # distance from the point to each axis
    scale = max(float(np.median(dist)), 1e-12)
    sines = np.where(dist > 1e-9 * scale, miss / np.maximum(dist, 1e-300), 1.0)
    if np.median(sines) > _CONVERGENCE:
        return
    in_front = np.einsum("ni,ni->n", axes, offsets) > 0
    seen = 0
    for camera, front in zip(cameras, in_front):
        u, v = camera.project(point[None])[0]
        seen += bool(front and -0.5 <= u <= camera.width - 0.5 and -0.5 <= v <= camera.height - 0.5)
    if 2 * seen >= n:
        return
    where = ", ".join(f"{x:.3g}" for x in np.where(np.abs(point) < 1e-9 * scale, 0.0, point) + 0.0)  # no -0, no 1e-17
    raise BadInputError(
        f"{camera_file}: the cameras do not look at a common region: their optical axes meet at ({where}), "
        f"which is in front of {int(in_front.sum())} and inside the image of {seen} of {n} cameras; "
        "check that t follows x_cam = R X + t (world to camera; from a camera-to-world pose with rotation Rc "
        "and centre C, R = Rc^T and t = -Rc^T C)"
    )


# -- helpers ---------------------------------------------------------------------------------------
def _load(image: Path, listed_in: Path) -> Frame:
    """The image a camera file lists, or :class:`BadInputError` when it is missing or unreadable."""
    from recon_io.images import load_frame

    if not image.is_file():
        raise BadInputError(
            f"{listed_in}: lists {_printable(image.name)}, which is missing from {_printable(str(image.parent))}; add it or remove its line"
        )
    return load_frame(image)


def _attach(frame: Frame, camera: Camera, listed_in: Path, bounds: np.ndarray | None) -> Frame:
    """Give ``frame`` its camera, checking the sizes agree."""
    if (frame.width, frame.height) != (camera.width, camera.height):
        raise BadInputError(
            f"{frame.source}: image is {frame.width}x{frame.height} but {listed_in.name} says "
            f"{camera.width}x{camera.height}; fix the camera size or the image"
        )
    frame.camera = camera
    if bounds is not None:
        frame.meta["bounds"] = bounds.copy()
    return frame


def _mask(file: Path, frame: Frame, listed_in: Path) -> np.ndarray:
    from PIL import Image

    if not file.is_file():
        raise BadInputError(
            f"{listed_in}: lists mask {_printable(file.name)}, which is missing from {_printable(str(file.parent))}; add it or remove 'mask'"
        )
    try:
        with Image.open(file) as img:
            mask = np.asarray(img.convert("L")) >= 128
    except Exception as exc:  # Pillow raises many types on a corrupt file
        raise BadInputError(f"{file}: cannot read mask ({_reason(exc)}); save it as a black-and-white PNG") from None
    if mask.shape != frame.image.shape[:2]:
        raise BadInputError(
            f"{file}: mask is {mask.shape[1]}x{mask.shape[0]}, its image {frame.width}x{frame.height}; save it at the image's size"
        )
    return mask


def _bounds(raw: Any) -> np.ndarray | None:
    if raw is None:
        return None
    message = "bounds must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] with min <= max"
    try:
        bounds = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(message) from None
    if bounds.shape != (2, 3) or not np.all(np.isfinite(bounds)) or np.any(bounds[0] > bounds[1]):
        raise ValueError(message)
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


def _printable(text: str) -> str:
    """``text`` with line breaks and other control characters escaped: messages stay one line."""
    return json.dumps(text, ensure_ascii=False)[1:-1] if any(c < " " or c == "\x7f" for c in text) else text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _matrix(m: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.6g}" for v in row) + "]" for row in m) + "]"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
