"""PointNet: the shipped ModelNet40 weights on the ModelNet40 test split, and the procedural weights
on held-out procedural shapes against a classical baseline.

    .venv/bin/python benchmarks/pointnet.py [--weights PATH] [--per-class 100] [--skip-procedural]

ModelNet40 (``../shared/data/pointclouds/modelnet40_1024``, official test split, 2,468 clouds of
1,024 points, Z up): overall and class-mean accuracy with the weights' own votes (turns about the
up axis), temperature and "unknown" threshold (all chosen on a validation part of the training
split, see ``assets/pointnet/train_modelnet40.py``); expected calibration error (15 bins) before and
after temperature scaling; coverage and accuracy of the answers that are not "unknown";
milliseconds per cloud batched (16 clouds a batch, the fastest size on the CPU; bfloat16 where the CPU has it,
with the float32 time and its ratio in the same run) and one at a
time; the shared ModelNet OFF meshes through the same path as ``recon classify --up z``. Targets (issue 15): accuracy >= 89.2 %
(PointNet, Qi et al. 2017), ECE <= 0.05, <= 5 ms per cloud batched.

Procedural: :func:`recon.shapes.classification_set` from a seed used neither for the
procedural weights' training (0) nor their card (1); baseline: D2 shape distributions (Osada et
al. 2002) with a 1-nearest-neighbour classifier. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "pointclouds"
TARGETS = {"accuracy": 0.892, "ece": 0.05, "ms_per_cloud_batched": 5.0, "procedural_accuracy": 0.95}
OFF_FILES = ("modelnet10_off/bed/bed_0001.off", "modelnet10_off/chair/chair_0001.off", "modelnet10_off/toilet/toilet_0001.off",
             "modelnet40_off/flower_pot/flower_pot_0002.off", "modelnet40_off/stool/stool_0002.off")


def d2_descriptor(points: np.ndarray, rng: np.random.Generator, pairs: int = 4000, bins: int = 32) -> np.ndarray:
    i, j = rng.integers(0, len(points), (2, pairs))
    d = np.linalg.norm(points[i] - points[j], axis=1)
    hist, _ = np.histogram(d / (d.mean() + 1e-12), bins=bins, range=(0, 3))
    return hist / pairs


def prepare_z_up(points: np.ndarray) -> np.ndarray:
    """Z-up clouds (M, N, 3) through :func:`recon_pointnet.classify.prepare_cloud`'s frame and normalisation."""
    from recon_pointnet.data import normalize, to_y_up

    return np.stack([normalize(to_y_up(p.astype(np.float64), "z")) for p in points])


