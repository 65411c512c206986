"""The head through a clip: key frames for the identity, a pose and 51 weights per frame, and a
zero-lag smoother over the whole sequence.

1. :func:`key_frames`: a few frames whose landmark shapes differ most (farthest-point sampling on
   the centred, size-normalised 2-D landmarks, starting from the frame nearest the clip's mean
   shape), so the identity fit sees the head from several sides and expressions.
2. :func:`fit_frames`: per frame, :class:`recon_face.head_fit.LandmarkSolver` (camera rotation,
   translation and the weights; the focal shared by the clip), started from the previous frame.
3. :func:`smooth`: the clip is known in advance, so each curve (rotation as a vector about the
   clip's mean rotation, translation, each weight) is smoothed by a Whittaker-Henderson
   smoother: minimise ``sum_k c_k (x_k - y_k)^2 + lam * sum_k (x_{k-1} - 2 x_k + x_{k+1})^2``.
   It is symmetric in time (no lag), and a frame without a face has ``c_k = 0``: the curves
   bridge it. ``lam`` comes from a cut-off frequency in Hz at the clip's frame rate. The pose
   curves are smoothed together with the weights, each frame's deviation weighed by how firmly
   its landmarks hold each combination of them (:func:`informed_whittaker`): a turn that the
   landmarks cannot tell from a move or an expression is smoothed more than the head's image
   position, which they fix.
4. :func:`fit_weights`: the weights fitted again under the smoothed poses, then smoothed alone,
   so the expressions agree with the pose the clip keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from recon.structures import Camera
from recon_face.head_fit import LandmarkSolver


@dataclass
class FrameFit:
    """Per-frame head pose (head frame to camera: ``x_cam = R @ X + t``) and weights, stacked.

    :param rotations: (T, 3, 3). :param translations: (T, 3). :param weights: (T, 51).
    :param found: (T,) bool, the frames that had landmarks (the others are bridged).
    :param information: (T, P, P), how firmly each frame's landmarks hold its pose (rotation,
        translation) and, unless neutral, weights (P = 6 or 57; zero without a face):
        :meth:`recon_face.head_fit.LandmarkSolver.information`. ``None``: not known.
    """

    rotations: np.ndarray
    translations: np.ndarray
    weights: np.ndarray
    found: np.ndarray
    information: np.ndarray | None = None

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
    again: FrameFit | None = None,
    information: bool = True,
) -> FrameFit:
    """Each frame's pose and weights from its landmarks (pixels, (478, 2+) or ``None``), started
    from the last frame that had a face (the first, and the first after a gap, from ``start``'s
    rotation placed on the landmarks: :func:`place`), or with ``again`` (an earlier fit of the
    same frames) from that fit's own frame first. A solve that fails (:func:`plausible`) is tried
    once more from the placed start; failing again, the frame counts as without a face (``found``
    false: the smoother bridges it). ``information=False`` leaves each frame's information (what
    the smoother weighs the pose by) at zero: a pass whose fit only starts another."""
    T = len(landmarks)
    n = len(start_weights)
    R, t, W = np.zeros((T, 3, 3)), np.zeros((T, 3)), np.zeros((T, n))
    P = 6 if solver.neutral else 6 + n
    held = np.zeros((T, P, P))
    found = np.zeros(T, dtype=bool)
    camera, w = start, np.asarray(start_weights, dtype=np.float64)
    previous_found = False
    for k, (points, vis) in enumerate(zip(landmarks, visibility)):
        if points is not None:
            for cam0, w0 in _starts(k, start, start_weights, points, solver, (camera, w) if previous_found else None, again):
                try:
                    cam1, w1 = solver.solve(cam0, points[:, :2], w0, rotate=True, visibility=vis)
                except np.linalg.LinAlgError:
                    continue
                if plausible(cam1, w1, solver.base + solver.E @ w1, points[:, :2]):
                    camera, w, found[k] = cam1, w1, True
                    if information:
                        held[k] = solver.information(cam1, points[:, :2], w1, vis)
                    break
        previous_found = bool(found[k])
        R[k], t[k], W[k] = camera.R, camera.t, w
        if progress is not None:
            progress()
    return FrameFit(R, t, W, found, held)


def _starts(
    k: int, start: Camera, start_weights: np.ndarray, points: np.ndarray, solver: LandmarkSolver, previous: tuple[Camera, np.ndarray] | None,
    again: FrameFit | None,
) -> Iterator[tuple[Camera, np.ndarray]]:
    """:func:`fit_frames`' starting poses and weights for frame ``k``, in the order tried, each
    made only when the one before failed: ``again``'s own frame, the previous frame's fit, ``start``
    placed on the landmarks."""
    if again is not None and again.found[k]:
        yield again.camera(k, start.K, start.width, start.height), again.weights[k]
    if previous is not None:
        yield previous
    yield place(start, solver.base, points[:, :2]), np.asarray(start_weights, dtype=np.float64)


def fit_weights(
    solver: LandmarkSolver, fit: FrameFit, K: np.ndarray, width: int, height: int, landmarks: list[np.ndarray | None],
    visibility: list[np.ndarray | None], iterations: int = 3, progress: Callable[[], object] | None = None,
) -> FrameFit:
    """Each frame's weights fitted again to its landmarks (pixels, through intrinsics ``K``) with
    its head rotation held (a smoothed pose's), starting from its weights there: expressions that
    agree with the pose the clip keeps. The poses stay ``fit``'s; frames without a face keep their
    weights."""
    W = fit.weights.copy()
    for k, (points, vis) in enumerate(zip(landmarks, visibility)):
        if fit.found[k] and points is not None:
            _, W[k] = solver.solve(fit.camera(k, K, width, height), points[:, :2], W[k], rotate=False, visibility=vis, iterations=iterations)
        if progress is not None:
            progress()
    return FrameFit(fit.rotations, fit.translations, W, fit.found, fit.information)


def place(camera: Camera, model_points: np.ndarray, points: np.ndarray) -> Camera:
    """``camera`` moved (its rotation kept) so that ``model_points`` (N, 3) project around the
    image points ``points`` (N, 2) at their size: the centroid on the centroid, the depth from the
    ratio of their spreads."""
    c = model_points.mean(0)
    spread_m = np.sqrt(((model_points - c) ** 2).sum(1).mean())
    spread_px = np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())
    f = 0.5 * (camera.K[0, 0] + camera.K[1, 1])
    z = f * spread_m / max(spread_px, 1e-6) * np.sqrt(1.5)  # 3-D spread to its projected 2-D part
    u, v = points.mean(0)
    target = np.array([(u - camera.K[0, 2]) * z / camera.K[0, 0], (v - camera.K[1, 2]) * z / camera.K[1, 1], z])
    return Camera(K=camera.K, R=camera.R, t=target - camera.R @ c, width=camera.width, height=camera.height, name=camera.name)


def plausible(camera: Camera, weights: np.ndarray, model_points: np.ndarray, points: np.ndarray, max_error: float = 0.12) -> bool:
    """A solve worth keeping: finite, the head in front of the camera and facing it (turned less
    than ~80 degrees), and its landmarks within ``max_error`` of the face's spread (median)."""
    if not (np.all(np.isfinite(camera.R)) and np.all(np.isfinite(camera.t)) and np.all(np.isfinite(weights))):
        return False
    depth = camera.world_to_camera(model_points)[:, 2]
    if depth.min() <= 0 or camera.R[2, 2] > -0.17:  # behind, or the face (+Z of the head) turned away
        return False
    spread = np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())
    return float(np.median(np.linalg.norm(camera.project(model_points) - points, axis=1))) <= max_error * spread


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


