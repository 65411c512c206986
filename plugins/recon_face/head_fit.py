"""Fit recon's full head (:mod:`recon_face.head_model`: ICT identity components and ARKit-named
expression shapes) to the landmark shapes the face fit found.

The face fit (:mod:`recon_face.fit`, then :mod:`recon_face.photometric`) gives, in the face
template's frame, the 478 landmarks' 3-D positions of the person's neutral face and of each
photo's expression, and one camera per photo. The head is placed on those points:

1. a rigid transform from the head's frame to the template's (weighted Kabsch), alternating with
2. the identity weights: ridge least squares on the landmark points under the components'
   Gaussian prior (standard-normal weights are plausible people; landmark noise ``sigma``);
3. a small per-vertex correction where the landmarks still disagree: their residuals spread over
   the head by a regularised Gaussian radial-basis interpolation (``rbf_width``), so it fades to
   nothing away from the face and carries the eyes and teeth with the skin around them;
4. per photo, the expression as the 51 shape weights in [0, 1]: bounded least squares on the
   photo's landmark offsets from the neutral, with an L2 and a sparsity (L1) prior;
5. per photo, :func:`refine_photo`: the head's position and the weights refined on the photo's
   2-D landmarks (Gauss-Newton; each step a box-constrained quadratic), since the face fit's free
   per-photo offsets are more than 51 shapes can show and the camera should fit the head; the
   rotation too when no photometric refinement set it (one photo, or ``photometric=false``);
6. with two photos or more (or a video's frames), :func:`landmark_offsets`: per landmark, the
   3-D offset its 2-D residuals in all the views agree on (least absolute deviations), added to
   the correction of step 3 by :func:`correct_landmarks`, and step 5 once more; when the photos
   share enough texture (:mod:`recon_face.features`), before step 5 is repeated,
   :func:`fit_skin_points` moves the skin onto the points triangulated from it (MediaPipe's
   landmarks slide over the skin; those points do not: on the scan renders the head's surface
   error on Igea fell from 1.41 to 0.69 mm, README).

Landmarks on the face outline (MediaPipe's face oval) slide along the cheek as the head turns,
so they count less (``contour_weight``). Everything is in metres in the head's frame; the
cameras are moved into it (:meth:`HeadFit.camera`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recon.structures import Camera
from recon_face.head_model import HeadModel


IRIS = np.arange(468, 478)  # MediaPipe's iris landmarks


@dataclass(frozen=True)
class HeadFitSettings:
    """Weights of the head fit (lengths in metres)."""

    sigma: float = 0.0015  # landmark noise: ~ the landmark registration spread
    contour_weight: float = 0.3
    identity_components: int = 100
    rounds: int = 3
    rbf_width: float = 0.015
    rbf_regularisation: float = 0.02  # added to the kernel's unit diagonal (divided by the landmark's weight)
    expression_l2: float = 0.02
    expression_l1: float = 0.02
    sweeps: int = 200  # coordinate-descent sweeps of the expression weights (at most)
    refine_iterations: int = 8  # Gauss-Newton steps of the per-photo refinement on the 2-D landmarks
    step_tolerance: float = 1e-4  # ... stopping at a step below this (radians, metres, weights): 0.1 mm, 0.006 deg
    refine_rotation: bool = False  # also turn the camera (landmarks alone leave rotations 3-4 deg off)
    max_landmark_offset: float = 0.004  # the most one landmark moves when the views refine the identity (correct_landmarks)
    grazing_cos: float = 0.0  # LandmarkSolver: a landmark whose surface faces the camera at a cosine below this counts less (0: off)
    grazing_floor: float = 0.1  # ... down to this share of its weight, where the surface is edge-on
    skin_points: int = 1000  # fit_skin_points: at most this many of the photos' triangulated skin points
    skin_rounds: int = 2  # ... nearest-vertex matches and corrections
    skin_max_offset: float = 0.004  # ... a point further from the skin than this (metres) is left out


@dataclass
class HeadFit:
    """The fitted head.

    :param identity_weights: (K,) identity component weights.
    :param correction: (V, 3) per-vertex correction added to the identity, metres.
    :param expression_weights: per photo, (51,) weights in [0, 1].
    :param rotation: (3, 3) and :param translation: (3,): ``x_template = R @ x_head + t``.
    :param residual_mm: per photo, (478,) distance between the head's landmarks and the face
        fit's, millimetres, after the correction.
    """

    identity_weights: np.ndarray
    correction: np.ndarray
    expression_weights: list[np.ndarray]
    rotation: np.ndarray
    translation: np.ndarray
    residual_mm: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def average(cls, model: HeadModel) -> HeadFit:
        """The average head: identity weights and correction zero, one photo's neutral expression."""
        return cls(np.zeros(len(model.identity)), np.zeros((model.n_vertices, 3), np.float32), [np.zeros(len(model.expression_names))], np.eye(3), np.zeros(3))

    def neutral(self, model: HeadModel) -> np.ndarray:
        """(V, 3) the person's neutral head, metres, head frame."""
        return model.vertices(self.identity_weights) + self.correction

    def posed(self, model: HeadModel, k: int) -> np.ndarray:
        """(V, 3) the head as photo ``k`` shows it (neutral plus its expression)."""
        return self.neutral(model) + np.tensordot(self.expression_weights[k], model.expression, axes=1)

    def camera(self, camera: Camera) -> Camera:
        """``camera`` (of the template's frame) as a camera of the head's frame."""
        R = camera.R @ self.rotation
        t = camera.R @ self.translation + camera.t
        return Camera(K=camera.K.copy(), R=R, t=t, width=camera.width, height=camera.height, name=camera.name)


