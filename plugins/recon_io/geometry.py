"""Point clouds (.xyz, .npz, face-less .ply) and meshes (.obj, .ply, .glb/.gltf, .off, .stl).

- ``.xyz``: whitespace-separated text, ``#`` comments; 3 columns (x y z) or 6 (x y z nx ny nz).
- ``.npz``: ``points`` (or the first (N, 3) array); a (B, N, 3) array gives B clouds; optional
  ``normals`` (same shape), ``colors`` (uint8, or floats in [0, 1]) and per-point ``labels`` (N,).
- ``.ply`` with no faces: a point cloud, with normals (nx ny nz) and colours (red green blue).
- Meshes load with trimesh (scenes flattened into one mesh). A mesh with UVs but no texture takes
  the image given by option ``texture``, else a sibling ``<stem>_texture.png``/``<stem>.png`` (a note
  says so).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.structures import Inputs, Mesh, PointCloud


def read_points(path: Path, options: dict[str, Any]) -> Inputs:
    """An ``.xyz`` or ``.npz`` point cloud."""
    if path.suffix.lower() == ".npz":
        clouds = _read_npz(path)
    else:
        clouds = [_read_xyz(path)]
    return Inputs(paths=[str(path)], point_clouds=clouds)


def read_mesh_or_points(path: Path, options: dict[str, Any]) -> Inputs:
    """A mesh file; a PLY without faces becomes a point cloud."""
    import trimesh

    inputs = Inputs(paths=[str(path)])
    is_ply = path.suffix.lower() == ".ply"
    try:
        # process=False keeps NaN vertices for the check below (trimesh would drop them silently);
        # numpy's overflow warnings on damaged numbers are not printed: the checks below report them
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            loaded = trimesh.load(path, force=None if is_ply else "mesh", process=False)
            if isinstance(loaded, trimesh.Scene):
                loaded = loaded.to_mesh() if loaded.geometry else None
    except Exception as exc:  # trimesh raises anything from ValueError to struct.error on bad files
        raise BadInputError(f"{path}: cannot read {path.suffix or 'mesh'} file ({_reason(exc)}); re-export it from your 3D tool") from None
    if loaded is None or not hasattr(loaded, "vertices"):
        raise BadInputError(f"{path}: the file holds no geometry; check the export")
    faces = getattr(loaded, "faces", None)
    faces = np.zeros((0, 3), np.int64) if faces is None else np.asarray(faces)
    if is_ply and len(faces) == 0:
        inputs.point_clouds.append(_ply_points(path, loaded))
        return inputs
    vertices = np.asarray(loaded.vertices)
    if len(faces) == 0:
        raise BadInputError(f"{path}: the mesh has no faces ({len(vertices)} vertices); export it with its triangles")
    _check_finite(path, vertices, "vertices")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise BadInputError(
            f"{path}: faces use vertex indices {faces.min()}..{faces.max()} but there are {len(vertices)} vertices; re-export the mesh"
        )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            loaded.process()  # merge duplicate vertices (STL triangle soups), as trimesh.load would
        mesh = Mesh.from_trimesh(loaded, name=path.stem)
    except Exception as exc:  # broken UVs, materials or textures surface here, as any exception type
        raise BadInputError(f"{path}: unusable mesh ({_reason(exc)}); re-export it from your 3D tool") from None
    if mesh.texture is not None and _is_placeholder(mesh.texture):
        mesh.texture = None  # trimesh's stand-in image for UVs without a material
    if mesh.uvs is not None and mesh.texture is None:
        mesh.texture = _sibling_texture(path, options, inputs)
    inputs.meshes.append(mesh)
    return inputs


def _read_xyz(path: Path) -> PointCloud:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            data = np.loadtxt(path, dtype=np.float64, comments="#", ndmin=2)
    except (ValueError, OSError) as exc:
        raise BadInputError(f"{path}: cannot read .xyz ({_reason(exc)}); write one point per line as 'x y z [nx ny nz]'") from None
    if data.size == 0:
        raise BadInputError(f"{path}: no points in this file; write one point per line as 'x y z [nx ny nz]'")
    if data.shape[1] not in (3, 6):
        raise BadInputError(f"{path}: {data.shape[1]} columns; .xyz needs 3 (x y z) or 6 (x y z nx ny nz)")
    _check_finite(path, data, "points")
    return PointCloud(points=data[:, :3], normals=data[:, 3:6] if data.shape[1] == 6 else None, source=str(path))


def _read_npz(path: Path) -> list[PointCloud]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # numpy and zipfile raise ValueError, OSError, EOFError, BadZipFile, zlib.error...
        raise BadInputError(f"{path}: cannot read .npz ({_reason(exc)}); save it with numpy.savez(points=...)") from None
    key = "points" if "points" in arrays else next(
        (k for k, a in arrays.items() if a.ndim in (2, 3) and a.shape[-1] == 3 and a.dtype.kind in "fiu"), None
    )
    if key is None or arrays[key].ndim not in (2, 3) or arrays[key].shape[-1] != 3:
        raise BadInputError(f"{path}: no (N, 3) point array (keys: {', '.join(arrays) or 'none'}); save one as 'points'")
    points = arrays[key].astype(np.float64)
    if points.shape[-2] == 0:
        raise BadInputError(f"{path}: '{key}' holds no points; save a non-empty (N, 3) array")
    _check_finite(path, points, key)

    def attr(name: str, shape: tuple[int, ...]) -> np.ndarray | None:
        a = arrays.get(name)
        return a if a is not None and a.shape == shape else None

    normals = attr("normals", points.shape)
    colors = attr("colors", points.shape)
    if colors is not None and colors.dtype.kind == "f":
        colors = np.clip(np.round(colors * (255.0 if colors.max(initial=0) <= 1.0 else 1.0)), 0, 255)
    labels = attr("labels", points.shape[:-1]) if points.ndim == 2 else None
    if points.ndim == 2:
        return [PointCloud(points=points, normals=normals, colors=colors, labels=labels, source=str(path))]
    clouds = []
    for i, pts in enumerate(points):
        n = None if normals is None else normals[i]
        c = None if colors is None else colors[i]
        clouds.append(PointCloud(points=pts, normals=n, colors=c, source=f"{path}[{i}]"))
    return clouds


def _ply_points(path: Path, loaded: Any) -> PointCloud:
    """A point cloud from a face-less PLY, with its normals and colours when present."""
    points = np.asarray(loaded.vertices, dtype=np.float64)
    if len(points) == 0:
        raise BadInputError(f"{path}: the PLY has no vertices; check the export")
    _check_finite(path, points, "vertices")
    vertex = loaded.metadata.get("_ply_raw", {}).get("vertex", {}).get("data", {})
    fields = tuple(vertex.dtype.names or ()) if hasattr(vertex, "dtype") else tuple(vertex)

    def stack(names: tuple[str, ...]) -> np.ndarray | None:
        if not all(n in fields for n in names):
            return None
        cols = np.stack([np.asarray(vertex[n]).reshape(-1) for n in names], axis=1)
        return cols if len(cols) == len(points) else None

    normals = stack(("nx", "ny", "nz"))
    colors = stack(("red", "green", "blue"))
    if colors is not None and colors.dtype.kind == "f":
        colors = np.clip(np.round(colors * (255.0 if colors.max(initial=0) <= 1.0 else 1.0)), 0, 255)
    return PointCloud(points=points, normals=normals, colors=colors, source=str(path))


def _sibling_texture(path: Path, options: dict[str, Any], inputs: Inputs) -> np.ndarray | None:
    """The texture for a mesh whose file names none: option ``texture`` or ``<stem>_texture.png``."""
    from recon_io.images import load_frame

    given = options.get("texture")
    candidates = [Path(given)] if given else [
        path.with_name(f"{path.stem}{suffix}{ext}") for suffix in ("_texture", "") for ext in (".png", ".jpg", ".jpeg")
    ]
    for candidate in candidates:
        if candidate.is_file():
            if not given:
                inputs.notes.append(f"{path.name}: no material texture; using {candidate.name}")
            return load_frame(candidate).image
    if given:
        raise BadInputError(f"{path}: texture {given} not found; give an existing image with -O texture=PATH")
    inputs.notes.append(f"{path.name}: has UVs but no texture image; untextured (give one with -O texture=PATH)")
    return None


def _is_placeholder(texture: np.ndarray) -> bool:
    """True for trimesh's ``empty_material`` image: at most 2x2 pixels of one colour."""
    return texture.shape[0] * texture.shape[1] <= 4 and bool((texture == texture[0, 0]).all())


def _check_finite(path: Path, values: np.ndarray, what: str) -> None:
    """Points are stored as float32: NaN, infinity and numbers beyond its range (3.4e38) are refused."""
    with np.errstate(invalid="ignore"):
        bad = int(np.count_nonzero(~(np.abs(values) <= np.finfo(np.float32).max).all(axis=-1)))
    if bad:
        raise BadInputError(f"{path}: {bad} {what} are NaN or infinite (or beyond 3.4e38); remove them and re-export")


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
