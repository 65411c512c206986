"""PointNet checkpoints: one ``torch.save`` dict of plain types and tensors, loaded with
``weights_only=True`` (no pickled code runs). Float tensors are stored as float16 to keep the shipped
weights small; they are widened to float32 on load.

Default weights: ``$RECON_POINTNET_WEIGHTS`` when set, else ``assets/pointnet/pointnet.pt`` of the
checkout (made by ``assets/pointnet/train_default.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from recon.errors import BadInputError
from recon_pointnet.model import EncoderConfig, PointNet

FORMAT = "recon-pointnet"
VERSION = 1
UP_AXES = ("y", "z")


def default_weights_path() -> Path:
    """Where the shipped classifier weights live."""
    env = os.environ.get("RECON_POINTNET_WEIGHTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "assets" / "pointnet" / "pointnet.pt"


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
    path = Path(path)
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()) for k, v in ckpt.model.state_dict().items()}
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "classes": list(ckpt.classes),
        "parts": list(ckpt.parts),
        "num_points": int(ckpt.num_points),
        "up": ckpt.up,
        "encoder": ckpt.model.encoder.config.as_dict(),
        "metrics": ckpt.metrics,
        "state_dict": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(doc, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (default: the shipped weights).

    :raises BadInputError: missing file or not a recon PointNet checkpoint.
    """
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        hint = "train some with 'recon train pointnet DATA_DIR' or run assets/pointnet/train_default.py"
        raise BadInputError(f"{path}: no PointNet weights there; {hint}")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInputError(f"{path}: not a PointNet checkpoint ({type(exc).__name__}); give a file saved by 'recon train pointnet'") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadInputError(f"{path}: not a recon PointNet checkpoint; give a file saved by 'recon train pointnet'")
    classes, parts = list(doc["classes"]), list(doc.get("parts", []))
    model = PointNet(len(classes), len(parts), EncoderConfig.from_dict(doc["encoder"]))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in doc["state_dict"].items()}
    model.load_state_dict(state)
    model.eval().to(device)
    return Checkpoint(model, classes, parts, int(doc["num_points"]), doc.get("up", "y"), dict(doc.get("metrics", {})), path)