def kabsch(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``R`` and translation ``t`` minimising ``sum w |R @ s + t - x|^2``."""
    w = weights / weights.sum()
    cs, ct = w @ source, w @ target
    H = (source - cs).T @ ((target - ct) * w[:, None])
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, ct - R @ cs


def landmark_weights(contour: np.ndarray, settings: HeadFitSettings) -> np.ndarray:
    """(478,) per-landmark weights: the face outline counts ``contour_weight``."""
    return np.where(contour, settings.contour_weight, 1.0)


def fit_head(
    model: HeadModel,
    neutral_points: np.ndarray,
    photo_points: list[np.ndarray],
    contour: np.ndarray,
    neutral: bool = False,
    settings: HeadFitSettings = HeadFitSettings(),
) -> HeadFit:
    """Fit ``model`` to the face fit's landmark shapes.

    :param neutral_points: (478, 3) the neutral face's landmarks, template frame, metres.
    :param photo_points: per photo, (478, 3) its landmarks (neutral plus expression).
    :param contour: (478,) bool, the face-outline landmarks.
    :param neutral: no expressions (all weights 0).
    """
    weights = landmark_weights(contour, settings)
    base = model.landmark_points().astype(np.float64)  # (478, 3)
    K = min(settings.identity_components, len(model.identity))
    A = np.moveaxis(model.landmark_points(model.identity[:K]).astype(np.float64), 0, -1)  # (478, 3, K)
    R, t = kabsch(base, neutral_points, weights)
    a = np.zeros(K)
    sw = np.sqrt(weights)[:, None, None]
    for _ in range(settings.rounds):
        target = (neutral_points - t) @ R  # template -> head frame
        M = (A * sw).reshape(-1, K)
        b = ((target - base) * sw[..., 0]).reshape(-1)
        a = np.linalg.solve(M.T @ M + settings.sigma**2 * np.eye(K), M.T @ b)
        R, t = kabsch(base + A @ a, neutral_points, weights)
    fitted = base + A @ a
    target = (neutral_points - t) @ R
    correction = _spread(model.vertices(a).astype(np.float64), fitted, target - fitted, weights, settings)

    E = np.moveaxis(model.landmark_points(model.expression).astype(np.float64), 0, -1)  # (478, 3, 51)
    expression_weights = weights.copy()
    expression_weights[IRIS] = 0.0  # gaze turns the eyeballs; no expression shape does
    expressions, residuals = [], []
    head_neutral = model.landmark_points(model.vertices(a) + correction).astype(np.float64)
    for points in photo_points:
        offset = (points - t) @ R - target  # the photo's expression, head frame
        w = np.zeros(E.shape[-1]) if neutral else _expression_weights(E, offset, expression_weights, settings)
        expressions.append(w)
        residuals.append(np.linalg.norm(head_neutral + E @ w - (points - t) @ R, axis=1) * 1000.0)
    return HeadFit(a, correction, expressions, R, t, residuals)


def correct_landmarks(model: HeadModel, head: HeadFit, offsets: np.ndarray, contour: np.ndarray, settings: HeadFitSettings = HeadFitSettings()) -> None:
    """Move ``head``'s neutral landmarks by ``offsets`` (478, 3; head frame, metres; each at most
    ``settings.max_landmark_offset`` long) with the smooth per-vertex field of step 3 (added to
    ``head.correction``). The iris landmarks, which follow the gaze, and the face outline's, which
    slide along the silhouette as the head turns, stay out of it."""
    neutral = head.neutral(model).astype(np.float64)
    keep = ~np.asarray(contour, dtype=bool)
    keep[IRIS] = False
    length = np.linalg.norm(offsets, axis=1, keepdims=True)
    offsets = offsets * np.minimum(1.0, settings.max_landmark_offset / np.maximum(length, 1e-12))
    at = model.landmark_points(neutral).astype(np.float64)
    # the landmarks kept all have weight 1 (only the outline's count less: landmark_weights)
    head.correction = head.correction + _spread(neutral, at[keep], offsets[keep], np.ones(int(keep.sum())), settings)


def fit_skin_points(model: HeadModel, head: HeadFit, points: np.ndarray, settings: HeadFitSettings = HeadFitSettings()) -> dict[str, float]:
    """Move ``head``'s skin onto ``points`` (M, 3; template frame, metres), points of the skin
    triangulated from the photos (:mod:`recon_face.features`): each point's offset from the
    skin along the normal of the nearest skin vertex, spread smoothly over the head as the
    landmarks' residuals are (``rbf_width``), ``skin_rounds`` times. Points more than
    ``skin_max_offset`` off the surface are left out. Adds to ``head.correction``; returns the
    points used and their median distance to the skin before and after (millimetres)."""
    skin = model.part("skin")
    target = (np.asarray(points, dtype=np.float64) - head.translation) @ head.rotation  # template -> head frame
    if len(target) > settings.skin_points:  # an even subset: the RBF system grows with the square
        target = target[np.linspace(0, len(target) - 1, settings.skin_points).astype(np.int64)]
    gaps: list[float] = []
    keep = np.ones(len(target), bool)
    for round_ in range(settings.skin_rounds + 1):
        neutral = head.neutral(model).astype(np.float64)
        along, normal = off_surface(target, neutral[skin.vertex_index], skin.faces)
        if round_ == 0:
            keep = np.abs(along) < settings.skin_max_offset
        gaps.append(float(np.median(np.abs(along[keep]))) * 1000)
        if round_ == settings.skin_rounds or keep.sum() < 10:
            break
        residual = along[keep, None] * normal[keep]
        foot = target[keep] - residual  # the point's foot on that plane
        head.correction = head.correction + _spread(neutral, foot, residual, np.ones(int(keep.sum())), settings)
    return {"skin_points": int(keep.sum()), "skin_gap_mm_before": round(gaps[0], 3), "skin_gap_mm_after": round(gaps[-1], 3)}


def off_surface(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distances of ``points`` (M, 3) from the surface (``vertices``, ``faces``) along the
    normal of each point's nearest vertex (the surface near a vertex taken as its tangent plane),
    and those normals (M, 3)."""
    from scipy.spatial import cKDTree

    from recon.texture import vertex_normals

    _, nearest = cKDTree(vertices).query(points)
    normal = vertex_normals(vertices, faces)[nearest]
    return ((points - vertices[nearest]) * normal).sum(1), normal


