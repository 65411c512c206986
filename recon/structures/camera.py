"""A pinhole camera in recon's one internal convention (OpenCV's).

World to camera: ``x_cam = R @ X + t``; camera axes x right, y down, z forward; pixels: K @ x_cam,
with pixel centres on integer coordinates (pixel (0, 0) covers [-0.5, 0.5]²). Converters to and
from PyTorch3D, glTF/Blender and MVSNet live in :mod:`recon.cameras`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures.checks import check_array


@dataclass
class Camera:
    """Intrinsics ``K`` (3x3, pixels), rotation ``R`` (3x3) and translation ``t`` (3,), image size."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int
    name: str = ""

    def __post_init__(self) -> None:
        self.K = check_array("Camera.K", self.K, (3, 3), np.float64)
        self.R = check_array("Camera.R", self.R, (3, 3), np.float64)
        self.t = check_array("Camera.t", self.t, (3,), np.float64).reshape(3)
        self.width, self.height = int(self.width), int(self.height)

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.R.T @ self.t

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points to camera coordinates."""
        return np.asarray(points, dtype=np.float64) @ self.R.T + self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points to (N, 2) pixel coordinates."""
        cam = self.world_to_camera(points)
        uvw = cam @ self.K.T
        return uvw[:, :2] / uvw[:, 2:3]

    def rays(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World-space ray origins and unit directions through (N, 2) pixel coordinates."""
        pix = np.asarray(pixels, dtype=np.float64)
        homog = np.concatenate([pix, np.ones((len(pix), 1))], axis=1)
        dirs = (np.linalg.inv(self.K) @ homog.T).T @ self.R
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return np.broadcast_to(self.center, dirs.shape).copy(), dirs
