"""Fit the face template to the landmarks of one or more photos of one person.

The model, in millimetres while fitting (metres outside):

- one identity shape ``X = T + D``: the template ``T`` plus per-vertex offsets ``D``, kept small
  (L2) and smooth (a uniform-Laplacian term);
- per photo ``k``: an expression offset ``E_k``, small (L2 weighted by the template's mobility,
  so the mouth, eyelids and jaw move freely and the nose bridge hardly at all) and smooth (a
  Laplacian without the eye and mouth fills, so lips and eyelids may part); zero with
  ``neutral``;
- per photo: a head pose (rotation, translation) and a pinhole camera with square pixels and a
  centred principal point (so glTF stores it exactly); its focal length comes from EXIF when
  known, otherwise from a default field of view, refined when several photos constrain it.

Residuals: the reprojection error of the 478 landmarks, normalised by the face's RMS radius in
that photo, under a robust soft-L1 loss; MediaPipe's relative depth as a weak prior; the
regularisers above; a log-focal prior. Initialisation: a similarity (Umeyama) alignment of the
template to MediaPipe's 3-D landmarks read as a scaled orthographic view gives rotation and
distance. Then Levenberg-Marquardt with analytic Jacobians and sparse normal equations
(iteratively reweighted for the robust loss): rigid first, then everything. The cameras project
exactly as the PyTorch3D ``PerspectiveCameras`` made by :func:`recon.cameras.to_pytorch3d`
(tested), and the Jacobians are checked against PyTorch autograd in the tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from recon.bundle import similarity
from recon.cameras import rodrigues_to_matrix, skew
from recon.structures import Camera
from recon.texture import vertex_normals
from recon_face.template import FaceTemplate

DEFAULT_FOCAL_35MM = 50.0  # without EXIF: 50 mm equivalent, 39.6 degrees across the long side


@dataclass
class Observation:
    """The landmarks of one photo.

    :param points: (478, 2) pixels (OpenCV convention).
    :param depth: (478,) MediaPipe relative depth in the same pixel units (smaller is nearer).
    :param visible: (478,) 1 inside the photo, 0 outside (MediaPipe guesses those).
    :param focal: initial focal length in pixels.
    :param focal_known: the focal length came from EXIF: it stays fixed.
    :param weight: the photo's weight (lowered for a bad photo).
    """

    points: np.ndarray
    depth: np.ndarray
    visible: np.ndarray
    width: int
    height: int
    focal: float
    focal_known: bool = False
    weight: float = 1.0
    name: str = ""


@dataclass
class FitSettings:
    """Weights of the terms. Data residuals are in units of ``sigma`` times the face's RMS
    radius in the photo (about 0.5 mm on the face); regularisers are mean squares over vertices
    in millimetres, so ``identity_l2 = 0.01`` makes a 10 mm offset everywhere cost as much as a
    one-sigma residual on every landmark."""

    sigma: float = 0.01
    contour_weight: float = 0.5
    outside_weight: float = 0.05
    depth_weight: float = 0.02
    identity_l2: float = 2e-3
    identity_laplacian: float = 0.5
    expression_l2: float = 2e-2
    expression_laplacian: float = 0.2
    focal_prior: float = 1.0
    neutral: bool = False
    estimate_focal: bool | None = None  # None: when there are several photos
    identity_modes: int = 120
    expression_modes: int = 80
    residual_l2: float = 4.0
    contour_freedom: float = 0.5
    rigid_iterations: int = 10
    iterations: int = 30
    tolerance: float = 1e-4
    facing_power: float = 1.0
    facing_floor: float = 0.05
    reweight_rounds: int = 1


@dataclass
class FitResult:
    """Everything in metres and pixels.

    :param identity: (478, 3) the fitted neutral shape.
    :param expressions: per photo, (478, 3) offsets added to ``identity`` in that photo.
    :param cameras: per photo, the fitted camera (the head stays in the template's frame).
    :param projected: per photo, (478, 2) where the fitted vertices land in the photo.
    :param errors_px: per photo, (478,) distance from each landmark to its vertex, pixels.
    :param details: what later stages add (the photometric levels' costs).
    :param skin_points: (M, 3) points of the skin triangulated from the photos' feature tracks
        (:mod:`recon_face.features`), when that step ran.
    """

    identity: np.ndarray
    expressions: list[np.ndarray]
    cameras: list[Camera]
    projected: list[np.ndarray]
    errors_px: list[np.ndarray]
    cost: float = 0.0
    iterations: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    skin_points: np.ndarray | None = None

    def expression_norm_mm(self, k: int) -> float:
        """RMS length of photo ``k``'s expression offsets, millimetres."""
        return float(np.sqrt((self.expressions[k] ** 2).sum(1).mean()) * 1000.0)

    def vertices(self, k: int) -> np.ndarray:
        """(478, 3) the mesh as photo ``k`` shows it (identity plus its expression), metres."""
        return self.identity + self.expressions[k]


def default_focal(width: int, height: int, focal_35mm: float | None = None) -> float:
    """Focal length in pixels for a 35 mm-equivalent focal length (default 50 mm)."""
    return float(focal_35mm or DEFAULT_FOCAL_35MM) / 36.0 * max(width, height)


def initial_pose(template_mm: np.ndarray, obs: Observation, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (3x3) and translation (mm) from a similarity alignment of the template to
    MediaPipe's 3-D landmarks read as a scaled orthographic view."""
    c = np.array([(obs.width - 1) / 2.0, (obs.height - 1) / 2.0])
    q = np.column_stack([obs.points - c, obs.depth])
    s, R, _ = similarity(template_mm, q, weights)
    w = weights / weights.sum()
    qc = w @ q
    t = np.array([qc[0] / s, qc[1] / s, obs.focal / s]) - R @ (w @ template_mm)
    return R, t


class _Problem:
    """Residuals and Jacobians of the fit.

    Unknowns: identity coefficients ``a`` (3, Md) on the smooth basis ``Phi`` (V, Md); per view
    expression coefficients ``b_k`` (3, Me) on ``Psi = diag(mobility) Phi_open`` (Laplacian
    eigenvectors of the mesh without the eye and mouth fills, so lips and eyelids part), and a
    pose ``p_k`` (8): rotation perturbation (3, on the left), translation (3), log focal, and
    ``mu`` (the view's reference depth for the depth prior). Each residual (u, v, depth) of a
    landmark depends on one vertex, so the normal equations are built from per-vertex 3x3 blocks
    and solved by eliminating each view's block onto the identity (Schur complement).
    """

    def __init__(self, template: FaceTemplate, observations: list[Observation], cfg: FitSettings) -> None:
        self.cfg = cfg
        self.K = K = len(observations)
        self.V = V = len(template.vertices)
        self.T = template.vertices * 1000.0
        self.obs = observations
        self.pts = np.stack([o.points for o in observations]).astype(np.float64)
        mp = np.stack([o.depth for o in observations]).astype(np.float64)
        self.mp_depth = mp - mp.mean(1, keepdims=True)
        self.centre = np.array([[(o.width - 1) / 2.0, (o.height - 1) / 2.0] for o in observations])
        lm_w = np.where(template.contour, cfg.contour_weight, 1.0)
        self.base_w = np.stack([lm_w * np.where(o.visible > 0.5, 1.0, cfg.outside_weight) for o in observations])
        self.view_w = np.array([o.weight for o in observations], dtype=np.float64)
        self.radius = np.array([np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()) for p in self.pts])
        self.faces = template.faces
        self.set_weights(np.ones((K, V)))
        self.logf0 = np.log([o.focal for o in observations])
        estimate = cfg.estimate_focal if cfg.estimate_focal is not None else K > 1
        self.free_f = np.array([estimate and not o.focal_known for o in observations], dtype=np.float64)
        self.neutral = cfg.neutral
        self.cameras_fixed = False  # set by fit(..., cameras_fixed=True): the poses and focal lengths stay
        self.Phi, ev = template.basis(cfg.identity_modes, fills=True)
        self.reg_a = (cfg.identity_l2 + cfg.identity_laplacian * ev**2) / V  # per coefficient
        Phi_o, ev_o = template.basis(cfg.expression_modes, fills=False)
        self.Psi = template.mobility[:, None] * Phi_o
        self.reg_b = (cfg.expression_l2 + cfg.expression_laplacian * ev_o**2) / V
        self.Md, self.Me = self.Phi.shape[1], self.Psi.shape[1]
        # per-vertex residual expression: L2 weight per vertex (scalar, isotropic)
        # (the face outline is no fixed point on the skin: it moves freely there too)
        freedom = np.maximum(template.mobility, np.where(template.contour, cfg.contour_freedom, 0.0))
        self.reg_e = cfg.residual_l2 / (V * freedom)

    def set_weights(self, facing: np.ndarray) -> None:
        """Landmark weights: the base weights times ``facing`` (K, V), how squarely each view
        sees each vertex (MediaPipe guesses landmarks it cannot see, and those near the
        silhouette slide along the surface as the head turns)."""
        lw = self.base_w * facing
        self.lw = lw
        # per-landmark weight of the squared normalised residual; each view's weights sum to its weight
        self.wsum = lw * self.view_w[:, None] / lw.sum(1, keepdims=True)
        self.norm = np.sqrt(self.wsum) / (self.radius * self.cfg.sigma)[:, None]
        self.dnorm = np.sqrt(self.cfg.depth_weight) * self.norm

    def facing(self, s: dict[str, np.ndarray]) -> np.ndarray:
        """(K, V) cosine between each vertex normal and its ray to the camera, floored."""
        X = self.vertices(s)
        out = np.empty((self.K, self.V))
        for k in range(self.K):
            n = vertex_normals(X[k], self.faces)
            centre = -s["R"][k].T @ s["t"][k]
            ray = centre - X[k]
            ray /= np.maximum(np.linalg.norm(ray, axis=1, keepdims=True), 1e-9)
            out[k] = (n * ray).sum(1)
        return np.clip(out, self.cfg.facing_floor, 1.0) ** self.cfg.facing_power

    # -- state -----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, np.ndarray]:
        R, t = [], []
        for o, w in zip(self.obs, self.base_w):
            Rk, tk = initial_pose(self.T, o, w)
            R.append(Rk)
            t.append(tk)
        state = {
            "a": np.zeros((3, self.Md)),
            "b": np.zeros((self.K, 3, self.Me)),
            "e": np.zeros((self.K, self.V, 3)),
            "R": np.array(R),
            "t": np.array(t),
            "logf": self.logf0.copy(),
            "mu": np.zeros(self.K),
        }
        state["mu"] = self.camera_points(state)[..., 2].mean(1)
        return state

    def state_from(self, result: FitResult) -> dict[str, np.ndarray]:
        """The state of ``result``'s identity and cameras, with no expression; the identity
        becomes the base shape, exactly (it may lie outside the identity basis)."""
        self.T = result.identity * 1000.0
        state = self.initial_state()
        state["a"] = np.zeros_like(state["a"])
        state["R"] = np.stack([c.R for c in result.cameras])
        state["t"] = np.stack([c.t * 1000.0 for c in result.cameras])
        state["logf"] = np.log([c.K[0, 0] for c in result.cameras])
        state["mu"] = self.camera_points(state)[..., 2].mean(1)
        return state

    def identity(self, s: dict[str, np.ndarray]) -> np.ndarray:
        return self.T + self.Phi @ s["a"].T

    def expression(self, s: dict[str, np.ndarray], k: int) -> np.ndarray:
        return self.Psi @ s["b"][k].T + s["e"][k]

    def vertices(self, s: dict[str, np.ndarray]) -> np.ndarray:
        X = self.identity(s)[None]
        if self.neutral:
            return np.broadcast_to(X, (self.K, self.V, 3))
        return X + self.Psi @ s["b"].transpose(0, 2, 1) + s["e"]

    def camera_points(self, s: dict[str, np.ndarray]) -> np.ndarray:
        return self.vertices(s) @ s["R"].transpose(0, 2, 1) + s["t"][:, None, :]

    def project(self, s: dict[str, np.ndarray]) -> np.ndarray:
        Xc = self.camera_points(s)
        f = np.exp(s["logf"])
        return f[:, None, None] * Xc[..., :2] / Xc[..., 2:3] + self.centre[:, None, :]

    def update(self, s: dict[str, np.ndarray], da: np.ndarray, db: np.ndarray, de: np.ndarray, dp: np.ndarray) -> dict[str, np.ndarray]:
        new = dict(s)
        new["a"] = s["a"] + da
        new["b"] = s["b"] + db
        new["e"] = s["e"] + de
        if self.cameras_fixed:
            dp = np.concatenate([np.zeros((self.K, 7)), dp[:, 7:]], axis=1)
        new["R"] = rodrigues_to_matrix(dp[:, :3]).reshape(self.K, 3, 3) @ s["R"]
        new["t"] = s["t"] + dp[:, 3:6]
        new["logf"] = s["logf"] + dp[:, 6] * self.free_f
        new["mu"] = s["mu"] + dp[:, 7]
        return new

    # -- residuals -------------------------------------------------------------------------------
    def evaluate(self, s: dict[str, np.ndarray], with_jacobian: bool, rigid: bool) -> dict[str, np.ndarray | float]:
        """The robust cost; with ``with_jacobian`` also the IRLS-weighted residuals (K, V, 3),
        their Jacobians w.r.t. each world vertex (K, V, 3, 3) and w.r.t. the pose (K, V, 3, 8)."""
        cfg = self.cfg
        X = self.vertices(s)
        RX = X @ s["R"].transpose(0, 2, 1)
        Xc = RX + s["t"][:, None, :]
        x, y, z = Xc[..., 0], Xc[..., 1], Xc[..., 2]
        f = np.exp(s["logf"])[:, None]
        u = f * x / z
        v = f * y / z
        du = u + self.centre[:, None, 0] - self.pts[..., 0]
        dv = v + self.centre[:, None, 1] - self.pts[..., 1]
        scale = (self.radius * cfg.sigma)[:, None]
        s2 = (du**2 + dv**2) / scale**2  # squared residual in sigma units
        rho = (2.0 * (np.sqrt(1.0 + s2) - 1.0) * self.wsum).sum()
        irls = (1.0 + s2) ** -0.25
        mu = s["mu"][:, None]
        rd = ((z - mu) * f / mu - self.mp_depth) * self.dnorm
        fprior = math.sqrt(cfg.focal_prior) * (s["logf"] - self.logf0) * self.free_f
        reg = 0.0
        if not rigid:
            reg = float((self.reg_a * s["a"] ** 2).sum())
            if not self.neutral:
                reg += float((self.reg_b * s["b"] ** 2).sum())
                reg += float((self.reg_e[None, :, None] * s["e"] ** 2).sum())
        cost = float(rho + (rd**2).sum() + (fprior**2).sum() + reg)
        out: dict[str, np.ndarray | float] = {"cost": cost}
        if not with_jacobian:
            return out
        w = self.norm * irls
        r = np.stack([du * w, dv * w, rd], -1)  # (K, V, 3)
        iz = 1.0 / z
        zero = np.zeros_like(z)
        Jc = np.stack(
            [
                np.stack([f * iz * w, zero, -f * x * iz**2 * w], -1),
                np.stack([zero, f * iz * w, -f * y * iz**2 * w], -1),
                np.stack([zero, zero, f / mu * self.dnorm], -1),
            ],
            -2,
        )  # (K, V, 3, 3) w.r.t. the camera-frame point
        G = Jc @ s["R"][:, None]
        Jw = -(Jc @ skew(RX))
        Jf = np.stack([u * w, v * w, (z - mu) * f / mu * self.dnorm], -1) * self.free_f[:, None, None]
        Jmu = np.stack([zero, zero, -(z / mu**2) * f * self.dnorm], -1)
        P = np.concatenate([Jw, Jc, Jf[..., None], Jmu[..., None]], -1)  # (K, V, 3, 8)
        out.update(r=r, G=G, P=P, fprior=fprior)
        return out

    def solve(self, s: dict[str, np.ndarray], ev: dict, lam: float, rigid: bool, frozen: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One damped Gauss-Newton step (da, db, de, dp); ``frozen`` keeps the identity and the
        poses where they are and solves for the expressions alone."""
        K, Md, Me = self.K, self.Md, self.Me
        r, G, P = ev["r"], ev["G"], ev["P"]
        # pose block and gradient
        Pf = P.reshape(K, -1, 8)
        Hpp = np.swapaxes(Pf, 1, 2) @ Pf
        gp = (np.swapaxes(Pf, 1, 2) @ r.reshape(K, -1, 1))[..., 0]
        fi = np.arange(K)
        Hpp[fi, 6, 6] += self.cfg.focal_prior * self.free_f
        gp[:, 6] += math.sqrt(self.cfg.focal_prior) * self.free_f * ev["fprior"]
        if self.cameras_fixed:  # a stiff spring on rotation, translation and focal: they do not move
            Hpp[:, np.arange(7), np.arange(7)] += 1e12
            gp[:, :7] = 0.0
        if rigid:
            Hpp = Hpp + lam * _damping(Hpp)
            dp = -np.linalg.solve(Hpp, gp[..., None])[..., 0]
            return np.zeros((3, Md)), np.zeros((K, 3, Me)), np.zeros((K, self.V, 3)), dp
        Gt = G.transpose(0, 1, 3, 2)
        S = Gt @ G  # per-vertex information (K, V, 3, 3)
        gX = (Gt @ r[..., None])[..., 0]  # per-vertex gradient (K, V, 3)
        GP = Gt @ P  # (K, V, 3, 8)
        Phi, Psi = self.Phi, self.Psi
        V = self.V
        if not self.neutral:
            # eliminate the per-vertex residual expression e (isotropic prior lam_e per vertex):
            # with M = S + lam_e I, S -> lam_e S M^-1, G^T P -> lam_e M^-1 G^T P,
            # g -> lam_e M^-1 (g - S e), P^T P -> P^T P - (G^T P)^T M^-1 G^T P,
            # P^T r -> P^T r - (G^T P)^T M^-1 (g + lam_e e)
            lam_e = self.reg_e[None, :, None, None] * (1.0 + lam)
            e = s["e"]
            Minv = np.linalg.inv(S + lam_e * np.eye(3))
            MinvGP = Minv @ GP
            ge = gX + (self.reg_e[None, :, None] * e)
            Hpp = Hpp - (np.swapaxes(GP, 2, 3) @ MinvGP).sum(1)
            gp = gp - (np.swapaxes(GP, 2, 3) @ (Minv @ ge[..., None])).sum(1)[..., 0]
            keep = (S, gX, GP, Minv, ge)
            gX = (lam_e * (Minv @ (gX - (S @ e[..., None])[..., 0])[..., None]))[..., 0]
            S = lam_e * (S @ Minv)
            S = 0.5 * (S + np.swapaxes(S, 2, 3))
            GP = lam_e * MinvGP

        def weighted_gram(A: np.ndarray, W: np.ndarray, B: np.ndarray) -> np.ndarray:
            """sum_v A[v, m] W[..., v, c, d] B[v, n] laid out (..., c, m, d, n) -> (..., 3m, 3n)."""
            lead = W.shape[:-3]
            AW = (W.reshape(*lead, V, 9, 1) * A[:, None, :]).reshape(*lead, V, 9 * A.shape[1])
            out = np.swapaxes(AW, -1, -2) @ B  # (..., 9 m, n) as (c, d, m, n)
            out = out.reshape(*lead, 3, 3, A.shape[1], B.shape[1])
            return np.moveaxis(out, -2, -3).reshape(*lead, 3 * A.shape[1], 3 * B.shape[1])

        Haa = weighted_gram(Phi, S.sum(0), Phi)
        Haa[np.diag_indices_from(Haa)] += np.tile(self.reg_a, 3)
        ga = (Phi.T @ gX.sum(0)).T.ravel() + (self.reg_a * s["a"]).ravel()
        Hap = (Phi.T @ GP.reshape(K, V, 24)).reshape(K, Md, 3, 8).transpose(0, 2, 1, 3).reshape(K, 3 * Md, 8)
        if self.neutral:
            Hzz, Haz, gz = Hpp, Hap, gp
            nz_b = 0
        else:
            nz_b = 3 * Me
            Hbb = weighted_gram(Psi, S, Psi)
            Hbb[:, np.arange(nz_b), np.arange(nz_b)] += np.tile(self.reg_b, 3)
            Hab = weighted_gram(Phi, S, Psi)
            Hbp = (Psi.T @ GP.reshape(K, V, 24)).reshape(K, Me, 3, 8).transpose(0, 2, 1, 3).reshape(K, nz_b, 8)
            gb = (Psi.T @ gX).transpose(0, 2, 1).reshape(K, nz_b) + (self.reg_b * s["b"]).reshape(K, nz_b)
            Hzz = np.zeros((K, nz_b + 8, nz_b + 8))
            Hzz[:, :nz_b, :nz_b] = Hbb
            Hzz[:, :nz_b, nz_b:] = Hbp
            Hzz[:, nz_b:, :nz_b] = Hbp.transpose(0, 2, 1)
            Hzz[:, nz_b:, nz_b:] = Hpp
            Haz = np.concatenate([Hab, Hap], 2)
            gz = np.concatenate([gb, gp], 1)
            if frozen:
                Hbb = Hbb + lam * _damping(Hbb)
                db = -np.linalg.solve(Hbb, gb[..., None])[..., 0].reshape(K, 3, Me)
                S0, _, _, Minv, ge = keep
                rhs = ge + (S0 @ (Psi @ db.transpose(0, 2, 1))[..., None])[..., 0]
                return np.zeros((3, Md)), db, -(Minv @ rhs[..., None])[..., 0], np.zeros((K, 8))
        Haa = Haa + lam * _damping(Haa)
        Hzz = Hzz + lam * _damping(Hzz)
        # Schur complement onto the identity
        from scipy.linalg import cho_factor, cho_solve

        Sa, sa = Haa.copy(), ga.copy()
        facs = []
        for k in range(K):
            fac = cho_factor(Hzz[k])
            facs.append(fac)
            Y = cho_solve(fac, np.column_stack([Haz[k].T, gz[k]]))
            Sa -= Haz[k] @ Y[:, :-1]
            sa -= Haz[k] @ Y[:, -1]
        da = -np.linalg.solve(Sa, sa)
        dz = np.stack([-cho_solve(facs[k], gz[k] + Haz[k].T @ da) for k in range(K)])
        db = dz[:, :nz_b].reshape(K, 3, Me) if nz_b else np.zeros((K, 3, Me))
        dp = dz[:, nz_b:]
        de = np.zeros((K, V, 3))
        if not self.neutral:
            S0, g0, GP0, Minv, ge = keep
            w = (Phi @ da.reshape(3, Md).T)[None] + Psi @ db.transpose(0, 2, 1)  # (K, V, 3)
            rhs = ge + (S0 @ w[..., None])[..., 0] + (GP0 @ dp[:, None, :, None])[..., 0]
            de = -(Minv @ rhs[..., None])[..., 0]
        return da.reshape(3, Md), db, de, dp


def _damping(H: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt damping: the diagonal (floored), as a matrix of H's shape."""
    d = np.maximum(np.diagonal(H, axis1=-2, axis2=-1), 1e-9)
    out = np.zeros_like(H)
    idx = np.arange(H.shape[-1])
    out[..., idx, idx] = d
    return out


def _minimise(
    prob: _Problem, state: dict[str, np.ndarray], rigid: bool, n_iter: int, tolerance: float, frozen: bool = False
) -> tuple[dict[str, np.ndarray], float, int]:
    """Levenberg-Marquardt from ``state``: (state, cost, iterations)."""
    lam = 1e-4
    ev = prob.evaluate(state, True, rigid)
    cost = float(ev["cost"])
    used = 0
    for _ in range(n_iter):
        used += 1
        accepted = False
        improvement = 0.0
        for _ in range(10):
            da, db, de, dp = prob.solve(state, ev, lam, rigid, frozen)
            trial = prob.update(state, da, db, de, dp)
            trial_cost = float(prob.evaluate(trial, False, rigid)["cost"])
            if trial_cost < cost:
                accepted = True
                improvement = cost - trial_cost
                state, cost = trial, trial_cost
                lam = max(lam / 4.0, 1e-8)
                break
            lam *= 8.0
        if not accepted or improvement < tolerance * cost:
            break
        ev = prob.evaluate(state, True, rigid)
    return state, cost, used


def fit(
    template: FaceTemplate,
    observations: list[Observation],
    settings: FitSettings | None = None,
    start: FitResult | None = None,
    cameras_fixed: bool = False,
) -> FitResult:
    """Fit identity, expressions, poses and focal lengths to the photos' landmarks; with
    ``start``, keep its identity and cameras and fit only the expressions to them; with ``start``
    and ``cameras_fixed``, keep its cameras and fit the identity (from ``start``'s) and the
    expressions."""
    from recon.device import one_blas_thread

    with one_blas_thread():  # small matrices: threads only add overhead
        return _fit(template, observations, settings or FitSettings(), start, cameras_fixed)


def _fit(template: FaceTemplate, observations: list[Observation], cfg: FitSettings, start: FitResult | None = None, cameras_fixed: bool = False) -> FitResult:
    t_setup = time.perf_counter()
    prob = _Problem(template, observations, cfg)
    state = prob.initial_state() if start is None else prob.state_from(start)
    prob.cameras_fixed = start is not None and cameras_fixed
    timings: dict[str, float] = {"fit_setup": time.perf_counter() - t_setup}
    iterations = 0
    cost = float(prob.evaluate(state, False, False)["cost"])
    if start is None:
        schedule = [("rigid", True, cfg.rigid_iterations)]
        schedule += [("full", False, cfg.iterations)] + [("reweighted", False, cfg.iterations)] * cfg.reweight_rounds
    elif prob.cameras_fixed:
        schedule = [("full", False, cfg.iterations)] + [("reweighted", False, cfg.iterations)] * cfg.reweight_rounds
    else:
        schedule = [] if cfg.neutral else [("expressions", False, cfg.iterations)]
    for name, rigid, n_iter in schedule:
        t0 = time.perf_counter()
        if name != "rigid" and cfg.facing_power > 0:
            prob.set_weights(prob.facing(state))
        state, cost, used = _minimise(prob, state, rigid, n_iter, cfg.tolerance, frozen=start is not None and not prob.cameras_fixed)
        iterations += used
        timings[f"fit_{name}"] = timings.get(f"fit_{name}", 0.0) + time.perf_counter() - t0

    uv = prob.project(state)
    errors = np.linalg.norm(uv - prob.pts, axis=2)
    identity = prob.identity(state) / 1000.0
    expressions = [np.zeros((prob.V, 3)) if cfg.neutral else prob.expression(state, k) / 1000.0 for k in range(prob.K)]
    cameras = []
    for k, o in enumerate(observations):
        f = float(np.exp(state["logf"][k]))
        Kmat = np.array([[f, 0, prob.centre[k, 0]], [0, f, prob.centre[k, 1]], [0, 0, 1.0]])
        cameras.append(Camera(K=Kmat, R=state["R"][k], t=state["t"][k] / 1000.0, width=o.width, height=o.height, name=o.name))
    return FitResult(identity, expressions, cameras, list(uv), list(errors), cost, iterations, timings)