def _spread(vertices: np.ndarray, at: np.ndarray, residual: np.ndarray, weights: np.ndarray, settings: HeadFitSettings) -> np.ndarray:
    """(V, 3) a smooth field through the landmarks' ``residual`` at points ``at`` (Gaussian RBF,
    regularised per landmark by its weight), evaluated at ``vertices`` (V, 3)."""
    width2 = 2.0 * settings.rbf_width**2
    phi = np.exp(-_squared_distances(at, at) / width2)
    reg = settings.rbf_regularisation / weights
    coeffs = np.linalg.solve(phi + np.diag(reg), residual)
    out = np.exp(-_squared_distances(vertices, at) / width2) @ coeffs
    return out.astype(np.float32)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared distances, by the expansion |a|^2 + |b|^2 - 2 a.b (clipped at 0)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def _expression_weights(E: np.ndarray, offset: np.ndarray, weights: np.ndarray, settings: HeadFitSettings) -> np.ndarray:
    """(51,) weights in [0, 1] for landmark offsets (478, 3): bounded least squares with an L2 and
    an L1 prior, by coordinate descent on the box-constrained quadratic (exact per coordinate)."""
    n = E.shape[-1]
    sw = np.sqrt(weights)[:, None, None] / settings.sigma
    M = (E * sw).reshape(-1, n)
    b = (offset * sw[..., 0]).reshape(-1)
    H = M.T @ M + settings.expression_l2 * len(weights) * np.eye(n)
    g = M.T @ b - settings.expression_l1 * len(weights)  # minimise 0.5 w'Hw - g'w on [0, 1]^n
    w = np.zeros(n)
    diag = np.diag(H)
    for _ in range(settings.sweeps):
        change = 0.0
        for j in range(n):
            new = min(1.0, max(0.0, w[j] + (g[j] - H[j] @ w) / diag[j]))
            change = max(change, abs(new - w[j]))
            w[j] = new
        if change < 1e-5:
            break
    return w


