"""Network weights on disk, for every plugin that ships or trains one: a single ``torch.save``
dict of plain types and tensors, written atomically, read back with ``weights_only=True`` (no
pickled code runs). Float tensors are stored as float16 to keep shipped weights small and widened
to float32 on load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from recon.errors import BadInputError


def save_weights(path: Path, fmt: str, state_dict: dict[str, torch.Tensor], **fields: Any) -> Path:
    """Write ``{"format": fmt, **fields, "state_dict": ...}`` to ``path`` atomically; returns it."""
    path = Path(path)
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()) for k, v in state_dict.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"format": fmt, **fields, "state_dict": state}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_weights(path: Path, fmt: str, what: str, fix: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The document saved by :func:`save_weights` with format ``fmt``, and its float32 state dict.

    :param what: whose weights, for errors ("PointNet").
    :param fix: what to do about a missing or wrong file, for errors.
    :raises BadInputError: a missing file, or one that is not ``fmt``.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no {what} weights there; {fix}")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInputError(f"{path}: not a recon {what} checkpoint ({type(exc).__name__}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt or not isinstance(doc.get("state_dict"), dict):
        raise BadInputError(f"{path}: not a recon {what} checkpoint; {fix}")
    return doc, {k: (v.float() if v.is_floating_point() else v) for k, v in doc["state_dict"].items()}
