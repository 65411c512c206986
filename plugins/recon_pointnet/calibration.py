"""Confidence that means what it says: temperature scaling, expected calibration error, and the
threshold below which ``recon classify`` answers "unknown".

- :func:`fit_temperature`: Guo et al. 2017, one scalar T minimising the negative log-likelihood of
  ``softmax(logits / T)`` on validation data (a 1-D search on log T; the argmax never changes).
- :func:`expected_calibration_error`: equal-width confidence bins (15 by default), the weighted
  mean of |accuracy - mean confidence| per bin.
- :func:`choose_unknown_threshold`: the top-probability threshold that maximises (right - wrong)
  among the answered clouds of the validation data: below it an answer is more often wrong than
  right, so "unknown" is the better reply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, lo: float = 0.05, hi: float = 20.0, steps: int = 200) -> float:
    """The temperature minimising the NLL of ``softmax(logits / T)`` (grid on log T, then refined)."""
    logits, labels = logits.double(), labels.long()

    def nll(t: float) -> float:
        return float(F.cross_entropy(logits / t, labels))

    grid = np.exp(np.linspace(np.log(lo), np.log(hi), steps))
    best = min(grid, key=nll)
    step = float(np.log(grid[1] / grid[0]))
    fine = np.exp(np.linspace(np.log(best) - step, np.log(best) + step, 41))
    return float(min(fine, key=nll))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class confidence of ``probs`` (M, C) against ``labels`` (M,)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    conf = probs.max(axis=1)
    right = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(right[sel].mean() - conf[sel].mean())
    return float(ece)


def choose_unknown_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The top-probability threshold maximising (right - wrong) among answered clouds (ties: the
    lowest); answered means top probability >= threshold."""
    conf = np.asarray(probs).max(axis=1)
    right = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    order = np.argsort(-conf)
    gain = np.cumsum(np.where(right[order], 1, -1))  # answering the k most confident
    k = int(np.argmax(gain))
    if gain[k] <= 0:
        return 1.0
    return float(conf[order][k]) if k + 1 == len(conf) else float((conf[order][k] + conf[order][k + 1]) / 2)


def selective_figures(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Coverage (fraction answered) and accuracy of the answered clouds at ``threshold``."""
    conf = np.asarray(probs).max(axis=1)
    right = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    answered = conf >= threshold
    return {
        "coverage": round(float(answered.mean()), 4),
        "answered_accuracy": round(float(right[answered].mean()), 4) if answered.any() else None,
        "unknown_share_of_errors": round(float((~answered & ~right).sum() / max(1, (~right).sum())), 4),
    }


def accuracy_figures(pred: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Overall accuracy, class-mean accuracy and per-class accuracy."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    per = {classes[c]: float((pred[labels == c] == c).mean()) for c in range(len(classes)) if (labels == c).any()}
    return {
        "overall_accuracy": round(float((pred == labels).mean()), 4),
        "class_mean_accuracy": round(float(np.mean(list(per.values()))), 4),
        "per_class": {k: round(v, 4) for k, v in per.items()},
    }
