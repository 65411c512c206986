"""recon.structures.Mesh: shape/dtype validation, trimesh round trips (no stand-in textures) and
PyTorch3D conversion."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from recon.structures import Mesh
from recon.structures.mesh import _is_stand_in

V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
F = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.int32)
UV = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])


def texture(h: int = 8, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_dtypes_are_normalised() -> None:
    mesh = Mesh(V, F, uvs=UV, texture=texture(), vertex_colors=np.full((4, 4), 200), morph_targets={"a": V})
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int64
    assert mesh.uvs.dtype == np.float32 and mesh.texture.dtype == np.uint8
    assert mesh.vertex_colors.dtype == np.uint8 and mesh.vertex_colors.shape == (4, 3)  # alpha dropped
    assert mesh.morph_targets["a"].dtype == np.float32
    assert mesh.textured and not Mesh(V, F, uvs=UV).textured and not Mesh(V, F, texture=texture()).textured


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vertices": V[:, :2]}, r"Mesh.vertices must have shape \(N, 3\), got \(4, 2\)"),
        ({"faces": F.ravel()}, r"Mesh.faces must have shape \(N, 3\), got \(12,\)"),
        ({"faces": F + 1}, r"Mesh.faces index vertices outside \[0, 4\)"),
        ({"faces": F - 1}, r"Mesh.faces index vertices outside \[0, 4\)"),
        ({"uvs": UV[:3]}, r"Mesh.uvs must have shape \(4, 2\), got \(3, 2\)"),
        ({"texture": texture()[..., 0]}, r"Mesh.texture must have shape \(N, N, 3\), got \(8, 16\)"),
        ({"texture": np.zeros((8, 8, 4))}, r"Mesh.texture must have shape \(N, N, 3\), got \(8, 8, 4\)"),
        ({"vertex_colors": np.zeros((3, 3))}, r"Mesh.vertex_colors must have shape \(4, N\), got \(3, 3\)"),
        ({"morph_targets": {"smile": V[:2]}}, r"Mesh.morph_targets\['smile'\] must have shape \(4, 3\), got \(2, 3\)"),
    ],
)
def test_shape_errors_name_the_field(kwargs, message) -> None:
    args = {"vertices": V, "faces": F} | kwargs
    with pytest.raises(ValueError, match=message):
        Mesh(**args)


def test_non_numeric_vertices_are_rejected() -> None:
    with pytest.raises(ValueError):
        Mesh([["a", "b", "c"]], np.zeros((0, 3)))


def test_trimesh_round_trip_with_texture() -> None:
    mesh = Mesh(V, F, uvs=UV, texture=texture())
    tm = mesh.to_trimesh()
    assert isinstance(tm, trimesh.Trimesh) and tm.visual.kind == "texture"
    back = Mesh.from_trimesh(tm)
    assert np.array_equal(back.vertices, mesh.vertices) and np.array_equal(back.faces, mesh.faces)
    assert np.allclose(back.uvs, mesh.uvs) and np.array_equal(back.texture, mesh.texture)


@pytest.mark.parametrize("suffix", [".glb", ".obj"])
def test_file_round_trip_with_texture(tmp_path, suffix) -> None:
    mesh = Mesh(V, F, uvs=UV, texture=texture())
    path = tmp_path / f"mesh{suffix}"
    mesh.to_trimesh().export(path)
    back = Mesh.load(path)
    assert np.allclose(back.vertices, mesh.vertices) and len(back.faces) == len(mesh.faces)
    assert back.texture is not None and np.array_equal(back.texture, mesh.texture)


def test_vertex_colour_round_trip() -> None:
    colors = np.random.default_rng(1).integers(0, 256, (4, 3), dtype=np.uint8)
    back = Mesh.from_trimesh(Mesh(V, F, vertex_colors=colors).to_trimesh())
    assert np.array_equal(back.vertex_colors, colors) and back.uvs is None and back.texture is None


def test_uvs_without_image_give_no_texture_in_memory() -> None:
    """trimesh puts a 2x2 grey RGBA stand-in image on UV-only visuals; it is not a texture."""
    tm = trimesh.Trimesh(V, F, visual=trimesh.visual.TextureVisuals(uv=UV), process=False)
    assert tm.visual.material.image is not None  # the stand-in this guards against
    mesh = Mesh.from_trimesh(tm)
    assert mesh.texture is None and not mesh.textured
    assert np.allclose(mesh.uvs, UV)


@pytest.mark.parametrize("suffix", [".glb", ".obj", ".ply"])
def test_uvs_without_image_give_no_texture_after_export(tmp_path, suffix) -> None:
    """The exporters write the stand-in as a real image file; it is still not taken for a texture."""
    tm = trimesh.Trimesh(V, F, visual=trimesh.visual.TextureVisuals(uv=UV), process=False)
    path = tmp_path / f"uv_only{suffix}"
    tm.export(path)
    loaded = trimesh.load(path, force="mesh", process=False)
    assert loaded.visual.kind == "texture"
    mesh = Mesh.from_trimesh(loaded)
    assert mesh.texture is None and mesh.uvs is not None and len(mesh.uvs) == len(mesh.vertices)


def test_obj_with_vt_and_no_material(tmp_path) -> None:
    path = tmp_path / "plain.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n")
    mesh = Mesh.load(path)
    assert mesh.texture is None and np.allclose(mesh.uvs, [[0, 0], [1, 0], [0, 1]])


def test_pbr_material_without_base_colour_texture() -> None:
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[255, 0, 0, 255])
    tm = trimesh.Trimesh(V, F, visual=trimesh.visual.TextureVisuals(uv=UV, material=material), process=False)
    mesh = Mesh.from_trimesh(tm)
    assert mesh.texture is None and mesh.uvs is not None


def test_pbr_material_with_real_texture() -> None:
    image = Image.fromarray(texture(4, 4, seed=3)).convert("RGBA")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image)
    tm = trimesh.Trimesh(V, F, visual=trimesh.visual.TextureVisuals(uv=UV, material=material), process=False)
    assert np.array_equal(Mesh.from_trimesh(tm).texture, texture(4, 4, seed=3))


def test_small_textures_with_detail_are_kept() -> None:
    two = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    tm = Mesh(V, F, uvs=UV, texture=two).to_trimesh()
    assert np.array_equal(Mesh.from_trimesh(tm).texture, two)


def test_stand_in_detection() -> None:
    assert _is_stand_in(np.full((2, 2, 4), 100, np.uint8))
    assert _is_stand_in(np.full((1, 1, 3), 7, np.uint8))
    assert not _is_stand_in(np.full((3, 3, 3), 7, np.uint8))  # a flat but real texture
    stripe = np.full((2, 2, 4), 100, np.uint8)
    stripe[0, 1, 0] = 101
    assert not _is_stand_in(stripe)


def test_to_pytorch3d_textured() -> None:
    pytest.importorskip("pytorch3d")
    import torch
    from pytorch3d.renderer import TexturesUV

    tex = texture()
    meshes = Mesh(V, F, uvs=UV, texture=tex).to_pytorch3d()
    assert len(meshes) == 1
    assert meshes.verts_packed().shape == (4, 3) and meshes.faces_packed().shape == (4, 3)
    assert meshes.verts_packed().dtype == torch.float32 and meshes.faces_packed().dtype == torch.int64
    textures = meshes.textures
    assert isinstance(textures, TexturesUV)
    maps = textures.maps_padded()
    assert maps.shape == (1, 8, 16, 3)
    assert torch.allclose(maps[0], torch.as_tensor(tex).float() / 255)
    assert torch.allclose(textures.verts_uvs_padded()[0], torch.as_tensor(UV, dtype=torch.float32))
    assert torch.equal(textures.faces_uvs_padded()[0], torch.as_tensor(F, dtype=torch.int64))


@pytest.mark.parametrize("with_colors", [False, True])
def test_to_pytorch3d_untextured(with_colors) -> None:
    pytest.importorskip("pytorch3d")
    import torch
    from pytorch3d.renderer import TexturesVertex

    colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
    mesh = Mesh(V, F, uvs=UV, vertex_colors=colors if with_colors else None)  # UVs alone: no texture
    textures = mesh.to_pytorch3d().textures
    assert isinstance(textures, TexturesVertex)
    features = textures.verts_features_padded()[0]
    expected = torch.as_tensor(colors).float() / 255 if with_colors else torch.full((4, 3), 180 / 255)
    assert torch.allclose(features, expected)


def test_to_trimesh_keeps_uvs_without_a_texture() -> None:
    import trimesh

    box = trimesh.creation.box()
    uvs = np.random.default_rng(0).random((len(box.vertices), 2)).astype(np.float32)
    tm = Mesh(box.vertices, box.faces, uvs=uvs).to_trimesh()
    np.testing.assert_allclose(tm.visual.uv, uvs)
