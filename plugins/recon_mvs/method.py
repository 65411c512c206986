"""The ``mvs`` method: cameras (given, or pycolmap's), view selection, depth per view (plane sweep
or MVSNet; ``-O refine``: refined where unsure, checked against the sources), fusion into a cloud,
screened Poisson mesh, baked texture, report."""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.options import flag
from recon.progress import Stages
from recon.structures import Camera, Frame, Inputs, Reconstruction
from recon_mvs.planesweep import downscale

DEFAULTS: dict[str, Any] = {
    "depth": "planesweep",
    "size": None,
    "sources": 4,
    "planes": 64,
    "window": 11,
    "near": None,
    "far": None,
    "confidence": None,
    "min_agree": 2,
    "poisson_depth": 9,
    "trim": 7.0,
    "closed": False,
    "max_faces": 150_000,
    "texture_size": 2048,
    "save_depth": False,
    "refine": None,
}
DEPTH_KINDS = ("planesweep", "mvsnet")
DEPTH_SIZE = {"planesweep": 384, "mvsnet": 256}
"""The depth maps' default width by estimator: the MVSNet, trained at 160-320 pixels across, is
most accurate near 200 (benchmarks/mvs.py), the sweep's window wants more pixels."""
MIN_CONFIDENCE = {"planesweep": 0.1, "mvsnet": 0.3}
"""The confidence a depth needs to enter the fusion, by estimator (NCC margin; MVSNet's probability mass)."""
MIN_VIEWS = 3
TEXTURE_WIDTH = 1600
"""Photos wider than this are downscaled for texture baking."""


def options_of(options: dict[str, Any]) -> dict[str, Any]:
    """The method's options with defaults filled in and types checked.

    :raises UsageError: a value of the wrong kind or out of range, naming the key.
    """
    opts = {k: options.get(k) if options.get(k) is not None else v for k, v in DEFAULTS.items()}
    try:
        if opts["size"] is None:
            opts["size"] = DEPTH_SIZE.get(opts["depth"], 384)
        for key in ("size", "sources", "planes", "window", "min_agree", "poisson_depth", "max_faces", "texture_size"):
            opts[key] = int(opts[key])
        for key in ("near", "far", "confidence"):
            opts[key] = None if opts[key] is None else float(opts[key])
        opts["trim"] = float(opts["trim"])
        for key in ("closed", "save_depth"):
            opts[key] = flag(opts[key], key)
        opts["refine"] = opts["depth"] == "mvsnet" if opts["refine"] is None else flag(opts["refine"], "refine")
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad mvs option: {exc}") from None
    if opts["depth"] not in DEPTH_KINDS:
        raise UsageError(f"-O depth={opts['depth']}: use {' or '.join(DEPTH_KINDS)}")
    if not 64 <= opts["size"] <= 4096:
        raise UsageError(f"-O size must be the depth maps' width in pixels (64 to 4096), got {opts['size']}")
    if not 1 <= opts["min_agree"] <= opts["sources"]:
        raise UsageError(f"-O min_agree must be between 1 and -O sources ({opts['sources']}), got {opts['min_agree']}")
    if (opts["near"] is None) != (opts["far"] is None) or (opts["near"] is not None and not 0 < opts["near"] < opts["far"]):
        raise UsageError("give -O near and -O far together, 0 < near < far (metres, or the scene's units)")
    if opts["window"] < 3 or opts["window"] % 2 == 0 or opts["planes"] < 8:
        raise UsageError("-O window must be odd and at least 3, -O planes at least 8")
    return opts


