"""Built-in readers (images, folders, videos, point clouds, meshes, calibrated scenes) and
writers (GLB, OBJ+MTL+PNG, PLY). Registered through the same entry points as any plugin.

Module-level imports stay light: each reader and writer imports its libraries when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from recon import hookimpl
from recon.registry import Reader, Writer

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv")
POINT_EXTENSIONS = (".xyz", ".npz")
MESH_EXTENSIONS = (".obj", ".glb", ".gltf", ".off", ".stl")
PLY_EXTENSIONS = (".ply",)  # a mesh when it has faces, else a point cloud


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """A function that imports ``recon_io.<module>`` on first call and forwards to ``name``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        from importlib import import_module

        return getattr(import_module(f"recon_io.{module}"), name)(*args, **kwargs)

    call.__name__ = name
    return call


def _is_scene_folder(path: Path) -> bool:
    from recon_io.scene import is_scene_folder

    return is_scene_folder(path)


@hookimpl
def recon_register_readers(register: Callable[[Reader], None]) -> None:
    register(Reader("scene", (), _lazy("scene", "read_scene"), accepts=_is_scene_folder, priority=10))
    register(Reader("image-folder", (), _lazy("images", "read_folder"), accepts=Path.is_dir))
    register(Reader("image", IMAGE_EXTENSIONS, _lazy("images", "read_image")))
    register(Reader("video", VIDEO_EXTENSIONS, _lazy("video", "read_video")))
    register(Reader("points", POINT_EXTENSIONS, _lazy("geometry", "read_points")))
    register(Reader("mesh", MESH_EXTENSIONS + PLY_EXTENSIONS, _lazy("geometry", "read_mesh_or_points")))


@hookimpl
def recon_register_writers(register: Callable[[Writer], None]) -> None:
    register(Writer("glb", "mesh.glb", _lazy("glb", "write_glb")))
    register(Writer("obj", "mesh.obj", _lazy("obj", "write_obj")))
    register(Writer("ply", "mesh.ply", _lazy("obj", "write_ply")))
