"""ModelNet40 as 1,024-point clouds (``modelnet40_1024.npz`` of the shared data; academic-use
data, never copied into the repository): reading it into recon's frame and a seeded validation part.

The npz holds Z-up clouds, centred and scaled into the unit sphere; :func:`prepare` turns them
Y-up and normalises each exactly as :func:`recon_pointnet.data.to_y_up` and
:func:`recon_pointnet.data.normalize` do for every input of ``recon classify``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VAL_FRACTION = 0.1


def prepare(points: np.ndarray) -> np.ndarray:
    """(M, N, 3) Z-up clouds -> Y-up, bounding-box centred, in the unit sphere, float32."""
    p = np.asarray(points).astype(np.float32)
    p = np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)
    p = p - (p.min(axis=1, keepdims=True) + p.max(axis=1, keepdims=True)) / 2
    r = np.linalg.norm(p, axis=2).max(axis=1)
    return (p / np.where(r > 0, r, 1)[:, None, None]).astype(np.float32)


def split_indices(labels: np.ndarray, num_classes: int, seed: int = 0, per_class: int | None = None,
                  val_fraction: float = VAL_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of the training split: a stratified, seeded
    ``val_fraction`` of each class for validation; at most ``per_class`` of the rest for training."""
    rng = np.random.default_rng(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = max(1, round(val_fraction * len(idx)))
        val_idx += list(idx[:n_val])
        train_idx += list(idx[n_val:][:per_class])
    return np.sort(np.asarray(train_idx, dtype=np.int64)), np.sort(np.asarray(val_idx, dtype=np.int64))


def load_split(npz: Path, seed: int = 0, per_class: int | None = None) -> dict:
    """Class names, the training part and the validation part (prepared clouds and labels);
    the test split is not read."""
    d = np.load(npz)
    classes = [str(c) for c in d["classes"]]
    y = d["train_labels"].astype(np.int64)
    train_idx, val_idx = split_indices(y, len(classes), seed, per_class)
    x = d["train_points"]
    return {"classes": classes, "train_x": prepare(x[train_idx]), "train_y": y[train_idx],
            "val_x": prepare(x[val_idx]), "val_y": y[val_idx]}
