"""The head through a clip: key frames for the identity, a pose and 51 weights per frame, and a
zero-lag smoother over the whole sequence.

1. :func:`key_frames`: a few frames whose landmark shapes differ most (farthest-point sampling on
   the centred, size-normalised 2-D landmarks, starting from the frame nearest the clip's mean
   shape), so the identity fit sees the head from several sides and expressions.
2. :func:`fit_frames`: per frame, :class:`recon_face.head_fit.LandmarkSolver` (camera rotation,
   translation and the weights; the focal shared by the clip), started from the previous frame.
3. :func:`smooth`: the clip is known in advance, so each curve (rotation as a vector about the
   clip's median rotation, translation, each weight) is smoothed by a Whittaker-Henderson
   smoother: minimise ``sum_k c_k (x_k - y_k)^2 + lam * sum_k (x_{k-1} - 2 x_k + x_{k+1})^2``.
   It is symmetric in time (no lag), and a frame without a face has ``c_k = 0``: the curves
   bridge it. ``lam`` comes from a cut-off frequency in Hz at the clip's frame rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recon.structures import Camera
from recon_face.head_fit import LandmarkSolver


@dataclass
class FrameFit:
    """Per-frame head pose (head frame to camera: ``x_cam = R @ X + t``) and weights, stacked.

    :param rotations: (T, 3, 3). :param translations: (T, 3). :param weights: (T, 51).
    :param found: (T,) bool, the frames that had landmarks (the others are bridged).
    """

    rotations: np.ndarray
    translations: np.ndarray
    weights: np.ndarray
    found: np.ndarray

    def camera(self, k: int, K: np.ndarray, width: int, height: int) -> Camera:
        return Camera(K=K, R=self.rotations[k], t=self.translations[k], width=width, height=height, name=f"frame_{k}")


def shape_signature(points: np.ndarray) -> np.ndarray:
    """(478 * 2,) landmarks centred and scaled to unit RMS radius: what a key frame choice compares."""
    xy = points[:, :2] - points[:, :2].mean(0)
    return (xy / np.sqrt((xy**2).sum(1).mean())).reshape(-1)


def key_frames(signatures: np.ndarray, count: int) -> list[int]:
    """Indices (into ``signatures``, (N, D)) of up to ``count`` frames that differ most, sorted."""
    if len(signatures) <= count:
        return list(range(len(signatures)))
    chosen = [int(np.argmin(((signatures - signatures.mean(0)) ** 2).sum(1)))]
    distance = ((signatures - signatures[chosen[0]]) ** 2).sum(1)
    while len(chosen) < count:
        k = int(np.argmax(distance))
        chosen.append(k)
        distance = np.minimum(distance, ((signatures - signatures[k]) ** 2).sum(1))
    return sorted(chosen)


def fit_frames(
    solver: LandmarkSolver,
    start: Camera,
    start_weights: np.ndarray,
    landmarks: list[np.ndarray | None],
    visibility: list[np.ndarray | None],
    progress: Callable[[], object] | None = None,
) -> FrameFit:
    """Each frame's pose and weights from its landmarks (pixels, (478, 2+) or ``None``), each
    frame started from the last frame that had a face (the first from ``start``)."""
    T = len(landmarks)
    n = len(start_weights)
    R, t, W = np.zeros((T, 3, 3)), np.zeros((T, 3)), np.zeros((T, n))
    found = np.array([p is not None for p in landmarks])
    camera, w = start, np.asarray(start_weights, dtype=np.float64)
    for k, (points, vis) in enumerate(zip(landmarks, visibility)):
        if points is not None:
            camera, w = solver.solve(camera, points[:, :2], w, rotate=True, visibility=vis)
        R[k], t[k], W[k] = camera.R, camera.t, w
        if progress is not None:
            progress()
    return FrameFit(R, t, W, found)


def whittaker_lambda(cutoff_hz: float, fps: float) -> float:
    """The smoothing weight whose response is one half at ``cutoff_hz`` (second differences:
    ``1 / (1 + lam * (2 sin(pi f / fps))^4)``)."""
    s = 2.0 * np.sin(np.pi * min(cutoff_hz / fps, 0.5))
    return float(1.0 / max(s**4, 1e-12))


def whittaker(values: np.ndarray, confidence: np.ndarray, lam: float) -> np.ndarray:
    """Smooth each column of ``values`` (T, C) with per-frame ``confidence`` (T,) (see the module
    docstring); ``lam = 0`` returns the values, with frames of zero confidence interpolated."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    T = len(values)
    c = np.asarray(confidence, dtype=np.float64)
    if c.sum() == 0:
        return values.copy()
    if T < 3 or (c > 0).sum() < 2:  # nothing to smooth: every frame takes the confident frames' mean
        return np.broadcast_to((c[:, None] * values).sum(0) / c.sum(), values.shape).copy()
    lam = max(lam, 1e-6)  # a vanishing weight still bridges frames without a face
    D = sp.diags([np.ones(T - 2), -2 * np.ones(T - 2), np.ones(T - 2)], [0, 1, 2], shape=(T - 2, T))
    A = (sp.diags(c) + lam * (D.T @ D)).tocsc()
    out = spsolve(A, c[:, None] * values)
    return np.asarray(out).reshape(values.shape)


