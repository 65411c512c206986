"""Point sets for PointNet: reading clouds and meshes, a ModelNet-style folder, normalisation.

A ModelNet-style folder is ``DATA_DIR/<class>/train/*.off|ply|obj|xyz|npz`` and
``DATA_DIR/<class>/test/...``; a class folder without ``train``/``test`` sub-folders has all its
files used for training. Meshes are sampled (area-weighted, seeded); clouds are resampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from recon.errors import BadInputError

if TYPE_CHECKING:
    from recon.registry import Registry

SUFFIXES = (".off", ".ply", ".obj", ".stl", ".glb", ".xyz", ".npz")


def to_y_up(points: np.ndarray, up: str) -> np.ndarray:
    """Rotate a cloud whose up axis is ``up`` ('y' or 'z') into recon's Y-up frame."""
    if up == "y":
        return points
    if up == "z":
        return np.stack([points[:, 0], points[:, 2], -points[:, 1]], axis=1)
    raise ValueError(f"up axis must be 'y' or 'z', got {up!r}")


def normalize(points: np.ndarray) -> np.ndarray:
    """Centre on the bounding-box centre, scale into the unit sphere (float32)."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    p = points - centre
    r = float(np.linalg.norm(p, axis=1).max())
    return (p / r if r > 0 else p).astype(np.float32)


def resample(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``n`` points: a random subset, or every point plus random repeats."""
    if len(points) >= n:
        return points[rng.choice(len(points), n, replace=False)]
    extra = rng.choice(len(points), n - len(points), replace=True)
    return np.concatenate([points, points[extra]])


SAMPLING = ("random", "fps")


