"""Fit mode: optimise an occupancy network on one cloud.

Loss: binary cross-entropy between the network's occupancy and soft targets
``sigmoid(-d / tau)`` from the supervision's signed distance ``d`` (soft within a few ``tau`` of the
surface, 0/1 beyond). Training points are drawn once (near the surface and uniformly) and
shuffled into batches; Adam with a cosine learning-rate decay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from recon_occupancy.network import FitConfig, FitNetwork
from recon_occupancy.supervision import Supervision, training_points


@dataclass
class FitOptions:
    """Optimisation settings of :func:`fit_network` (``cell`` is the final grid spacing)."""

    iterations: int = 300
    batch: int = 16384
    samples: int = 120_000
    lr: float = 1e-2
    mlp_lr_factor: float = 0.2
    tau_cells: float = 0.5
    uniform_fraction: float = 0.2


def fit_network(
    sup: Supervision,
    cell: float,
    options: FitOptions = FitOptions(),
    config: FitConfig = FitConfig(),
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
    init: FitNetwork | None = None,
) -> tuple[FitNetwork, dict[str, float]]:
    """Train a :class:`FitNetwork` on ``sup``; returns the network (eval mode) and figures."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x_np, d_np = training_points(sup, options.samples, rng, cell, options.uniform_fraction)
    tau = options.tau_cells * cell
    x = torch.as_tensor(x_np, device=device)
    target = torch.sigmoid(torch.as_tensor(-d_np / tau, device=device))
    net = init if init is not None else FitNetwork(config)
    net = net.to(device).train()
    grid_params = list(net.grids.parameters())
    opt = torch.optim.Adam(
        [{"params": grid_params, "lr": options.lr}, {"params": net.mlp.parameters(), "lr": options.lr * options.mlp_lr_factor}]
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, options.iterations), eta_min=options.lr * 0.02)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n = len(x)
    order = torch.randperm(n, generator=gen)
    pos = 0
    loss_value = float("nan")
    for it in range(options.iterations):
        if pos + options.batch > n:
            order = torch.randperm(n, generator=gen)
            pos = 0
        sel = order[pos : pos + options.batch].to(device)
        pos += options.batch
        logits = net(x[sel])
        loss = F.binary_cross_entropy_with_logits(logits, target[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        if on_step is not None:
            on_step(it + 1, options.iterations, loss_value)
    net.eval()
    with torch.no_grad():
        probe = torch.as_tensor(x_np[: min(50_000, n)], device=device)
        pred_inside = net(probe) > 0
        true_inside = torch.as_tensor(d_np[: len(probe)] < 0, device=device)
        agreement = float((pred_inside == true_inside).float().mean())
    return net, {"final_loss": round(loss_value, 5), "label_agreement": round(agreement, 5), "training_points": int(n)}


def evaluator(net: torch.nn.Module, device: torch.device | str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """``evaluate(points) -> logits`` for MISE (no gradients)."""

    @torch.no_grad()
    def evaluate(points: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor(points, device=device)).float().cpu().numpy()

    return evaluate


def refine_vertices(net: torch.nn.Module, vertices: np.ndarray, max_step: float, iterations: int = 3, device: torch.device | str = "cpu") -> np.ndarray:
    """Move vertices onto the network's 0.5 level set by Newton steps along its gradient, each step
    at most ``max_step`` long (the MISE cells' half size keeps the topology)."""
    v = torch.as_tensor(vertices, dtype=torch.float32, device=device)
    for _ in range(iterations):
        v = v.detach().requires_grad_(True)
        logit = net(v)
        (grad,) = torch.autograd.grad(logit.sum(), v)
        with torch.no_grad():
            g2 = (grad**2).sum(dim=1, keepdim=True).clamp_min(1e-12)
            delta = logit[:, None] * grad / g2
            length = delta.norm(dim=1, keepdim=True)
            delta = delta * torch.clamp(max_step / length.clamp_min(1e-12), max=1.0)
            v = v - delta
    return v.detach().cpu().numpy().astype(np.float64)