def run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    """Reconstruct a textured mesh and a fused cloud from photos of a static scene (module docstring)."""
    from recon_mvs.views import converging_focus, depth_range, select_sources

    opts = options_of(options)
    timings: dict[str, float] = {}
    frames = list(inputs.frames)
    if len(frames) < MIN_VIEWS:
        names = ", ".join(f.name for f in frames) or "none"
        raise BadInputError(f"multi-view stereo needs at least {MIN_VIEWS} photos of the scene, got {len(frames)} ({names}): add photos taken from other positions")
    frames, cameras, sparse, notes = _cameras(frames, stages, timings)
    estimate = _estimator(opts)
    scale = depth_scale(opts["size"], frames[0].image.shape[1])
    small = [downscale(f.image, c, scale) for f, c in zip(frames, cameras)]
    small_cams = [s[1] for s in small]
    bounds = frames[0].meta.get("bounds")
    focus = None if sparse is not None or bounds is not None else converging_focus(cameras)
    points = None if sparse is None else sparse.points
    depths, chosen, ranges, view_stats = {}, {}, {}, []
    with stages.stage(f"depth ({opts['depth']})", total=len(frames)) as task:
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            near, far = (opts["near"], opts["far"]) if opts["near"] is not None else depth_range(small_cams[i], points, bounds, focus)
            sources = select_sources(small_cams, i, opts["sources"], depth=float(np.sqrt(near * far)))
            stat: dict[str, Any] = {"input": frame.source, "depth_range": [round(near, 4), round(far, 4)], "sources": [frames[j].name for j in sources]}
            if not sources:
                stat["status"] = "no overlapping view"
            else:
                t0 = time.perf_counter()
                depths[i], chosen[i], ranges[i] = estimate(small[i][0], small_cams[i], [small[j] for j in sources], near, far), sources, (near, far)
                stat.update(status="ok", depth_seconds=round(time.perf_counter() - t0, 3))
            view_stats.append(stat)
            task.advance()
        timings["depth"] = time.perf_counter() - start
    if not depths:
        raise BadInputError(f"none of the {len(frames)} views overlaps another (no source view sees what a reference sees): photograph one scene from nearby positions")
    if opts["refine"]:
        depths = _refine(depths, chosen, ranges, small, stages, timings)
    for i, result in depths.items():
        view_stats[i]["median_depth"] = round(float(np.median(result.depth)), 4)
    cloud, fusion_stats = _fuse(frames, small, depths, chosen, opts, stages, timings)
    for i, s in fusion_stats.items():
        view_stats[i].update(s)
    mesh = _mesh(cloud, opts, stages, timings)
    texture_images, texture_cams = _texture_views(frames, cameras)
    with stages.stage("texture", total=2) as task:
        from recon.texture import bake, unwrap

        start = time.perf_counter()
        mesh = unwrap(mesh)
        task.advance()
        mesh.texture, coverage = bake(mesh, texture_images, texture_cams, size=opts["texture_size"])
        task.advance()
        timings["texture"] = time.perf_counter() - start
    files = _depth_files(frames, depths) if opts["save_depth"] else {}
    return Reconstruction(
        method="mvs",
        meshes=[mesh],
        cameras=cameras,
        views=view_stats,
        point_cloud=cloud,
        preview=_preview(small[0][0], depths.get(0), mesh, texture_cams[0]),
        files=files,
        metadata={
            "options": opts,
            "notes": notes,
            "cameras": "given" if sparse is None else {"solver": "pycolmap", "registered": len(frames), "reprojection_error_px": round(sparse.reprojection_error_px, 4), "sparse_points": len(sparse.points)},
            "depth_size": [small_cams[0].width, small_cams[0].height],
            "fused_points": len(cloud),
            "texture_coverage": round(float((coverage > 0).mean()), 4),
            "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
            "depth_seconds_per_view": round(timings["depth"] / max(len(depths), 1), 3),
        },
    )


def _cameras(frames: list[Frame], stages: Stages, timings: dict[str, float]) -> tuple[list[Frame], list[Camera], Any, list[str]]:
    """The frames that have cameras, their cameras, the sparse scene (None when given) and notes."""
    from recon_mvs.sfm import solve_cameras

    if all(f.camera is not None for f in frames):
        return frames, [f.camera for f in frames], None, []
    if any(f.camera is not None for f in frames):
        raise BadInputError("some inputs carry cameras and some do not: give one calibrated scene folder, or plain photos only")
    with stages.stage("cameras (pycolmap: features, matching, mapping)"):
        sparse = solve_cameras(frames)
    timings["cameras"] = sparse.seconds
    kept = sparse.registered
    notes = [f"{frames[i].name}: not placed by structure from motion, left out" for i in range(len(frames)) if i not in kept]
    frames = [frames[i] for i in kept]
    return frames, [sparse.cameras[i] for i in kept], sparse, notes


def _estimator(opts: dict[str, Any]):  # noqa: ANN202
    """``estimate(ref_image, ref_camera, sources, near, far) -> DepthResult`` for ``-O depth``."""
    from recon.device import pick_device

    device = pick_device()
    if opts["depth"] == "planesweep":
        from recon_mvs.planesweep import plane_sweep

        return lambda image, cam, sources, near, far: plane_sweep(image, cam, sources, near, far, planes=opts["planes"], window=opts["window"], device=device)
    from recon_mvs import shipped_mvsnet
    from recon_mvs.mvsnet import mvsnet_depth

    net = shipped_mvsnet(device)
    return lambda image, cam, sources, near, far: mvsnet_depth(net, image, cam, sources, near, far)


def _depth_views(depths: dict, chosen: dict, small: list) -> tuple[list[int], list, list[list[int]]]:
    """The views with a depth map (their frame indices, in order), as
    :class:`recon_mvs.fusion.DepthView` at the depth maps' size, and each one's sources among them."""
    from recon_mvs.fusion import DepthView

    order = sorted(depths)
    index = {v: k for k, v in enumerate(order)}
    views = [DepthView(depths[i].depth, depths[i].confidence, small[i][0], small[i][1]) for i in order]
    return order, views, [[index[j] for j in chosen[i] if j in index] for i in order]


