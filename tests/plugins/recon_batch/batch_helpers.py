"""Cheap captures for the batch tests, made from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLOUD_OPTIONS = {"mode": "prior", "mise_start": 16, "mise_steps": 1, "refine": False}
"""Quick occupancy settings: the shipped prior, a 32^3 final grid, no Newton refinement."""
FACE_OPTIONS = {"texture_size": 256, "photometric": False}
"""Quick face settings: a small texture, landmarks only."""
CLOUD_ARGS = [a for k, v in CLOUD_OPTIONS.items() for a in ("-O", f"{k}={str(v).lower()}")]


def write_clouds(folder: Path, shared: Path, count: int) -> list[Path]:
    """``count`` ModelNet clouds of 2,048 points (``pointclouds/modelnet_sample_2048.npz``), one
    ``.npz`` each."""
    data = np.load(shared / "pointclouds" / "modelnet_sample_2048.npz")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"cloud{i}.npz"
        np.savez(path, points=data["points"][i % len(data["points"])])
        paths.append(path)
    return paths


def write_corrupt(path: Path, shared: Path) -> Path:
    """The first 300 bytes of a real PLY scan: a header that promises more than the file holds."""
    path.write_bytes((shared / "meshes" / "igea.ply").read_bytes()[:300])
    return path
