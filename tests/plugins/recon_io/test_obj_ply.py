"""OBJ (+ MTL + PNG) and PLY writers, read back with trimesh; the writers reached by format name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recon.registry import Writer
from recon.structures import Mesh, PointCloud, Reconstruction
from recon_io.obj import write_obj, write_ply


def _textured_mesh() -> Mesh:
    """An icosphere with planar UVs and a 32x16 procedural texture."""
    import trimesh

    tm = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    v = np.asarray(tm.vertices, dtype=np.float32)
    uvs = np.column_stack([v[:, 0] + 0.5, v[:, 1] + 0.5]).astype(np.float32)
    yy, xx = np.mgrid[0:16, 0:32]
    texture = np.stack([xx * 8, yy * 16, ((xx // 4 + yy // 4) % 2) * 255], axis=-1).astype(np.uint8)
    return Mesh(v, np.asarray(tm.faces), uvs=uvs, texture=texture, name="head")


@pytest.fixture()
def reconstruction() -> Reconstruction:
    return Reconstruction(method="test", meshes=[_textured_mesh()])


def _colored_mesh() -> Mesh:
    import trimesh

    tm = trimesh.creation.box(extents=(1.0, 2.0, 0.5))
    v = np.asarray(tm.vertices, dtype=np.float32)
    colors = ((v - v.min(0)) / np.ptp(v, axis=0) * 255).astype(np.uint8)
    return Mesh(v, np.asarray(tm.faces), vertex_colors=colors, name="box")


def _load_mesh(path: Path):  # -> trimesh.Trimesh
    import trimesh

    return trimesh.load(path, force="mesh", process=False)


def test_obj_textured(reconstruction: Reconstruction, tmp_path: Path) -> None:
    mesh = reconstruction.mesh
    path = tmp_path / "mesh.obj"
    written = write_obj(reconstruction, path)
    names = sorted(p.name for p in written)
    assert names == ["mesh.mtl", "mesh.obj", "mesh.png"], f"wrote {names}"
    assert all(p.is_file() for p in written)
    assert "mtllib mesh.mtl" in path.read_text()
    assert "map_Kd mesh.png" in (tmp_path / "mesh.mtl").read_text()
    tm = _load_mesh(path)
    assert len(tm.vertices) == len(mesh.vertices), f"{len(tm.vertices)} vertices, expected {len(mesh.vertices)}"
    assert len(tm.faces) == len(mesh.faces), f"{len(tm.faces)} faces, expected {len(mesh.faces)}"
    np.testing.assert_allclose(tm.vertices, mesh.vertices, atol=1e-6)
    np.testing.assert_allclose(tm.visual.uv, mesh.uvs, atol=1e-6, err_msg="OBJ UVs must keep the bottom-left origin")
    image = tm.visual.material.image
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), mesh.texture)


def test_obj_vertex_colors(tmp_path: Path) -> None:
    mesh = _colored_mesh()
    path = tmp_path / "colored.obj"
    written = write_obj(Reconstruction(method="t", meshes=[mesh]), path)
    assert written == [path], f"untextured OBJ wrote {written}"
    tm = _load_mesh(path)
    assert len(tm.vertices) == len(mesh.vertices)
    got = np.asarray(tm.visual.vertex_colors)[:, :3].astype(int)
    assert np.abs(got - mesh.vertex_colors).max() <= 1, f"colours differ by {np.abs(got - mesh.vertex_colors).max()}"


def test_obj_two_meshes(reconstruction: Reconstruction, tmp_path: Path) -> None:
    recon = Reconstruction(method="t", meshes=[reconstruction.mesh, _colored_mesh()])
    path = tmp_path / "scene.obj"
    names = sorted(p.name for p in write_obj(recon, path))
    assert names == ["scene.mtl", "scene.obj", "scene.png"], f"wrote {names}"
    text = path.read_text()
    assert "o head" in text and "o box" in text, "each mesh should be its own OBJ object"
    total = sum(len(m.vertices) for m in recon.meshes)
    assert text.count("\nv ") == total, f"{text.count(chr(10) + 'v ')} v lines, expected {total}"


def test_obj_no_mesh(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no mesh"):
        write_obj(Reconstruction(method="empty"), tmp_path / "mesh.obj")


def test_ply_mesh(tmp_path: Path) -> None:
    mesh = _colored_mesh()
    path = tmp_path / "mesh.ply"
    assert write_ply(Reconstruction(method="t", meshes=[mesh]), path) == [path]
    assert b"format binary_little_endian" in path.read_bytes()[:200]
    tm = _load_mesh(path)
    np.testing.assert_allclose(tm.vertices, mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(tm.faces, mesh.faces)
    np.testing.assert_array_equal(np.asarray(tm.visual.vertex_colors)[:, :3], mesh.vertex_colors)


def test_ply_point_cloud(tmp_path: Path) -> None:
    import trimesh

    rng = np.random.default_rng(0)
    cloud = PointCloud(rng.normal(size=(50, 3)).astype(np.float32), colors=rng.integers(0, 256, (50, 3)))
    path = tmp_path / "points.ply"
    write_ply(Reconstruction(method="t", point_cloud=cloud), path)
    got = trimesh.load(path)
    assert isinstance(got, trimesh.PointCloud), f"read back a {type(got).__name__}"
    np.testing.assert_allclose(got.vertices, cloud.points, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(got.colors)[:, :3], cloud.colors)


def test_ply_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither a mesh nor a point cloud"):
        write_ply(Reconstruction(method="empty"), tmp_path / "mesh.ply")


def test_writers_by_name(reconstruction: Reconstruction, tmp_path: Path) -> None:
    """The plugin's lazy registrations reach these functions."""
    import recon_io

    writers: dict[str, Writer] = {}
    recon_io.recon_register_writers(lambda w: writers.__setitem__(w.fmt, w))
    assert sorted(writers) == ["glb", "obj", "ply"]
    for fmt, writer in writers.items():
        path = tmp_path / writer.filename
        written = writer.write(reconstruction, path)
        assert path in written and path.stat().st_size > 0, f"{fmt} wrote {written}"
