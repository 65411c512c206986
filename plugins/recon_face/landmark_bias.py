"""MediaPipe's pose-dependent landmark bias, and landmarks corrected for it.

MediaPipe's face landmarker under-reports a turn of the head, a nod most: on renders of known
pose its nose tip moves about half as far as the true projection when the head nods. A fit to
such landmarks under-reports the pitch (slope 0.6-0.7) and, trading depth against perspective,
estimates the focal length short. The bias of each landmark is modelled here as a quadratic in
the viewing angles (:func:`view_angles`: the camera's direction seen from the head), in metres at
the face, in the image plane turned with the head's roll, so it scales with the face's size in
pixels and turns with it.

Calibrated by ``assets/head/calibrate_landmarks.py`` on videos of recon's head rendered with known
pose and expression (identities, looks and motions of their own, not the benchmarks'), and shipped
as ``recon_face/data/landmark_bias.npz`` with its card ``landmark_bias.json`` (the figures).
``$RECON_LANDMARK_BIAS`` names another file.

:func:`correct` gives each image's landmarks without the part of the bias that changes with the
pose: the head's pose from the landmarks (the average head, pose only), that part at that pose
subtracted, and again from the corrected landmarks (:data:`ROUNDS` rounds: each pose is closer to
the truth, so the correction is fuller). The constant part (a frontal view's bias, 1.2 mm median)
stays: it is the same in every image, so the identity's per-vertex correction absorbs it, and
taking it off too moved the fit away from MediaPipe's points (video, ``benchmarks/video.py``:
justin's median reprojection against the detections 3.10 px with it, 2.12 px without; the clip's
focal length 646 px with it, 721 px without, true 717; head rotation 1.37 and 1.27 deg).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera

if TYPE_CHECKING:
    from recon_face.head_fit import LandmarkSolver

FEATURES = ("1", "pitch", "yaw", "pitch^2", "yaw^2", "pitch*yaw")
"""The bias model's terms, angles in units of :data:`ANGLE_UNIT_DEG`."""
ANGLE_UNIT_DEG = 30.0
ROUNDS = 3


def bias_path() -> Path:
    """The shipped calibration, or ``$RECON_LANDMARK_BIAS``."""
    from recon.package_data import package_file

    override = os.environ.get("RECON_LANDMARK_BIAS")
    return Path(override) if override else package_file("recon_face", "landmark_bias.npz")


def view_angles(R: np.ndarray, t: np.ndarray, centre: np.ndarray) -> tuple[float, float, float, float]:
    """How a camera sees a head (head frame to camera ``x = R X + t``, OpenCV axes; head axes +Y
    up, the face looking +Z): the camera's direction from the head point ``centre`` as yaw (towards
    the subject's left, +X) and pitch (from above), degrees; the roll of the head's up axis in the
    image (radians, clockwise on screen); the depth of ``centre``."""
    v = -(centre + R.T @ t)
    v = v / np.linalg.norm(v)
    up = R @ np.array([0.0, 1.0, 0.0])
    return (
        float(np.degrees(np.arctan2(v[0], v[2]))),
        float(np.degrees(np.arctan2(v[1], np.hypot(v[0], v[2])))),
        float(np.arctan2(up[0], -up[1])),
        float((R @ centre + t)[2]),
    )


