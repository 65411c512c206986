"""PointNet on held-out procedural shapes, against a classical baseline in the same process.

    .venv/bin/python benchmarks/pointnet.py [--per-class 100] [--weights PATH]

Held-out set: :func:`recon_pointnet.shapes.classification_set` from a seed used neither for the
shipped weights' training (0) nor their card (1). Baseline: D2 shape distributions (Osada et al.
2002: histogram of distances between random point pairs, scale-normalised) with a 1-nearest-
neighbour classifier over a training set generated like the weights' own (seed 0). Prints JSON:
accuracy, per-class accuracy, parameter count, milliseconds per cloud (batch of one and batched),
and the ratios to the baseline; target: accuracy >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

TARGET_ACCURACY = 0.95


def d2_descriptor(points: np.ndarray, rng: np.random.Generator, pairs: int = 4000, bins: int = 32) -> np.ndarray:
    i, j = rng.integers(0, len(points), (2, pairs))
    d = np.linalg.norm(points[i] - points[j], axis=1)
    hist, _ = np.histogram(d / (d.mean() + 1e-12), bins=bins, range=(0, 3))
    return hist / pairs


def main() -> None:
    from recon_pointnet.checkpoint import load_checkpoint
    from recon_pointnet.model import parameter_count
    from recon_pointnet.shapes import CLASSES, classification_set
    from recon_pointnet.train import evaluate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    ckpt = load_checkpoint(args.weights)
    x, y, _ = classification_set(args.per_class, args.seed, n_points=1024)
    res = evaluate(ckpt.model, x, y, ckpt.num_points, batch_size=64, seed=0)
    with torch.no_grad():  # latency of one cloud at a time
        one = torch.as_tensor(x[:1, : ckpt.num_points])
        for _ in range(3):
            ckpt.model(one)
        start = time.perf_counter()
        for i in range(50):
            ckpt.model(torch.as_tensor(x[i : i + 1, : ckpt.num_points]))
        single_ms = 1000 * (time.perf_counter() - start) / 50

    rng = np.random.default_rng(0)
    tx, ty, _ = classification_set(100, 0, n_points=1024)
    start = time.perf_counter()
    train_d = np.stack([d2_descriptor(p, rng) for p in tx])
    test_d = np.stack([d2_descriptor(p, rng) for p in x])
    dists = ((test_d[:, None, :] - train_d[None]) ** 2).sum(-1)
    pred = ty[np.argmin(dists, axis=1)]
    base_ms = 1000 * (time.perf_counter() - start) / len(x)
    base_acc = float((pred == y).mean())

    print(
        json.dumps(
            {
                "benchmark": "PointNet classification on held-out procedural shapes",
                "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads(), "device": "cpu"},
                "weights": str(ckpt.path),
                "classes": list(CLASSES),
                "held_out_clouds": int(len(y)),
                "points_per_cloud": ckpt.num_points,
                "pointnet": {
                    "accuracy": round(res["accuracy"], 4),
                    "per_class": {CLASSES[c]: round(a, 3) for c, a in res["per_class"].items()},
                    "parameters": parameter_count(ckpt.model),
                    "weights_bytes": Path(ckpt.path).stat().st_size,
                    "ms_per_cloud_batched": round(res["ms_per_cloud"], 3),
                    "ms_per_cloud_single": round(single_ms, 3),
                },
                "baseline_d2_1nn": {"accuracy": round(base_acc, 4), "ms_per_cloud": round(base_ms, 3), "train_clouds": int(len(ty))},
                "ratios": {
                    "accuracy_vs_baseline": round(res["accuracy"] / max(base_acc, 1e-9), 3),
                    "error_vs_baseline": round((1 - res["accuracy"]) / max(1 - base_acc, 1e-9), 3),
                },
                "target_accuracy": TARGET_ACCURACY,
                "pass": res["accuracy"] >= TARGET_ACCURACY,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
