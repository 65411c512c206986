"""The visual-hull method: carve, extract the surface, unwrap, bake, report."""

from __future__ import annotations

from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.progress import Stages
from recon.structures import Inputs, Mesh, Reconstruction
from recon.cameras import focus_point
from recon_visualhull.carve import carve, occupied_bounds, silhouette

DEFAULTS = {"voxels": 128, "threshold": 40.0, "texture_size": 1024, "smooth": 1.0}


def _initial_bounds(inputs: Inputs) -> np.ndarray:
    given = [f.meta.get("bounds") for f in inputs.frames]
    if all(b is not None for b in given):
        return np.asarray(given[0], dtype=np.float64)
    cameras = [f.camera for f in inputs.frames]
    center = focus_point(cameras)
    radius = 0.5 * float(np.mean([np.linalg.norm(c.center - center) for c in cameras]))
    return np.stack([center - radius, center + radius])


def surface(occupancy: np.ndarray, origin: np.ndarray, step: float, smooth: float) -> Mesh:
    """Marching cubes (:func:`recon.isosurface.marching_cubes`) at 0.5 on the smoothed occupancy
    (indexed z, y, x; cell centres at ``origin + (index + 0.5) * step``); the largest component."""
    import trimesh
    from scipy import ndimage

    from recon.isosurface import marching_cubes

    volume = np.pad(occupancy.astype(np.float64), 1)
    if smooth > 0:
        volume = ndimage.gaussian_filter(volume, smooth)
    # the padding moves every index by one; the values sit at the cells' centres
    verts, faces = marching_cubes((volume - 0.5).transpose(2, 1, 0), origin + (-1 + 0.5) * step, step)
    if len(verts) == 0:
        raise BadInputError("the carved volume is empty: no point lies inside every silhouette (check masks and cameras)")
    tm = trimesh.Trimesh(verts, faces, process=True)
    parts = tm.split(only_watertight=False)
    tm = max(parts, key=lambda p: len(p.faces)) if len(parts) else tm
    if tm.volume < 0:
        tm.invert()
    return Mesh(np.asarray(tm.vertices), np.asarray(tm.faces), name="visual_hull")


def run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    """Reconstruct a textured visual hull from calibrated frames."""
    import trimesh

    from recon.raster import rasterize_view
    from recon.render import render
    from recon.texture import bake, unwrap

    opts = {k: options.get(k) if options.get(k) is not None else v for k, v in DEFAULTS.items()}
    frames = inputs.frames
    cameras = [f.camera for f in frames]
    with stages.stage("silhouettes", total=len(frames)) as task:
        masks = []
        for frame in frames:
            masks.append(silhouette(frame, float(opts["threshold"])))
            task.advance()
    empty = [f.name for f, m in zip(frames, masks) if not m.any()]
    if empty:
        raise BadInputError(f"no foreground found in {', '.join(empty)}; give images with alpha masks or a plain background (-O threshold=...)")
    with stages.stage("carve", total=2) as task:
        bounds = _initial_bounds(inputs)
        coarse, step = carve(masks, cameras, bounds, 48)
        task.advance()
        tight = occupied_bounds(coarse, bounds, float(step[0]))
        if tight is None:
            raise BadInputError("no point lies inside every silhouette; the cameras do not look at a common object")
        occupancy, step = carve(masks, cameras, tight, int(opts["voxels"]))
        task.advance()
    with stages.stage("surface"):
        mesh = surface(occupancy, tight[0], float(step[0]), float(opts["smooth"]))
    with stages.stage("texture", total=2) as task:
        mesh = unwrap(mesh)
        task.advance()
        texture, coverage = bake(mesh, [f.image for f in frames], cameras, size=int(opts["texture_size"]))
        mesh.texture = texture
        task.advance()
    with stages.stage("report", total=len(frames)) as task:
        views, previews = [], []
        box = trimesh.creation.box(bounds=tight)
        for frame, cam, mask in zip(frames, cameras, masks):
            drawn = render(mesh, cam, device="cpu")
            # Score the silhouettes inside the working volume's projection only: a mask may also
            # hold background clutter that the volume never reached.
            region = rasterize_view(np.asarray(box.vertices), np.asarray(box.faces), cam).face_index >= 0
            inter = np.logical_and(drawn.mask, mask & region).sum()
            union = np.logical_or(drawn.mask, mask & region).sum()
            views.append({"input": frame.source, "silhouette_iou": round(float(inter / max(union, 1)), 4)})
            if len(previews) < 4:
                previews.append(np.concatenate([frame.image, drawn.rgb], axis=0))
            task.advance()
    preview = np.concatenate(_same_height(previews), axis=1)
    return Reconstruction(
        method="visual-hull",
        meshes=[mesh],
        cameras=cameras,
        views=views,
        preview=preview,
        metadata={
            "options": opts,
            "bounds": tight.tolist(),
            "voxel_size": float(step[0]),
            "texture_coverage": round(float((coverage > 0).mean()), 4),
        },
    )


def _same_height(images: list[np.ndarray]) -> list[np.ndarray]:
    h = max(i.shape[0] for i in images)
    return [np.pad(i, ((0, h - i.shape[0]), (0, 0), (0, 0))) for i in images]
