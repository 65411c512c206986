"""Built-in readers (images, folders, videos, point clouds, meshes, calibrated scenes) and
writers (GLB, OBJ+MTL+PNG, PLY). Registered through the same entry points as any plugin.

Module-level imports stay light: each reader and writer imports its libraries when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from recon import hookimpl
from recon.registry import Reader, Writer, lazy

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv")
POINT_EXTENSIONS = (".xyz", ".npz")
MESH_EXTENSIONS = (".obj", ".glb", ".gltf", ".off", ".stl")
PLY_EXTENSIONS = (".ply",)  # a mesh when it has faces, else a point cloud


def _is_scene_folder(path: Path) -> bool:
    from recon_io.scene import is_scene_folder

    return is_scene_folder(path)


@hookimpl
def recon_register_readers(register: Callable[[Reader], None]) -> None:
    register(Reader("scene", (), lazy("recon_io.scene:read_scene"), accepts=_is_scene_folder, priority=10))
    register(Reader("image-folder", (), lazy("recon_io.images:read_folder"), accepts=Path.is_dir))
    register(Reader("image", IMAGE_EXTENSIONS, lazy("recon_io.images:read_image")))
    register(Reader("video", VIDEO_EXTENSIONS, lazy("recon_io.video:read_video"), options=("fps", "max_frames")))
    register(Reader("points", POINT_EXTENSIONS, lazy("recon_io.geometry:read_points")))
    register(Reader("mesh", MESH_EXTENSIONS + PLY_EXTENSIONS, lazy("recon_io.geometry:read_mesh_or_points"), options=("texture",)))


@hookimpl
def recon_register_writers(register: Callable[[Writer], None]) -> None:
    register(Writer("glb", "mesh.glb", lazy("recon_io.glb:write_glb")))
    register(Writer("obj", "mesh.obj", lazy("recon_io.obj:write_obj")))
    register(Writer("ply", "mesh.ply", lazy("recon_io.obj:write_ply")))