def smooth(fit: FrameFit, fps: float, pose_hz: float | None, expression_hz: float | None) -> FrameFit:
    """The curves smoothed (``None``: left as fitted, frames without a face still bridged)."""
    from scipy.spatial.transform import Rotation

    c = fit.found.astype(np.float64)
    reference = Rotation.from_matrix(fit.rotations[fit.found]).mean()  # the clip's mean rotation
    vectors = (Rotation.from_matrix(fit.rotations) * reference.inv()).as_rotvec()
    pose = np.concatenate([vectors, fit.translations], axis=1)
    lam_pose = 0.0 if pose_hz is None else whittaker_lambda(pose_hz, fps)
    lam_expr = 0.0 if expression_hz is None else whittaker_lambda(expression_hz, fps)
    pose = whittaker(pose, c, lam_pose)
    weights = np.clip(whittaker(fit.weights, c, lam_expr), 0.0, 1.0)
    rotations = (Rotation.from_rotvec(pose[:, :3]) * reference).as_matrix()
    return FrameFit(rotations, pose[:, 3:], weights, fit.found)


def gaze_rotation(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(..., 3, 3) eyeball rotations in the head's frame: ``yaw`` turns the gaze towards the
    subject's left (+X), ``pitch`` up (+Y), radians; (0, 0) looks straight ahead (+Z)."""
    from scipy.spatial.transform import Rotation

    yaw, pitch = np.broadcast_arrays(np.asarray(yaw, dtype=np.float64), np.asarray(pitch, dtype=np.float64))
    turns = np.stack([yaw, -pitch], axis=-1).reshape(-1, 2)  # intrinsic Y then X: Ry(yaw) @ Rx(-pitch)
    return Rotation.from_euler("YX", turns).as_matrix().reshape(*yaw.shape, 3, 3)


def fit_gaze(
    fit: FrameFit,
    K: np.ndarray,
    centre: np.ndarray,
    pupil: np.ndarray,
    iris: list[np.ndarray | None],
    limit: float = np.radians(40.0),
    iterations: int = 5,
) -> np.ndarray:
    """(T, 2) yaw and pitch (radians) of one eyeball per frame: the eyeball (``centre``, its
    ``pupil`` at rest; head frame) turned so that the pupil projects onto the ``iris`` landmark
    (pixels, ``None`` without a face), Gauss-Newton on the two angles from the previous frame's.
    Frames without an iris repeat the previous angles (:func:`smooth_gaze` bridges them)."""
    out = np.zeros((len(iris), 2))
    angles = np.zeros(2)

    def project(k: int, a: np.ndarray) -> np.ndarray:
        p = centre + gaze_rotation(a[0], a[1]) @ (pupil - centre)
        q = fit.rotations[k] @ p + fit.translations[k]
        return (K @ q)[:2] / q[2]

    for k, target in enumerate(iris):
        if target is not None:
            for _ in range(iterations):
                r = project(k, angles) - target[:2]
                J = np.stack([(project(k, angles + d) - project(k, angles - d)) / 2e-4 for d in np.eye(2) * 1e-4], axis=1)
                step = np.linalg.lstsq(J, -r, rcond=None)[0]
                angles = np.clip(angles + step, -limit, limit)
                if np.abs(step).max() < 1e-5:
                    break
        out[k] = angles
    return out


def jitter(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Mean magnitude of the frame-to-frame change of the error (truth minus estimate), as in
    LDEQ's normalised mean jitter: real motion cancels, only the estimate's shaking counts."""
    error = np.asarray(truth, dtype=np.float64) - np.asarray(estimate, dtype=np.float64)
    step = np.diff(error, axis=0).reshape(len(error) - 1, -1)
    return float(np.linalg.norm(step, axis=1).mean())
