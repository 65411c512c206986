"""What readers produce and methods consume: everything read from the command line's inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recon.structures.frame import Frame
from recon.structures.mesh import Mesh
from recon.structures.pointcloud import PointCloud


@dataclass
class Inputs:
    """Frames (photos, video frames, calibrated views), point clouds and meshes, in input order.

    ``frames`` is a list, or for one video a sequence that decodes its frames when they are used
    (``recon_io.video.VideoFrames``): iterate it rather than listing it.
    """

    paths: list[str] = field(default_factory=list)
    frames: Sequence[Frame] = field(default_factory=list)
    point_clouds: list[PointCloud] = field(default_factory=list)
    meshes: list[Mesh] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: Inputs) -> None:
        """Append another reader's result."""
        self.paths += other.paths
        if not self.frames:
            self.frames = other.frames  # a lazy video stays lazy when it is the only frame source
        elif other.frames:
            self.frames = [*self.frames, *other.frames]
        self.point_clouds += other.point_clouds
        self.meshes += other.meshes
        self.notes += other.notes

    @property
    def calibrated(self) -> bool:
        """True when there are frames and every frame carries a camera."""
        return bool(self.frames) and all(f.camera is not None for f in self.frames)

    def describe(self) -> str:
        """'3 frames, 1 point cloud' style summary for messages."""
        parts = [(len(self.frames), "frame"), (len(self.point_clouds), "point cloud"), (len(self.meshes), "mesh")]
        text = ", ".join(f"{n} {w}{'es' if w == 'mesh' and n != 1 else ('s' if n != 1 and w != 'mesh' else '')}" for n, w in parts if n)
        return text or "nothing"
