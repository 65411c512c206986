"""Osculating jets (Cazals & Pouget 2005): denoise points by projecting them onto quadrics fitted
to their neighbourhoods, and choose the neighbourhood size by cross-validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree


@dataclass
class Jets:
    """Points projected onto their osculating quadrics, with each quadric: the tangent frame
    ``(t1, t2, normal)``, the second-order coefficients ``quad`` = (c_uu, c_uv, c_vv) of the height
    ``w = c_uu u^2 + c_uv u v + c_vv v^2`` and the radius of the neighbourhood it was fitted on."""

    points: np.ndarray
    normals: np.ndarray
    t1: np.ndarray
    t2: np.ndarray
    quad: np.ndarray
    radius: np.ndarray


def _frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.where(np.abs(n[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    t1 = np.cross(n, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    return t1, np.cross(n, t1)


def jet_denoise(points: np.ndarray, normals: np.ndarray, tree: cKDTree, k: int = 40, chunk: int = 20_000) -> Jets:
    """Project every point onto a weighted quadric height field fitted to its ``k`` neighbours in
    the frame of its normal (osculating jets, Cazals & Pouget 2005).

    Averaging over ``k`` points removes most of the noise while the quadric keeps curved regions in
    place (a plane fit would flatten them). Neighbours whose normals face away (the far side of a
    thin part) are left out.
    """
    k = min(k, len(points))
    n = normals
    t1, t2 = _frame(n)
    coef = np.empty((len(points), 6))
    radius = np.empty(len(points))
    for start in range(0, len(points), chunk):  # bounded memory for large clouds
        sl = slice(start, start + chunk)
        dist, idx = tree.query(points[sl], k=k, workers=-1)
        coef[sl] = _fit(points, normals, points[sl], n[sl], t1[sl], t2[sl], dist, idx)
        radius[sl] = dist[:, -1]
    new_points = points + coef[:, :1] * n
    grad = n - coef[:, 1:2] * t1 - coef[:, 2:3] * t2
    new_normals = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    # re-orthogonalise the tangents against the tilted normal (second-order terms unchanged)
    t1 = t1 - (t1 * new_normals).sum(1, keepdims=True) * new_normals
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(new_normals, t1)
    return Jets(new_points, new_normals, t1, t2, coef[:, 3:6].copy(), radius)


def _fit(
    points: np.ndarray, normals: np.ndarray, centre: np.ndarray, n: np.ndarray, t1: np.ndarray, t2: np.ndarray,
    dist: np.ndarray, idx: np.ndarray,
) -> np.ndarray:
    """Weighted least-squares quadric ``w = c0 + c1 u + c2 v + c3 u^2 + c4 uv + c5 v^2`` around each
    centre over its neighbours ``idx`` (Gaussian weights on the distance, neighbours facing the
    other way left out); returns (M, 6) coefficients."""
    rel = points[idx] - centre[:, None, :]
    u = (rel * t1[:, None]).sum(-1)
    v = (rel * t2[:, None]).sum(-1)
    w = (rel * n[:, None]).sum(-1)
    h = dist[:, -1:] + 1e-12
    wt = np.exp(-((dist / h) ** 2) * 2.0)
    # neighbours facing the other way lie on the far side of a thin part: leave them out
    wt = wt * ((normals[idx] * n[:, None]).sum(-1) > 0.3)
    A = torch.as_tensor(np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1))
    Aw = A * torch.as_tensor(wt)[..., None]
    M = Aw.transpose(1, 2) @ A + 1e-9 * torch.eye(6, dtype=A.dtype)
    b = Aw.transpose(1, 2) @ torch.as_tensor(w)[..., None]
    # batched solves in torch: NumPy's batched LAPACK path is orders of magnitude slower here
    return torch.linalg.solve(M, b)[..., 0].numpy()


def choose_jet_k(
    points: np.ndarray, normals: np.ndarray, tree: cKDTree, candidates: tuple[int, ...] = (24, 32, 40, 56, 72, 96),
    holdout: int = 4000, tolerance: float = 0.01, seed: int = 0,
) -> tuple[int, dict[int, float]]:
    """The neighbourhood size of the jets, by leave-one-out cross-validation.

    For a random subset of points, fit the quadric to each point's ``k`` neighbours *without* the
    point and measure how far the point lies from it; the mean square is noise plus the fit's own
    error, so it is smallest where bias and variance balance. Like the one-standard-error rule,
    the largest ``k`` within ``tolerance`` of the minimum is taken (smoother at no real cost).
    Detailed, noisy shapes get small neighbourhoods, smooth ones large.
    """
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(points), min(holdout, len(points)), replace=False)
    ks = [k for k in candidates if k + 1 <= len(points)] or [max(6, len(points) - 1)]
    dist, idx = tree.query(points[sub], k=max(ks) + 1, workers=-1)
    n = normals[sub]
    t1, t2 = _frame(n)
    errors: dict[int, float] = {}
    for k in ks:
        coef = _fit(points, normals, points[sub], n, t1, t2, dist[:, 1 : k + 1], idx[:, 1 : k + 1])
        errors[k] = float(np.mean(coef[:, 0] ** 2))
    best = min(errors.values())
    chosen = max(k for k, e in errors.items() if e <= best * (1 + tolerance))
    return chosen, errors
