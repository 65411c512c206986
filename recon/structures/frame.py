"""One image of the input: a photo, or a frame of a video."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recon.structures.camera import Camera
from recon.structures.checks import check_array


@dataclass
class Frame:
    """An RGB image (H, W, 3 uint8) and where it came from.

    :param image: pixels, EXIF orientation already applied.
    :param source: the file it was read from.
    :param index: frame index in a video, ``None`` for a still photo.
    :param timestamp: seconds from the start of the video, ``None`` for a still photo.
    :param mask: optional (H, W) bool foreground mask (alpha channel, or given by a scene file).
    :param camera: a calibrated camera when the input provides one.
    :param focal_length_mm: EXIF ``FocalLength`` when present.
    :param focal_length_35mm: EXIF ``FocalLengthIn35mmFilm`` when present.
    :param meta: anything else a reader wants to keep.
    """

    image: np.ndarray
    source: str
    index: int | None = None
    timestamp: float | None = None
    mask: np.ndarray | None = None
    camera: Camera | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image = check_array("Frame.image", self.image, (None, None, 3))
        if self.image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8, got {self.image.dtype}")
        if self.mask is not None:
            self.mask = check_array("Frame.mask", self.mask, self.image.shape[:2]).astype(bool)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def name(self) -> str:
        """A short label: the file name, with the frame index for videos."""
        from pathlib import Path

        base = Path(self.source).name
        return base if self.index is None else f"{base}#{self.index}"

    def focal_px_from_exif(self) -> float | None:
        """Focal length in pixels from the 35 mm equivalent (36 mm film width), if known."""
        if self.focal_length_35mm:
            return float(self.focal_length_35mm) / 36.0 * max(self.width, self.height)
        return None
