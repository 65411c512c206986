"""Training and evaluating PointNet on arrays of clouds (deterministic for a seed on the CPU).

Loss: cross-entropy on the class, plus cross-entropy on per-point parts when part labels are
given, plus ``feature_reg`` times the feature-transform orthogonality term. Each epoch augments
the clouds afresh: a random subset of ``points`` points, a rotation about Y (the up axis; clouds
are turned Y-up before training), an anisotropic scale, jitter and point dropout.

:func:`train` is the whole loop in one call; :func:`train_epoch` is one epoch with the optimiser and
schedule passed in, for scripts that checkpoint and resume (``assets/pointnet/train_modelnet40.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recon.pointnet import PointNet, feature_transform_regularizer


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train`."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    points: int = 1024
    seed: int = 0
    feature_reg: float = 0.001
    part_weight: float = 0.5
    rotate: bool = True
    scale: tuple[float, float] = (0.85, 1.15)
    jitter: float = 0.005
    jitter_clip: float = 0.05
    dropout_max: float = 0.0  # point dropout: up to this fraction of points replaced by the first
    label_smoothing: float = 0.0
    weight_decay: float = 1e-5
    bfloat16: bool = False  # forward passes in bfloat16 on the CPU (autocast; ~2.4x faster where the CPU has it natively)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def augment(
    x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator, points: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random subset of ``points`` (default ``cfg.points``) points, rotation about Y, scale,
    jitter, point dropout; returns (points, index)."""
    b, n, _ = x.shape
    k = min(points or cfg.points, n)
    idx = torch.argsort(torch.rand(b, n, generator=gen), dim=1)[:, :k]
    pts = torch.gather(x, 1, idx[:, :, None].expand(-1, -1, 3))
    if cfg.rotate:
        a = torch.rand(b, generator=gen) * 2 * math.pi
        c, s = torch.cos(a), torch.sin(a)
        zero, one = torch.zeros_like(a), torch.ones_like(a)
        R = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=1).view(b, 3, 3)
        pts = pts @ R
    lo, hi = cfg.scale
    pts = pts * (lo + (hi - lo) * torch.rand(b, 1, 3, generator=gen))
    if cfg.jitter > 0:
        pts = pts + (cfg.jitter * torch.randn(pts.shape, generator=gen)).clamp(-cfg.jitter_clip, cfg.jitter_clip)
    if cfg.dropout_max > 0:  # dropped points repeat the first one: the max pooling ignores them
        drop = torch.rand(b, k, generator=gen) < cfg.dropout_max * torch.rand(b, 1, generator=gen)
        drop[:, 0] = False
        pts = torch.where(drop[:, :, None], pts[:, :1].expand(-1, k, -1), pts)
    return pts, idx


@torch.no_grad()
def evaluate(model: PointNet, x: np.ndarray, y: np.ndarray, points: int, batch_size: int = 64, seed: int = 0) -> dict[str, Any]:
    """Accuracy, per-class accuracy and milliseconds per cloud on ``x`` (M, N, 3)."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    preds = []
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[i : i + batch_size])
        if xb.shape[1] > points:
            idx = torch.stack([torch.randperm(xb.shape[1], generator=gen)[:points] for _ in range(len(xb))])
            xb = torch.gather(xb, 1, idx[:, :, None].expand(-1, -1, 3))
        preds.append(model(xb.to(device))[0].argmax(dim=1).cpu().numpy())
    elapsed = time.perf_counter() - start
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    per_class = {int(c): float((pred[y == c] == c).mean()) for c in np.unique(y)}
    return {
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "per_class": per_class,
        "ms_per_cloud": 1000 * elapsed / max(len(x), 1),
        "n": int(len(y)),
        "predictions": pred,
    }


def train_epoch(
    model: PointNet,
    xt: torch.Tensor,
    yt: torch.Tensor,
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler | None,
    gen: torch.Generator,
    points: int | None = None,
    parts: torch.Tensor | None = None,
    on_step: Callable[[int, int, float, float], None] | None = None,
    step: int = 0,
    total: int = 0,
) -> dict[str, float]:
    """One pass over clouds ``xt`` (M, N, 3) with labels ``yt`` (M,) in batches of
    ``cfg.batch_size`` (the last partial batch is dropped; BatchNorm needs two samples).

    :param points: points per cloud this epoch (default ``cfg.points``).
    :param parts: optional (M, N) part labels (needs a model with a part head).
    :returns: mean loss and accuracy on the augmented training batches.
    """
    device = next(model.parameters()).device
    model.train()
    m = len(xt)
    batch = max(2, min(cfg.batch_size, m))
    steps = max(1, m // batch)
    order = torch.randperm(m, generator=gen)
    if m < batch * steps:
        order = torch.cat([order, torch.randperm(m, generator=gen)])
    losses, correct, seen = 0.0, 0, 0
    for s in range(steps):
        sel = order[s * batch : (s + 1) * batch]
        pts, idx = augment(xt[sel], cfg, gen, points)
        labels = yt[sel].to(device)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bfloat16 and device.type == "cpu"):
            logits, part_logits, trans = model(pts.to(device))
        logits = logits.float()
        part_logits = None if part_logits is None else part_logits.float()
        trans = None if trans is None else trans.float()
        loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
        loss = loss + cfg.feature_reg * feature_transform_regularizer(trans)
        if parts is not None and part_logits is not None:
            loss = loss + cfg.part_weight * F.cross_entropy(part_logits, torch.gather(parts[sel], 1, idx).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        step += 1
        hits = int((logits.argmax(1) == labels).sum())
        losses += float(loss.detach()) * len(sel)
        correct += hits
        seen += len(sel)
        if on_step is not None:
            on_step(step, total, float(loss.detach()), hits / len(sel))
    return {"loss": losses / seen, "train_accuracy": correct / seen}


def train(
    model: PointNet,
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    parts: np.ndarray | None = None,
    on_step: Callable[[int, int, float, float], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place on clouds ``x`` (M, N, 3) float32 with labels ``y`` (M,)
    (Adam, one-cycle schedule).

    :param parts: optional (M, N) part labels (needs a model with a part head).
    :param on_step: ``on_step(step, total_steps, loss, batch_accuracy)`` after each step.
    :returns: one dict per epoch (loss, accuracy on the augmented training batches).
    """
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.int64)
    pt = torch.as_tensor(parts, dtype=torch.int64) if parts is not None and model.seg is not None else None
    m = len(xt)
    steps_per_epoch = max(1, m // max(2, min(cfg.batch_size, m)))
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.15)
    history = []
    for epoch in range(cfg.epochs):
        stats = train_epoch(model, xt, yt, cfg, opt, sched, gen, parts=pt, on_step=on_step, step=epoch * steps_per_epoch, total=total)
        history.append({"epoch": epoch + 1, **stats})
    model.eval()
    return history
