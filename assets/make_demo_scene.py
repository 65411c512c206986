"""Regenerate ``assets/demo_scene/``: a procedural textured object rendered from 16 known cameras.

The object is made here (no downloaded data): an icosphere with a smooth radial relief, 0.2 m
across, painted with a 3-D pattern baked into an xatlas UV atlas. Each view is rendered by
PyTorch3D (unlit) into an RGBA PNG whose alpha is the object's silhouette; ``cameras.json`` holds
the calibration in recon's scene format; ``ground_truth.npz`` the true surface. Run from the repository root:

    .venv/bin/python assets/make_demo_scene.py
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from recon.cameras import look_at
from recon.render import render
from recon.structures import Mesh
from recon.texture import texel_surface, unwrap
from recon_io.scene import write_scene_cameras

OUT = Path(__file__).resolve().parent / "demo_scene"
SIZE = 256
FOCAL = 320.0
DISTANCE = 0.55
TEXTURE = 512


def make_object() -> Mesh:
    """A lumpy, textured, 0.2 m object (metres, Y up)."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    v = np.asarray(sphere.vertices)
    relief = 1.0 + 0.18 * np.sin(3 * v[:, 0] + 1.0) * np.cos(2 * v[:, 1]) + 0.12 * np.sin(4 * v[:, 2])
    verts = v * relief[:, None] * np.array([0.1, 0.08, 0.1])
    mesh = unwrap(Mesh(verts, np.asarray(sphere.faces), name="demo_object"))
    surface = texel_surface(mesh, TEXTURE)
    p = surface.points / 0.1
    stripes = 0.5 + 0.5 * np.sin(12 * p[:, 1])
    checker = (np.floor(4 * p[:, 0]) + np.floor(4 * p[:, 2])) % 2
    color = np.stack([0.9 * stripes + 0.1, 0.3 + 0.5 * checker, 0.8 - 0.5 * stripes * checker], axis=1)
    texture = np.zeros((TEXTURE, TEXTURE, 3), dtype=np.uint8)
    texture[surface.rows, surface.cols] = (255 * color.clip(0, 1)).astype(np.uint8)
    from scipy import ndimage

    covered = np.zeros((TEXTURE, TEXTURE), bool)
    covered[surface.rows, surface.cols] = True
    _, (ri, ci) = ndimage.distance_transform_edt(~covered, return_indices=True)
    mesh.texture = texture[ri, ci]
    return mesh


def main() -> None:
    mesh = make_object()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    cameras = []
    for i in range(16):
        elevation = math.radians(25 if i % 2 == 0 else -20)
        azimuth = 2 * math.pi * i / 16
        eye = DISTANCE * np.array([math.cos(elevation) * math.sin(azimuth), math.sin(elevation), math.cos(elevation) * math.cos(azimuth)])
        cam = look_at(eye, np.zeros(3), FOCAL, SIZE, SIZE, name=f"view_{i:02d}.png")
        drawn = render(mesh, cam, device="cpu")
        rgba = np.concatenate([drawn.rgb, (drawn.mask * 255).astype(np.uint8)[..., None]], axis=2)
        Image.fromarray(rgba, "RGBA").save(OUT / cam.name, optimize=True)
        cameras.append(cam)
    write_scene_cameras(cameras, OUT / "cameras.json")
    # The true surface, for tests and benchmarks that score reconstructions of this scene.
    np.savez_compressed(OUT / "ground_truth.npz", vertices=mesh.vertices, faces=mesh.faces)
    print(f"wrote {len(cameras)} views and cameras.json to {OUT}")


if __name__ == "__main__":
    main()
