"""PointNet's critical points: the input points that win the max-pool (Qi et al. 2017, Fig. 7).

The global feature is a max over points of each channel; the points that provide at least one
channel's maximum are the only ones the classification depends on, so they are the cloud's
"skeleton" as the network sees it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recon_pointnet.checkpoint import Checkpoint
from recon_pointnet.classify import calibrated_probabilities, prepare_cloud, subsample
from recon_pointnet.data import check_cloud


@torch.no_grad()
def critical_points(ckpt: Checkpoint, points: np.ndarray, up: str = "y", seed: int = 0, source: str = "points") -> dict[str, Any]:
    """The cloud the network read (``points``: (N, 3), in the input's own frame), which of them
    are critical (``critical``: sorted indices into it), how many channels each wins, the label
    and its probability."""
    check_cloud(points, source)
    rng = np.random.default_rng(seed)
    raw, how = subsample(np.asarray(points, dtype=np.float64), ckpt.num_points, "random", np.random.default_rng(seed))
    cloud, _ = prepare_cloud(raw, ckpt.num_points, up, "random", rng)  # the same subset, normalised
    model = ckpt.model.eval()
    x = torch.as_tensor(cloud[None], dtype=torch.float32)
    encoder = model.encoder
    feats = x.transpose(1, 2)
    if encoder.input_tnet is not None:
        feats = torch.bmm(encoder.input_tnet(feats).transpose(1, 2), feats)
    local = encoder.mlp1(feats)
    if encoder.feature_tnet is not None:
        local = torch.bmm(encoder.feature_tnet(local).transpose(1, 2), local)
    per_point = encoder.mlp2(local)[0]  # (D, N)
    winners = per_point.argmax(dim=1).numpy()  # for each channel, the point holding its maximum
    logits = model.head(per_point.amax(dim=1)[None])[0]
    probs = calibrated_probabilities(logits[None], ckpt.temperature)[0].numpy()
    critical, wins = np.unique(winners, return_counts=True)
    top = int(np.argmax(probs))
    return {
        "input": source,
        "points": raw.astype(np.float32),
        "critical": critical.astype(np.int64),
        "channels_won": wins.astype(np.int64),
        "label": ckpt.classes[top],
        "probability": round(float(probs[top]), 4),
        "sampling": how,
    }
