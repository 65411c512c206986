"""Training on a ModelNet-style folder: read, train, evaluate, save (what ``recon train pointnet`` runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from recon.errors import BadInputError
from recon.pointnet import PointNet, parameter_count
from recon_pointnet.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from recon_pointnet.data import read_folder
from recon_pointnet.train import TrainConfig, evaluate, train

if TYPE_CHECKING:
    from recon.registry import Registry


def _initial_model(classes: list[str], weights: Path | None) -> tuple[PointNet, str]:
    if weights is None:
        return PointNet(len(classes)), "scratch"
    init = load_checkpoint(weights)
    if init.classes == classes:
        model = PointNet(len(classes), 0, init.model.encoder.config, head=init.model.head_widths)
        model.load_state_dict({k: v for k, v in init.model.state_dict().items() if not k.startswith("seg.")})
        return model, f"{weights} (all layers)"
    model = PointNet(len(classes), 0, init.model.encoder.config, head=init.model.head_widths)
    model.encoder.load_state_dict(init.model.encoder.state_dict())
    return model, f"{weights} (encoder; new {len(classes)}-class head)"


def train_on_folder(
    data_dir: Path,
    out: Path,
    registry: Registry,
    weights: Path | None = None,
    epochs: int = 20,
    batch_size: int = 32,
    points: int = 1024,
    lr: float = 1e-3,
    up: str = "z",
    seed: int = 0,
    on_read: Callable[[int, int], None] | None = None,
    on_step: Callable[[int, int, float, float], None] | None = None,
) -> dict[str, Any]:
    """Train a PointNet on ``data_dir`` and write the checkpoint to ``out``; returns a summary."""
    from recon.device import seed_everything

    seed_everything(seed)
    start = time.perf_counter()
    data = read_folder(Path(data_dir), registry, n=max(points, 1024), up=up, seed=seed, progress=on_read)
    if len(data.classes) < 2:
        raise BadInputError(f"{data_dir}: only one class ({data.classes[0]}); a classifier needs at least two class folders")
    t_read = time.perf_counter() - start
    from recon.device import pick_device

    torch.manual_seed(seed)
    model, init = _initial_model(data.classes, weights)
    model = model.to(pick_device())
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, points=points, seed=seed)
    t0 = time.perf_counter()
    history = train(model, data.train_x, data.train_y, cfg, on_step=on_step)
    t_train = time.perf_counter() - t0
    test = evaluate(model, data.test_x, data.test_y, points, seed=seed) if data.test_x is not None else None
    metrics = {
        "test_accuracy": None if test is None else round(test["accuracy"], 4),
        "test_clouds": 0 if test is None else test["n"],
        "train_clouds": int(len(data.train_x)),
        "final_epoch": history[-1],
        "train_seconds": round(t_train, 2),
        "read_seconds": round(t_read, 2),
        "parameters": parameter_count(model),
        "config": cfg.as_dict(),
        "init": init,
        "data_dir": str(data_dir),
    }
    save_checkpoint(Checkpoint(model, data.classes, [], points, "y", metrics), out)
    return {"weights": str(out), "classes": data.classes, "up": up, "device": str(next(model.parameters()).device), **metrics}