def features(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """(6,) the terms of :data:`FEATURES` at these viewing angles."""
    y, p = yaw_deg / ANGLE_UNIT_DEG, pitch_deg / ANGLE_UNIT_DEG
    return np.array([1.0, p, y, p * p, y * y, p * y])


def _turn(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def local_offsets(camera: Camera, centre: np.ndarray, offsets_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image offsets (478, 2) pixels as the bias model reads them: metres at the face, turned
    back by the head's roll; with the :func:`features` of the camera's view."""
    yaw, pitch, roll, depth = view_angles(camera.R, camera.t, centre)
    return offsets_px * (depth / camera.K[0, 0]) @ _turn(roll), features(yaw, pitch)


def fit_coefficients(local: Sequence[np.ndarray], terms: Sequence[np.ndarray]) -> np.ndarray:
    """(6, 478, 2) least-squares coefficients from :func:`local_offsets` of many images."""
    Y = np.stack([np.asarray(o).reshape(-1) for o in local])
    coef, *_ = np.linalg.lstsq(np.stack(terms), Y, rcond=None)
    return coef.reshape(len(FEATURES), -1, 2)


@dataclass(frozen=True)
class LandmarkBias:
    """A calibration: ``coefficients`` (6, 478, 2) metres per :data:`FEATURES` term; ``centre``
    (3,) the head point the viewing angles are measured from (the average head's landmarks'
    mean, head frame, metres); the yaw and pitch ranges (degrees, (2,) each) it was calibrated
    on, to which the angles are clamped (a quadratic is not extrapolated)."""

    coefficients: np.ndarray
    centre: np.ndarray
    yaw_range_deg: np.ndarray
    pitch_range_deg: np.ndarray

    @classmethod
    def load(cls, path: Path | str | None = None) -> LandmarkBias:
        """:raises FileNotFoundError: naming the path and the script that makes it."""
        path = Path(path) if path is not None else bias_path()
        if not path.exists():
            raise FileNotFoundError(f"landmark bias calibration {path} is missing; run assets/head/calibrate_landmarks.py")
        return _load(str(path.resolve()))

    def pixels(self, camera: Camera, relative: bool = False) -> np.ndarray:
        """(478, 2) the expected detection minus true projection, pixels, for a head seen by
        ``camera`` (head frame); ``relative``: only the part that changes with the pose (the
        constant term left out: zero for a frontal view)."""
        yaw, pitch, roll, depth = view_angles(camera.R, camera.t, self.centre)
        yaw, pitch = np.clip(yaw, *self.yaw_range_deg), np.clip(pitch, *self.pitch_range_deg)
        terms = features(yaw, pitch)
        if relative:
            terms[0] = 0.0
        local = np.tensordot(terms, self.coefficients, axes=1)
        return local @ _turn(roll).T * (camera.K[0, 0] / depth)


@functools.lru_cache(maxsize=2)
def _load(path: str) -> LandmarkBias:
    with np.load(path) as data:
        return LandmarkBias(*(data[k].astype(np.float64) for k in ("coefficients", "centre", "yaw_range_deg", "pitch_range_deg")))


def _pose_without_bias(
    bias: LandmarkBias, solver: LandmarkSolver, camera: Camera, points: np.ndarray, weights0: np.ndarray, rounds: int
) -> Camera | None:
    """The pose whose bias, taken off ``points``, leaves landmarks that give that pose (``rounds``
    rounds from ``camera``); ``None`` when a solve fails or leaves the head behind the camera."""
    fixed = points
    for _ in range(rounds):
        try:
            camera, _ = solver.solve(camera, fixed, weights0)
        except np.linalg.LinAlgError:
            return None
        if not (np.isfinite(camera.R).all() and np.isfinite(camera.t).all()) or view_angles(camera.R, camera.t, bias.centre)[3] <= 0:
            return None
        fixed = points - bias.pixels(camera, relative=True)
    return camera


def pose_solver(lod: str = "mid") -> LandmarkSolver:
    """A pose-only :class:`recon_face.head_fit.LandmarkSolver` of the average head (for :func:`correct`)."""
    from recon_face.head_fit import HeadFit, LandmarkSolver
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template

    model = HeadModel.load(lod)
    return LandmarkSolver(model, HeadFit.average(model), load_template().contour, neutral=True)


def facing_camera(width: int, height: int, focal_px: float | None = None) -> Camera:
    """A ``width`` x ``height`` camera (centred principal point; ``focal_px``, default a 50 mm-equivalent
    lens) that a head faces: where :func:`correct` starts."""
    from recon_face.fit import default_focal

    f = focal_px or default_focal(width, height)
    K = np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=np.diag([1.0, -1.0, -1.0]), t=np.zeros(3), width=width, height=height)


def correct(
    bias: LandmarkBias,
    solver: LandmarkSolver,
    start: Camera,
    landmarks: Sequence[np.ndarray | None],
    sequence: bool = True,
    rounds: int = ROUNDS,
    progress: Callable[[], object] | None = None,
) -> tuple[list[np.ndarray | None], list[Camera | None]]:
    """Each image's landmarks (pixels, (478, 2+) or ``None``) with the bias of the pose they
    show taken away (its pose-dependent part, ``pixels(relative=True)``; other columns kept), and that pose; landmarks whose pose cannot be found
    (the average head does not fit them: :func:`recon_face.video_fit.plausible`) stay as they are,
    with pose ``None``.

    :param solver: a pose-only :class:`recon_face.head_fit.LandmarkSolver` of the average head.
    :param start: a camera with the images' intrinsics, its rotation facing the head; each pose
        starts from ``start`` placed on the landmarks (:func:`recon_face.video_fit.place`) or, in a
        ``sequence`` (video frames), from the previous image's pose.
    """
    from recon_face.video_fit import place, plausible

    weights0 = np.zeros(solver.E.shape[-1])
    out: list[np.ndarray | None] = []
    poses: list[Camera | None] = []
    previous: Camera | None = None
    for points in landmarks:
        if progress is not None:
            progress()
        if points is None:
            out.append(None)
            poses.append(None)
            continue
        raw = np.asarray(points, dtype=np.float64)
        starts = ([previous] if sequence and previous is not None else []) + [place(start, solver.base, raw[:, :2])]
        camera = None
        for first in starts:
            camera = _pose_without_bias(bias, solver, first, raw[:, :2], weights0, rounds)
            if camera is not None and plausible(camera, weights0, solver.base, raw[:, :2]):
                break
            camera = None
        previous = camera
        if camera is None:  # no pose to correct with: the landmarks stay as detected
            out.append(raw)
            poses.append(None)
            continue
        corrected = raw.copy()
        corrected[:, :2] -= bias.pixels(camera, relative=True)
        out.append(corrected)
        poses.append(camera)
    return out, poses