def refine_photo(
    model: HeadModel,
    head: HeadFit,
    k: int,
    camera: Camera,
    points: np.ndarray,
    contour: np.ndarray,
    settings: HeadFitSettings = HeadFitSettings(),
    neutral: bool = False,
) -> Camera:
    """Refine photo ``k``'s head position (and rotation, with ``settings.refine_rotation``) and
    expression weights on its 2-D landmarks ``points`` (478, 2) pixels (see
    :class:`LandmarkSolver`). Updates ``head.expression_weights[k]``; returns the refined camera
    (head frame)."""
    solver = LandmarkSolver(model, head, contour, settings, neutral)
    camera, head.expression_weights[k] = solver.solve(camera, points, head.expression_weights[k], rotate=settings.refine_rotation)
    return camera


class LandmarkSolver:
    """The head's pose and expression weights from one image's 2-D landmarks: Gauss-Newton on
    the reprojection error (pixels scaled to millimetres on the face, over ``sigma``), the weights
    kept in [0, 1] (each step a box-constrained quadratic solved by coordinate descent), an L2
    and an L1 (sparsity) prior on the weights; ``pinned`` shapes keep the weights a solve starts
    from (the video method holds the eyeLook shapes at 0: the gaze is the iris's to tell). Built once per head;
    :meth:`solve` per image."""

    def __init__(
        self, model: HeadModel, head: HeadFit, contour: np.ndarray, settings: HeadFitSettings = HeadFitSettings(), neutral: bool = False,
        pinned: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.neutral = neutral
        self.pinned = np.isin(np.asarray(model.expression_names), list(pinned))  # (51,) shapes held at their starting weights
        self.weights = landmark_weights(contour, settings)
        self.weights[IRIS] = 0.0
        self.base = model.landmark_points(head.neutral(model)).astype(np.float64)  # (478, 3)
        self.E = np.moveaxis(model.landmark_points(model.expression).astype(np.float64), 0, -1)  # (478, 3, 51)
        self._E_rows = np.ascontiguousarray(self.E.reshape(-1, self.E.shape[-1]))  # (478 * 3, 51), for E @ w
        self._E_axes = np.ascontiguousarray(np.moveaxis(self.E, 1, 0))  # (3, 478, 51): x, y and z of every shape
        self.radius_m = np.sqrt(((self.base - self.base.mean(0)) ** 2).sum(1).mean())
        tri = head.neutral(model)[model.landmarks.vertex_index].astype(np.float64)  # (478, 3, 3)
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        self.normals = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)

    def _facing(self, R: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(478,) each landmark's weight factor for how squarely its surface faces the camera
        (head frame to camera ``R``, ``t``): 1 down to ``grazing_floor`` where the surface turns
        edge-on. MediaPipe's landmarks slide towards the silhouette there, so on a turned head
        they would pull the fit towards a smaller turn."""
        c0, floor = self.settings.grazing_cos, self.settings.grazing_floor
        if c0 <= 0:
            return np.ones(len(self.base))
        p = self.base @ R.T + t
        facing = -np.einsum("ij,ij->i", self.normals @ R.T, p / np.linalg.norm(p, axis=1, keepdims=True))
        return np.clip(facing / c0, floor, 1.0)

    def _scale(self, points: np.ndarray, visibility: np.ndarray | None) -> np.ndarray:
        """(478,) per landmark: pixels to noise units (its weight, the face's size in pixels, sigma)."""
        weights = self.weights if visibility is None else self.weights * visibility
        radius_px = np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean())
        return np.sqrt(weights) * (self.radius_m / radius_px) / self.settings.sigma

    def _linearise(self, R: np.ndarray, t: np.ndarray, K: np.ndarray, w: np.ndarray, points: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The residuals (478 * 2,) in noise units and their Jacobian (478 * 2, 6 [+ 51]) with
        respect to a rotation applied before ``R`` (rotation vector), ``t`` and (unless neutral) ``w``.

        The projection's derivative has two non-zero entries a row, ``(a_u, 0, b_u)`` and ``(0,
        a_v, b_v)`` (:func:`projection_jacobian`), so every block is written out from them: the
        rotation's columns are the camera-frame point ``Y`` crossed with the row (a small turn
        moves ``Y`` by ``-[Y]x`` times the rotation vector), the weights' the row turned back to
        the head's frame dotted with each shape."""
        X = self.base + (self._E_rows @ w).reshape(-1, 3)
        Y = X @ R.T
        p = Y + t
        f, c = np.diag(K)[:2], K[:2, 2]
        inv_z = 1.0 / p[:, 2]
        uv = p[:, :2] * inv_z[:, None] * f + c
        r = ((uv - points) * scale[:, None]).reshape(-1)
        a = f[None, :] * (scale * inv_z)[:, None]  # (478, 2): d(u, v)/d(x, y), in noise units
        b = -a * p[:, :2] * inv_z[:, None]  # (478, 2): d(u, v)/dz
        J = np.zeros((len(p), 2, 6 if self.neutral else 6 + self.E.shape[-1]))
        J[:, 0, 0], J[:, 0, 1], J[:, 0, 2] = Y[:, 1] * b[:, 0], Y[:, 2] * a[:, 0] - Y[:, 0] * b[:, 0], -Y[:, 1] * a[:, 0]
        J[:, 1, 0], J[:, 1, 1], J[:, 1, 2] = Y[:, 1] * b[:, 1] - Y[:, 2] * a[:, 1], -Y[:, 0] * b[:, 1], Y[:, 0] * a[:, 1]
        J[:, 0, 3], J[:, 0, 5], J[:, 1, 4], J[:, 1, 5] = a[:, 0], b[:, 0], a[:, 1], b[:, 1]
        if not self.neutral:
            E = self._E_axes
            for row, rows in enumerate((a[:, 0, None] * R[0] + b[:, 0, None] * R[2], a[:, 1, None] * R[1] + b[:, 1, None] * R[2])):
                J[:, row, 6:] = rows[:, 0, None] * E[0] + rows[:, 1, None] * E[1] + rows[:, 2, None] * E[2]
        return r, J.reshape(len(r), -1)

    def _l2_prior(self, n_free: int) -> np.ndarray:
        """(n_free,) the L2 prior's diagonal: none on the pose, ``expression_l2`` per landmark on the weights."""
        prior = np.zeros(n_free)
        prior[6:] = self.settings.expression_l2 * len(self.weights)
        return prior

    def solve(
        self,
        camera: Camera,
        points: np.ndarray,
        expression: np.ndarray,
        rotate: bool = True,
        visibility: np.ndarray | None = None,
        iterations: int | None = None,
    ) -> tuple[Camera, np.ndarray]:
        """The refined camera (head frame) and weights for landmarks ``points`` (478, 2) pixels,
        starting from ``camera`` and ``expression`` (51,); ``visibility`` (478,) weighs each
        landmark (0: off the image); ``rotate=False`` keeps the camera's rotation."""
        from scipy.spatial.transform import Rotation

        settings, neutral = self.settings, self.neutral
        w = np.asarray(expression, dtype=np.float64).copy()
        R, t, K = camera.R.copy(), camera.t.astype(np.float64).copy(), camera.K
        scale = self._scale(points, visibility)
        n_free = 6 + (0 if neutral else self.E.shape[-1])
        prior = self._l2_prior(n_free)
        l1 = np.zeros(n_free)
        l1[6:] = settings.expression_l1 * len(self.weights)
        held = None
        for _ in range(settings.refine_iterations if iterations is None else iterations):
            r, J = self._linearise(R, t, K, w, points, scale * np.sqrt(self._facing(R, t)))
            H = J.T @ J + np.diag(prior)
            g = -(J.T @ r) - prior * np.concatenate([np.zeros(6), w if not neutral else np.zeros(0)])[:n_free] - l1
            lo = np.full(n_free, -np.inf)
            hi = np.full(n_free, np.inf)
            if not rotate:
                lo[:3] = hi[:3] = 0.0
            if not neutral:
                lo[6:], hi[6:] = -w, 1.0 - w
                lo[6:][self.pinned] = hi[6:][self.pinned] = 0.0
            step, held = _box_quadratic(H, g, lo, hi, settings.sweeps, held)
            R = Rotation.from_rotvec(step[:3]).as_matrix() @ R
            t = t + step[3:6]
            if not neutral:
                w = np.clip(w + step[6:], 0.0, 1.0)
            if np.abs(step).max() < settings.step_tolerance:
                break
        return Camera(K=K.copy(), R=R, t=t, width=camera.width, height=camera.height, name=camera.name), w

    def information(self, camera: Camera, points: np.ndarray, expression: np.ndarray, visibility: np.ndarray | None = None) -> np.ndarray:
        """(6 [+ 51], 6 [+ 51]) how firmly the landmarks ``points`` hold the pose (rotation as in
        :meth:`solve`, translation) and the weights at ``camera`` and ``expression``: the
        Gauss-Newton Hessian of :meth:`solve`'s objective in noise units, its L2 prior included."""
        R, t = camera.R, camera.t.astype(np.float64)
        scale = self._scale(points, visibility) * np.sqrt(self._facing(R, t))
        _, J = self._linearise(R, t, camera.K, np.asarray(expression, dtype=np.float64), points, scale)
        if not self.neutral:  # the pinned shapes are not the landmarks' to tell
            J[:, 6:][:, self.pinned] = 0.0
        return J.T @ J + np.diag(self._l2_prior(J.shape[1]))


