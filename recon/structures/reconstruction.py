"""The result of a run: everything the exporters and the report need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recon.structures.camera import Camera
from recon.structures.checks import check_array
from recon.structures.mesh import Mesh
from recon.structures.pointcloud import PointCloud


@dataclass
class Animation:
    """Keyframes for the first mesh's node: morph weights and/or rigid transforms.

    :param times: (T,) seconds, increasing.
    :param morph_weights: (T, M) weights for the mesh's M morph targets, in their order.
    :param translations: (T, 3) node translations.
    :param rotations: (T, 4) node rotations as unit quaternions (x, y, z, w), glTF order.
    """

    times: np.ndarray
    morph_weights: np.ndarray | None = None
    translations: np.ndarray | None = None
    rotations: np.ndarray | None = None
    name: str = "animation"

    def __post_init__(self) -> None:
        self.times = check_array("Animation.times", self.times, (None,), np.float32)
        t = len(self.times)
        if t == 0 or np.any(np.diff(self.times) <= 0):
            raise ValueError("Animation.times must be non-empty and strictly increasing")
        if self.morph_weights is not None:
            self.morph_weights = check_array("Animation.morph_weights", self.morph_weights, (t, None), np.float32)
        if self.translations is not None:
            self.translations = check_array("Animation.translations", self.translations, (t, 3), np.float32)
        if self.rotations is not None:
            self.rotations = check_array("Animation.rotations", self.rotations, (t, 4), np.float32)


@dataclass
class Reconstruction:
    """Meshes, cameras (one per view used), per-view figures, animation and metadata.

    :param views: one dict per view or frame used, each with at least ``input``; methods add their
        figures (reprojection error, status, ...). Written to ``report.json``.
    :param preview: optional (H, W, 3) uint8 image written as ``preview.png``.
    :param metadata: method parameters and anything else for ``report.json``.
    """

    method: str
    meshes: list[Mesh] = field(default_factory=list)
    cameras: list[Camera] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    point_cloud: PointCloud | None = None
    animation: Animation | None = None
    preview: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def mesh(self) -> Mesh:
        """The main mesh (the first)."""
        if not self.meshes:
            raise ValueError(f"method {self.method!r} produced no mesh")
        return self.meshes[0]
