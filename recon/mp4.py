"""H.264 MP4 videos built in memory through PyAV, for previews and rendered clips.

Frames are encoded as they are added, so a long video never holds its frames; the file's bytes
are handed to the caller (and from there to an output folder, which writes them atomically).
"""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np


def even_size(width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
    """(width, height) scaled by ``scale`` and rounded to even numbers (yuv420p needs them)."""
    return 2 * max(1, round(width * scale / 2)), 2 * max(1, round(height * scale / 2))


class Mp4Writer:
    """An H.264 MP4 in memory at ``fps`` with frames of ``size`` (width, height; even)."""

    def __init__(self, fps: float, size: tuple[int, int], crf: int = 23) -> None:
        import av

        if size[0] % 2 or size[1] % 2:
            raise ValueError(f"an H.264 frame's sides must be even, got {size}")
        self.size = size
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, "w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self.frames = 0

    def add(self, image: np.ndarray) -> None:
        """Encode one (height, width, 3) uint8 RGB frame of this video's size."""
        import av

        if image.shape[:2] != (self.size[1], self.size[0]):
            raise ValueError(f"frame of {image.shape[1]}x{image.shape[0]} in a {self.size[0]}x{self.size[1]} video")
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
            self.container.mux(packet)
        self.frames += 1

    def finish(self) -> bytes:
        """The MP4's bytes (the encoder flushed, the container closed)."""
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()
