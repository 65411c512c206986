"""Prior mode: a PointNet-encoded occupancy network trained on the project's procedural shapes.

Data (:func:`make_dataset`): shapes of :mod:`recon.shapes` (the ten classes plus random
unions of 1-4 primitives), posed randomly (any rotation about Y, small tilt, anisotropic scale),
normalised like fit mode (bounding box centred, longest side 1). The input cloud is sparse and
often partial: 300-1024 surface points, 0-1 % noise, and with probability one half a random
plane cuts away 5-30 % of the surface. Occupancy labels are exact, from the primitives, at points
drawn uniformly in the domain and near the surface.

Loss: binary cross-entropy of the occupancy plus ``kl_weight`` times the KL divergence of
``q(z | cloud)`` from ``N(0, I)`` (the latent prior of Occupancy Networks). At inference ``z``
is the posterior mean.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recon.package_data import package_file
from recon.weights import load_weights, save_weights
from recon_occupancy.network import PriorConfig, PriorNetwork
from recon_occupancy.supervision import PAD

FORMAT = "recon-occupancy-prior"


def default_prior_path() -> Path:
    """``$RECON_OCCUPANCY_PRIOR`` or the shipped ``recon_occupancy/data/prior.pt`` (made by the
    checkout's ``assets/occupancy/train_prior.py``)."""
    env = os.environ.get("RECON_OCCUPANCY_PRIOR")
    if env:
        return Path(env)
    return package_file("recon_occupancy", "prior.pt")


# -- data ----------------------------------------------------------------------------------------


def _random_union(rng: np.random.Generator) -> list:
    from recon.shapes import PRIMITIVE_KINDS, Primitive, rotation

    prims = []
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(PRIMITIVE_KINDS))
        size = rng.uniform(0.15, 0.5, 3)
        if kind == "torus":
            size[1] = size[0] * rng.uniform(0.2, 0.45)
        axis = rng.normal(size=3)
        prims.append(Primitive(kind, size, rotation(axis, rng.uniform(0, np.pi)), rng.uniform(-0.35, 0.35, 3)))
    return prims


@dataclass
class PriorSample:
    """One training shape: the input cloud and labelled query points, normalised."""

    cloud: np.ndarray
    queries: np.ndarray
    occupancy: np.ndarray


def make_sample(
    rng: np.random.Generator, n_cloud: tuple[int, int] = (300, 1024), n_queries: int = 4096, partial: float = 0.5
) -> PriorSample:
    """One procedural shape as a (sparse, noisy, maybe partial) cloud with occupancy labels."""
    from recon.shapes import CLASSES, Shape, crop, make_shape, random_pose

    if rng.random() < 0.7:
        shape = make_shape(int(rng.integers(len(CLASSES))), rng)
    else:
        shape = Shape(-1, _random_union(rng))
    pose = random_pose(rng, tilt=0.15)
    dense, _, _ = shape.sample(4096, rng)
    world = dense @ pose.T
    lo, hi = world.min(axis=0), world.max(axis=0)
    centre, scale = (lo + hi) / 2, float((hi - lo).max())
    unit = (world - centre) / scale
    keep = np.arange(len(unit))
    if rng.random() < partial:
        keep = crop(unit, rng)
    n = int(rng.integers(n_cloud[0], n_cloud[1] + 1))
    cloud = unit[rng.choice(keep, n, replace=len(keep) < n)]
    cloud = cloud + rng.normal(0, rng.uniform(0, 0.01), cloud.shape)
    n_uni = n_queries // 2
    uni = rng.uniform(-0.5 - PAD, 0.5 + PAD, (n_uni, 3))
    near = unit[rng.integers(0, len(unit), n_queries - n_uni)] + rng.normal(0, 0.03, (n_queries - n_uni, 3))
    queries = np.concatenate([uni, near])
    back = (queries * scale + centre) @ np.linalg.inv(pose).T
    occ = shape.occupancy(back)
    return PriorSample(cloud.astype(np.float32), queries.astype(np.float32), occ)


def make_dataset(n: int, seed: int, **kwargs: Any) -> list[PriorSample]:
    rng = np.random.default_rng(seed)
    return [make_sample(rng, **kwargs) for _ in range(n)]


