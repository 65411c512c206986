"""Driving a trained avatar: head poses and expressions for each output frame, from another tracked
clip (re-enactment), a turntable, or a Live Link Face CSV; and the rendered video.

The avatar stays where the training clip had it: its mean head position in the crop. A driving
clip's head motion is applied relative to that clip's mean pose; a turntable turns the head about
its centre; a CSV's head angles (Live Link's yaw, pitch, roll) set the head's rotation as they
would for a camera in front of the face.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from recon_avatar.avatar import Avatar
from recon_avatar.clip import Tracking

FRONT = np.diag([1.0, -1.0, -1.0])  # a frontal camera's axes in the head's frame (recon's head pose convention)


@dataclass
class Drive:
    """Per output frame: head-to-camera ``R`` (T, 3, 3), ``t`` (T, 3) and the 51 ``weights``."""

    R: np.ndarray
    t: np.ndarray
    weights: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.R)


def mean_rotation(R: np.ndarray) -> np.ndarray:
    """The rotation nearest the element-wise mean of (T, 3, 3) rotations."""
    u, _, vt = np.linalg.svd(R.mean(0))
    m = u @ vt
    return m if np.linalg.det(m) > 0 else u @ np.diag([1.0, 1.0, -1.0]) @ vt


@dataclass
class Rest:
    """The avatar's mean pose in its training clip and the head's centre (head frame)."""

    R: np.ndarray
    t: np.ndarray
    centre: np.ndarray

    @classmethod
    def of(cls, tracking: Tracking) -> Rest:
        found = tracking.found
        return cls(mean_rotation(tracking.R[found]), tracking.t[found].mean(0), tracking.head.vertices.mean(0).astype(np.float64))

    def turned(self, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with the head rotated to ``R`` about its centre, the centre kept in place."""
        return R, self.R @ self.centre + self.t - R @ self.centre


def reenact(rest: Rest, driver: Tracking) -> Drive:
    """The driving clip's expressions and its head's motion about its own mean pose."""
    found = driver.found
    frames = np.flatnonzero(found)
    mean_R = mean_rotation(driver.R[frames])
    R = np.stack([driver.R[k] @ mean_R.T @ rest.R for k in frames])
    poses = [rest.turned(r) for r in R]
    shift = driver.t[frames] - driver.t[frames].mean(0)
    scale = np.linalg.norm(rest.t) / max(np.linalg.norm(driver.t[frames].mean(0)), 1e-9)
    t = np.stack([p[1] for p in poses]) + shift * scale
    return Drive(R, t, driver.weights[frames], driver.fps)


def turntable(rest: Rest, weights: np.ndarray, frames: int = 72, degrees: float = 50.0, fps: float = 24.0) -> Drive:
    """The head turning from ``-degrees`` to ``+degrees`` and back about its vertical axis."""
    from scipy.spatial.transform import Rotation

    phase = np.sin(np.linspace(0.0, 2.0 * np.pi, frames, endpoint=False))
    R = np.stack([rest.R @ Rotation.from_euler("y", a * degrees, degrees=True).as_matrix() for a in phase])
    poses = [rest.turned(r) for r in R]
    return Drive(R, np.stack([p[1] for p in poses]), np.repeat(np.asarray(weights, np.float32)[None], frames, 0), fps)


def from_csv(rest: Rest, weights: np.ndarray, head_rad: np.ndarray | None, fps: float) -> Drive:
    """Rows of a Live Link Face CSV: its weights, and its head angles when it has them."""
    from scipy.spatial.transform import Rotation

    if head_rad is None:
        R = np.repeat(rest.R[None], len(weights), 0)
    else:
        R = FRONT @ Rotation.from_euler("YXZ", head_rad).as_matrix()  # inverse of recon's head pose angles
    poses = [rest.turned(r) for r in R]
    return Drive(R, np.stack([p[1] for p in poses]), weights, fps)


def render_frames(avatar: Avatar, drive: Drive, progress: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
    """The avatar's image for each frame of ``drive``."""
    for k in range(len(drive)):
        image, _ = avatar.render(drive.R[k], drive.t[k], drive.weights[k])
        if progress is not None:
            progress()
        yield image
