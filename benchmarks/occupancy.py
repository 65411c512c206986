"""Occupancy meshing against Open3D screened Poisson, and MISE against a dense grid.

    .venv/bin/python benchmarks/occupancy.py [--scans stanford-bunny,spot,...] [--repeats 2] [--no-mise]

Needs open3d, which ``make bench`` installs into ``.bench-site/`` (never into ``.venv/``; on
Debian also ``apt-get install -y libusb-1.0-0``), and ``../shared/data/meshes``; skips, saying so
in one line, without open3d. For each scan: 20,000 area-uniform surface points with Gaussian
noise of 0.2 % of the bounding-box diagonal, no normals (seeded). Baseline in the same process on the same
points: Open3D normals (``estimate_normals``), orientation
(``orient_normals_consistent_tangent_plane(15)``) and screened Poisson at depth 8. Ours: the
``occupancy`` method with default options (fit mode), run in memory like the baseline. Both scored
with :func:`recon_occupancy.metrics.compare_meshes` against the original mesh. Times are the best
of ``--repeats`` alternating runs (the machine may be shared).

MISE: the same fitted network extracted by MISE (32^3, 2 upsampling steps) and by evaluating the
dense 129^3 grid; Chamfer-L1 between the two meshes with exact point-to-surface distances (no
sampling floor: identical meshes give 0) relative to the diagonal, and the ratio of network
evaluations.

Prints one JSON document: per scan the baseline, ours, ratios, the targets and whether each is met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / ".bench-site"))  # open3d (make bench); appended: .venv's packages come first
DATA = ROOT.parent / "shared" / "data" / "meshes"
SCANS = ("stanford-bunny", "spot", "armadillo", "fandisk", "nefertiti")
TARGETS = {"chamfer_ratio_max": 1.0, "normal_consistency_diff_min": 0.0, "time_ratio_max": 10.0, "mise_chamfer_max": 0.001, "mise_eval_ratio_min": 5.0}


def noisy_points(name: str, n: int = 20_000, noise: float = 0.002, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points, reference vertices, reference faces) of one scan."""
    import trimesh

    from recon_occupancy.metrics import sample_surface

    mesh = trimesh.load(DATA / f"{name}.obj", force="mesh")
    v, f = np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    rng = np.random.default_rng(seed)
    pts, _, _ = sample_surface(v, f, n, rng)
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    return pts + rng.normal(0.0, noise * diag, pts.shape), v, f


def poisson(points: np.ndarray, depth: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    import open3d as o3d

    start = time.perf_counter()
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pc.estimate_normals()
    pc.orient_normals_consistent_tangent_plane(15)
    mesh, _ = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pc, depth=depth)
    elapsed = time.perf_counter() - start
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles, dtype=np.int64), elapsed


def ours(points: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float, dict]:
    from recon.progress import Stages
    from recon_occupancy.method import field_to_mesh, occupancy_field, options_from

    opts = options_from({})
    stages = Stages(quiet=True)
    start = time.perf_counter()
    with stages:
        field = occupancy_field(points, None, opts, stages, seed)
        mesh, figures = field_to_mesh(field, opts, stages)
    elapsed = time.perf_counter() - start
    figures["timings_s"] = {k: round(v, 3) for k, v in stages.timings.items()}
    return mesh.vertices.astype(np.float64), mesh.faces, elapsed, figures


def score(v: np.ndarray, f: np.ndarray, ref_v: np.ndarray, ref_f: np.ndarray) -> dict:
    from recon_occupancy.extract import manifold_report
    from recon_occupancy.metrics import compare_meshes

    m = compare_meshes(v, f, ref_v, ref_f, seed=1)
    rep = manifold_report(v, f)
    keys = ("chamfer_l1", "chamfer_l1_relative", "normal_consistency", "fscore_1pct", "iou")
    return {**{k: round(m[k], 7) for k in keys}, "watertight": rep["watertight"], "manifold": rep["manifold"], "faces": rep["faces"]}


def mise_vs_dense(points: np.ndarray, seed: int = 0) -> dict:
    from recon.progress import Stages
    from recon_occupancy.extract import extract_surface
    from recon_occupancy.metrics import surface_chamfer
    from recon_occupancy.method import occupancy_field, options_from
    from recon_occupancy.mise import dense_grid, mise
    from recon_occupancy.supervision import PAD

    opts = options_from({})
    with Stages(quiet=True) as stages:
        field = occupancy_field(points, None, opts, stages, seed)
    lo, hi = -0.5 - PAD, 0.5 + PAD
    t0 = time.perf_counter()
    sparse = mise(field.evaluate, lo, hi, 32, 2)
    t1 = time.perf_counter()
    dense = dense_grid(field.evaluate, lo, hi, 128)
    t2 = time.perf_counter()
    a = extract_surface(sparse.values, sparse.origin, sparse.step)
    b = extract_surface(dense.values, dense.origin, dense.step)
    diag = float(np.linalg.norm(b.vertices.max(axis=0) - b.vertices.min(axis=0)))
    chamfer = surface_chamfer(a.vertices, a.faces, b.vertices, b.faces, samples=100_000, seed=2) / diag
    return {
        "resolution": 128,
        "mise_evaluations": sparse.evaluations,
        "dense_evaluations": dense.evaluations,
        "evaluation_ratio": round(dense.evaluations / sparse.evaluations, 2),
        "mise_s": round(t1 - t0, 3),
        "dense_s": round(t2 - t1, 3),
        "chamfer_l1_relative_mise_vs_dense": round(chamfer, 8),
        "faces_mise": int(len(a.faces)),
        "faces_dense": int(len(b.faces)),
    }