def landmark_offsets(
    solver: LandmarkSolver,
    cameras: list[Camera],
    expressions: list[np.ndarray],
    landmarks: list[np.ndarray],
    visibility: list[np.ndarray | None],
    rounds: int = 6,
    floor_px: float = 0.3,
) -> np.ndarray:
    """(478, 3) the offsets of the head's neutral landmarks (head frame, metres) that several
    views agree on: view ``k`` sees the head posed with the weights ``expressions[k]`` through
    ``cameras[k]`` (head frame) and found ``landmarks[k]`` (478, 2+ pixels).

    Per landmark, the offset ``d`` minimising ``sum_k |J_k d - r_k|`` (``r_k`` its 2-D residual in
    view ``k``, ``J_k`` the projection's derivative): least absolute deviations by iteratively
    reweighted least squares (weights ``1 / max(|.|, floor_px)``), so that an expression the 51
    shapes under-fit in some views does not move the neutral face, as a median would not. Depth
    is seen only as far as the views turn; a small ridge keeps what no view sees at zero.
    """
    rows, targets = [], []
    for camera, w, points, vis in zip(cameras, expressions, landmarks, visibility):
        R, t, K = camera.R, camera.t, camera.K
        p = (solver.base + solver.E @ w) @ R.T + t
        z = p[:, 2:3]
        du_dp = projection_jacobian(p, K)
        seen = np.ones(len(p)) if vis is None else (np.asarray(vis) > 0).astype(float)
        rows.append(du_dp @ R * seen[:, None, None])  # (478, 2, 3): pixels per metre in the head's frame
        targets.append((points[:, :2] - (p[:, :2] / z * np.diag(K)[:2] + K[:2, 2])) * seen[:, None])
    if not rows:
        return np.zeros_like(solver.base)
    J, r = np.stack(rows, axis=1), np.stack(targets, axis=1)  # (478, views, 2, 3), (478, views, 2)
    ridge = 1e-4 * np.einsum("lfab,lfab->l", J, J)[:, None, None] / J.shape[1] * np.eye(3)
    irls = np.ones(J.shape[:2])
    d = np.zeros((len(J), 3))
    for _ in range(rounds):
        A = np.einsum("lf,lfai,lfaj->lij", irls, J, J) + ridge + 1e-12 * np.eye(3)
        b = np.einsum("lf,lfai,lfa->li", irls, J, r)
        d = np.linalg.solve(A, b[..., None])[..., 0]
        irls = 1.0 / np.maximum(np.linalg.norm(r - np.einsum("lfai,li->lfa", J, d), axis=2), floor_px)
    return d


