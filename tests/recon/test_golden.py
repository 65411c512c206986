"""recon.golden: every comparison reports its numbers, mismatches name them (in mm for metric
meshes), and golden files are only written on purpose."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from recon.errors import BadInputError, GoldenMismatch
from recon.golden import Comparison, Tolerance, check, compare, load_golden, psnr, save_golden
from recon.structures import Mesh


def sphere(textured: bool = False) -> Mesh:
    """A 10 cm icosphere (162 vertices), optionally with spherical UVs and a random 32x32 texture."""
    tm = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    v = np.asarray(tm.vertices)
    if not textured:
        return Mesh(v, tm.faces)
    uvs = np.stack([np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi) + 0.5, np.arccos(v[:, 2] / 0.1) / np.pi], axis=1)
    texture = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return Mesh(v, tm.faces, uvs=uvs, texture=texture)


def moved(mesh: Mesh, index: int = 0, offset=(0.001, 0.0, 0.0)) -> Mesh:
    vertices = mesh.vertices.copy()
    vertices[index] += np.asarray(offset, dtype=np.float32)
    return Mesh(vertices, mesh.faces, uvs=mesh.uvs, texture=mesh.texture)


def test_identical_mesh_passes_with_numbers() -> None:
    mesh = sphere(textured=True)
    result = compare(mesh, sphere(textured=True), name="sphere")
    assert isinstance(result, Comparison) and result.ok, result.summary()
    assert result.topology_match and result.vertex_max_error == 0 and result.uv_max_error == 0
    assert result.chamfer == 0 and result.hausdorff == 0 and result.texture_psnr == float("inf")
    line = result.summary()
    assert "\n" not in line
    assert line.startswith("golden 'sphere': ok | topology same")
    for part in ("max vertex error 0 (0 mm)", "chamfer 0 (0 mm)", "hausdorff 0 (0 mm)", "max uv error 0", "texture PSNR inf dB"):
        assert part in line


def test_vertex_moved_by_1mm_fails_in_mm(tmp_path) -> None:
    path = tmp_path / "sphere.npz"
    save_golden(sphere(), path)
    with pytest.raises(GoldenMismatch) as info:
        check(moved(sphere()), path)
    message = str(info.value)
    assert "\n" not in message
    assert "golden 'sphere': MISMATCH" in message
    assert "max vertex error 0.001 (1 mm) > 1e-05 (0.01 mm)" in message
    assert "hausdorff" in message and "mm" in message
    assert GoldenMismatch.exit_code == 5


def test_vertex_error_is_a_distance() -> None:
    """1 mm along a diagonal is 1 mm, not 0.577 mm per coordinate."""
    d = 0.001 / np.sqrt(3)
    result = compare(moved(sphere(), offset=(d, d, d)), sphere())
    assert result.vertex_max_error == pytest.approx(0.001, rel=1e-3)


def test_metric_false_prints_no_mm() -> None:
    result = compare(moved(sphere()), sphere(), metric=False)
    assert not result.ok
    assert "mm" not in result.summary()
    assert "max vertex error 0.001 > 1e-05" in result.summary()


def test_changed_faces_fail_topology() -> None:
    mesh = sphere()
    faces = mesh.faces.copy()
    faces[0] = faces[0, [0, 2, 1]]  # flipped winding: same surface, other topology
    result = compare(Mesh(mesh.vertices, faces), mesh)
    assert not result.topology_match
    assert result.failures == [f"faces differ (1 of {len(faces)} faces changed)"]
    assert "topology DIFFERENT" in result.summary()
    fewer = compare(Mesh(mesh.vertices, faces[:-1]), mesh)
    assert f"faces differ ({len(faces) - 1} faces vs golden {len(faces)})" in fewer.summary()


def test_topology_false_compares_surfaces_only() -> None:
    mesh = sphere()
    order = np.random.default_rng(1).permutation(len(mesh.vertices))
    inverse = np.argsort(order)
    shuffled = Mesh(mesh.vertices[order], inverse[mesh.faces][::-1])  # same surface, renumbered
    assert not compare(shuffled, mesh).ok
    result = compare(shuffled, mesh, Tolerance(topology=False))
    assert result.ok, result.summary()
    assert not result.topology_match and result.chamfer == 0 and result.hausdorff == 0
    # ... but the surface is still checked
    remeshed = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    coarse = compare(Mesh(remeshed.vertices, remeshed.faces), mesh, Tolerance(topology=False))
    assert not coarse.ok and any(f.startswith("chamfer") for f in coarse.failures)
    assert coarse.vertex_max_error is None and "max vertex error n/a" in coarse.summary()


def test_texture_noise_fails_psnr_in_db() -> None:
    golden = sphere(textured=True)
    noise = np.random.default_rng(2).normal(0, 20, golden.texture.shape)
    noisy = np.clip(golden.texture + noise, 0, 255).astype(np.uint8)
    result = compare(Mesh(golden.vertices, golden.faces, uvs=golden.uvs, texture=noisy), golden)
    expected = psnr(noisy, golden.texture)
    assert 15 < expected < 30
    assert result.texture_psnr == pytest.approx(expected)
    assert result.failures == [f"texture PSNR {expected:.1f} dB < 40 dB"]
    assert f"texture PSNR {expected:.1f} dB" in result.summary()
    assert compare(Mesh(golden.vertices, golden.faces, uvs=golden.uvs, texture=noisy), golden, Tolerance(texture_psnr=20)).ok


def test_texture_of_another_size_fails_clearly() -> None:
    golden = sphere(textured=True)
    small = Mesh(golden.vertices, golden.faces, uvs=golden.uvs, texture=golden.texture[:16, :24])
    result = compare(small, golden)
    assert result.texture_psnr is None
    assert result.failures == ["texture size 24x16 differs from golden 32x32"]
    assert "texture PSNR n/a" in result.summary()


def test_textured_golden_vs_untextured_mesh() -> None:
    golden = sphere(textured=True)
    result = compare(sphere(), golden)
    assert "texture missing in the mesh (golden has a 32x32 texture)" in result.failures
    assert "uvs missing in the mesh" in result.failures
    reverse = compare(golden, sphere())
    assert "mesh has a 32x32 texture but the golden has none" in reverse.failures
    assert "uvs present but the golden has none" in reverse.failures
    assert compare(sphere(), golden, Tolerance(texture_psnr=None, uv_atol=None)).ok


def test_changed_uvs_fail() -> None:
    golden = sphere(textured=True)
    uvs = golden.uvs.copy()
    uvs[5] += 0.25
    result = compare(Mesh(golden.vertices, golden.faces, uvs=uvs, texture=golden.texture), golden)
    assert result.failures == ["max uv error 0.25 > 0.0001"]


def test_non_finite_vertices_never_pass() -> None:
    mesh = sphere()
    vertices = mesh.vertices.copy()
    vertices[3] = np.nan
    result = compare(Mesh(vertices, mesh.faces), mesh, Tolerance(vertex_atol=1.0, chamfer=1.0, hausdorff=1.0))
    assert not result.ok
    assert "1 vertices are not finite" in result.failures
    assert any(f.startswith("max vertex error nan") for f in result.failures)


def test_empty_meshes_compare_without_crashing() -> None:
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3)))
    assert compare(empty, empty).ok
    result = compare(empty, sphere())
    assert not result.ok and result.chamfer == float("inf")
    assert "vertex count differs (0 vs golden 162)" in result.failures


def test_missing_golden_mentions_force_regen(tmp_path) -> None:
    with pytest.raises(GoldenMismatch, match="not found.*--force-regen"):
        check(sphere(), tmp_path / "none.npz")
    assert not (tmp_path / "none.npz").exists()


def test_regen_writes_the_file(tmp_path) -> None:
    path = tmp_path / "deep" / "sphere.npz"
    result = check(sphere(textured=True), path, regen=True)
    assert path.is_file() and result.ok and result.regenerated
    assert check(sphere(textured=True), path).ok


def test_regen_leaves_a_matching_golden_alone_and_rewrites_a_changed_one(tmp_path) -> None:
    path = tmp_path / "sphere.npz"
    save_golden(sphere(), path)
    before = path.stat().st_mtime_ns
    result = check(sphere(), path, regen=True)
    assert result.ok and not result.regenerated
    assert path.stat().st_mtime_ns == before
    result = check(moved(sphere()), path, regen=True)
    assert result.ok and result.regenerated
    assert np.array_equal(load_golden(path).vertices, moved(sphere()).vertices)


def test_save_golden_round_trip_exact_path_and_reproducible(tmp_path) -> None:
    mesh = sphere(textured=True)
    a, b = tmp_path / "a.golden", tmp_path / "b.golden"
    save_golden(mesh, a)
    save_golden(mesh, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.golden", "b.golden"]  # no ".npz" added
    assert a.read_bytes() == b.read_bytes()
    back = load_golden(a)
    for key in ("vertices", "faces", "uvs", "texture"):
        assert np.array_equal(getattr(back, key), getattr(mesh, key)), key
    # UVs without a texture are kept too
    plain = Mesh(mesh.vertices, mesh.faces, uvs=mesh.uvs)
    save_golden(plain, a)
    back = load_golden(a)
    assert back.texture is None and np.array_equal(back.uvs, mesh.uvs)


def test_unreadable_golden_is_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match="not a golden mesh"):
        load_golden(bad)
    np.savez(tmp_path / "keys.npz", points=np.zeros((3, 3)))
    with pytest.raises(BadInputError, match="not a golden mesh"):
        check(sphere(), tmp_path / "keys.npz")
    # regen replaces a broken golden
    assert check(sphere(), bad, regen=True).regenerated
    assert check(sphere(), bad).ok
