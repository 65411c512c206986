"""GLB (and OBJ) writers checked by reading the files back: with trimesh and pygltflib, and with
real Blender (``bpy``) through its own glTF and OBJ importers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recon.cameras import look_at
from recon.structures import Animation, Camera, Mesh, Reconstruction
from recon.testing import blender
from recon_io.glb import read_glb_cameras, write_glb
from recon_io.obj import write_obj

# -- the scene under test: an animated, morphing, textured icosphere and three cameras ------------
TEX_SIZE = 64
N_FRAMES = 10
IMAGE_SIZES = [(320, 240), (200, 300), (256, 256)]  # (W, H) per camera: landscape, portrait, square


def make_mesh() -> Mesh:
    """An icosphere (162 vertices) with planar UVs, a procedural 64x64 texture and two morph
    targets, ``smile`` (lower half widens) and ``blink`` (upper cap flattens)."""
    import trimesh

    tm = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    v = np.asarray(tm.vertices, dtype=np.float32)
    uvs = np.column_stack([v[:, 0] + 0.5, v[:, 1] + 0.5]).astype(np.float32)
    yy, xx = np.mgrid[0:TEX_SIZE, 0:TEX_SIZE]
    texture = np.stack([xx * 4, yy * 4, ((xx // 8 + yy // 8) % 2) * 255], axis=-1).astype(np.uint8)
    smile = np.zeros_like(v)
    lower = v[:, 1] < 0
    smile[lower, 0] = 0.1 * np.sign(v[lower, 0])
    blink = np.zeros_like(v)
    blink[v[:, 1] > 0.3, 1] = -0.1
    return Mesh(v, np.asarray(tm.faces), uvs=uvs, texture=texture, morph_targets={"smile": smile, "blink": blink}, name="head")


def make_cameras() -> list[Camera]:
    """Three cameras with a centred principal point and fx = fy, looking at the origin."""
    eyes = [np.array([0.0, 0.2, 3.0]), np.array([2.5, 0.8, 1.5]), np.array([-1.5, -1.0, -2.5])]
    return [
        look_at(eye, np.zeros(3), 1.2 * max(w, h), w, h, name=f"cam_{i}")
        for i, (eye, (w, h)) in enumerate(zip(eyes, IMAGE_SIZES))
    ]


def make_animation() -> Animation:
    """10 frames at 24 fps: both morph weights ramp, the node slides along x."""
    s = np.linspace(0.0, 1.0, N_FRAMES, dtype=np.float32)
    weights = np.stack([s, 1.0 - s], axis=1)
    translations = np.stack([0.1 * s, np.zeros_like(s), np.zeros_like(s)], axis=1)
    return Animation(times=np.arange(N_FRAMES, dtype=np.float32) / 24.0, morph_weights=weights, translations=translations)


@pytest.fixture(scope="module")
def reconstruction() -> Reconstruction:
    return Reconstruction(method="test", meshes=[make_mesh()], cameras=make_cameras(), animation=make_animation())



@pytest.fixture(scope="module")
def glb_path(reconstruction: Reconstruction, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("glb") / "mesh.glb"
    assert write_glb(reconstruction, path) == [path]
    return path


@pytest.fixture(scope="module")
def obj_path(reconstruction: Reconstruction, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("obj") / "mesh.obj"
    write_obj(reconstruction, path)
    return path


def _texture_size(reconstruction: Reconstruction) -> tuple[int, int]:
    """(width, height) of the first mesh's texture, as PIL and Blender report sizes."""
    h, w = reconstruction.mesh.texture.shape[:2]
    return (w, h)


# -- without Blender ------------------------------------------------------------------------------
def test_glb_trimesh_round_trip(glb_path: Path, reconstruction: Reconstruction) -> None:
    import trimesh

    mesh = reconstruction.mesh
    scene = trimesh.load(glb_path, force="scene", process=False)
    (tm,) = scene.geometry.values()
    assert len(tm.vertices) == len(mesh.vertices), f"{len(tm.vertices)} vertices, expected {len(mesh.vertices)}"
    assert len(tm.faces) == len(mesh.faces), f"{len(tm.faces)} faces, expected {len(mesh.faces)}"
    np.testing.assert_allclose(tm.vertices, mesh.vertices, atol=1e-6)
    # trimesh flips glTF's top-left UVs back to bottom-left: they must come back as written
    np.testing.assert_allclose(tm.visual.uv, mesh.uvs, atol=1e-6, err_msg="UVs not flipped v -> 1 - v")
    image = tm.visual.material.baseColorTexture
    assert image.size == _texture_size(reconstruction), f"texture {image.size}, expected {_texture_size(reconstruction)}"
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), mesh.texture)