def farthest_point_sample(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points spread over the cloud: greedy farthest-point sampling from a random start
    (``points`` has at least ``n`` rows)."""
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = rng.integers(len(points))
    dist = np.full(len(points), np.inf)
    for i in range(1, n):
        dist = np.minimum(dist, ((points - points[chosen[i - 1]]) ** 2).sum(axis=1))
        chosen[i] = int(np.argmax(dist))
    return points[chosen]


def subsample(points: np.ndarray, n: int, method: str, rng: np.random.Generator, fps_pool: int = 50_000) -> tuple[np.ndarray, str]:
    """Exactly ``n`` points and what was done: 'all' (the cloud has ``n``), 'repeat' (fewer: every
    point plus random repeats), 'random' (a random subset) or 'farthest-point' (``method='fps'``;
    clouds over ``fps_pool`` points are first cut to a random ``fps_pool``)."""
    if method not in SAMPLING:
        raise ValueError(f"sampling must be one of {SAMPLING}, got {method!r}")
    if len(points) == n:
        return points, "all"
    if len(points) < n:
        return resample(points, n, rng), "repeat"
    if method == "random":
        return points[rng.choice(len(points), n, replace=False)], "random"
    pool = points if len(points) <= fps_pool else points[rng.choice(len(points), fps_pool, replace=False)]
    return farthest_point_sample(pool, n, rng), "farthest-point"


def check_cloud(points: np.ndarray, source: str) -> None:
    """Reject clouds PointNet cannot read: fewer than 3 points, non-finite, or no extent.

    :raises BadInputError: with one line saying what is wrong.
    """
    if len(points) < 3:
        raise BadInputError(f"{source}: {len(points)} point(s); classification needs a cloud of at least 3 points")
    if not np.isfinite(points).all():
        raise BadInputError(f"{source}: NaN or infinite coordinates; remove them and re-export")
    extent = points.max(axis=0) - points.min(axis=0)
    if float(extent.max()) <= 1e-9 * max(1.0, float(np.abs(points).max())):
        raise BadInputError(f"{source}: all {len(points)} points are identical; there is no shape to classify")


class Cloud(NamedTuple):
    """One input: its source (file name), its points (M, 3) and its kind, 'points' or 'mesh'
    (a mesh's points are ``n`` samples uniform by area)."""

    source: str
    points: np.ndarray
    kind: str = "points"


def clouds_from_inputs(inputs: Any, n: int, seed: int = 0) -> list[Cloud]:
    """A :class:`Cloud` for every cloud and mesh in ``inputs`` (meshes sampled with ``n`` points,
    uniformly by area, seeded)."""
    import trimesh

    out: list[Cloud] = []
    for pc in inputs.point_clouds:
        out.append(Cloud(pc.source or "points", pc.points.astype(np.float64)))
    for i, mesh in enumerate(inputs.meshes):
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        source = inputs.paths[min(i, len(inputs.paths) - 1)] if inputs.paths else mesh.name
        if tm.area <= 0:
            raise BadInputError(f"{source}: the mesh has zero surface area; nothing to sample")
        pts, _ = trimesh.sample.sample_surface(tm, n, seed=seed)
        out.append(Cloud(source, np.asarray(pts, dtype=np.float64), "mesh"))
    if inputs.frames:
        raise BadInputError(
            f"{', '.join(inputs.paths)}: an image is not a point cloud; give a point cloud (.ply, .xyz, .npz) or a mesh (.off, .obj, .ply)"
        )
    return out


def read_clouds(path: Path, registry: Registry, n: int, seed: int = 0) -> list[Cloud]:
    """Read one file with the registered readers into :class:`Cloud` s (meshes sampled with ``n`` points).

    :raises BadInputError: unreadable, unsupported, an image, or no points.
    """
    from recon.pipeline import read_inputs

    clouds = clouds_from_inputs(read_inputs([Path(path)], registry, {}), n, seed)
    if not clouds:
        raise BadInputError(f"{path}: holds no point cloud or mesh")
    for cloud in clouds:
        check_cloud(cloud.points, cloud.source)
    return clouds


@dataclass
class FolderData:
    """A ModelNet-style folder read into arrays of normalised, Y-up clouds."""

    classes: list[str]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    files: dict[str, list[str]] = field(default_factory=dict)


def _class_files(class_dir: Path) -> tuple[list[Path], list[Path]]:
    def files(d: Path) -> list[Path]:
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES) if d.is_dir() else []

    if (class_dir / "train").is_dir() or (class_dir / "test").is_dir():
        return files(class_dir / "train"), files(class_dir / "test")
    return files(class_dir), []


def read_folder(
    root: Path, registry: Registry, n: int = 2048, up: str = "z", seed: int = 0, progress: Any = None
) -> FolderData:
    """Read ``root/<class>/{train,test}/*`` (see module docs) into :class:`FolderData`.

    :param up: the up axis of the files (ModelNet's is Z); clouds are turned Y-up.
    :param progress: optional ``progress(done, total)`` callback.
    :raises BadInputError: no class folder with files, or an unreadable file (named).
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder; give a ModelNet-style folder (class/train/*.off, class/test/*.off)")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    listing = {d.name: _class_files(d) for d in class_dirs}
    listing = {k: v for k, v in listing.items() if v[0]}
    if not listing:
        raise BadInputError(
            f"{root}: no class folders with training files; expected {root}/<class>/train/*.off (or <class>/*.off)"
        )
    classes = sorted(listing)
    total = sum(len(a) + len(b) for a, b in listing.values())
    done = 0
    xs: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    ys: dict[str, list[int]] = {"train": [], "test": []}
    files: dict[str, list[str]] = {"train": [], "test": []}
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        for split, paths in zip(("train", "test"), listing[name]):
            for path in paths:
                pts = read_clouds(path, registry, n, seed)[0].points
                pts = resample(pts, n, rng)
                xs[split].append(normalize(to_y_up(pts, up)))
                ys[split].append(label)
                files[split].append(str(path))
                done += 1
                if progress is not None:
                    progress(done, total)
    test_x = np.stack(xs["test"]) if xs["test"] else None
    test_y = np.asarray(ys["test"], dtype=np.int64) if ys["test"] else None
    return FolderData(classes, np.stack(xs["train"]), np.asarray(ys["train"], dtype=np.int64), test_x, test_y, files)