def informed_whittaker(values: np.ndarray, information: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smooth the curves ``values`` (T, C) together, each frame's deviation weighed by its
    ``information`` (T, C, C) instead of one confidence: minimise
    ``sum_k (x_k - y_k)^T I_k (x_k - y_k) + sum_c lam_c sum_k (second difference of x_c at k)^2``.
    What a frame's landmarks hold firmly (the head's image position, its roll) follows them; what
    they leave loose (a turn traded against a move or an expression) is smoothed more."""
    from scipy.linalg import solveh_banded

    T, C = values.shape
    if T < 3:
        return values.copy()
    # the normal equations, frame-major unknowns, as a symmetric band of 2 frames either side
    band = 2 * C
    ab = np.zeros((band + 1, T * C))
    i, j = np.triu_indices(C)
    ab[band - (j - i)[None, :], np.arange(T)[:, None] * C + j[None, :]] = information[:, i, j]
    coef = (1.0, -2.0, 1.0)  # a second difference
    rows = np.arange(T - 2)
    penalty = [np.zeros(T - d) for d in range(3)]  # the diagonals of D^T D (pentadiagonal)
    for a in range(3):
        for b in range(a, 3):
            penalty[b - a][rows + a] += coef[a] * coef[b]
    lam = np.asarray(lam, dtype=np.float64)
    for d in range(3):  # frame k with frame k + d, each curve with itself
        ab[band - d * C, d * C :] += (penalty[d][:, None] * lam[None, :]).reshape(-1)
    b = np.einsum("kij,kj->ki", information, values).reshape(-1)
    return solveh_banded(ab, b).reshape(T, C)


def segments(fit: FrameFit, max_turn_deg: float = 25.0, max_move: float = 0.25) -> list[slice]:
    """The clip cut where the head jumps between consecutive frames with a face (a cut in the
    edit, or another person picked up): a turn of more than ``max_turn_deg`` or a move of more
    than ``max_move`` of the head's distance. Frames without a face stay with the part before."""
    from scipy.spatial.transform import Rotation

    starts = [0]
    last = None
    for k in np.flatnonzero(fit.found):
        if last is not None:
            turn = np.degrees(Rotation.from_matrix(fit.rotations[k] @ fit.rotations[last].T).magnitude())
            move = np.linalg.norm(fit.translations[k] - fit.translations[last]) / max(abs(fit.translations[last][2]), 1e-6)
            if turn > max_turn_deg or move > max_move:
                starts.append(int(k))
        last = k
    ends = starts[1:] + [len(fit.found)]
    return [slice(a, b) for a, b in zip(starts, ends)]


