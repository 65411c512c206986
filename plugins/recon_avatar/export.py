"""``AVATAR/mesh.glb``: a mesh extracted from the field for use outside recon.

The field's density under the neutral expression is sampled on a grid over the canonical head's
shell (the field only learned there: grid points farther out are empty, points deeper inside
than the samples reached are solid), its iso-surface taken with marching cubes
(:func:`recon.isosurface.marching_cubes`), the largest piece kept and decimated (quadric, through
trimesh and fast-simplification), UVs laid out with xatlas
(:func:`recon.texture.unwrap`) and every texel coloured by rendering the field straight onto the
surface there. The head's 51 ARKit shapes carry over as shape keys: each vertex moves as the
tracked head's nearest vertex does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recon.structures import Mesh
from recon_avatar.avatar import Avatar
from recon_avatar.field import render_rays
from recon_avatar.shell import INNER_M, THICKNESS_M

ISO_OPACITY_PER_MM = 0.5  # the surface: where the field is this opaque per millimetre
SURFACE_SAMPLES = 200_000
MAX_FACES = 8_000  # the extracted mesh is decimated to this (51 dense shape keys: ~0.6 kB a vertex in the GLB)


def _signed_distance(avatar: Avatar, points: np.ndarray) -> np.ndarray:
    """Approximate signed distance (metres, outside > 0) of ``points`` to the neutral head's
    skin: the nearest of dense surface samples, signed by its normal."""
    import trimesh
    from scipy.spatial import cKDTree

    head = avatar.head
    skin = trimesh.Trimesh(head.vertices, head.skin_faces, process=False)
    samples, face = trimesh.sample.sample_surface(skin, SURFACE_SAMPLES, seed=0)
    normals = skin.face_normals[face]
    dist, idx = cKDTree(samples).query(points, workers=-1)
    sign = np.sign(np.einsum("nd,nd->n", points - samples[idx], normals[idx]))
    return dist * np.where(sign == 0, 1.0, sign)


@torch.no_grad()
def density_grid(avatar: Avatar, cells: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Logits of "denser than the iso-level" on a grid over the canonical box (longest side
    ``cells``), its origin and spacing."""
    field = avatar.field
    low, high = field.low.cpu().numpy().astype(np.float64), field.high.cpu().numpy().astype(np.float64)
    step = float((high - low).max() / cells)
    axes = [np.arange(low[i], high[i] + step / 2, step) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    sdf = _signed_distance(avatar, grid)
    sigma = np.zeros(len(grid), np.float32)
    code = field.code(torch.zeros((1, field.settings.weights), device=avatar.device))
    live = np.flatnonzero((sdf <= THICKNESS_M) & (sdf >= -INNER_M))
    for lo in range(0, len(live), 65536):
        idx = live[lo : lo + 65536]
        p = torch.as_tensor(grid[idx], dtype=torch.float32, device=avatar.device)
        s, _ = field(p, code.expand(len(p), -1), torch.zeros_like(p))
        sigma[idx] = s.cpu().numpy()
    iso = ISO_OPACITY_PER_MM * 1000.0  # per metre
    logits = np.log(np.maximum(sigma, 1e-6) / iso)
    logits[sdf < -INNER_M] = 10.0  # deeper than any sample went: solid
    logits[sdf > THICKNESS_M] = -10.0
    return logits.reshape(*(len(a) for a in axes)), low, step


@torch.no_grad()
def surface_colours(avatar: Avatar, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) uint8: the field rendered along each surface point's inward normal (neutral
    expression), as a camera facing the surface there sees it."""
    out = np.zeros((len(points), 3), np.float32)
    field = avatar.field
    for lo in range(0, len(points), 32768):
        p = torch.as_tensor(points[lo : lo + 32768], dtype=torch.float32, device=avatar.device)
        n = torch.as_tensor(normals[lo : lo + 32768], dtype=torch.float32, device=avatar.device)
        zero = torch.zeros_like(p)
        rays = {
            "origin": p + THICKNESS_M / 2 * n, "direction": -n,
            "near": torch.zeros(len(p), device=p.device), "far": torch.full((len(p),), THICKNESS_M, device=p.device),
            "core": torch.zeros(len(p), device=p.device), "disp_near": zero, "disp_core": zero,
        }
        rgb, acc = render_rays(field, rays, torch.zeros((len(p), field.settings.weights), device=p.device), avatar.samples)
        out[lo : lo + 32768] = (rgb / acc.clamp(min=1e-3)[:, None]).clamp(0, 1).cpu().numpy()
    return (out * 255 + 0.5).astype(np.uint8)


def extract_mesh(avatar: Avatar, cells: int = 96, texture_size: int = 1024) -> tuple[Mesh, dict[str, Any]]:
    """The avatar's canonical mesh with UVs, a baked texture and the 51 ARKit shape keys."""
    import trimesh
    from scipy.spatial import cKDTree

    from recon.isosurface import marching_cubes
    from recon.texture import texel_surface, unwrap

    logits, origin, step = density_grid(avatar, cells)
    v, f = marching_cubes(logits, origin, step)
    if not len(f):
        from recon.errors import BadInputError

        raise BadInputError("the avatar's field holds no surface to extract; train it longer")
    pieces = trimesh.Trimesh(v, f, process=True).split(only_watertight=False)
    largest = max(pieces, key=lambda m: len(m.faces))
    if len(largest.faces) > MAX_FACES:
        largest = largest.simplify_quadric_decimation(face_count=MAX_FACES)
    mesh = unwrap(Mesh(np.asarray(largest.vertices), np.asarray(largest.faces), name="avatar"))
    surface = texel_surface(mesh, texture_size)
    texture = np.zeros((texture_size, texture_size, 3), np.float32)
    weight = np.zeros((texture_size, texture_size), np.float32)
    texture[surface.rows, surface.cols] = surface_colours(avatar, surface.points, surface.normals)
    weight[surface.rows, surface.cols] = 1.0
    from recon.texture import fill_push_pull

    image = np.clip(fill_push_pull(texture, weight) + 0.5, 0, 255).astype(np.uint8)
    head = avatar.head
    _, nearest = cKDTree(head.vertices).query(mesh.vertices)
    morphs = {name: head.expression[i][nearest] for i, name in enumerate(avatar.weight_names)}
    out = Mesh(mesh.vertices, mesh.faces, uvs=mesh.uvs, texture=image, morph_targets=morphs, name="avatar")
    figures = {"grid_cells": cells, "vertices": len(out.vertices), "faces": len(out.faces), "pieces_dropped": len(pieces) - 1, "texture_size": texture_size}
    return out, figures
