"""Videos, decoded with PyAV.

Options: ``fps`` (sample at this rate, using frame timestamps; default every frame) and
``max_frames`` (stop after this many kept frames). Each :class:`recon.structures.Frame` keeps its
decoded frame index in the source and its timestamp in seconds from the first frame. A display
rotation (phone videos) is applied, like EXIF orientation for photos.

Frames are decoded when they are used, not when the file is read: :func:`read_video` decodes the
clip once to choose the frames (sampling, a damaged tail) and returns them as :class:`VideoFrames`,
a sequence that decodes again front to back as it is iterated, holding one decoded frame at a time
(methods that track a clip never hold it all; one that makes a list of it holds what it lists).

A clip is never thinned behind the user's back: every frame is kept unless ``fps`` or
``max_frames`` says otherwise, since no frame is held until it is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.structures import Frame, Inputs



def read_video(path: Path, options: dict[str, Any]) -> Inputs:
    """The frames of the first video stream of ``path`` (sampled by ``fps``, capped by
    ``max_frames``) as :class:`VideoFrames`: chosen now, decoded when used."""
    import av

    fps = _option(options, "fps", float)
    max_frames = _option(options, "max_frames", int)
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises FFmpegError, OSError, ValueError, UnicodeDecodeError... on bad files
        raise BadInputError(f"{path}: cannot open video ({_reason(exc)}); re-encode it as H.264 MP4") from None
    inputs = Inputs(paths=[str(path)])
    kept: list[tuple[int, float]] = []  # (decoded index, seconds from the first frame) of each kept frame
    with container:
        if not container.streams.video:
            raise BadInputError(f"{path}: no video stream in this file; give a video with picture, or its frames as images")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = _rate(stream)
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
                kept.append((index, float(t)))
                if max_frames is not None and len(kept) >= max_frames:
                    break
            else:
                announced = int(stream.frames or 0)
                if decoded < announced:  # the file ends early (cut off while copying or recording)
                    inputs.notes.append(f"{path.name}: decoding stopped after {decoded} of the {announced} frames it announces (the file may be cut short)")
        except (av.FFmpegError, ValueError, OSError) as exc:  # a damaged stream
            if not kept:
                raise BadInputError(f"{path}: cannot decode video ({_reason(exc)}); re-encode it as H.264 MP4") from None
            inputs.notes.append(f"{path.name}: decoding stopped after {decoded} frames ({_reason(exc)})")
    if not kept:
        raise BadInputError(f"{path}: the video has no frames; check the file is complete")
    inputs.frames = VideoFrames(path, kept, rate)
    return inputs


class VideoFrames(Sequence[Frame]):
    """The kept frames of one video, decoded on demand (a read-only sequence of :class:`Frame`).

    Iterating decodes the file from the start and yields each kept frame as it comes, holding one
    decoded frame at a time. Indexing in increasing order continues one decoder (the key frames of a
    clip cost one pass, and only the frames asked for are converted to RGB); an index behind the
    decoder starts again from the file's start.

    :param path: the video file.
    :param kept: ``(decoded index, seconds from the first frame)`` of each kept frame, increasing.
    :param rate: the stream's frame rate (frames per second), for outputs at the clip's rate.
    """

    def __init__(self, path: Path, kept: list[tuple[int, float]], rate: float) -> None:
        self.path = Path(path)
        self.kept = list(kept)
        self.rate = float(rate)
        self._cursor: tuple[int, Iterator[tuple[int, float, Any]]] | None = None  # (position of the next frame, decoder)

    def __len__(self) -> int:
        return len(self.kept)

    @overload
    def __getitem__(self, position: int) -> Frame: ...
    @overload
    def __getitem__(self, position: slice) -> list[Frame]: ...
    def __getitem__(self, position: int | slice) -> Frame | list[Frame]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        n = len(self)
        if not -n <= position < n:
            raise IndexError(f"frame {position} of a {n}-frame video")
        position %= n
        if self._cursor is None or self._cursor[0] > position:
            self._cursor = (0, self._decoded())
        next_position, decoder = self._cursor
        for _ in range(position - next_position):
            next(decoder)
        index, timestamp, vf = next(decoder)
        self._cursor = (position + 1, decoder)
        return Frame(image=_rgb(vf), source=str(self.path), index=index, timestamp=timestamp)

    def __iter__(self) -> Iterator[Frame]:
        for index, timestamp, vf in self._decoded():
            yield Frame(image=_rgb(vf), source=str(self.path), index=index, timestamp=timestamp)

    def _decoded(self) -> Iterator[tuple[int, float, Any]]:
        """Each kept frame's decoded index, time and PyAV frame (not yet converted), in order."""
        import av

        wanted = iter(self.kept)
        index, timestamp = next(wanted)
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for decoded, vf in enumerate(container.decode(stream)):
                if decoded < index:
                    continue
                yield index, timestamp, vf
                try:
                    index, timestamp = next(wanted)
                except StopIteration:
                    return
        raise BadInputError(f"{self.path}: the video changed while it was read (frame {index} is gone); read it again")


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate):
        try:
            value = float(rate) if rate else 0.0
        except (ZeroDivisionError, TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return 30.0


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
    """FFmpeg's own words for the failure (no errno, no repeated path), else the first line."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return strerror
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__