def test_glb_document(glb_path: Path, reconstruction: Reconstruction) -> None:
    """What trimesh does not read: morph targets, animation, accessor bounds."""
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(glb_path))
    (gmesh,) = gltf.meshes
    assert gmesh.extras["targetNames"] == ["smile", "blink"]
    assert gmesh.weights == [0.0, 0.0]
    prim = gmesh.primitives[0]
    pos = gltf.accessors[prim.attributes.POSITION]
    np.testing.assert_allclose([pos.min, pos.max], reconstruction.mesh.bounds(), atol=1e-6)
    assert gltf.accessors[prim.indices].componentType == 5125  # UNSIGNED_INT
    assert gltf.materials[0].doubleSided and gltf.materials[0].pbrMetallicRoughness.metallicFactor == 0.0
    n_frames = len(reconstruction.animation.times)
    (anim,) = gltf.animations
    assert sorted(c.target.path for c in anim.channels) == ["translation", "weights"]
    for sampler in anim.samplers:
        times = gltf.accessors[sampler.input]
        assert times.count == n_frames and times.min is not None and times.max is not None
        assert sampler.interpolation == "LINEAR"
    weights = next(s for s, c in zip(anim.samplers, anim.channels) if c.target.path == "weights")
    assert gltf.accessors[weights.output].count == n_frames * 2


def test_glb_vertex_colors(tmp_path: Path) -> None:
    """An untextured mesh carries COLOR_0; no cameras or animation is fine."""
    import trimesh

    box = trimesh.creation.box()
    v = np.asarray(box.vertices, dtype=np.float32)
    colors = ((v + 0.5) * 255).astype(np.uint8)
    mesh = Mesh(v, np.asarray(box.faces), vertex_colors=colors, name="box")
    path = tmp_path / "box.glb"
    write_glb(Reconstruction(method="t", meshes=[mesh]), path)
    (tm,) = trimesh.load(path, force="scene", process=False).geometry.values()
    got = np.asarray(tm.visual.vertex_colors)[:, :3].astype(int)
    assert np.abs(got - colors).max() <= 1, f"colours differ by {np.abs(got - colors).max()}:\n{got}\n{colors}"


def test_glb_cameras_round_trip(glb_path: Path, reconstruction: Reconstruction) -> None:
    cams = read_glb_cameras(glb_path)
    assert [c.name for c in cams] == [c.name for c in reconstruction.cameras]
    for got, want in zip(cams, reconstruction.cameras):
        assert (got.width, got.height) == (want.width, want.height)
        for attr in ("K", "R", "t"):
            a, b = getattr(got, attr), getattr(want, attr)
            assert np.allclose(a, b, atol=1e-5), f"{got.name}.{attr}: read\n{a}\nwrote\n{b}"


def test_glb_cameras_without_extras(glb_path: Path, reconstruction: Reconstruction, tmp_path: Path) -> None:
    """A GLB from elsewhere (no recon extras): K from yfov/aspect, for the requested height."""
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(glb_path))
    for cam in gltf.cameras:
        cam.extras = {}
    plain = tmp_path / "plain.glb"
    gltf.save_binary(str(plain))
    want = reconstruction.cameras[0]
    got = read_glb_cameras(plain, height=want.height)[0]
    assert (got.width, got.height) == (want.width, want.height)
    for attr in ("K", "R", "t"):
        assert np.allclose(getattr(got, attr), getattr(want, attr), atol=1e-5), f"{attr}: {getattr(got, attr)} vs {getattr(want, attr)}"


# -- with Blender ---------------------------------------------------------------------------------
def _load(path: Path) -> Any:
    pytest.importorskip("bpy")
    return blender.load(path)


def _mesh_object(bpy: Any) -> Any:
    meshes = blender.mesh_objects(bpy)
    assert len(meshes) == 1, f"{len(meshes)} mesh objects: {[o.name for o in meshes]}"
    return meshes[0]


