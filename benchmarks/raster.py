"""Rasterization speed: recon.raster (vectorised NumPy) against PyTorch3D's CPU kernel, same mesh,
same camera, same process. Prints JSON; each speed is also given as a ratio to PyTorch3D.
``--device cuda`` adds PyTorch3D's CUDA kernel (what ``recon.render`` uses on a GPU): its time,
its ratio to the CPU kernel and the fraction of pixels where it picks the same face as recon.raster.

    .venv/bin/python benchmarks/raster.py [--device cuda]
"""

from __future__ import annotations

import argparse
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


def cuda_figures(mesh: Mesh, cam, cpu_s: float, faces: np.ndarray) -> dict:  # noqa: ANN001
    """PyTorch3D's CUDA rasterizer on ``mesh``: seconds (synchronised, after a warm-up), the ratio
    to the CPU kernel's ``cpu_s`` and its agreement with recon.raster's ``faces``."""

    def run() -> np.ndarray:
        out = render(mesh, cam, device="cuda", rasterizer="pytorch3d").face_index
        torch.cuda.synchronize()
        return out

    first = run()  # also the warm-up
    seconds = best_of(run, runs=5)
    return {"pytorch3d_cuda_s": round(seconds, 5), "cuda_speedup_vs_cpu": round(cpu_s / seconds, 1), "cuda_same_face_fraction": round(float((first == faces).mean()), 6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    cuda = parser.parse_args().device == "cuda"
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
                **(cuda_figures(mesh, cam, p3d, a) if cuda else {}),
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
                "machine": {"cpu_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if cuda else None},
                "view_rasterization": results,
                "uv_atlas_2048": {"faces": int(len(mesh.faces)), "recon_raster_s": round(atlas, 4)},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
