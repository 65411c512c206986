"""Train the shipped occupancy prior (plugins/recon_occupancy/data/prior.pt) on procedural shapes.

    .venv/bin/python assets/occupancy/train_prior.py [--shapes 3000] [--steps 2000] [--seed 0]

Data: :func:`recon_occupancy.prior.make_dataset` (the ten procedural classes of
``recon.shapes`` and random unions of primitives; random pose; sparse, noisy, often
partial clouds; exact occupancy labels), a training set from ``seed`` and a held-out set from
``seed + 1``. Model: :class:`recon_occupancy.network.PriorNetwork` (the PointNet encoder of
``recon.pointnet`` + a FiLM-conditioned occupancy decoder). Writes the checkpoint and
``prior.json`` (held-out IoU, parameters, timings) into ``plugins/recon_occupancy/data/``, the
package data the wheel ships (``--out`` elsewhere). A few CPU minutes; deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from recon_occupancy.network import PriorConfig, PriorNetwork
from recon_occupancy.prior import Prior, PriorTrainConfig, evaluate_prior, make_dataset, save_prior, train_prior

DATA = Path(__file__).resolve().parents[2] / "plugins" / "recon_occupancy" / "data"  # package data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=3000)
    parser.add_argument("--test-shapes", type=int, default=200)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA / "prior.pt")
    args = parser.parse_args()

    start = time.perf_counter()
    data = make_dataset(args.shapes, args.seed)
    test = make_dataset(args.test_shapes, args.seed + 1)
    t_data = time.perf_counter() - start
    torch.manual_seed(args.seed)
    model = PriorNetwork(PriorConfig())
    cfg = PriorTrainConfig(steps=args.steps, seed=args.seed)
    last = [0.0]

    def on_step(step: int, total: int, loss: float) -> None:
        if time.perf_counter() - last[0] > 10 or step == total:
            last[0] = time.perf_counter()
            print(f"step {step}/{total} loss {loss:.4f}", flush=True)

    t0 = time.perf_counter()
    losses = train_prior(model, data, cfg, on_step)
    t_train = time.perf_counter() - t0
    held = evaluate_prior(model, test, cfg.cloud_points, seed=args.seed)
    metrics = {
        "held_out_iou": round(held["iou"], 4),
        "held_out_accuracy": round(held["accuracy"], 4),
        "held_out_shapes": len(test),
        "ms_per_shape": round(held["ms_per_shape"], 2),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "train_shapes": len(data),
        "train_seconds": round(t_train, 1),
        "data_seconds": round(t_data, 1),
        "final_loss": round(sum(losses[-50:]) / min(50, len(losses)), 4),
        "config": vars(cfg),
    }
    save_prior(Prior(model, cfg.cloud_points, metrics), args.out)
    card = {"weights": args.out.name, "size_bytes": args.out.stat().st_size, **metrics}
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
