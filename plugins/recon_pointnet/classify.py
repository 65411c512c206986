"""Classifying clouds (and labelling their parts) with a trained PointNet checkpoint."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recon_pointnet.checkpoint import Checkpoint
from recon_pointnet.data import check_cloud, normalize, resample, to_y_up


@torch.no_grad()
def classify_points(
    ckpt: Checkpoint, points: np.ndarray, up: str | None = None, votes: int = 4, seed: int = 0, parts: bool = False,
    source: str = "points",
) -> dict[str, Any]:
    """Label and class probabilities of one cloud (any scale, any number of points).

    The cloud is turned Y-up (``up`` defaults to the checkpoint's training axis convention: the
    cloud is assumed Y up unless told 'z'), normalised into the unit sphere and classified ``votes``
    times on random subsets of ``ckpt.num_points`` points; the probabilities are averaged.

    :param parts: also label every input point with a part (needs a checkpoint with a part head).
    :raises BadInputError: fewer than 3 points, non-finite, or all points identical.
    """
    check_cloud(points, source)
    device = next(ckpt.model.parameters()).device
    pts = normalize(to_y_up(np.asarray(points, dtype=np.float64), up or "y"))
    rng = np.random.default_rng(seed)
    batch = np.stack([resample(pts, ckpt.num_points, rng) for _ in range(max(1, votes))])
    ckpt.model.eval()
    logits, _, _ = ckpt.model(torch.as_tensor(batch, device=device))
    probs = torch.softmax(logits, dim=1).mean(dim=0).cpu().numpy()
    order = np.argsort(-probs)
    result: dict[str, Any] = {
        "input": source,
        "label": ckpt.classes[int(order[0])],
        "probability": round(float(probs[order[0]]), 4),
        "probabilities": {ckpt.classes[i]: round(float(probs[i]), 4) for i in order},
        "points": int(len(points)),
    }
    if parts:
        if ckpt.model.seg is None or not ckpt.parts:
            result["parts"] = None
            result["parts_note"] = "these weights have no part head"
        else:
            result.update(label_parts(ckpt, pts, rng))
    return result


@torch.no_grad()
def label_parts(ckpt: Checkpoint, pts: np.ndarray, rng: np.random.Generator, max_points: int = 4096) -> dict[str, Any]:
    """Per-point part labels of a normalised cloud: the part head on a subset, spread to every
    point by nearest neighbour."""
    from scipy.spatial import cKDTree

    device = next(ckpt.model.parameters()).device
    sub = pts if len(pts) <= max_points else pts[rng.choice(len(pts), max_points, replace=False)]
    if len(sub) < 2:
        sub = np.concatenate([sub, sub])
    _, part_logits, _ = ckpt.model(torch.as_tensor(sub[None], device=device))
    sub_labels = part_logits[0].argmax(dim=0).cpu().numpy()
    labels = sub_labels[cKDTree(sub).query(pts)[1]] if len(sub) != len(pts) else sub_labels[: len(pts)]
    counts = np.bincount(labels, minlength=len(ckpt.parts))
    fractions = {ckpt.parts[i]: round(float(c / len(labels)), 4) for i, c in enumerate(counts) if c}
    return {"parts": fractions, "point_parts": labels.astype(int).tolist()}
