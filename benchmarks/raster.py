"""Rasterization speed: recon.raster (vectorised NumPy) against PyTorch3D's CPU kernel, same mesh,
same camera, same process. Prints JSON; each speed is also given as a ratio to PyTorch3D.

    .venv/bin/python benchmarks/raster.py
"""

from __future__ import annotations

import json
import platform
import time

import numpy as np
import torch
import trimesh

from recon.cameras import look_at
from recon.raster import rasterize, rasterize_view
from recon.render import render
from recon.structures import Mesh


def best_of(fn, runs: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    results = []
    for subdivisions, size in [(3, 512), (4, 512), (5, 512)]:
        s = trimesh.creation.icosphere(subdivisions=subdivisions)
        mesh = Mesh(np.asarray(s.vertices) * 0.1, s.faces)
        cam = look_at(np.array([0.0, 0.05, 0.45]), np.zeros(3), 1.1 * size, size, size)
        ours = best_of(lambda: rasterize_view(mesh.vertices, mesh.faces, cam))
        p3d = best_of(lambda: render(mesh, cam, device="cpu", rasterizer="pytorch3d"), runs=1)
        a = rasterize_view(mesh.vertices, mesh.faces, cam).face_index
        b = render(mesh, cam, device="cpu", rasterizer="pytorch3d").face_index
        results.append(
            {
                "faces": int(len(mesh.faces)),
                "image": f"{size}x{size}",
                "recon_raster_s": round(ours, 4),
                "pytorch3d_cpu_s": round(p3d, 4),
                "speedup_vs_pytorch3d": round(p3d / ours, 1),
                "same_face_fraction": round(float((a == b).mean()), 6),
            }
        )
    # UV-atlas rasterization, as texture baking uses it.
    s = trimesh.creation.icosphere(subdivisions=5)
    from recon.texture import unwrap

    mesh = unwrap(Mesh(np.asarray(s.vertices) * 0.1, s.faces))
    xy = np.stack([mesh.uvs[:, 0] * 2048 - 0.5, (1 - mesh.uvs[:, 1]) * 2048 - 0.5], axis=1)
    atlas = best_of(lambda: rasterize(xy, mesh.faces, 2048, 2048))
    print(
        json.dumps(
            {
                "machine": {"cpu_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__},
                "view_rasterization": results,
                "uv_atlas_2048": {"faces": int(len(mesh.faces)), "recon_raster_s": round(atlas, 4)},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
