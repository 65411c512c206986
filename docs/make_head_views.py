"""Render a reconstructed head (a recon output folder's mesh.glb) from three sides into one PNG,
for the README: front, three-quarter and profile, lit by a head light.

    .venv/bin/python docs/make_head_views.py out/demo docs/head_three_sides.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(folder: Path, target: Path, size: int = 480) -> None:
    from scipy.spatial.transform import Rotation

    from recon.render import render_meshes
    from recon.structures import Camera, Mesh
    import trimesh

    scene = trimesh.load(folder / "mesh.glb")
    meshes = []
    for name, geometry in scene.geometry.items():
        world = scene.graph.get(scene.graph.nodes_geometry[list(scene.geometry).index(name)])[0]
        geometry = geometry.copy()
        geometry.apply_transform(world)
        meshes.append(Mesh.from_trimesh(geometry))
    points = np.concatenate([m.vertices for m in meshes])
    centre = (points.min(0) + points.max(0)) / 2
    tiles = []
    for yaw in (0.0, 40.0, 90.0):
        # a camera 0.9 m from the head's centre, turned `yaw` degrees towards the subject's left
        turn = Rotation.from_euler("y", yaw, degrees=True).as_matrix()
        eye = centre + turn @ np.array([0.0, 0.0, 0.9])
        forward = (centre - eye) / np.linalg.norm(centre - eye)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])
        f = size * 0.9 / 0.3  # a 0.3 m field at 0.9 m
        K = np.array([[f, 0, size / 2 - 0.5], [0, f, size / 2 - 0.5], [0, 0, 1]])
        camera = Camera(K=K, R=R, t=-R @ eye, width=size, height=size)
        tiles.append(render_meshes(meshes, camera, shading="phong", background=(255, 255, 255)).rgb)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