def modelnet40(weights: str | None) -> dict:
    from recon.device import bfloat16_inference, float32_inference
    from recon.pointnet import parameter_count
    from recon_pointnet.calibration import accuracy_figures, expected_calibration_error, selective_figures
    from recon_pointnet.checkpoint import load_checkpoint
    from recon_pointnet.classify import calibrated_probabilities, classify_points, vote_logits

    npz = SHARED / "modelnet40_1024" / "modelnet40_1024.npz"
    if not npz.is_file():
        raise SystemExit(f"{npz} is absent; the benchmark needs ../shared/data/pointclouds/modelnet40_1024")
    ckpt = load_checkpoint(weights)
    d = np.load(npz)
    classes = [str(c) for c in d["classes"]]
    if ckpt.classes != classes:
        raise SystemExit(f"{ckpt.path}: not ModelNet40 weights (classes {ckpt.classes[:4]}...)")
    x = torch.as_tensor(prepare_z_up(d["test_points"]))
    y = d["test_labels"].astype(np.int64)
    timings = {}
    logits = {}
    for votes in sorted({1, ckpt.votes}):
        vote_logits(ckpt.inference_model, x[:64], votes)  # warm-up
        start = time.perf_counter()
        logits[votes] = vote_logits(ckpt.inference_model, x, votes, batch_size=16)
        timings[votes] = 1000 * (time.perf_counter() - start) / len(y)
    for i in range(3):
        vote_logits(ckpt.inference_model, x[i : i + 1], ckpt.votes)
    start = time.perf_counter()
    for i in range(50):  # one cloud at a time, as `recon classify FILE` runs it
        vote_logits(ckpt.inference_model, x[i : i + 1], ckpt.votes)
    single_ms = 1000 * (time.perf_counter() - start) / 50
    with float32_inference():  # the baseline: same process, same clouds
        start = time.perf_counter()
        baseline = vote_logits(ckpt.inference_model, x, ckpt.votes, batch_size=16)
        float32_ms = 1000 * (time.perf_counter() - start) / len(y)
    lt = logits[ckpt.votes]
    raw, cal = calibrated_probabilities(lt, 1.0).numpy(), calibrated_probabilities(lt, ckpt.temperature).numpy()
    acc = accuracy_figures(lt.argmax(1).numpy(), y, classes)
    ece_before, ece_after = expected_calibration_error(raw, y), expected_calibration_error(cal, y)
    off = {}
    for rel in OFF_FILES:
        path = SHARED / rel
        if path.is_file():
            import trimesh

            mesh = trimesh.load(path, force="mesh")
            pts, _ = trimesh.sample.sample_surface(mesh, ckpt.num_points, seed=0)
            r = classify_points(ckpt, np.asarray(pts), up="z", source=path.name, kind="mesh", top_k=3)
            off[path.name] = {"truth": path.parent.name, "label": r["label"], "probability": r["probability"], "top_3": r["top_k"]}
    card = ckpt.metrics
    one_ms = timings[1]
    return {
        "weights": str(ckpt.path),
        "test_clouds": int(len(y)),
        "points_per_cloud": ckpt.num_points,
        "votes": ckpt.votes,
        "overall_accuracy": acc["overall_accuracy"],
        "overall_accuracy_one_vote": round(float((logits[1].argmax(1).numpy() == y).mean()), 4),
        "class_mean_accuracy": acc["class_mean_accuracy"],
        "per_class": acc["per_class"],
        "temperature": round(ckpt.temperature, 4),
        "ece_before_scaling": round(ece_before, 4),
        "ece_after_scaling": round(ece_after, 4),
        "unknown_threshold": round(ckpt.unknown_threshold, 4),
        **selective_figures(cal, y, ckpt.unknown_threshold),
        "ms_per_cloud_batched": round(timings[ckpt.votes], 3),
        "ms_per_cloud_batched_one_vote": round(one_ms, 3),
        "ms_per_cloud_single": round(single_ms, 3),
        "inference": "bfloat16" if bfloat16_inference("cpu") else "float32",
        "ms_per_cloud_batched_float32": round(float32_ms, 3),
        "speed_ratio_to_float32": round(float32_ms / timings[ckpt.votes], 2),
        "overall_accuracy_float32": round(float((baseline.argmax(1).numpy() == y).mean()), 4),
        "parameters": parameter_count(ckpt.model),
        "weights_bytes": Path(ckpt.path).stat().st_size,
        "training": {k: card.get(k) for k in ("train_seconds", "epochs", "selected_epoch", "train_clouds", "threads")},
        "validation": {k: v for k, v in card.get("validation", {}).items()},
        "off_meshes": off,
        "pass": {
            "accuracy": acc["overall_accuracy"] >= TARGETS["accuracy"],
            "ece": ece_after <= TARGETS["ece"],
            "ms_per_cloud_batched": timings[ckpt.votes] <= TARGETS["ms_per_cloud_batched"],
        },
    }


def procedural(per_class: int, seed: int) -> dict:
    from recon.pointnet import parameter_count
    from recon.shapes import CLASSES, classification_set
    from recon_pointnet.checkpoint import load_checkpoint, procedural_weights_path
    from recon_pointnet.train import evaluate

    ckpt = load_checkpoint(procedural_weights_path())
    x, y, _ = classification_set(per_class, seed, n_points=1024)
    res = evaluate(ckpt.model, x, y, ckpt.num_points, batch_size=64, seed=0)
    rng = np.random.default_rng(0)
    tx, ty, _ = classification_set(100, 0, n_points=1024)
    train_d = np.stack([d2_descriptor(p, rng) for p in tx])
    test_d = np.stack([d2_descriptor(p, rng) for p in x])
    pred = ty[np.argmin(((test_d[:, None, :] - train_d[None]) ** 2).sum(-1), axis=1)]
    base_acc = float((pred == y).mean())
    return {
        "weights": str(ckpt.path),
        "held_out_clouds": int(len(y)),
        "points_per_cloud": ckpt.num_points,
        "accuracy": round(res["accuracy"], 4),
        "per_class": {CLASSES[c]: round(a, 3) for c, a in res["per_class"].items()},
        "parameters": parameter_count(ckpt.model),
        "ms_per_cloud_batched": round(res["ms_per_cloud"], 3),
        "baseline_d2_1nn_accuracy": round(base_acc, 4),
        "pass": res["accuracy"] >= TARGETS["procedural_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="ModelNet40 weights (default: the shipped ones)")
    parser.add_argument("--per-class", type=int, default=100, help="held-out procedural clouds per class")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--skip-procedural", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = {
        "benchmark": "PointNet classification",
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads(), "device": "cpu"},
        "targets": TARGETS,
        "modelnet40": modelnet40(args.weights),
    }
    if not args.skip_procedural:
        out["procedural"] = procedural(args.per_class, args.seed)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