def projection_jacobian(p: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 2, 3) the derivative of the pinhole projection ``K`` at camera-frame points ``p`` (N, 3)."""
    z = p[:, 2]
    f = np.diag(K)[:2]
    out = np.zeros((len(p), 2, 3))
    out[:, 0, 0] = f[0] / z
    out[:, 1, 1] = f[1] / z
    out[:, :, 2] = -f[None, :] * p[:, :2] / z[:, None] ** 2
    return out


def _box_quadratic(
    H: np.ndarray, g: np.ndarray, lo: np.ndarray, hi: np.ndarray, sweeps: int, held: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """argmin 0.5 x'Hx - g'x on lo <= x <= hi (H positive definite) and the coordinates held at
    their lower and upper bounds: an active-set estimate (:func:`_active_set`, started from
    ``held``, for example the previous Gauss-Newton step's), polished by coordinate descent (exact
    per coordinate) until no coordinate moves more than 1e-7 when that did not settle."""
    x, settled, held = _active_set(H, g, lo, hi, held=held)
    if settled:
        return x, held
    diag = np.diag(H)
    for _ in range(sweeps):
        change = 0.0
        for j in range(len(g)):
            new = min(hi[j], max(lo[j], x[j] + (g[j] - H[j] @ x) / diag[j]))
            change = max(change, abs(new - x[j]))
            x[j] = new
        if change < 1e-7:
            break
    return x, (x <= lo, x >= hi)


def _active_set(
    H: np.ndarray, g: np.ndarray, lo: np.ndarray, hi: np.ndarray, rounds: int = 12, held: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, bool, tuple[np.ndarray, np.ndarray]]:
    """A few rounds of a primal active-set method for the box QP: solve for the free
    coordinates, hold the ones that left the box at their bound, free the held ones whose gradient
    points inside; ``held`` (at the lower bound, at the upper) is where it starts (default: all
    free). The estimate, whether it settled (then exact) and the held coordinates; clipped into
    the box when it did not settle."""
    n = len(g)
    pinned = lo == hi
    if held is None:
        at_lo, at_hi = pinned.copy(), np.zeros(n, dtype=bool)
    else:
        at_lo, at_hi = held[0] | pinned, held[1] & ~pinned
    x = np.zeros(n)
    for _ in range(rounds):
        held_now = at_lo | at_hi
        x = np.where(at_hi, hi, np.where(at_lo, lo, 0.0))
        free = ~held_now
        if free.any():
            A, b = H[np.ix_(free, free)], g[free] - H[np.ix_(free, held_now)] @ x[held_now]
            try:
                x[free] = np.linalg.solve(A, b)
            except np.linalg.LinAlgError:  # a degenerate step (a head seen edge-on): the least-squares one
                x[free] = np.linalg.lstsq(A, b, rcond=None)[0]
        below, above = free & (x < lo), free & (x > hi)
        grad = g - H @ x  # raising x_j lowers the cost where grad_j > 0
        release = ~pinned & ((at_lo & (grad > 0)) | (at_hi & (grad < 0)))
        if not (below.any() or above.any() or release.any()):
            return x, True, (at_lo, at_hi)
        at_lo = (at_lo | below) & ~release
        at_hi = (at_hi | above) & ~release
    return np.clip(x, lo, hi), False, (at_lo, at_hi)
