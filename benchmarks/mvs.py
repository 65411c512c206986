"""Multi-view stereo figures: depth on real frames with ground truth, pycolmap cameras against
Strecha's, and the whole ``mvs`` method on the fountain.

Run with the project's interpreter: ``.venv/bin/python benchmarks/mvs.py [--frames N]``. Prints
JSON on stdout, progress on stderr. Needs ``../shared/data``.

``../shared/data/multiview_scene/hololens_dvmvs_000``: 40 frames of a real indoor sequence (540x360,
camera-to-world poses, ground-truth depth in millimetres). For each frame, the 5 source views of
:func:`recon_mvs.views.select_sources` and :func:`recon_mvs.planesweep.plane_sweep` over 0.3-6 m
(the range the issue's peer was run with) at half resolution (270x180, NCC over 15x15 pixels,
64 planes); the depth is compared with the ground truth where it has a measurement (nearest
upsampling to 540x360): median and mean absolute relative error, the share of pixels within a
factor 1.25 and within 10 %, and seconds per view. The peer's figures from the issue
(PatchmatchNet, DTU-trained, on this machine's CPU: median absolute relative error 0.084, 90.5 %
within 1.25, 0.74 s a view) are printed beside them for context. recon's MVSNet (shipped weights,
or ``--mvsnet`` a checkpoint) runs on the same views at the size the ``mvs`` method gives it
(``-O depth=mvsnet``: 256 pixels across, 256x171) or ``--mvsnet-scale`` of the frames' size,
followed, as in the method, by :func:`recon_mvs.refine.refine_views` (``mvsnet``; the network
alone: ``mvsnet_unrefined``; it runs in bfloat16 where the CPU has it, and once more in float32,
``mvsnet_unrefined_float32``, for the time's baseline), and its gains over the sweep are printed against the issue's 20 % target.
With every frame a reference, each estimator's depths are fused (:func:`recon_mvs.fusion.fuse`: geometric
consistency in two or more sources, the method's confidence bound) and the cloud scored against all the ground-truth depth
back-projected: accuracy and completeness (median distances, millimetres; shares within 5 cm).

``../shared/data/multiview_scene/strecha_fountain-P11`` (11 photos, 768x512, ground-truth cameras):
pycolmap's cameras for the plain photos (:func:`recon_mvs.sfm.solve_cameras`) against the truth
after a similarity alignment (rotation error in degrees, centre error relative to the camera
layout's size), the MVSNet's time a view at 320 pixels across, and the whole ``recon reconstruct
photos/ --method mvs`` run at its defaults (seconds per stage, total; the issue's bound is 5 minutes).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT.parent / "shared" / "data" / "multiview_scene" / "hololens_dvmvs_000"
FOUNTAIN = ROOT.parent / "shared" / "data" / "multiview_scene" / "strecha_fountain-P11"
PEER = {"name": "PatchmatchNet (issue 12)", "median_abs_rel": 0.084, "within_1.25": 0.905, "s_per_view": 0.74}
SETTINGS = {"scale": 0.5, "window": 15, "planes": 64, "sources": 5, "near_m": 0.3, "far_m": 6.0}


def log(text: str) -> None:
    print(f"[mvs bench] {text}", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=None)
def truth_depth(name: str) -> np.ndarray:
    """The ground-truth depth (metres, float32, 0 = none) of frame ``name``, read once."""
    from PIL import Image

    return np.asarray(Image.open(SCENE / "depth" / name)).astype(np.float32) / 1000.0


def depth_scores(depth: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Errors of ``depth`` against ``truth`` (metres, 0 = no measurement) over the measured pixels."""
    m = truth > 0
    d, g = depth[m].astype(np.float64), truth[m].astype(np.float64)
    rel = np.abs(d - g) / g
    ratio = np.maximum(d / g, g / d)
    return {"median_abs_rel": float(np.median(rel)), "mean_abs_rel": float(rel.mean()), "within_1.25": float((ratio < 1.25).mean()), "within_10pct": float((rel < 0.1).mean())}


