"""Videos, decoded with PyAV.

Options: ``fps`` (sample at this rate, using frame timestamps; default every frame) and
``max_frames`` (stop after this many kept frames). Each :class:`recon.structures.Frame` keeps its
decoded frame index in the source and its timestamp in seconds from the first frame. A display
rotation (phone videos) is applied, like EXIF orientation for photos.

Memory: with neither option, the decoded frames kept (RGB, 3 bytes a pixel) stay within
``RECON_MAX_VIDEO_BYTES`` (default 1 GiB; ``512M``, ``2G`` or a plain number of bytes): a longer
clip is sampled evenly over its whole length, with a stride picked up front from the stream's frame
count or duration (and doubled while decoding, dropping every other kept frame, should the clip turn
out longer than announced), so memory does not grow with the clip's length. A note in the report
and a warning on stderr say how many frames were kept.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.structures import Frame, Inputs

BUDGET_ENV = "RECON_MAX_VIDEO_BYTES"
DEFAULT_BUDGET = 1 << 30  # 1 GiB of decoded frames: 172 frames of 1080p, 1553 of 640x360


def read_video(path: Path, options: dict[str, Any]) -> Inputs:
    """Frames of the first video stream of ``path``, sampled by ``fps`` and capped by ``max_frames``
    (or, with neither, by the memory budget; see the module docstring)."""
    import av

    fps = _option(options, "fps", float)
    max_frames = _option(options, "max_frames", int)
    budget = video_budget() if fps is None and max_frames is None else None
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises FFmpegError, OSError, ValueError, UnicodeDecodeError... on bad files
        raise BadInputError(f"{path}: cannot open video ({_reason(exc)}); re-encode it as H.264 MP4") from None
    inputs = Inputs(paths=[str(path)])
    frames = inputs.frames
    with container:
        if not container.streams.video:
            raise BadInputError(f"{path}: no video stream in this file; give a video with picture, or its frames as images")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = _rate(stream)
        limit, stride = None, 1  # at most `limit` frames kept, every `stride`-th decoded frame
        if budget is not None:
            context = stream.codec_context  # None when FFmpeg does not know the codec
            frame_bytes = 3 * (context.width or 0) * (context.height or 0) if context is not None else 0
            if frame_bytes > 0:
                limit = max(1, budget // frame_bytes)
                stride = _stride(_frame_count(stream, container, rate), limit)
        next_time, t0, decoded = 0.0, None, 0
        try:
            for index, vf in enumerate(container.decode(stream)):
                decoded = index + 1
                t_abs = vf.time if vf.time is not None else index / rate
                t0 = t_abs if t0 is None else t0
                t = t_abs - t0
                if fps is not None:
                    if t < next_time - 1e-6:
                        continue
                    while next_time <= t + 1e-6:
                        next_time += 1.0 / fps
                if index % stride:
                    continue
                if limit is not None and len(frames) >= limit:  # longer than announced: thin out, never hold more
                    frames[:] = frames[::2]
                    stride *= 2
                    if index % stride:
                        continue
                image = _rgb(vf)
                if budget is not None and limit is None:  # frame size unknown before the first frame
                    limit = max(1, budget // image.nbytes)
                    stride = _stride(_frame_count(stream, container, rate), limit)
                frames.append(Frame(image=image, source=str(path), index=index, timestamp=float(t)))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except (av.FFmpegError, ValueError, OSError) as exc:  # a damaged stream
            if not frames:
                raise BadInputError(f"{path}: cannot decode video ({_reason(exc)}); re-encode it as H.264 MP4") from None
            inputs.notes.append(f"{path.name}: decoding stopped after {decoded} frames ({_reason(exc)})")
    if not frames:
        raise BadInputError(f"{path}: the video has no frames; check the file is complete")
    if stride > 1:
        message = (
            f"kept {len(frames)} of {decoded} frames (one in {stride}, evenly spaced) to hold at most {_size(budget)} of decoded frames; "
            f"choose frames with --max-frames or --fps, or raise {BUDGET_ENV}"
        )
        inputs.notes.append(f"{path.name}: {message}")
        print(f"recon: warning: {path}: {message}", file=sys.stderr)
    return inputs


def video_budget() -> int:
    """Bytes of decoded frames a video may keep when neither ``fps`` nor ``max_frames`` is given."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)\s*([KMGT]?)i?B?", raw, flags=re.IGNORECASE)
    value = float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ") if match else 0
    if not value >= 1:
        raise UsageError(f"{BUDGET_ENV}={raw!r} is not a number of bytes; set it like 512M, 2G or 1073741824, or unset it")
    return int(value)


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate):
        try:
            value = float(rate) if rate else 0.0
        except (ZeroDivisionError, TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return 30.0


def _frame_count(stream: Any, container: Any, rate: float) -> int | None:
    """The number of frames the file announces, from its frame count and its duration (the smaller,
    since a damaged header may overstate either; an understatement is caught while decoding)."""
    counts = [int(stream.frames)] if stream.frames and stream.frames > 0 else []
    try:
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration:
            seconds = container.duration / 1_000_000  # AV_TIME_BASE
        else:
            seconds = 0.0
    except (ZeroDivisionError, TypeError, ValueError, OverflowError):
        seconds = 0.0
    if math.isfinite(seconds) and seconds > 0:
        counts.append(max(1, math.ceil(seconds * rate)))
    return min(counts) if counts else None


def _stride(total: int | None, limit: int) -> int:
    """Every how many frames to keep so that ``total`` frames give at most ``limit``."""
    return 1 if total is None or total <= limit else math.ceil(total / limit)


def _size(n: int | None) -> str:
    n = n or 0
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _rgb(vf: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB with the stream's display rotation applied."""
    image = vf.to_ndarray(format="rgb24")
    turns = int(round((getattr(vf, "rotation", 0) or 0) / 90.0)) % 4  # counter-clockwise quarter turns
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def _option(options: dict[str, Any], name: str, kind: type) -> Any:
    """``options[name]`` as a positive ``kind``, or None; strings from ``-O`` are parsed."""
    raw = options.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"option {name} must be a positive number, got {raw!r}") from None
    if not value > 0 or (kind is float and not math.isfinite(value)):
        raise UsageError(f"option {name} must be a positive number, got {raw!r}")
    return value


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
