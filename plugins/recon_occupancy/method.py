"""The ``occupancy`` method: a point cloud in, a watertight manifold mesh out.

Stages: read and check the points, normalise into the unit cube, build the supervision
(:mod:`recon_occupancy.supervision`), fit the network (:mod:`recon_occupancy.fit`; or run the
prior, :mod:`recon_occupancy.prior`), MISE (:mod:`recon_occupancy.mise`), marching cubes and
clean-up (:mod:`recon_occupancy.extract`), Newton refinement of the vertices, and, given a
reference mesh, the scores of :mod:`recon_occupancy.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.progress import Stages
from recon.structures import Inputs, Mesh, Reconstruction

DEFAULTS: dict[str, Any] = {
    "mode": "fit",  # fit: optimise a network on this cloud; prior: the shipped PointNet-encoded prior
    "init": "none",  # fit mode: none | prior (the prior's occupancy replaces the winding number off the points)
    "mise_start": 32,  # MISE coarse grid (cells per side)
    "mise_steps": 2,  # MISE upsampling steps: final grid mise_start * 2**mise_steps
    "mise_dilate": 1,  # rings of cells refined around the active ones
    "iterations": 150,  # fit: Adam steps
    "tau": 0.5,  # fit: softness of the occupancy targets, in final-grid cells
    "lr": 0.01,  # fit: learning rate of the feature grids
    "mlp_lr": 0.2,  # fit: the decoder MLP's learning rate as a fraction of lr
    "levels": "16x8,32x8,96x4",  # fit: feature grids, resolution x channels
    "max_points": 100_000,  # larger clouds are randomly subsampled (seeded)
    "k_normals": 20,  # neighbours for PCA normals
    "k_jet": "auto",  # neighbours for the jets: auto (cross-validated) or a number; 0 turns denoising off
    "jet_passes": 1,
    "bandwidth": 1.0,  # IMLS Gaussian width in point spacings
    "refine": True,  # Newton refinement of the vertices onto the 0.5 level
    "min_component": 0.01,  # drop components with fewer faces than this fraction of the largest
    "reference": None,  # mesh to score against (Chamfer-L1, normal consistency, F-score, IoU)
    "metric_samples": 100_000,  # surface samples per mesh for the scores
    "device": None,  # cuda / cpu; default: CUDA when present
}
"""Options of the ``occupancy`` method (``-O key=value``)."""


def options_from(options: dict[str, Any]) -> dict[str, Any]:
    """DEFAULTS overridden by the given options (``None`` means default; the pipeline has refused
    unknown keys already, see :data:`recon_occupancy.OPTIONS`)."""
    opts = {k: (options.get(k) if options.get(k) is not None else v) for k, v in DEFAULTS.items()}
    if opts["mode"] not in ("fit", "prior"):
        raise UsageError(f"-O mode={opts['mode']}: use fit or prior")
    if opts["init"] not in ("none", "prior"):
        raise UsageError(f"-O init={opts['init']}: use none or prior")
    for key in ("mise_start", "mise_steps", "iterations", "max_points"):
        if not isinstance(opts[key], int) or opts[key] < (0 if key == "mise_steps" else 1):
            raise UsageError(f"-O {key}={opts[key]!r}: give a positive integer")
    return opts


def parse_levels(text: str) -> tuple[tuple[int, int], ...]:
    """``"16x8,32x8,64x8"`` -> ((16, 8), (32, 8), (64, 8)): feature-grid resolutions x channels."""
    try:
        levels = tuple(tuple(int(n) for n in part.lower().split("x")) for part in str(text).split(",") if part.strip())
    except ValueError:
        levels = ()
    if not levels or any(len(lv) != 2 or lv[0] < 2 or lv[1] < 1 for lv in levels):
        raise UsageError(f"-O levels={text!r}: give resolution x channels pairs, e.g. 16x8,32x8,64x8")
    return levels  # type: ignore[return-value]


def gather_points(inputs: Inputs) -> tuple[np.ndarray, np.ndarray | None, str]:
    """All input clouds as one (N, 3) float64 array, normals when every cloud has them, a name.

    :raises BadInputError: images, no point cloud, or unusable points.
    """
    from recon_occupancy.supervision import check_points

    source = ", ".join(inputs.paths) or "input"
    if inputs.frames:
        raise BadInputError(f"{source}: an image is not a point cloud; give a point cloud (.ply, .xyz, .npz)")
    if not inputs.point_clouds:
        what = "a mesh" if inputs.meshes else inputs.describe()
        raise BadInputError(f"{source}: {what} is not a point cloud; give a point cloud (.ply without faces, .xyz, .npz)")
    points = np.concatenate([pc.points for pc in inputs.point_clouds]).astype(np.float64)
    normals = None
    if all(pc.normals is not None for pc in inputs.point_clouds):
        normals = np.concatenate([pc.normals for pc in inputs.point_clouds]).astype(np.float64)
    check_points(points, source)
    keep = unique_points(points)
    if len(keep) < len(points):
        inputs.notes.append(f"{source}: {len(points) - len(keep)} duplicate points removed")
        points = points[keep]
        normals = None if normals is None else normals[keep]
        check_points(points, source)
    return points, normals, source


def unique_points(points: np.ndarray, tolerance: float = 1e-7) -> np.ndarray:
    """Sorted indices of the first of each group of points closer than ``tolerance`` times the
    cloud's size (duplicates make neighbourhoods degenerate: zero distances, no normal)."""
    size = float(np.ptp(points, axis=0).max()) or 1.0
    keys = np.round((points - points.min(axis=0)) / (tolerance * size)).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.sort(first)