def prior_vs_fit(shapes: int = 20, seed: int = 7) -> dict:
    """Sparse, partial held-out procedural clouds (300-600 points, one side cut away): IoU of the
    occupancy on the shapes' labelled points, prior mode against fit mode, and time per shape."""
    from recon.progress import Stages
    from recon_occupancy.method import occupancy_field, options_from
    from recon_occupancy.prior import make_dataset

    data = make_dataset(shapes, seed, n_cloud=(300, 600), partial=1.0)
    out = {}
    for mode in ("prior", "fit"):
        opts = options_from({"mode": mode})
        ious, times = [], []
        for s in data:
            start = time.perf_counter()
            with Stages(quiet=True) as stages:
                field = occupancy_field(s.cloud.astype(np.float64), None, opts, stages, 0)
            times.append(time.perf_counter() - start)
            # the field works in the partial cloud's own normalised frame: map the queries into it
            pred = field.evaluate(field.normalization.to_unit(s.queries).astype(np.float32)) > 0
            union = np.logical_or(pred, s.occupancy).sum()
            ious.append(float(np.logical_and(pred, s.occupancy).sum() / union) if union else 1.0)
        out[mode] = {"mean_iou": round(float(np.mean(ious)), 4), "median_iou": round(float(np.median(ious)), 4), "s_per_shape": round(float(np.mean(times)), 3)}
    out["shapes"] = shapes
    out["iou_ratio_prior_vs_fit"] = round(out["prior"]["mean_iou"] / max(out["fit"]["mean_iou"], 1e-9), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", default=",".join(SCANS))
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per method; the best time counts")
    parser.add_argument("--no-mise", action="store_true", help="skip the MISE-vs-dense comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-prior", action="store_true", help="skip prior-vs-fit on sparse partial procedural clouds")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent; the benchmark needs ../shared/data/meshes")
    try:
        import open3d  # noqa: F401
    except ImportError as exc:
        print(f"benchmarks/occupancy.py: skipped, open3d is not importable ({exc}); make bench installs it into .bench-site/", file=sys.stderr)
        return
    import torch

    results = {}
    for name in args.scans.split(","):
        points, ref_v, ref_f = noisy_points(name, seed=args.seed)
        p_times, o_times = [], []
        for _ in range(max(1, args.repeats)):
            pv, pf, pt = poisson(points)
            p_times.append(pt)
            ov, of, ot, figures = ours(points, seed=args.seed)
            o_times.append(ot)
        base, mine = score(pv, pf, ref_v, ref_f), score(ov, of, ref_v, ref_f)
        base["time_s"], mine["time_s"] = round(min(p_times), 3), round(min(o_times), 3)
        base["times_s"], mine["times_s"] = [round(t, 3) for t in p_times], [round(t, 3) for t in o_times]
        mine["stages_s"] = figures["timings_s"]
        mine["mise_evaluations"] = figures["mise"]["evaluations"]
        ratios = {
            "chamfer": round(mine["chamfer_l1"] / base["chamfer_l1"], 4),
            "normal_consistency_diff": round(mine["normal_consistency"] - base["normal_consistency"], 5),
            "time": round(mine["time_s"] / base["time_s"], 2),
        }
        passed = {
            "chamfer": ratios["chamfer"] <= TARGETS["chamfer_ratio_max"],
            "normal_consistency": ratios["normal_consistency_diff"] >= TARGETS["normal_consistency_diff_min"],
            "watertight": bool(mine["watertight"] and mine["manifold"]),
            "time": ratios["time"] <= TARGETS["time_ratio_max"],
        }
        entry = {"points": len(points), "poisson_depth8": base, "occupancy": mine, "ratios": ratios, "pass": passed}
        if not args.no_mise:
            entry["mise"] = mise_vs_dense(points, seed=args.seed)
            entry["pass"]["mise_chamfer"] = entry["mise"]["chamfer_l1_relative_mise_vs_dense"] <= TARGETS["mise_chamfer_max"]
            entry["pass"]["mise_evaluations"] = entry["mise"]["evaluation_ratio"] >= TARGETS["mise_eval_ratio_min"]
        results[name] = entry
        print(f"{name}: {json.dumps(entry['ratios'])} {json.dumps(entry['pass'])}", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "benchmark": "occupancy vs Open3D screened Poisson (depth 8)",
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "device": "cpu", "python": platform.python_version()},
                "noise": "gaussian, sigma = 0.2 % of the bounding-box diagonal; 20000 points; no normals",
                "targets": TARGETS,
                "scans": results,
                "sparse_partial_prior_vs_fit": None if args.no_prior else prior_vs_fit(),
                "all_pass": all(all(r["pass"].values()) for r in results.values()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
