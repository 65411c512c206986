"""Open recon outputs in real Blender (``bpy`` from PyPI) and read back what Blender sees.

Everything here imports ``bpy`` lazily; ``bpy_extras`` and ``mathutils`` exist only after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recon.structures import Camera


def load(path: Path) -> Any:
    """Reset Blender and import ``path`` (glTF/GLB or OBJ) unless it is loaded already; returns bpy.

    The loaded path is tagged on the scene, so a reset elsewhere (which drops the tag) makes the
    next call import again.
    """
    import bpy

    scene = bpy.data.scenes[0] if bpy.data.scenes else None
    if scene is None or scene.get("recon_test_file") != str(path):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        if path.suffix in (".glb", ".gltf"):
            bpy.ops.import_scene.gltf(filepath=str(path), merge_vertices=False)
        else:
            bpy.ops.wm.obj_import(filepath=str(path))
        bpy.context.scene["recon_test_file"] = str(path)
    return bpy


def gl_to_blender(points: np.ndarray) -> np.ndarray:
    """glTF Y-up to Blender Z-up, as Blender's importer converts: (x, y, z) -> (x, -z, y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1)


def mesh_objects(bpy: Any) -> list[Any]:
    return [o for o in bpy.data.objects if o.type == "MESH"]


def camera_objects(bpy: Any) -> dict[str, Any]:
    return {o.name: o for o in bpy.data.objects if o.type == "CAMERA"}


def image_sizes(obj: Any) -> list[tuple[int, int]]:
    """Sizes of the images in the image-texture nodes of ``obj``'s materials."""
    return [
        tuple(node.image.size)
        for mat in obj.data.materials
        if mat is not None and mat.node_tree is not None
        for node in mat.node_tree.nodes
        if node.type == "TEX_IMAGE" and node.image is not None
    ]


def loop_uvs(me: Any) -> tuple[np.ndarray, np.ndarray]:
    """(L, 2) UVs of the active layer and (L,) vertex index of each loop."""
    uvs = np.zeros(len(me.loops) * 2)
    me.uv_layers.active.data.foreach_get("uv", uvs)
    verts = np.zeros(len(me.loops), dtype=np.int64)
    me.loops.foreach_get("vertex_index", verts)
    return uvs.reshape(-1, 2), verts


def project(bpy: Any, camera_object: Any, camera: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project glTF-world ``points`` through a Blender camera at ``camera``'s resolution.

    :returns: (N, 2) pixels in recon's (OpenCV) convention and (N,) depths along the view axis.
    """
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = bpy.context.scene
    render = scene.render
    render.resolution_percentage, render.pixel_aspect_x, render.pixel_aspect_y = 100, 1.0, 1.0
    render.resolution_x, render.resolution_y = camera.width, camera.height
    ndc = np.array([tuple(world_to_camera_view(scene, camera_object, Vector(p))) for p in gl_to_blender(points)])
    pixels = np.stack([ndc[:, 0] * camera.width - 0.5, (1.0 - ndc[:, 1]) * camera.height - 0.5], axis=1)
    return pixels, ndc[:, 2]
