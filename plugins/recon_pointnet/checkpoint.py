"""PointNet checkpoints (:mod:`recon.weights`: float16 on disk, ``weights_only`` loading) with
the class and part names, points per cloud, up axis, calibration and training figures.

Shipped weights (package data, found with :func:`recon.package_data.package_file`), each with its
card (the same name, ``.json``):

- ``recon_pointnet/data/pointnet.pt``, the default: the 40 ModelNet40 classes, with a temperature
  and an "unknown" threshold chosen on validation data (``assets/pointnet/train_modelnet40.py``);
- ``recon_pointnet/data/pointnet_procedural.pt``: the ten procedural shapes with a part head
  (``assets/pointnet/train_default.py``); ``--weights procedural`` on the command line.

``$RECON_POINTNET_WEIGHTS`` replaces the default when set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from recon.package_data import package_file
from recon.pointnet import EncoderConfig, PointNet, fused_for_inference
from recon.weights import load_weights, save_weights

FORMAT = "recon-pointnet"
VERSION = 1
UP_AXES = ("y", "z")
SHIPPED = {"modelnet40": "pointnet.pt", "procedural": "pointnet_procedural.pt"}


def default_weights_path() -> Path:
    """``$RECON_POINTNET_WEIGHTS`` or the shipped ``recon_pointnet/data/pointnet.pt`` (ModelNet40)."""
    env = os.environ.get("RECON_POINTNET_WEIGHTS")
    if env:
        return Path(env)
    return package_file("recon_pointnet", SHIPPED["modelnet40"])


def shipped_weights_path(name: str) -> Path:
    """Path of the shipped weights called ``name`` (a key of :data:`SHIPPED`)."""
    return package_file("recon_pointnet", SHIPPED[name])


def procedural_weights_path() -> Path:
    """The shipped procedural-shape weights (ten classes, with a part head)."""
    return shipped_weights_path("procedural")


def resolve_weights(weights: Path | str | None) -> Path:
    """``None`` -> the default; a name of :data:`SHIPPED` ('modelnet40', 'procedural') -> that
    shipped file (unless a file of that name exists); anything else is a path."""
    if weights is None:
        return default_weights_path()
    if str(weights) in SHIPPED and not Path(weights).exists():
        return shipped_weights_path(str(weights))
    return Path(weights)


@dataclass
class Checkpoint:
    """A trained PointNet and what it needs at inference: class and part names, the number of
    points it reads, the up axis of its training frame, the softmax temperature and "unknown"
    threshold chosen on validation data (1.0 and 0.0: none) and its training figures."""

    model: PointNet
    classes: list[str]
    parts: list[str] = field(default_factory=list)
    num_points: int = 1024
    up: str = "y"
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    temperature: float = 1.0
    unknown_threshold: float = 0.0
    votes: int = 1
    _fused: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def inference_model(self) -> torch.nn.Module:
        """:attr:`model` with BatchNorm folded into the layers before it (made once; see
        :func:`recon.pointnet.fused_for_inference`)."""
        if self._fused is None:
            self._fused = fused_for_inference(self.model)
        return self._fused


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
        head=list(ckpt.model.head_widths),
        temperature=float(ckpt.temperature),
        unknown_threshold=float(ckpt.unknown_threshold),
        votes=int(ckpt.votes),
        metrics=ckpt.metrics,
    )


def load_checkpoint(path: Path | str | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (default: the shipped ModelNet40
    weights; a name of :data:`SHIPPED` picks other shipped weights).

    :raises BadInputError: missing file or not a recon PointNet checkpoint.
    """
    path = resolve_weights(path)
    fix = "train some with 'recon train pointnet DATA_DIR' (or assets/pointnet/train_modelnet40.py) and pass --weights"
    doc, state = load_weights(path, FORMAT, "PointNet", fix)
    classes, parts = list(doc["classes"]), list(doc.get("parts", []))
    head = tuple(doc.get("head", (128, 64)))
    model = PointNet(len(classes), len(parts), EncoderConfig.from_dict(doc["encoder"]), head=head)
    model.load_state_dict(state)
    model.eval().to(device)
    return Checkpoint(
        model, classes, parts, int(doc["num_points"]), doc.get("up", "y"), dict(doc.get("metrics", {})), path,
        temperature=float(doc.get("temperature", 1.0)), unknown_threshold=float(doc.get("unknown_threshold", 0.0)),
        votes=int(doc.get("votes", 1)),
    )