@pytest.mark.blender
def test_blender_glb_mesh(glb_path: Path, reconstruction: Reconstruction) -> None:
    bpy = _load(glb_path)
    mesh = reconstruction.mesh
    obj = _mesh_object(bpy)
    me = obj.data
    assert len(me.vertices) == len(mesh.vertices), f"Blender has {len(me.vertices)} vertices, wrote {len(mesh.vertices)}"
    assert len(me.polygons) == len(mesh.faces), f"Blender has {len(me.polygons)} faces, wrote {len(mesh.faces)}"
    co = np.zeros(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), blender.gl_to_blender(mesh.vertices), atol=1e-6, err_msg="vertex order/axes")
    assert len(me.uv_layers) >= 1, "no UV layer"
    uvs, loop_verts = blender.loop_uvs(me)
    np.testing.assert_allclose(uvs, mesh.uvs[loop_verts], atol=1e-6, err_msg="Blender UVs (bottom-left origin) differ")
    sizes = blender.image_sizes(obj)
    assert sizes == [_texture_size(reconstruction)], f"image texture sizes {sizes}"


@pytest.mark.blender
def test_blender_glb_shape_keys_and_animation(glb_path: Path, reconstruction: Reconstruction) -> None:
    bpy = _load(glb_path)  # first: bpy_extras exists only once bpy is imported
    from bpy_extras.anim_utils import animdata_get_channelbag_for_assigned_slot

    obj = _mesh_object(bpy)
    mesh, anim = reconstruction.mesh, reconstruction.animation
    keys = obj.data.shape_keys
    assert keys is not None, "no shape keys"
    names = [k.name for k in keys.key_blocks]
    assert names[1:] == ["smile", "blink"], f"shape keys {names}"
    smile = np.zeros(len(mesh.vertices) * 3)
    keys.key_blocks["smile"].data.foreach_get("co", smile)
    np.testing.assert_allclose(smile.reshape(-1, 3), blender.gl_to_blender(mesh.vertices + mesh.morph_targets["smile"]), atol=1e-6)

    # Blender 5.0: layered actions; F-curves live in the channelbag of the assigned slot
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    bag = animdata_get_channelbag_for_assigned_slot(keys.animation_data)
    assert bag is not None, "shape keys have no animation"
    for m, name in enumerate(["smile", "blink"]):
        fc = bag.fcurves.find(f'key_blocks["{name}"].value')
        assert fc is not None, f"no F-curve for {name}: {[f.data_path for f in bag.fcurves]}"
        co = np.array([tuple(k.co) for k in fc.keyframe_points])
        assert len(co) == len(anim.times), f"{name}: {len(co)} keyframes, expected {len(anim.times)}"
        np.testing.assert_allclose(co[:, 0], anim.times * fps, atol=1e-3, err_msg=f"{name} keyframe frames")
        np.testing.assert_allclose(co[:, 1], anim.morph_weights[:, m], atol=1e-5, err_msg=f"{name} keyframe values")
    bag = animdata_get_channelbag_for_assigned_slot(obj.animation_data)
    assert bag is not None, "mesh object has no animation"
    fc = bag.fcurves.find("location", index=0)
    assert fc is not None and len(fc.keyframe_points) == len(anim.times), f"location x F-curve: {fc and len(fc.keyframe_points)}"
    np.testing.assert_allclose([k.co[1] for k in fc.keyframe_points], anim.translations[:, 0], atol=1e-6)


@pytest.mark.blender
def test_blender_glb_cameras_project_like_opencv(glb_path: Path, reconstruction: Reconstruction) -> None:
    bpy = _load(glb_path)
    cams = blender.camera_objects(bpy)
    assert sorted(cams) == sorted(c.name for c in reconstruction.cameras), f"camera objects {sorted(cams)}"
    points = np.concatenate([reconstruction.mesh.vertices[::20], [[0.0, 0.0, 0.0], [0.3, -0.2, 0.4]]])
    for cam in reconstruction.cameras:
        got, depth = blender.project(bpy, cams[cam.name], cam, points)
        want = cam.project(points)
        err = np.abs(got - want).max()
        assert err < 0.5, f"{cam.name}: Blender vs OpenCV pixels differ by {err:.3f} px\nBlender\n{got}\nOpenCV\n{want}"
        assert np.allclose(depth, cam.world_to_camera(points)[:, 2], atol=1e-4), f"{cam.name} depths {depth}"


@pytest.mark.blender
def test_blender_obj_import(obj_path: Path, reconstruction: Reconstruction) -> None:
    bpy = _load(obj_path)
    obj = _mesh_object(bpy)
    me = obj.data
    assert len(me.vertices) == len(reconstruction.mesh.vertices), f"{len(me.vertices)} vertices"
    assert len(me.uv_layers) >= 1, "no UV layer"
    sizes = blender.image_sizes(obj)
    assert sizes == [_texture_size(reconstruction)], f"image texture sizes {sizes}"
