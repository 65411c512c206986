"""Bundle adjustment: cameras (rotation, translation, focal length) and 3-D points refined together
so the points' projections meet their 2-D observations.

Each camera moves by a rotation ``w`` on the left of its starting rotation (``R = exp(w) R0``), a
new translation and a log scale of its focal length (square pixels, the principal point kept);
each point is free. The residuals are the weighted reprojection errors in pixels under a robust
loss (Levenberg-Marquardt with the points eliminated, as in every bundle adjuster), so a few
wrong matches do not pull the cameras. The result is defined up to a similarity (the
gauge): :func:`similarity_to` moves it onto a frame the caller fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.cameras import rodrigues_to_matrix, skew
from recon.structures import Camera


@dataclass
class Observations:
    """2-D observations of 3-D points: observation ``i`` sees point ``point[i]`` in camera
    ``view[i]`` at pixel ``xy[i]`` with weight ``weight[i]`` (a pixel's residual is multiplied by it)."""

    view: np.ndarray
    point: np.ndarray
    xy: np.ndarray
    weight: np.ndarray

    def __post_init__(self) -> None:
        self.view = np.asarray(self.view, dtype=np.int64)
        self.point = np.asarray(self.point, dtype=np.int64)
        self.xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2)
        self.weight = np.broadcast_to(np.asarray(self.weight, dtype=np.float64), self.view.shape).copy()


@dataclass
class BundleResult:
    """The refined cameras and points, each observation's reprojection error (pixels, unweighted),
    the final robust cost and the steps taken."""

    cameras: list[Camera]
    points: np.ndarray
    errors_px: np.ndarray
    cost: float
    iterations: int


