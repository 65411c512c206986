"""Landmarks detected in one frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures.checks import check_array


@dataclass
class Landmarks:
    """(N, 3) points (x, y in pixels, z relative depth) and (N,) visibility in [0, 1].

    For faces N = 478: MediaPipe's face-mesh topology with refined iris points.
    """

    points: np.ndarray
    visibility: np.ndarray | None = None
    frame_index: int = 0

    def __post_init__(self) -> None:
        self.points = check_array("Landmarks.points", self.points, (None, 3), np.float32)
        if self.visibility is None:
            self.visibility = np.ones(len(self.points), dtype=np.float32)
        self.visibility = check_array("Landmarks.visibility", self.visibility, (len(self.points),), np.float32)

    def __len__(self) -> int:
        return len(self.points)