def at_size(depth: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``depth`` resized to ``truth``'s size (nearest: no depths between a foreground and its background)."""
    from PIL import Image

    return np.asarray(Image.fromarray(np.asarray(depth, dtype=np.float32)).resize((truth.shape[1], truth.shape[0]), Image.Resampling.NEAREST))


WEIGHTS = ROOT / "plugins" / "recon_mvs" / "data" / "mvsnet.pt"


def _mvsnet(path: Path):  # noqa: ANN202
    """The network from shipped weights or a training checkpoint."""
    import torch

    from recon_mvs.mvsnet import MVSNet, load_mvsnet

    state = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(state, dict) and "net" in state:
        net = MVSNet()
        net.load_state_dict(state["net"])
        return net.eval()
    return load_mvsnet(path)


def _summary(learned: list[dict], sweep: list[dict], path: Path, scale: float) -> dict:
    """The MVSNet's mean scores and its gains over the plane sweep on the same views (relative)."""
    keys = ("median_abs_rel", "mean_abs_rel", "within_1.25", "within_10pct")
    mine = {k: round(float(np.mean([v[k] for v in learned])), 4) for k in keys}
    base = {k: float(np.mean([v[k] for v in sweep])) for k in keys}
    return {
        **mine, "s_per_view": round(float(np.mean([v["s"] for v in learned])), 3), "weights": str(path), "input_scale": scale,
        "abs_rel_reduction": round(1 - mine["median_abs_rel"] / base["median_abs_rel"], 4),
        "within_10pct_gain": round(mine["within_10pct"] / base["within_10pct"] - 1, 4),
        "meets_20pct": bool(1 - mine["median_abs_rel"] / base["median_abs_rel"] >= 0.2 and mine["within_10pct"] / base["within_10pct"] - 1 >= 0.2),
    }


def in_order(views: dict, chosen: dict) -> tuple[list[int], list, list[list[int]]]:
    """The reference frames of ``views`` (frame index -> DepthView) in order, their views, and each
    one's sources (``chosen``) as positions in that order, as :func:`recon_mvs.fusion.fuse` takes them."""
    order = sorted(views)
    index = {ref: k for k, ref in enumerate(order)}
    return order, [views[r] for r in order], [[index[j] for j in chosen[r] if j in index] for r in order]


def fusion_scores(views: dict, chosen: dict, frames: list, min_confidence: float) -> dict[str, float]:
    """Fuse every view's depth (:func:`recon_mvs.fusion.fuse`, the method's confidence bound) and score the cloud against the
    ground-truth depth of all frames back-projected: accuracy (fused point to nearest truth) and
    completeness (truth point to nearest fused), medians in millimetres, and the shares within 5 cm."""
    from scipy.spatial import cKDTree

    from recon_mvs.fusion import backproject, fuse

    start = time.perf_counter()
    cloud, stats = fuse(*in_order(views, chosen)[1:], min_confidence=min_confidence)
    seconds = time.perf_counter() - start
    truth = []
    for f in frames:
        depth = truth_depth(Path(f.source).name).astype(np.float64)
        pts = backproject(depth, f.camera)[depth > 0]
        truth.append(pts[:: max(1, len(pts) // 20000)])
    truth = np.concatenate(truth)
    accuracy = cKDTree(truth).query(cloud.points.astype(np.float64), workers=-1)[0]
    completeness = cKDTree(cloud.points.astype(np.float64)).query(truth, workers=-1)[0]
    return {
        "points": len(cloud), "seconds": round(seconds, 2),
        "accuracy_median_mm": round(float(np.median(accuracy)) * 1000, 1), "accuracy_within_5cm": round(float((accuracy < 0.05).mean()), 4),
        "completeness_median_mm": round(float(np.median(completeness)) * 1000, 1), "completeness_within_5cm": round(float((completeness < 0.05).mean()), 4),
        "kept_per_view_mean": round(float(np.mean([s["kept"] for s in stats])), 4),
    }


def fountain_figures(net: object) -> dict:
    """pycolmap cameras against the truth, the MVSNet's speed at 320 px, the whole method's time."""
    import tempfile

    from PIL import Image

    from recon.pipeline import reconstruct
    from recon.plugins import PluginHost
    from recon.structures import Frame
    from recon.testing.camera_truth import camera_errors, strecha_cameras
    from recon_mvs.planesweep import downscale
    from recon_mvs.sfm import solve_cameras
    from recon_mvs.views import depth_range, select_sources

    photos = sorted((FOUNTAIN / "images_768x512").glob("*.jpg"))
    frames = [Frame(image=np.asarray(Image.open(p).convert("RGB")), source=str(p)) for p in photos]
    log("fountain: structure from motion")
    sparse = solve_cameras(frames)
    errors = camera_errors([c for c in sparse.cameras if c is not None], [t for t, c in zip(strecha_cameras(FOUNTAIN / "gt_dense_cameras"), sparse.cameras) if c is not None])
    figures: dict = {
        "cameras": {
            "registered": f"{len(sparse.registered)}/{len(frames)}", "seconds": round(sparse.seconds, 2), "reprojection_error_px": round(sparse.reprojection_error_px, 3),
            "rotation_error_deg_median": round(float(np.median(errors["rotation_deg"])), 3), "rotation_error_deg_max": round(float(np.max(errors["rotation_deg"])), 3),
            "centre_error_relative_median": round(float(np.median(errors["centre_relative"])), 5),
        },
    }
    if net is not None:
        from recon_mvs.mvsnet import mvsnet_depth

        small = [downscale(f.image, c, 320 / f.image.shape[1]) for f, c in zip(frames, sparse.cameras)]
        cams = [s[1] for s in small]
        times = []
        for ref in range(len(frames)):
            near, far = depth_range(cams[ref], sparse.points)
            sources = select_sources(cams, ref, 4, depth=float(np.sqrt(near * far)))
            start = time.perf_counter()
            mvsnet_depth(net, *small[ref], [small[i] for i in sources], near, far)
            times.append(time.perf_counter() - start)
        figures["mvsnet_s_per_view"] = {"size": f"{cams[0].width}x{cams[0].height}", "sources": 4, "seconds": round(float(np.mean(times)), 3)}
    with tempfile.TemporaryDirectory() as tmp:
        log("fountain: the whole mvs method at its defaults")
        start = time.perf_counter()
        report = reconstruct(PluginHost().load_entrypoints(), [FOUNTAIN / "images_768x512"], Path(tmp) / "out", method="mvs", quiet=True)
        figures["method"] = {
            "seconds": round(time.perf_counter() - start, 1), "stages_s": report["metadata"]["stage_seconds"],
            "fused_points": report["metadata"]["fused_points"], "faces": report["mesh"]["faces"], "texture_coverage": report["metadata"]["texture_coverage"],
        }
    return figures


def main() -> None:
    from recon.device import bfloat16_inference, float32_inference
    from recon_io.scene import read_scene
    from recon_mvs.fusion import DepthView
    from recon_mvs.method import DEPTH_SIZE, MIN_CONFIDENCE, depth_scale
    from recon_mvs.planesweep import downscale, plane_sweep
    from recon_mvs.views import select_sources

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="Reference frames (evenly spread over the 40).")
    parser.add_argument("--mvsnet", type=Path, default=WEIGHTS, help="MVSNet weights (or a training checkpoint of assets/mvsnet/train_mvsnet.py); default: the shipped ones, when there.")
    parser.add_argument("--mvsnet-scale", type=float, default=None, help="The MVSNet's input size relative to the 540x360 frames (default: the mvs method's own for -O depth=mvsnet, 256 pixels across).")
    parser.add_argument("--no-fountain", action="store_true", help="Skip the fountain (cameras, the whole method).")
    args = parser.parse_args()
    net = _mvsnet(args.mvsnet) if args.mvsnet is not None and args.mvsnet.is_file() else None
    if not SCENE.is_dir():
        sys.exit(f"mvs bench: missing shared data: {SCENE}")
    load_before = os.getloadavg()
    frames = read_scene(SCENE, {}).frames
    cameras = [f.camera for f in frames]
    small = [downscale(f.image, f.camera, SETTINGS["scale"]) for f in frames]
    refs = np.unique(np.linspace(0, len(frames) - 1, min(args.frames, len(frames))).round().astype(int))
    per_view, views, chosen, learned, raw, learned_views, raw_views, float32 = [], {}, {}, [], [], {}, {}, []
    if args.mvsnet_scale is None:
        args.mvsnet_scale = depth_scale(DEPTH_SIZE["mvsnet"], frames[0].image.shape[1])
    big = [downscale(f.image, f.camera, args.mvsnet_scale) for f in frames] if net is not None else None
    for ref in refs:
        sources = select_sources(cameras, int(ref), SETTINGS["sources"], depth=1.5)
        start = time.perf_counter()
        result = plane_sweep(*small[ref], [small[i] for i in sources], SETTINGS["near_m"], SETTINGS["far_m"], planes=SETTINGS["planes"], window=SETTINGS["window"])
        seconds = time.perf_counter() - start
        views[int(ref)] = DepthView(result.depth, result.confidence, small[ref][0], small[ref][1])
        chosen[int(ref)] = [int(i) for i in sources]
        name = Path(frames[ref].source).name
        truth = truth_depth(name)
        scores = depth_scores(at_size(result.depth, truth), truth)
        per_view.append({"frame": name, "sources": [Path(frames[i].source).name for i in sources], "s": round(seconds, 3), **{k: round(v, 4) for k, v in scores.items()}})
        if net is not None:
            from recon_mvs.mvsnet import mvsnet_depth

            start = time.perf_counter()
            out = mvsnet_depth(net, *big[ref], [big[i] for i in sources], SETTINGS["near_m"], SETTINGS["far_m"])
            seconds = time.perf_counter() - start
            raw.append({"s": seconds, **depth_scores(at_size(out.depth, truth), truth)})
            with float32_inference():  # the network in float32, the baseline of its bfloat16 time
                start = time.perf_counter()
                out32 = mvsnet_depth(net, *big[ref], [big[i] for i in sources], SETTINGS["near_m"], SETTINGS["far_m"])
                float32.append({"s": time.perf_counter() - start, **depth_scores(at_size(out32.depth, truth), truth)})
            raw_views[int(ref)] = DepthView(out.depth, out.confidence, big[ref][0], big[ref][1])
        log(f"{name}: median abs rel {scores['median_abs_rel']:.3f}, within 1.25 {scores['within_1.25']:.3f}, {seconds:.2f} s")
    if raw_views:  # the method's refinement, which checks each view against its sources' depths
        from recon_mvs.refine import refine_views

        order, ordered, sources = in_order(raw_views, chosen)
        start = time.perf_counter()
        refined = refine_views(ordered, sources, [(SETTINGS["near_m"], SETTINGS["far_m"])] * len(order))
        share = (time.perf_counter() - start) / len(order)
        for r, out, before in zip(order, refined, raw):
            truth = truth_depth(Path(frames[r].source).name)
            learned.append({"s": before["s"] + share, **depth_scores(at_size(out.depth, truth), truth)})
            learned_views[r] = DepthView(out.depth, out.confidence, big[r][0], big[r][1])
    keys = ("median_abs_rel", "mean_abs_rel", "within_1.25", "within_10pct")
    fused = fusion_scores(views, chosen, frames, MIN_CONFIDENCE["planesweep"]) if len(views) == len(frames) else None
    print(json.dumps({
        "benchmark": "mvs",
        "scene": str(SCENE.relative_to(ROOT.parent)),
        "settings": SETTINGS,
        "plane_sweep": {**{k: round(float(np.mean([v[k] for v in per_view])), 4) for k in keys}, "s_per_view": round(float(np.mean([v["s"] for v in per_view])), 3), "views": len(per_view)},
        "mvsnet": _summary(learned, per_view, args.mvsnet, args.mvsnet_scale) if learned else None,
        "mvsnet_unrefined": _summary(raw, per_view, args.mvsnet, args.mvsnet_scale) if raw else None,
        "mvsnet_inference": "bfloat16" if bfloat16_inference("cpu") else "float32",
        "mvsnet_unrefined_float32": _summary(float32, per_view, args.mvsnet, args.mvsnet_scale) if float32 else None,
        "fusion": fused,
        "fusion_mvsnet": fusion_scores(learned_views, chosen, frames, MIN_CONFIDENCE["mvsnet"]) if len(learned_views) == len(frames) else None,
        "fusion_mvsnet_unrefined": fusion_scores(raw_views, chosen, frames, MIN_CONFIDENCE["mvsnet"]) if len(raw_views) == len(frames) else None,
        "fountain": None if args.no_fountain or not FOUNTAIN.is_dir() else fountain_figures(net),
        "peer": PEER,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "per_view": per_view,
    }, indent=2))


if __name__ == "__main__":
    main()