def smooth(fit: FrameFit, fps: float, pose_hz: float | None, expression_hz: float | None, confidence: np.ndarray | None = None) -> FrameFit:
    """The curves smoothed (``None``: left as fitted, frames without a face still bridged), each
    part between jumps (:func:`segments`) on its own; frames without a face after a part's last
    face hold its last pose and weights. ``confidence`` (T,) weighs each frame's fit (default 1
    where a face was fitted, 0 elsewhere)."""
    from scipy.spatial.transform import Rotation

    c = fit.found.astype(np.float64) if confidence is None else np.where(fit.found, confidence, 0.0)
    reference = Rotation.from_matrix(fit.rotations[fit.found]).mean()  # the clip's mean rotation
    vectors = (Rotation.from_matrix(fit.rotations) * reference.inv()).as_rotvec()
    pose = np.concatenate([vectors, fit.translations], axis=1)
    weights = fit.weights.copy()
    lam_pose = 0.0 if pose_hz is None else whittaker_lambda(pose_hz, fps)
    lam_expr = 0.0 if expression_hz is None else whittaker_lambda(expression_hz, fps)
    informed = fit.information is not None and pose_hz is not None
    if informed:  # each pose curve's weight relative to the clip's typical information on it
        P = fit.information.shape[-1]
        typical = np.maximum(np.median(np.diagonal(fit.information[fit.found], axis1=1, axis2=2), axis=0), 1e-12)
        lam = typical * np.where(np.arange(P) < 6, lam_pose, lam_expr)
    for part in segments(fit):
        found = np.flatnonzero(fit.found[part])
        if not len(found):
            continue
        if informed:  # the pose smoothed with the weights it trades against (their smoothed values are dropped)
            x = np.concatenate([pose[part], weights[part]], axis=1)[:, :P]
            pose[part] = informed_whittaker(x, fit.information[part] * c[part][:, None, None], lam)[:, :6]
        else:
            pose[part] = whittaker(pose[part], c[part], lam_pose)
        weights[part] = whittaker(weights[part], c[part], lam_expr)
        tail = part.start + found[-1]  # no extrapolation past the last face
        pose[tail + 1 : part.stop] = pose[tail]
        weights[tail + 1 : part.stop] = weights[tail]
        head = part.start + found[0]
        pose[part.start : head] = pose[head]
        weights[part.start : head] = weights[head]
    rotations = (Rotation.from_rotvec(pose[:, :3]) * reference).as_matrix()
    return FrameFit(rotations, pose[:, 3:], np.clip(weights, 0.0, 1.0), fit.found, fit.information)


