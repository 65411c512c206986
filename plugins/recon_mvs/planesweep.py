"""Plane-sweep stereo: depth for a reference view from source views with known cameras.

Fronto-parallel planes of the reference camera, uniform in inverse depth between ``near`` and
``far``; for each plane every source image is warped into the reference (each reference pixel
back-projected to the plane and projected into the source, sampled with ``grid_sample``,
differentiable); the cost is one minus the zero-mean normalised cross-correlation (NCC) of the
reference and the warped source over a square window (box filters), averaged over the sources
that see the pixel. Winner takes all, then a parabola through the best plane and its neighbours
refines the depth between planes. Confidence: how much lower the best cost is than the mean cost
along the pixel's sweep (0: flat, no information; near 1: one sharp minimum).

The same code runs on a CPU and a GPU (tensors on ``device``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from recon.structures import Camera


@dataclass
class DepthResult:
    """(H, W) float32 depth in metres along the reference camera's z and (H, W) confidence in [0, 1]."""

    depth: np.ndarray
    confidence: np.ndarray


def grey(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, 1, H, W) float32 luminance in [0, 1] of an (H, W, 3) uint8 image."""
    t = torch.as_tensor(np.array(image, dtype=np.float32), device=device) / 255.0
    return (0.299 * t[..., 0] + 0.587 * t[..., 1] + 0.114 * t[..., 2])[None, None]


def box_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean of (B, C, H, W) ``x`` over a ``window`` x ``window`` square around each pixel (the
    part inside the image), with summed-area tables: the cost does not grow with the window."""
    r = window // 2
    h, w = x.shape[-2:]
    table = F.pad(x.to(torch.float64).cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    ys = torch.arange(h, device=x.device)
    xs = torch.arange(w, device=x.device)
    y0, y1 = (ys - r).clamp(0, h), (ys + r + 1).clamp(0, h)
    x0, x1 = (xs - r).clamp(0, w), (xs + r + 1).clamp(0, w)
    rows = table[..., y1, :] - table[..., y0, :]
    total = rows[..., :, x1] - rows[..., :, x0]
    count = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).to(torch.float64)
    return (total / count).to(x.dtype)


def _moments(x: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    mean = box_mean(x, window)
    return mean, (box_mean(x * x, window) - mean * mean).clamp(min=0.0)


def ncc_cost(ref: torch.Tensor, warped: torch.Tensor, valid: torch.Tensor, window: int) -> torch.Tensor:
    """(B, 1, H, W) 1 - NCC of ``ref`` (1, 1, H, W) and each ``warped`` (B, 1, H, W) over a window;
    where ``valid`` is false (outside the source) the cost is NaN."""
    mr, vr = _moments(ref, window)
    mw, vw = _moments(warped, window)
    cross = box_mean(ref * warped, window) - mr * mw
    ncc = cross / torch.sqrt(vr * vw + 1e-6)
    return torch.where(valid, 1.0 - ncc.clamp(-1.0, 1.0), torch.full_like(ncc, float("nan")))


def warp_grid(ref: Camera, src: Camera, depth: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """(P, H, W, 2) ``grid_sample`` coordinates in ``src`` of every reference pixel on each of the
    P fronto-parallel planes at ``depth`` (P,), or at its own depths ``depth`` (P, H, W)."""
    h, w = ref.height, ref.width
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float64), torch.arange(w, device=device, dtype=torch.float64), indexing="ij")
    rays = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ torch.as_tensor(np.linalg.inv(ref.K).T, device=device)  # (H, W, 3), z = 1
    # src_cam = R_s R_r^T (d * ray - t_r) + t_s = d * (M ray) + (t_s - M t_r)
    M = torch.as_tensor(src.R @ ref.R.T, device=device)
    offset = torch.as_tensor(src.t - src.R @ ref.R.T @ ref.t, device=device)
    direction = rays @ M.T  # (H, W, 3)
    d = depth.to(torch.float64)
    d = d[:, None, None, None] if d.dim() == 1 else d[..., None]
    x = d * direction[None] + offset  # (P, H, W, 3)
    Ks = torch.as_tensor(src.K, device=device)
    z = x[..., 2:3]
    pix = (x @ Ks.T)[..., :2] / z.clamp(min=1e-9)
    pix = torch.where(z > 1e-6, pix, torch.full_like(pix, -1e6))
    gx = (pix[..., 0] + 0.5) / src.width * 2 - 1
    gy = (pix[..., 1] + 0.5) / src.height * 2 - 1
    return torch.stack([gx, gy], dim=-1).to(torch.float32)


def plane_sweep(
    ref_image: np.ndarray,
    ref: Camera,
    sources: list[tuple[np.ndarray, Camera]],
    near: float,
    far: float,
    planes: int = 64,
    window: int = 7,
    device: torch.device | str = "cpu",
    chunk: int = 16,
) -> DepthResult:
    """Depth of the reference view (see the module docstring)."""
    if not sources:
        raise ValueError("plane_sweep needs at least one source view")
    inv = torch.linspace(1.0 / near, 1.0 / far, planes, device=device, dtype=torch.float64)
    depths = 1.0 / inv
    r = grey(ref_image, device)
    h, w = ref.height, ref.width
    total = torch.zeros((planes, 1, h, w), device=device)
    count = torch.zeros((planes, 1, h, w), device=device)
    with torch.no_grad():
        for image, cam in sources:
            s = grey(image, device)
            for lo in range(0, planes, chunk):
                grid = warp_grid(ref, cam, depths[lo : lo + chunk], device)
                warped = F.grid_sample(s.expand(len(grid), -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
                inside = (grid.abs() <= 1.0).all(dim=-1)[:, None]
                cost = ncc_cost(r, warped, inside, window)
                seen = ~torch.isnan(cost)
                total[lo : lo + chunk] += torch.where(seen, cost, torch.zeros_like(cost))
                count[lo : lo + chunk] += seen.float()
        cost = torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, 2.0))[:, 0]  # (P, H, W); unseen: worst
        best = cost.argmin(dim=0)  # (H, W)
        lo_i = (best - 1).clamp(min=0)
        hi_i = (best + 1).clamp(max=planes - 1)
        c0 = cost.gather(0, lo_i[None])[0]
        c1 = cost.gather(0, best[None])[0]
        c2 = cost.gather(0, hi_i[None])[0]
        denom = c0 - 2 * c1 + c2
        shift = torch.where((denom > 1e-6) & (best > 0) & (best < planes - 1), 0.5 * (c0 - c2) / denom, torch.zeros_like(c1)).clamp(-0.5, 0.5)
        step = (inv[1] - inv[0]).float()
        inv_depth = inv.float()[best] + shift * step
        depth = 1.0 / inv_depth
        confidence = ((cost.mean(dim=0) - c1) / cost.mean(dim=0).clamp(min=1e-6)).clamp(0.0, 1.0)
    return DepthResult(depth.cpu().numpy().astype(np.float32), confidence.cpu().numpy().astype(np.float32))


def downscale(image: np.ndarray, camera: Camera, scale: float) -> tuple[np.ndarray, Camera]:
    """``image`` resized by ``scale`` (area-averaged) and its camera (:func:`recon.cameras.scale_camera`)."""
    from PIL import Image

    from recon.cameras import scale_camera

    small = scale_camera(camera, scale)
    if scale == 1.0:
        return image, small
    resized = Image.fromarray(image).resize((small.width, small.height), Image.Resampling.BOX)
    return np.asarray(resized), small
