"""A point cloud with optional per-point attributes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures.checks import check_array


@dataclass
class PointCloud:
    """(N, 3) float32 points; optional (N, 3) normals, (N, 3) uint8 colours, (N,) int labels."""

    points: np.ndarray
    normals: np.ndarray | None = None
    colors: np.ndarray | None = None
    labels: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.points = check_array("PointCloud.points", self.points, (None, 3), np.float32)
        n = len(self.points)
        if self.normals is not None:
            self.normals = check_array("PointCloud.normals", self.normals, (n, 3), np.float32)
        if self.colors is not None:
            self.colors = check_array("PointCloud.colors", self.colors, (n, None))[:, :3].astype(np.uint8)
        if self.labels is not None:
            self.labels = check_array("PointCloud.labels", self.labels, (n,), np.int64)

    def __len__(self) -> int:
        return len(self.points)