def gaze_rotation(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(..., 3, 3) eyeball rotations in the head's frame: ``yaw`` turns the gaze towards the
    subject's left (+X), ``pitch`` up (+Y), radians; (0, 0) looks straight ahead (+Z). In
    closed form, ``Ry(yaw) @ Rx(-pitch)`` (scipy's from_euler costs 0.1 ms a call, and the gaze
    fit makes thousands)."""
    yaw, pitch = np.broadcast_arrays(np.asarray(yaw, dtype=np.float64), np.asarray(pitch, dtype=np.float64))
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    zero = np.zeros_like(yaw)
    rows = ((cy, -sy * sp, sy * cp), (zero, cp, sp), (-sy, -cy * sp, cy * cp))
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


EYE_LOOK = tuple(f"eyeLook{d}{side}" for side in ("Left", "Right") for d in ("Down", "In", "Out", "Up"))
"""ARKit's eight gaze shapes: the video method sets them from the fitted gaze (:func:`look_weights`),
not from the landmarks (fitted freely they took a blink's lid motion: eyeLookDownRight 0.4-0.5 at
the rendered truth's blinks, where eyeBlinkRight came out at 0.2)."""
LOOK_FULL_DEG = 30.0
"""The eye's turn that gives an eyeLook weight of 1 (ARKit does not publish its angle)."""


def look_weights(names: Sequence[str], left: np.ndarray, right: np.ndarray, full_deg: float = LOOK_FULL_DEG) -> np.ndarray:
    """(T, len(names)) the :data:`EYE_LOOK` weights (other columns 0) of each eye's gaze, (T, 2)
    yaw towards the subject's left and pitch up, radians: Out/In by the yaw away from or towards
    the nose, Up/Down by the pitch, a full weight at ``full_deg``."""
    out = np.zeros((len(left), len(names)))
    for side, angles, outward in (("Left", left, 1.0), ("Right", right, -1.0)):  # the left eye sits at +X
        yaw, pitch = np.degrees(angles[:, 0]) * outward / full_deg, np.degrees(angles[:, 1]) / full_deg
        for direction, value in (("Out", yaw), ("In", -yaw), ("Up", pitch), ("Down", -pitch)):
            name = f"eyeLook{direction}{side}"
            if name in names:
                out[:, list(names).index(name)] = np.clip(value, 0.0, 1.0)
    return out


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

    def project(k: int, a: np.ndarray) -> np.ndarray:  # (m, 2) angles to (m, 2) pixels
        p = centre + gaze_rotation(a[:, 0], a[:, 1]) @ (pupil - centre)
        q = p @ fit.rotations[k].T + fit.translations[k]
        return (q @ K.T)[:, :2] / q[:, 2:3]

    nudge = np.array([[0.0, 0.0], [1e-4, 0.0], [-1e-4, 0.0], [0.0, 1e-4], [0.0, -1e-4]])  # central differences
    for k, target in enumerate(iris):
        if target is not None:
            for _ in range(iterations):
                uv = project(k, angles + nudge)
                r = uv[0] - target[:2]
                J = np.stack([uv[1] - uv[2], uv[3] - uv[4]], axis=1) / 2e-4
                step = np.linalg.lstsq(J, -r, rcond=None)[0]
                angles = np.clip(angles + step, -limit, limit)
                if np.abs(step).max() < 1e-5:
                    break
        out[k] = angles
    return out


def follow_fast_motion(
    fit: FrameFit,
    smoothed: FrameFit,
    error: Callable[[FrameFit, int], float],
    fps: float,
    pose_hz: float,
    expression_hz: float,
    rounds: int = 3,
    slack_px: float = 0.5,
    slack: float = 0.25,
    boost: float = 30.0,
) -> FrameFit:
    """Smooth again where the smoothing cut real motion: frames whose landmark error (``error``,
    pixels) grew by more than ``slack_px`` plus ``slack`` times the per-frame fit's own get
    ``boost`` times the confidence, so the curves follow a fast turn or a quick mouth and stay
    smooth elsewhere."""
    confidence = fit.found.astype(np.float64)
    raw = np.array([error(fit, k) if fit.found[k] else 0.0 for k in range(len(fit.found))])
    for _ in range(rounds):
        worse = np.array([fit.found[k] and error(smoothed, k) > raw[k] * (1 + slack) + slack_px for k in range(len(fit.found))])
        if not worse.any():
            break
        confidence[worse] *= boost
        smoothed = smooth(fit, fps, pose_hz, expression_hz, confidence)
    return smoothed


def jitter(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Mean magnitude of the frame-to-frame change of the error (truth minus estimate), as in
    LDEQ's normalised mean jitter: real motion cancels, only the estimate's shaking counts."""
    error = np.asarray(truth, dtype=np.float64) - np.asarray(estimate, dtype=np.float64)
    step = np.diff(error, axis=0).reshape(len(error) - 1, -1)
    return float(np.linalg.norm(step, axis=1).mean())
