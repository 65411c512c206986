"""PointNet checkpoints (:mod:`recon.weights`: float16 on disk, ``weights_only`` loading) with
the class and part names, points per cloud, up axis and training figures.

Default weights: ``$RECON_POINTNET_WEIGHTS`` when set, else the package data
``recon_pointnet/data/pointnet.pt`` (made by the checkout's ``assets/pointnet/train_default.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from recon.package_data import package_file
from recon.weights import load_weights, save_weights
from recon_pointnet.model import EncoderConfig, PointNet

FORMAT = "recon-pointnet"
VERSION = 1
UP_AXES = ("y", "z")


def default_weights_path() -> Path:
    """Where the shipped classifier weights live."""
    env = os.environ.get("RECON_POINTNET_WEIGHTS")
    if env:
        return Path(env)
    return package_file("recon_pointnet", "pointnet.pt")


@dataclass
class Checkpoint:
    """A trained PointNet and what it needs at inference: class and part names, the number of
    points it reads, the up axis of its training data and its training figures."""

    model: PointNet
    classes: list[str]
    parts: list[str] = field(default_factory=list)
    num_points: int = 1024
    up: str = "y"
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(ckpt: Checkpoint, path: Path) -> Path:
    """Write atomically; returns ``path``."""
    return save_weights(
        path,
        FORMAT,
        ckpt.model.state_dict(),
        version=VERSION,
        classes=list(ckpt.classes),
        parts=list(ckpt.parts),
        num_points=int(ckpt.num_points),
        up=ckpt.up,
        encoder=ckpt.model.encoder.config.as_dict(),
        metrics=ckpt.metrics,
    )


def load_checkpoint(path: Path | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (default: the shipped weights).

    :raises BadInputError: missing file or not a recon PointNet checkpoint.
    """
    path = Path(path) if path is not None else default_weights_path()
    fix = "train some with 'recon train pointnet DATA_DIR' (or assets/pointnet/train_default.py) and pass --weights"
    doc, state = load_weights(path, FORMAT, "PointNet", fix)
    classes, parts = list(doc["classes"]), list(doc.get("parts", []))
    model = PointNet(len(classes), len(parts), EncoderConfig.from_dict(doc["encoder"]))
    model.load_state_dict(state)
    model.eval().to(device)
    return Checkpoint(model, classes, parts, int(doc["num_points"]), doc.get("up", "y"), dict(doc.get("metrics", {})), path)
