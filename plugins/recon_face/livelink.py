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
