"""A depth map seen from one camera."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures.camera import Camera
from recon.structures.checks import check_array
from recon.structures.pointcloud import PointCloud


@dataclass
class DepthMap:
    """(H, W) float32 depth along the camera's z axis; 0 or non-finite where unknown."""

    depth: np.ndarray
    camera: Camera
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.depth = check_array("DepthMap.depth", self.depth, (self.camera.height, self.camera.width), np.float32)

    def to_point_cloud(self) -> PointCloud:
        """Back-project every valid pixel into world coordinates."""
        v, u = np.nonzero(np.isfinite(self.depth) & (self.depth > 0))
        z = self.depth[v, u].astype(np.float64)
        pix = np.stack([u, v, np.ones_like(u)], axis=1).astype(np.float64)
        cam = (np.linalg.inv(self.camera.K) @ pix.T).T * z[:, None]
        world = (cam - self.camera.t) @ self.camera.R
        return PointCloud(points=world.astype(np.float32))
