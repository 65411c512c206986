"""The result of a run: everything the exporters and the report need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recon.structures.camera import Camera
from recon.structures.checks import check_array
from recon.structures.mesh import Mesh
from recon.structures.pointcloud import PointCloud


@dataclass
class Animation:
    """Keyframes: morph weights and/or one rigid transform of all the meshes together.

    :param times: (T,) seconds, increasing.
    :param morph_weights: (T, M) morph weights: without ``morph_names``, for the first mesh's M
        morph targets in their order; with them, by name for every mesh that has those targets.
    :param translations: (T, 3) translations and :param rotations: (T, 4) unit quaternions
        (x, y, z, w, glTF order) of the first mesh, or, with several meshes, of a ``root`` node
        that holds them all (so the parts of a head move as one).
    :param morph_names: (M,) the name of each column of ``morph_weights``.
    :param parts: mesh name to its own (T, 3) translations and (T, 4) rotations, relative to the
        root (an eyeball turning inside the head).
    """

    times: np.ndarray
    morph_weights: np.ndarray | None = None
    translations: np.ndarray | None = None
    rotations: np.ndarray | None = None
    name: str = "animation"
    morph_names: list[str] | None = None
    root: str = "root"
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.times = check_array("Animation.times", self.times, (None,), np.float32)
        t = len(self.times)
        if t == 0 or np.any(np.diff(self.times) <= 0):
            raise ValueError("Animation.times must be non-empty and strictly increasing")
        if self.morph_weights is not None:
            self.morph_weights = check_array("Animation.morph_weights", self.morph_weights, (t, None), np.float32)
            if self.morph_names is not None and len(self.morph_names) != self.morph_weights.shape[1]:
                raise ValueError(f"Animation.morph_names has {len(self.morph_names)} names for {self.morph_weights.shape[1]} columns")
        if self.translations is not None:
            self.translations = check_array("Animation.translations", self.translations, (t, 3), np.float32)
        if self.rotations is not None:
            self.rotations = check_array("Animation.rotations", self.rotations, (t, 4), np.float32)
        self.parts = {
            name: (check_array(f"Animation.parts[{name!r}] translations", tr, (t, 3), np.float32), check_array(f"Animation.parts[{name!r}] rotations", rot, (t, 4), np.float32))
            for name, (tr, rot) in self.parts.items()
        }


@dataclass
class Reconstruction:
    """Meshes, cameras (one per view used), per-view figures, animation and metadata.

    :param views: one dict per view or frame used, each with at least ``input``; methods add their
        figures (reprojection error, status, ...). Written to ``report.json``.
    :param preview: optional (H, W, 3) uint8 image written as ``preview.png``.
    :param files: more files the method made, written into the output folder as they are: file
        name to content (``preview.mp4``, ``animation.csv``); a name may hold one folder
        (``depth/0001.png``).
    :param point_cloud: written as ``points.ply`` when given.
    :param metadata: method parameters and anything else for ``report.json``.
    :param annotations: what ``recon_annotate`` plugins added, by plugin (the pipeline fills it
        before the outputs are written: ``report.json`` and the GLB's scene extras carry it).
    """

    method: str
    meshes: list[Mesh] = field(default_factory=list)
    cameras: list[Camera] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    point_cloud: PointCloud | None = None
    animation: Animation | None = None
    preview: np.ndarray | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.files:
            parts = name.split("/")
            if not name or len(parts) > 2 or any(not p or p != Path(p).name or p.startswith(".") or p == ".." for p in parts) or name == "report.json":
                raise ValueError(f"Reconstruction.files: {name!r} must be a file name, or one folder and a file name (not hidden, not report.json)")

    @property
    def mesh(self) -> Mesh:
        """The main mesh (the first)."""
        if not self.meshes:
            raise ValueError(f"method {self.method!r} produced no mesh")
        return self.meshes[0]