def _pad_clouds(clouds: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    out = []
    for c in clouds:
        idx = rng.choice(len(c), n, replace=len(c) < n)
        out.append(c[idx])
    return np.stack(out)


# -- training --------------------------------------------------------------------------------------


@dataclass
class PriorTrainConfig:
    steps: int = 2000
    batch: int = 16
    cloud_points: int = 384
    queries: int = 1024
    lr: float = 5e-3
    kl_weight: float = 1e-3
    seed: int = 0


def train_prior(
    model: PriorNetwork, data: list[PriorSample], cfg: PriorTrainConfig, on_step: Callable[[int, int, float], None] | None = None
) -> list[float]:
    """Train in place; returns the loss per step."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    warm = max(1, cfg.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(i, cfg.steps) / cfg.steps))
    )
    losses = []
    model.train()
    for step in range(cfg.steps):
        sel = rng.choice(len(data), cfg.batch, replace=False)
        clouds = torch.as_tensor(_pad_clouds([data[i].cloud for i in sel], cfg.cloud_points, rng))
        qi = [rng.choice(len(data[i].queries), cfg.queries, replace=False) for i in sel]
        queries = torch.as_tensor(np.stack([data[i].queries[q] for i, q in zip(sel, qi)]))
        occ = torch.as_tensor(np.stack([data[i].occupancy[q] for i, q in zip(sel, qi)]).astype(np.float32))
        code = model.encode(clouds)
        mu, logvar = code.mu, code.logvar
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = model.decode(queries, z, code)
        bce = F.binary_cross_entropy_with_logits(logits, occ)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1))
        loss = bce + cfg.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, cfg.steps, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def evaluate_prior(model: PriorNetwork, data: list[PriorSample], cloud_points: int = 384, seed: int = 0) -> dict[str, float]:
    """Mean IoU and accuracy of the predicted occupancy on the samples' query points."""
    model.eval()
    rng = np.random.default_rng(seed)
    ious, accs = [], []
    start = time.perf_counter()
    for s in data:
        cloud = torch.as_tensor(_pad_clouds([s.cloud], cloud_points, rng))
        code = model.encode(cloud)
        pred = (model.decode(torch.as_tensor(s.queries[None]), code.mu, code)[0] > 0).numpy()
        inter, union = np.logical_and(pred, s.occupancy).sum(), np.logical_or(pred, s.occupancy).sum()
        ious.append(inter / union if union else 1.0)
        accs.append((pred == s.occupancy).mean())
    return {"iou": float(np.mean(ious)), "accuracy": float(np.mean(accs)), "ms_per_shape": 1000 * (time.perf_counter() - start) / max(1, len(data))}


# -- checkpoints and inference ------------------------------------------------------------------


@dataclass
class Prior:
    model: PriorNetwork
    cloud_points: int = 384
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_prior(prior: Prior, path: Path) -> Path:
    """Write atomically (:mod:`recon.weights`); returns ``path``."""
    fields = {"version": 1, "config": prior.model.config.as_dict(), "cloud_points": prior.cloud_points, "metrics": prior.metrics}
    return save_weights(path, FORMAT, prior.model.state_dict(), **fields)


def load_prior(path: Path | None = None, device: torch.device | str = "cpu") -> Prior:
    """Load the occupancy prior (default: the shipped weights).

    :raises BadInputError: missing or not a prior checkpoint.
    """
    path = Path(path) if path is not None else default_prior_path()
    doc, state = load_weights(path, FORMAT, "occupancy prior", "run assets/occupancy/train_prior.py or use -O mode=fit")
    model = PriorNetwork(PriorConfig.from_dict(doc["config"]))
    model.load_state_dict(state)
    model.eval().to(device)
    return Prior(model, int(doc["cloud_points"]), dict(doc.get("metrics", {})), path)


class _Conditioned(torch.nn.Module):
    """``f(x) = decode(x, code)`` for one encoded cloud: what MISE and the refinement call."""

    def __init__(self, model: PriorNetwork, code: Any) -> None:
        super().__init__()
        self.model = model
        self.code = code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.decode(x[None], self.code.mu, self.code)[0]


def encode_cloud(prior: Prior, unit_points: np.ndarray, device: torch.device | str = "cpu", seed: int = 0) -> Any:
    """The encoder's :class:`~recon_occupancy.network.Code` of a normalised cloud (resampled to the
    prior's point count); decoding uses the posterior mean."""
    rng = np.random.default_rng(seed)
    cloud = torch.as_tensor(_pad_clouds([unit_points.astype(np.float32)], prior.cloud_points, rng), device=device)
    with torch.no_grad():
        return prior.model.encode(cloud)


def prior_evaluator(prior: Prior, unit_points: np.ndarray, device: torch.device | str = "cpu", seed: int = 0) -> tuple[Callable[[np.ndarray], np.ndarray], torch.nn.Module]:
    """(``evaluate(points) -> logits``, the conditioned module) for a normalised cloud."""
    net = _Conditioned(prior.model, encode_cloud(prior, unit_points, device, seed)).eval()

    @torch.no_grad()
    def evaluate(points: np.ndarray) -> np.ndarray:
        return net(torch.as_tensor(points, device=device)).float().cpu().numpy()

    return evaluate, net


def prior_far_field(sup: Any, prior: Prior, unit_points: np.ndarray, device: torch.device | str = "cpu", seed: int = 0) -> None:
    """Fit mode from the prior: the supervision takes inside/outside away from the points (and
    beside them) from the prior's occupancy instead of the winding number, which a partial cloud
    leaves ill-defined."""
    evaluate, _ = prior_evaluator(prior, unit_points, device, seed)

    def far_field(x: np.ndarray) -> np.ndarray:
        logits = np.concatenate([evaluate(x[i : i + 65536].astype(np.float32)) for i in range(0, len(x), 65536)]) if len(x) else np.zeros(0)
        return 1.0 / (1.0 + np.exp(-logits))  # inside probability, in place of a winding number

    sup.far_field = far_field