def load_reference(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of a reference mesh file.

    :raises BadInputError: missing, unreadable or without faces.
    """
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: reference mesh not found; give an existing mesh file with --reference / -O reference=PATH")
    try:
        tm = trimesh.load(path, force="mesh")
    except Exception as exc:
        raise BadInputError(f"{path}: cannot read the reference mesh ({type(exc).__name__}); give an obj, ply, off, stl or glb") from None
    if len(getattr(tm, "faces", ())) == 0:
        raise BadInputError(f"{path}: the reference has no faces; give a triangle mesh")
    return np.asarray(tm.vertices, dtype=np.float64), np.asarray(tm.faces, dtype=np.int64)


@dataclass
class Field:
    """A fitted (or predicted) occupancy field over the normalised cube.

    :param evaluate: ``evaluate(points (N, 3)) -> logits (N,)`` for MISE.
    :param network: the torch module behind it (for the Newton refinement), or ``None``.
    """

    evaluate: Callable[[np.ndarray], np.ndarray]
    network: Any
    normalization: Any
    figures: dict[str, Any]
    device: Any


def occupancy_field(points: np.ndarray, normals: np.ndarray | None, opts: dict[str, Any], stages: Stages, seed: int = 0) -> Field:
    """Subsample and normalise the cloud, then fit the network (or run the prior) on it."""
    from recon.device import pick_device
    from recon_occupancy.fit import evaluator
    from recon_occupancy.supervision import PAD, normalize, subsample

    device = pick_device(opts["device"])
    rng = np.random.default_rng(seed)
    keep = subsample(len(points), int(opts["max_points"]), rng)
    norm = normalize(points[keep])
    unit = norm.to_unit(points[keep])
    unit_normals = normals[keep] if normals is not None else None
    cell = (1 + 2 * PAD) / (int(opts["mise_start"]) * 2 ** int(opts["mise_steps"]))
    figures: dict[str, Any] = {"input_points": int(len(points)), "used_points": int(len(keep))}
    if opts["mode"] == "prior":
        from recon_occupancy.prior import load_prior, prior_evaluator

        with stages.stage("prior"):
            prior = load_prior(device=device)
            evaluate, network = prior_evaluator(prior, unit, device=device, seed=seed)
        figures["prior_weights"] = str(prior.path)
        return Field(evaluate, network, norm, figures, device)

    from recon_occupancy.fit import FitOptions, fit_network
    from recon_occupancy.network import FitConfig
    from recon_occupancy.supervision import build_supervision

    with stages.stage("supervision"):
        sup = build_supervision(
            unit, unit_normals, k_normals=int(opts["k_normals"]), k_jet=-1 if opts["k_jet"] == "auto" else int(opts["k_jet"]),
            jet_passes=int(opts["jet_passes"]), bandwidth=float(opts["bandwidth"]), seed=seed,
        )
    figures["supervision"] = sup.figures
    if opts["init"] == "prior":
        from recon_occupancy.prior import load_prior, prior_far_field

        with stages.stage("prior"):
            prior = load_prior(device=device)
            prior_far_field(sup, prior, unit, device=device, seed=seed)
        figures["prior_weights"] = str(prior.path)
    with stages.stage("fit", total=int(opts["iterations"])) as task:
        net, fit_figures = fit_network(
            sup, cell, FitOptions(iterations=int(opts["iterations"]), tau_cells=float(opts["tau"]), lr=float(opts["lr"]), mlp_lr_factor=float(opts["mlp_lr"])),
            FitConfig(levels=parse_levels(opts["levels"])), seed=seed, device=device,
            on_step=lambda step, total, loss: task.advance(),
        )
    figures["fit"] = fit_figures
    return Field(evaluator(net, device), net, norm, figures, device)


def field_to_mesh(field: Field, opts: dict[str, Any], stages: Stages, source: str = "input") -> tuple[Mesh, dict[str, Any]]:
    """MISE, marching cubes, clean-up and refinement; returns the mesh (world frame) and figures."""
    from recon_occupancy.extract import extract_surface, manifold_report
    from recon_occupancy.fit import refine_vertices
    from recon_occupancy.mise import mise
    from recon_occupancy.supervision import PAD

    lo, hi = -0.5 - PAD, 0.5 + PAD
    resolution = int(opts["mise_start"]) * 2 ** int(opts["mise_steps"])
    levels: list[dict[str, int]] = []
    with stages.stage("mise", total=int(opts["mise_steps"]) + 1) as task:

        def on_level(level: int, evaluations: int) -> None:
            levels.append({"level": level, "resolution": int(opts["mise_start"]) * 2**level, "evaluations": evaluations})
            task.advance()

        grid = mise(field.evaluate, lo, hi, int(opts["mise_start"]), int(opts["mise_steps"]), dilate=int(opts["mise_dilate"]), on_level=on_level)
    with stages.stage("surface"):
        surface = extract_surface(grid.values, grid.origin, grid.step, float(opts["min_component"]))
    if len(surface.faces) == 0:
        raise BadInputError(f"{source}: the occupancy has no surface inside the working volume; check that the points outline a solid")
    vertices = surface.vertices
    if opts["refine"] and field.network is not None:
        with stages.stage("refine"):
            vertices = refine_vertices(field.network, vertices, 0.5 * grid.step, device=field.device)
    world = field.normalization.to_world(vertices)
    report = manifold_report(world, surface.faces)
    figures = {
        "mise": {
            "start": int(opts["mise_start"]),
            "steps": int(opts["mise_steps"]),
            "resolution": resolution,
            "evaluations": grid.evaluations,
            "dense_evaluations": (resolution + 1) ** 3,
            "levels": levels,
        },
        "surface": {**report, "repaired_loops": surface.repaired_loops, "removed_components": surface.removed_components},
    }
    return Mesh(world.astype(np.float32), surface.faces, name="occupancy"), figures


def run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    """Reconstruct a watertight mesh from the input point cloud(s)."""
    opts = options_from(options)
    seed = int(options.get("seed", 0) or 0)
    reference = load_reference(opts["reference"]) if opts["reference"] else None
    points, normals, source = gather_points(inputs)
    field = occupancy_field(points, normals, opts, stages, seed)
    mesh, mesh_figures = field_to_mesh(field, opts, stages, source)
    metadata: dict[str, Any] = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()},
        "device": str(field.device),
        "normalization": {"centre": field.normalization.centre.tolist(), "scale": field.normalization.scale},
        **mesh_figures,
        **field.figures,
    }
    if reference is not None:
        from recon_occupancy.metrics import compare_meshes

        with stages.stage("metrics"):
            metadata["metrics"] = compare_meshes(mesh.vertices, mesh.faces, *reference, samples=int(opts["metric_samples"]), seed=seed)
        metadata["metrics"]["reference"] = str(opts["reference"])
    views = [{"input": pc.source or source, "points": len(pc)} for pc in inputs.point_clouds]
    return Reconstruction(method="occupancy", meshes=[mesh], views=views, metadata=metadata)
