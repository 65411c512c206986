"""Train the shipped procedural PointNet weights (plugins/recon_pointnet/data/pointnet_procedural.pt).

    .venv/bin/python assets/pointnet/train_default.py [--per-class 300] [--epochs 12] [--seed 0]

Data: :mod:`recon.shapes` (10 classes of primitive arrangements, Y up, random
proportions, rotation about Y, small tilt, anisotropic scale, 1 % jitter), a training set from
``seed`` and a held-out set from ``seed + 1`` (shapes never seen in training). Writes the
checkpoint and ``pointnet_procedural.json`` (classes, parts, held-out accuracy, parameter count,
timings) into ``plugins/recon_pointnet/data/``, the package data the wheel ships (``--out``
elsewhere). These weights carry the part head (``recon classify --parts``) and are chosen with
``recon classify --weights procedural``; the default weights are ModelNet40's
(``train_modelnet40.py``).
A few CPU minutes on 2 cores; deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from recon.pointnet import PointNet, parameter_count
from recon.shapes import CLASSES, PARTS, classification_set
from recon_pointnet.checkpoint import Checkpoint, save_checkpoint
from recon_pointnet.train import TrainConfig, evaluate, train

DATA = Path(__file__).resolve().parents[2] / "plugins" / "recon_pointnet" / "data"  # package data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA / "pointnet_procedural.pt")
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    x, y, parts = classification_set(args.per_class, args.seed, n_points=1024)
    tx, ty, _ = classification_set(args.test_per_class, args.seed + 1, n_points=1024)
    t_data = time.perf_counter() - start

    torch.manual_seed(args.seed)
    model = PointNet(len(CLASSES), len(PARTS))
    cfg = TrainConfig(epochs=args.epochs, points=args.points, seed=args.seed)
    last = [0.0]

    def on_step(step: int, total: int, loss: float, acc: float) -> None:
        if time.perf_counter() - last[0] > 10 or step == total:
            last[0] = time.perf_counter()
            print(f"step {step}/{total} loss {loss:.3f} batch acc {acc:.2f}", flush=True)

    t0 = time.perf_counter()
    history = train(model, x, y, cfg, parts=parts, on_step=on_step)
    t_train = time.perf_counter() - t0
    held = evaluate(model, tx, ty, args.points, seed=args.seed)
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    for truth, pred in zip(ty, held["predictions"]):
        confusion[truth, pred] += 1
    metrics = {
        "held_out_accuracy": round(held["accuracy"], 4),
        "held_out_per_class": {CLASSES[c]: round(a, 4) for c, a in held["per_class"].items()},
        "held_out_clouds": held["n"],
        "confusion": confusion.tolist(),
        "ms_per_cloud": round(held["ms_per_cloud"], 3),
        "parameters": parameter_count(model),
        "train_clouds": int(len(x)),
        "train_seconds": round(t_train, 1),
        "data_seconds": round(t_data, 1),
        "config": cfg.as_dict(),
        "final_epoch": history[-1],
    }
    ckpt = Checkpoint(model, list(CLASSES), list(PARTS), num_points=args.points, up="y", metrics=metrics)
    save_checkpoint(ckpt, args.out)
    card = {"weights": args.out.name, "classes": list(CLASSES), "parts": list(PARTS), "up": "y", "num_points": args.points,
            "size_bytes": args.out.stat().st_size, **metrics}
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: v for k, v in card.items() if k not in ("confusion", "config")}, indent=2))


if __name__ == "__main__":
    main()
