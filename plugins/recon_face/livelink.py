"""``animation.csv`` in the column layout of Epic's Live Link Face app, for tools that import it.

Columns: ``Timecode`` (``HH:MM:SS:FF.fff``: frames at the clip's rounded rate, and the fraction of
a frame), ``BlendShapeCount`` (61), the 52 ARKit blendshapes in ARKit's ``ARFaceAnchor`` order with
a capital first letter (``EyeBlinkLeft`` ...; ``TongueOut`` is always 0, recon's head has no
tongue shape), then ``HeadYaw``, ``HeadPitch``, ``HeadRoll`` and the two eyes' yaw, pitch and roll,
in radians (yaw positive towards the subject's left, pitch positive down, as in ``report.json``).
One row per frame.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

ARKIT_ORDER = (
    "eyeBlinkLeft eyeLookDownLeft eyeLookInLeft eyeLookOutLeft eyeLookUpLeft eyeSquintLeft eyeWideLeft "
    "eyeBlinkRight eyeLookDownRight eyeLookInRight eyeLookOutRight eyeLookUpRight eyeSquintRight eyeWideRight "
    "jawForward jawLeft jawRight jawOpen mouthClose mouthFunnel mouthPucker mouthLeft mouthRight "
    "mouthSmileLeft mouthSmileRight mouthFrownLeft mouthFrownRight mouthDimpleLeft mouthDimpleRight "
    "mouthStretchLeft mouthStretchRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper "
    "mouthPressLeft mouthPressRight mouthLowerDownLeft mouthLowerDownRight mouthUpperUpLeft mouthUpperUpRight "
    "browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff cheekSquintLeft "
    "cheekSquintRight noseSneerLeft noseSneerRight tongueOut"
).split()
POSE_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
HEADER = ["Timecode", "BlendShapeCount", *(n[0].upper() + n[1:] for n in ARKIT_ORDER), *POSE_COLUMNS]


def timecode(seconds: float, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` for a time in seconds at ``fps`` frames per second."""
    rate = max(1, round(fps))
    frames = seconds * fps
    whole = math.floor(frames + 1e-6)
    fraction = max(frames - whole, 0.0)
    second, frame = divmod(whole, rate)
    hours, rest = divmod(second, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frame:02d}.{round(fraction * 1000) % 1000:03d}"


def livelink_csv(
    times: Sequence[float],
    fps: float,
    names: Sequence[str],
    weights: np.ndarray,
    head_pose_rad: np.ndarray,
    eyes_rad: np.ndarray | None = None,
) -> bytes:
    """The CSV's bytes.

    :param names: (M,) the ARKit name of each column of ``weights`` (T, M); ARKit shapes not
        among them are written as 0.
    :param head_pose_rad: (T, 3) yaw, pitch, roll. :param eyes_rad: (T, 6) left yaw, pitch, roll,
        right yaw, pitch, roll (zeros when ``None``).
    """
    column: Mapping[str, int] = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(names) - set(ARKIT_ORDER))
    if unknown:
        raise ValueError(f"not ARKit blendshape names: {unknown[:3]}")
    T = len(times)
    eyes = np.zeros((T, 6)) if eyes_rad is None else np.asarray(eyes_rad)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for k in range(T):
        shapes = [float(weights[k, column[n]]) if n in column else 0.0 for n in ARKIT_ORDER]
        row = [timecode(times[k], fps), len(ARKIT_ORDER) + len(POSE_COLUMNS)]
        row += [f"{v:.6f}" for v in (*shapes, *head_pose_rad[k], *eyes[k])]
        writer.writerow(row)
    return out.getvalue().encode()


def read_livelink_csv(path: Path, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Expression weights (T, len(names)) in [0, 1] and, when the file has them, head yaw, pitch,
    roll (T, 3, radians) from a Live Link Face CSV (recon's or the app's: blendshape columns named
    as ARKit's, first letter in either case; shapes it lacks are 0).

    :raises BadInputError: the file is unreadable, has no ARKit column or a value that is not a number.
    """
    from recon.errors import BadInputError

    try:
        rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read it as a CSV file ({exc}); give a Live Link Face CSV") from None
    if not rows:
        raise BadInputError(f"{path}: empty; give a Live Link Face CSV (a header row of ARKit names, one row per frame)")
    header = {h.strip().lower(): i for i, h in enumerate(rows[0])}
    columns = [header.get(n.lower()) for n in names]
    if all(c is None for c in columns):
        raise BadInputError(f"{path}: no ARKit blendshape column (e.g. EyeBlinkLeft, JawOpen); give a Live Link Face CSV")
    pose_cols = [header.get(n.lower()) for n in POSE_COLUMNS[:3]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if not body:
        raise BadInputError(f"{path}: a header but no frames; give a Live Link Face CSV with one row per frame")
    try:
        weights = np.array([[float(r[c]) if c is not None else 0.0 for c in columns] for r in body])
        pose = np.array([[float(r[c]) for c in pose_cols] for r in body]) if None not in pose_cols else None
    except (ValueError, IndexError) as exc:
        raise BadInputError(f"{path}: a row that is not numbers in every column ({exc}); fix or re-export the CSV") from None
    if not np.isfinite(weights).all() or (pose is not None and not np.isfinite(pose).all()):
        raise BadInputError(f"{path}: holds NaN or infinite values; fix or re-export the CSV")
    return np.clip(weights, 0.0, 1.0).astype(np.float32), pose
