"""Classifying clouds (and labelling their parts) with a trained PointNet checkpoint.

Every input goes through what training saw (:func:`prepare_cloud`): turned Y-up (``--up``),
cut or padded to the checkpoint's number of points (random subset by default, as the training
clouds are uniform random surface samples; farthest-point sampling on request), centred on its
bounding box and scaled into the unit sphere. The logits are averaged over ``votes`` turns about
the up axis, divided by the checkpoint's temperature (fitted on validation data) and turned into
probabilities; below the checkpoint's "unknown" threshold the label is ``unknown``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from recon.device import bfloat16_inference, fast_inference
from recon_pointnet.checkpoint import Checkpoint
from recon_pointnet.data import check_cloud, normalize, subsample, to_y_up

UNKNOWN = "unknown"


def prepare_cloud(
    points: np.ndarray, num_points: int, up: str = "y", sampling: str = "random", rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, str]:
    """(``num_points``, 3) float32 cloud in the training frame, and the sampling done (see
    :func:`recon_pointnet.data.subsample`)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    pts, how = subsample(np.asarray(points, dtype=np.float64), num_points, sampling, rng)
    return normalize(to_y_up(pts, up)), how


def turns(votes: int) -> torch.Tensor:
    """(votes, 3, 3) rotations about Y by evenly spaced angles (the first is the identity)."""
    mats = []
    for r in range(max(1, votes)):
        a = 2 * math.pi * r / max(1, votes)
        c, s = math.cos(a), math.sin(a)
        mats.append([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return torch.tensor(mats, dtype=torch.float32)


@torch.no_grad()
def vote_logits(model: torch.nn.Module, clouds: torch.Tensor, votes: int = 1, batch_size: int = 16) -> torch.Tensor:
    """Float32 logits (B, C) of clouds (B, N, 3), averaged over ``votes`` turns about Y; the network
    runs in bfloat16 on CPUs that compute it natively (:func:`recon.device.fast_inference`)."""
    model.eval()
    clouds = torch.as_tensor(clouds, dtype=torch.float32)
    device = next(model.parameters()).device
    rots = turns(votes).to(device)
    out = []
    with fast_inference(device):
        for i in range(0, len(clouds), batch_size):
            xb = clouds[i : i + batch_size].to(device)
            acc = sum(model(xb @ rot)[0].float() for rot in rots)
            out.append((acc / len(rots)).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def calibrated_probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(logits / max(float(temperature), 1e-6), dim=-1)


@torch.no_grad()
def classify_points(
    ckpt: Checkpoint, points: np.ndarray, up: str | None = None, votes: int | None = None, seed: int = 0, parts: bool = False,
    source: str = "points", sampling: str = "random", top_k: int = 5, threshold: float | None = None, kind: str = "points",
    part_ckpt: Checkpoint | None = None,
) -> dict[str, Any]:
    """Label, top-k and class probabilities of one cloud (any size, scale, position and turn about the up axis).

    :param up: the input's up axis, 'y' (default) or 'z'.
    :param votes: turns about the up axis to average (default: the checkpoint's, chosen on validation data).
    :param sampling: 'random' or 'fps' (farthest point) when the cloud has more points than the model reads.
    :param threshold: the "unknown" threshold on the top probability (default: the checkpoint's; 0 turns it off).
    :param parts: also label every input point with a part, with ``part_ckpt`` (default: ``ckpt``) when it has a part head.
    :raises BadInputError: fewer than 3 points, non-finite, or all points identical.
    """
    check_cloud(points, source)
    votes = ckpt.votes if votes is None else max(1, int(votes))
    threshold = ckpt.unknown_threshold if threshold is None else float(threshold)
    rng = np.random.default_rng(seed)
    cloud, how = prepare_cloud(points, ckpt.num_points, up or "y", sampling, rng)
    logits = vote_logits(ckpt.inference_model, torch.as_tensor(cloud[None]), votes)[0]
    probs = calibrated_probabilities(logits, ckpt.temperature).numpy()
    order = np.argsort(-probs)
    top = ckpt.classes[int(order[0])]
    result: dict[str, Any] = {
        "input": source,
        "label": top if probs[order[0]] >= threshold else UNKNOWN,
        "probability": round(float(probs[order[0]]), 4),
        "top_k": [{"label": ckpt.classes[i], "probability": round(float(probs[i]), 4)} for i in order[: max(1, top_k)]],
        "probabilities": {ckpt.classes[i]: round(float(probs[i]), 4) for i in order},
        "unknown_threshold": round(threshold, 4),
        "temperature": round(float(ckpt.temperature), 4),
        "votes": votes,
        "inference": "bfloat16" if bfloat16_inference(next(ckpt.inference_model.parameters()).device) else "float32",
        "up": up or "y",
        "points": int(len(points)),
        "sampling": {
            "input": "mesh surface, uniform by area" if kind == "mesh" else "point cloud",
            "method": how,
            "points": int(ckpt.num_points),
        },
    }
    if parts:
        pc = part_ckpt if part_ckpt is not None else ckpt
        if pc.model.seg is None or not pc.parts:
            result["parts"] = None
            result["parts_note"] = "these weights have no part head"
        else:
            result.update(label_parts(pc, normalize(to_y_up(np.asarray(points, dtype=np.float64), up or "y")), rng))
            if pc is not ckpt:
                result["parts_weights"] = str(pc.path)
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
