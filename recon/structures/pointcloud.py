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

    def to_ply(self) -> bytes:
        """The cloud as a binary little-endian PLY: x y z, then nx ny nz and red green blue where
        present (what MeshLab, CloudCompare, Blender and COLMAP's Poisson mesher read)."""
        fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
        if self.normals is not None:
            fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        if self.colors is not None:
            fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        rows = np.empty(len(self.points), dtype=fields)
        for k, axis in enumerate("xyz"):
            rows[axis] = self.points[:, k]
            if self.normals is not None:
                rows["n" + axis] = self.normals[:, k]
        if self.colors is not None:
            for k, channel in enumerate(("red", "green", "blue")):
                rows[channel] = self.colors[:, k]
        kinds = {"<f4": "float", "u1": "uchar"}
        header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(rows)}"]
        header += [f"property {kinds[kind]} {name}" for name, kind in fields] + ["end_header"]
        return ("\n".join(header) + "\n").encode("ascii") + rows.tobytes()