def _refine(depths: dict, chosen: dict, ranges: dict, small: list, stages: Stages, timings: dict[str, float]) -> dict:
    """``-O refine`` (the MVSNet's default): every view's depth refined where it was unsure
    (:func:`recon_mvs.refine.refine_views`), checked against its sources' depths first."""
    from recon_mvs.refine import refine_views

    with stages.stage("depth refinement"):
        start = time.perf_counter()
        order, views, sources = _depth_views(depths, chosen, small)
        refined = refine_views(views, sources, [ranges[i] for i in order])
        timings["refine"] = time.perf_counter() - start
    return dict(zip(order, refined))


def _fuse(frames: list[Frame], small: list, depths: dict, chosen: dict, opts: dict[str, Any], stages: Stages, timings: dict[str, float]):  # noqa: ANN202
    """The fused cloud and, per view index, its fusion figures."""
    from recon_mvs.fusion import fuse

    order, views, sources = _depth_views(depths, chosen, small)
    min_confidence = opts["confidence"] if opts["confidence"] is not None else MIN_CONFIDENCE[opts["depth"]]
    with stages.stage("fusion"):
        start = time.perf_counter()
        cloud, stats = fuse(views, sources, min_agree=min(opts["min_agree"], max(len(s) for s in sources)), min_confidence=min_confidence)
        timings["fusion"] = time.perf_counter() - start
    return cloud, {i: stats[k] for k, i in enumerate(order)}


def _mesh(cloud: Any, opts: dict[str, Any], stages: Stages, timings: dict[str, float]):  # noqa: ANN202
    from recon_mvs.meshing import closed_surface, open_surface

    with stages.stage("mesh (screened Poisson)"):
        start = time.perf_counter()
        if opts["closed"]:
            mesh = closed_surface(cloud, depth=opts["poisson_depth"], max_faces=opts["max_faces"])
        else:
            mesh = open_surface(cloud, depth=opts["poisson_depth"], trim=opts["trim"], max_faces=opts["max_faces"])
        timings["mesh"] = time.perf_counter() - start
    return mesh


def _texture_views(frames: list[Frame], cameras: list[Camera]) -> tuple[list[np.ndarray], list[Camera]]:
    """The photos (at most :data:`TEXTURE_WIDTH` wide) and their cameras for baking."""
    scale = min(1.0, TEXTURE_WIDTH / frames[0].image.shape[1])
    pairs = [downscale(f.image, c, scale) for f, c in zip(frames, cameras)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def depth_scale(size: int, width: int) -> float:
    """The factor from photos ``width`` pixels across to depth maps ``size`` across (never up)."""
    return min(1.0, size / width)


def _depth_files(frames: list[Frame], depths: dict) -> dict[str, bytes]:
    """``depth/NAME.png`` (16-bit, millimetres) and ``depth/NAME_confidence.png`` (8-bit) per view."""
    from PIL import Image

    from recon.output import safe_names

    files: dict[str, bytes] = {}
    stems = safe_names([f.source for f in frames], keep_suffix=False)
    for i, result in sorted(depths.items()):
        stem = stems[i]
        millimetres = np.clip(np.nan_to_num(result.depth) * 1000.0 + 0.5, 0, 65535).astype(np.uint16)
        for suffix, array in (("", millimetres), ("_confidence", (np.clip(result.confidence, 0, 1) * 255 + 0.5).astype(np.uint8))):
            buf = io.BytesIO()
            Image.fromarray(array).save(buf, format="PNG")
            files[f"depth/{stem}{suffix}.png"] = buf.getvalue()
    return files


def _preview(photo: np.ndarray, depth: Any, mesh: Any, camera: Camera) -> np.ndarray:
    """The first ``photo`` (at the depth maps' size), its inverse depth (blue far, red near) and the
    textured mesh seen by ``camera``, side by side."""
    from PIL import Image

    from recon.render import render

    h, w = photo.shape[:2]
    panels = [photo]
    if depth is not None:
        inv = 1.0 / np.maximum(depth.depth, 1e-6)
        lo, hi = np.percentile(inv, [2, 98])
        x = np.clip((inv - lo) / max(hi - lo, 1e-9), 0, 1)[..., None]
        ramp = np.array([[48, 18, 59], [40, 188, 235], [164, 252, 60], [251, 185, 56], [122, 4, 3]], dtype=np.float64)  # turbo's stops, far to near
        position = x * (len(ramp) - 1)
        k = np.minimum(position.astype(int), len(ramp) - 2)
        colours = ramp[k[..., 0]] * (1 - (position - k)) + ramp[k[..., 0] + 1] * (position - k)
        panels.append(colours.astype(np.uint8))
    drawn = render(mesh, camera, device="cpu").rgb
    panels.append(np.asarray(Image.fromarray(drawn).resize((w, h), Image.Resampling.BILINEAR)))
    return np.concatenate(panels, axis=1)