def bundle_adjust(
    cameras: list[Camera],
    points: np.ndarray,
    observations: Observations,
    refine_focal: np.ndarray | bool = True,
    scale_px: float = 1.5,
    iterations: int = 200,
    tolerance: float = 1e-7,
) -> BundleResult:
    """Refine ``cameras`` and ``points`` (P, 3) on ``observations`` (see the module docstring) by
    Levenberg-Marquardt with the points eliminated (Schur complement onto the cameras' 7 unknowns
    each), the residuals under the soft-L1 loss ``2 (sqrt(1 + (r / scale_px)^2) - 1)`` (iteratively
    reweighted).

    :param refine_focal: per camera (or for all) whether its focal length moves.
    :param iterations: the most Levenberg-Marquardt steps; it stops sooner when a step lowers
        the cost by less than ``tolerance`` of it.
    """
    C, P = len(cameras), len(points)
    free_f = np.broadcast_to(np.asarray(refine_focal, dtype=bool), (C,)).astype(np.float64)
    R = np.stack([c.R for c in cameras])
    t = np.stack([c.t for c in cameras]).astype(np.float64)
    f = np.array([c.K[0, 0] for c in cameras], dtype=np.float64)
    centre = np.stack([c.K[:2, 2] for c in cameras])
    X = np.asarray(points, dtype=np.float64).copy()
    obs = observations
    v, p, sw = obs.view, obs.point, obs.weight
    # pairs of observations of the same point: where the Schur complement couples two cameras
    order = np.argsort(p, kind="stable")
    first = np.searchsorted(p[order], np.arange(P))
    count = np.bincount(p, minlength=P)
    pair_a = np.concatenate([np.repeat(order[first[q] : first[q] + count[q]], count[q]) for q in range(P) if count[q]] or [np.zeros(0, int)])
    pair_b = np.concatenate([np.tile(order[first[q] : first[q] + count[q]], count[q]) for q in range(P) if count[q]] or [np.zeros(0, int)])

    def residual(R: np.ndarray, t: np.ndarray, f: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rotated = np.einsum("nij,nj->ni", R[v], X[p])
        xc = rotated + t[v]
        uv = f[v, None] * xc[:, :2] / xc[:, 2:3] + centre[v]
        return sw[:, None] * (uv - obs.xy), rotated, xc

    def cost(r: np.ndarray) -> float:
        return float((2.0 * (np.sqrt(1.0 + (r**2).sum(1) / scale_px**2) - 1.0)).sum() * scale_px**2 / 2.0)

    r, rotated, xc = residual(R, t, f, X)
    current = cost(r)
    lam = 1e-3
    used = 0
    for _ in range(iterations):
        used += 1
        z = xc[:, 2]
        d_xc = np.zeros((len(v), 2, 3))  # d (u, v) / d x_cam, weighted
        d_xc[:, 0, 0] = d_xc[:, 1, 1] = f[v] / z
        d_xc[:, :, 2] = -f[v, None] * xc[:, :2] / z[:, None] ** 2
        d_xc *= sw[:, None, None]
        Jc = np.zeros((len(v), 2, 7))
        Jc[:, :, :3] = d_xc @ -skew(rotated)  # a rotation on the left of R
        Jc[:, :, 3:6] = d_xc
        Jc[:, :, 6] = (sw * free_f[v])[:, None] * f[v, None] * xc[:, :2] / z[:, None]  # log focal
        Jp = d_xc @ R[v]
        irls = 1.0 / np.sqrt(1.0 + (r**2).sum(1) / scale_px**2)  # soft-L1's weight
        JcT = np.swapaxes(Jc, 1, 2) * irls[:, None, None]
        JpT = np.swapaxes(Jp, 1, 2) * irls[:, None, None]
        U = np.zeros((C, 7, 7))
        np.add.at(U, v, JcT @ Jc)
        Vp = np.zeros((P, 3, 3))
        np.add.at(Vp, p, JpT @ Jp)
        gc = np.zeros((C, 7))
        np.add.at(gc, v, (JcT @ r[..., None])[..., 0])
        gp = np.zeros((P, 3))
        np.add.at(gp, p, (JpT @ r[..., None])[..., 0])
        Wcp = JcT @ Jp  # (n, 7, 3)
        U[:, 6, 6] += 1e-9 + 1e12 * (1.0 - free_f)  # a fixed focal stays
        while True:
            Ud = U + lam * (U * np.eye(7)) + 1e-12 * np.eye(7)
            Vd = Vp + lam * (Vp * np.eye(3)) + 1e-12 * np.eye(3)
            Vinv = _inverse_3x3(Vd)
            Y = Wcp @ Vinv[p]  # (n, 7, 3)
            S = np.zeros((C, C, 7, 7))
            S[np.arange(C), np.arange(C)] = Ud
            np.add.at(S, (v[pair_a], v[pair_b]), -(Y[pair_a] @ np.swapaxes(Wcp[pair_b], 1, 2)))
            rhs = -gc.copy()
            np.add.at(rhs, v, (Y @ gp[p][..., None])[..., 0])
            dc = np.linalg.solve(S.transpose(0, 2, 1, 3).reshape(7 * C, 7 * C), rhs.reshape(-1)).reshape(C, 7)
            back = -gp.copy()
            np.add.at(back, p, -(np.swapaxes(Wcp, 1, 2) @ dc[v][..., None])[..., 0])
            dX = (Vinv @ back[..., None])[..., 0]
            R_new = rodrigues_to_matrix(dc[:, :3]) @ R
            t_new, f_new, X_new = t + dc[:, 3:6], f * np.exp(dc[:, 6] * free_f), X + dX
            r_new, rot_new, xc_new = residual(R_new, t_new, f_new, X_new)
            trial = cost(r_new) if np.all(xc_new[:, 2] > 0) else np.inf
            if trial < current:
                break
            lam *= 10.0
            if lam > 1e8:
                break
        if not trial < current:
            break
        gain = current - trial
        R, t, f, X, r, rotated, xc, current = R_new, t_new, f_new, X_new, r_new, rot_new, xc_new, trial
        lam = max(lam / 3.0, 1e-7)
        if gain < tolerance * current:
            break
    out = []
    for k, c in enumerate(cameras):
        K = c.K.copy()
        K[0, 0] = K[1, 1] = f[k]
        out.append(Camera(K=K, R=R[k], t=t[k], width=c.width, height=c.height, name=c.name))
    errors = np.linalg.norm(r, axis=1) / np.maximum(sw, 1e-12)
    return BundleResult(out, X, errors, current, used)


def _inverse_3x3(A: np.ndarray) -> np.ndarray:
    """Inverses of (N, 3, 3) matrices by their adjugates (numpy's batched ``inv`` pays a LAPACK
    call per matrix: seconds for thousands of points)."""
    a, b, c = A[:, 0], A[:, 1], A[:, 2]
    adj = np.stack([np.cross(b, c), np.cross(c, a), np.cross(a, b)], axis=2)  # columns: cofactors
    det = np.einsum("ni,ni->n", a, adj[:, :, 0])
    return adj / det[:, None, None]


def triangulate(cameras: list[Camera], observations: Observations, count: int) -> np.ndarray:
    """(count, 3) points from their observations by linear least squares (DLT), each point seen
    by two cameras or more; a point seen fewer times gets NaN."""
    out = np.full((count, 3), np.nan)
    rows: list[list[np.ndarray]] = [[] for _ in range(count)]
    M = [c.K @ np.hstack([c.R, c.t[:, None]]) for c in cameras]
    for k, j, (x, y) in zip(observations.view, observations.point, observations.xy):
        rows[j] += [x * M[k][2] - M[k][0], y * M[k][2] - M[k][1]]
    for j, A in enumerate(rows):
        if len(A) >= 4:
            _, _, Vt = np.linalg.svd(np.array(A))
            out[j] = Vt[-1, :3] / Vt[-1, 3]
    return out


def similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted Umeyama: (s, R, t) minimising sum w |s R src + t - dst|^2."""
    w = np.ones(len(src)) if w is None else np.asarray(w, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd((b * w[:, None]).T @ a)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    s = float((S * np.diag(D)).sum() / (w @ (a**2).sum(1)))
    return s, R, mu_d - s * R @ mu_s


def similarity_to(
    cameras: list[Camera], source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None, carry: np.ndarray | None = None,
) -> tuple[list[Camera], float, np.ndarray | None]:
    """The cameras moved into the frame where ``source`` points (N, 3) best match ``target``
    (:func:`similarity`): world points ``target ~ s Q source + c``. Returns the cameras, ``s`` and
    the points ``carry`` (M, 3; source frame) moved the same way (None without them); the images
    the cameras make of moved points are unchanged."""
    s, Q, c = similarity(source, target, weights)
    moved = []
    for cam in cameras:  # x_cam = R X_src + t = R Q^T (X_tgt - c) / s + t; scaled by s
        R = cam.R @ Q.T
        moved.append(Camera(K=cam.K, R=R, t=s * cam.t - R @ c, width=cam.width, height=cam.height, name=cam.name))
    return moved, s, None if carry is None else s * np.asarray(carry, dtype=np.float64) @ Q.T + c
