"""Videos, decoded with PyAV.

Options: ``fps`` (sample at this rate, using frame timestamps; default every frame) and
``max_frames`` (stop after this many kept frames). Each :class:`recon.structures.Frame` keeps its
decoded frame index in the source and its timestamp in seconds from the first frame. A display
rotation (phone videos) is applied, like EXIF orientation for photos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.structures import Frame, Inputs


def read_video(path: Path, options: dict[str, Any]) -> Inputs:
    """Frames of the first video stream of ``path``, sampled by ``fps`` and capped by ``max_frames``."""
    import av

    fps = _option(options, "fps", float)
    max_frames = _option(options, "max_frames", int)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot open video ({_reason(exc)}); re-encode it as H.264 MP4") from None
    inputs = Inputs(paths=[str(path)])
    with container:
        if not container.streams.video:
            raise BadInputError(f"{path}: no video stream in this file; give a video with picture, or its frames as images")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        next_time, t0 = 0.0, None
        try:
            for index, vf in enumerate(container.decode(stream)):
                t_abs = vf.time if vf.time is not None else index / rate
                t0 = t_abs if t0 is None else t0
                t = t_abs - t0
                if fps is not None:
                    if t < next_time - 1e-6:
                        continue
                    while next_time <= t + 1e-6:
                        next_time += 1.0 / fps
                inputs.frames.append(Frame(image=_rgb(vf), source=str(path), index=index, timestamp=float(t)))
                if max_frames is not None and len(inputs.frames) >= max_frames:
                    break
        except av.FFmpegError as exc:
            if not inputs.frames:
                raise BadInputError(f"{path}: cannot decode video ({_reason(exc)}); re-encode it as H.264 MP4") from None
            inputs.notes.append(f"{path.name}: decoding stopped after {len(inputs.frames)} frames ({_reason(exc)})")
    if not inputs.frames:
        raise BadInputError(f"{path}: the video has no frames; check the file is complete")
    return inputs


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
    except (TypeError, ValueError):
        raise UsageError(f"option {name} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise UsageError(f"option {name} must be a positive number, got {raw!r}")
    return value


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
