"""What a technical artist sees: the GLB from three photos opened in real Blender (bpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon_io.glb import read_glb_cameras

from face_helpers import load


@pytest.fixture(scope="module")
def three_photos(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("face_blender") / "out"
    reconstruct(PluginHost().load_entrypoints(), [faces_dir / "mvfnet"], out, options={"texture_size": 1024, "model": "mask"}, quiet=True)
    return out


@pytest.mark.blender
def test_three_photo_glb_in_blender(three_photos: Path, faces_dir: Path) -> None:
    """Blender imports one mesh with a UV layer and an image texture, three cameras and one
    shape key per photo; looking through each camera with that photo's shape key on, the
    landmark vertices land on the landmarks detected in the photo."""
    pytest.importorskip("bpy")
    from recon.testing import blender
    from recon_face.detect import detect

    glb = three_photos / "mesh.glb"
    bpy = blender.load(glb)
    (obj,) = blender.mesh_objects(bpy)
    me = obj.data
    assert len(me.vertices) == 478 and len(me.polygons) == 906
    assert len(me.uv_layers) == 1
    assert blender.image_sizes(obj) == [(1024, 1024)]
    cams = blender.camera_objects(bpy)
    ours = read_glb_cameras(glb)
    assert sorted(cams) == sorted(c.name for c in ours) == ["front.jpg", "left.jpg", "right.jpg"]
    keys = me.shape_keys.key_blocks
    assert [k.name for k in keys] == ["Basis", "expression_front.jpg", "expression_left.jpg", "expression_right.jpg"]

    for cam in ours:
        for k in keys[1:]:
            k.value = 1.0 if k.name == f"expression_{cam.name}" else 0.0
        depsgraph = bpy.context.evaluated_depsgraph_get()
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        world = np.array([obj.matrix_world @ v.co for v in mesh.vertices])  # Blender's Z-up world
        evaluated.to_mesh_clear()
        gl = np.stack([world[:, 0], world[:, 2], -world[:, 1]], axis=1)  # back to glTF's Y-up
        got, depth = blender.project(bpy, cams[cam.name], cam, gl)
        assert (depth > 0).all()
        # Blender's camera is the fitted camera
        assert np.abs(got - cam.project(gl)).max() < 0.05
        detected = detect(load(faces_dir / "mvfnet" / cam.name)).landmarks.points[:, :2]
        err = np.linalg.norm(got - detected, axis=1)
        assert np.median(err) < 2.0 and np.percentile(err, 90) < 2.0, (cam.name, np.median(err), np.percentile(err, 90), err.max())
