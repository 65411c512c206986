"""Scoring solved cameras against ground truth: Strecha's ``*.camera`` files, a similarity
alignment of the centres (Umeyama), rotation and centre errors. Used by the tests and by
``benchmarks/mvs.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recon.bundle import similarity
from recon.cameras import rotation_angle
from recon.structures import Camera


def strecha_cameras(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(world-to-camera rotation, centre) from each ``*.camera`` file of ``folder``, by name
    (Strecha's format: K, distortion, the camera-to-world rotation, the centre, the image size)."""
    cameras = []
    for path in sorted(folder.glob("*.camera")):
        rows = np.array([[float(x) for x in line.split()] for line in path.read_text().splitlines()[4:8]])
        cameras.append((rows[:3].T, rows[3]))
    return cameras


def camera_errors(cameras: list[Camera], truth: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, list[float]]:
    """Per camera, after aligning the centres to the truth's: the rotation error in degrees and
    the centre error relative to the size of the true camera layout (its bounding box diagonal)."""
    centres = np.array([c.center for c in cameras])
    true_centres = np.array([c for _, c in truth])
    scale, rotation, shift = similarity(centres, true_centres)
    aligned = (scale * (rotation @ centres.T)).T + shift
    size = float(np.linalg.norm(true_centres.max(0) - true_centres.min(0)))
    return {
        "rotation_deg": [rotation_angle(c.R @ rotation.T @ r.T) for c, (r, _) in zip(cameras, truth)],
        "centre_relative": [float(e) / size for e in np.linalg.norm(aligned - true_centres, axis=1)],
    }
