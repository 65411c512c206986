"""``recon golden update|check``: write a golden on purpose, compare against it with exit codes."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner

from recon.cli import make_cli
from recon.golden import load_golden


def write_obj(path, shift: float = 0.0):
    """A 10 cm icosphere written by trimesh; vertex 0 optionally moved along x."""
    tm = trimesh.creation.icosphere(subdivisions=1, radius=0.1)
    vertices = np.asarray(tm.vertices).copy()
    vertices[0, 0] += shift
    trimesh.Trimesh(vertices, tm.faces, process=False).export(path)
    return path


def recon(*args: str):
    return CliRunner().invoke(make_cli(), list(map(str, args)))


@pytest.fixture
def golden(tmp_path):
    mesh = write_obj(tmp_path / "mesh.obj")
    path = tmp_path / "golden" / "sphere.npz"
    result = recon("golden", "update", mesh, path)
    assert result.exit_code == 0, result.output
    return path


def test_update_writes_npz(golden, tmp_path) -> None:
    assert golden.is_file()
    mesh = load_golden(golden)
    assert mesh.vertices.shape == (42, 3) and mesh.faces.shape == (80, 3)
    assert mesh.uvs is None and mesh.texture is None


def test_update_writes_exactly_the_given_path(tmp_path) -> None:
    target = tmp_path / "sphere.golden"
    result = recon("golden", "update", write_obj(tmp_path / "m.obj"), target)
    assert result.exit_code == 0 and f"wrote {target}" in result.output
    assert target.is_file() and not (tmp_path / "sphere.golden.npz").exists()


def test_check_same_mesh_is_ok(golden, tmp_path) -> None:
    result = recon("golden", "check", tmp_path / "mesh.obj", golden)
    assert result.exit_code == 0, result.output
    assert "golden 'sphere': ok" in result.stdout
    assert "chamfer 0 (0 mm)" in result.stdout


def test_check_displaced_mesh_exits_5_with_numbers(golden, tmp_path) -> None:
    moved = write_obj(tmp_path / "moved.obj", shift=0.001)
    result = recon("golden", "check", moved, golden)
    assert result.exit_code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("recon: error: golden 'sphere': MISMATCH")
    assert "max vertex error 0.001 (1 mm) > 1e-05 (0.01 mm)" in line
    assert "hausdorff 0.001 (1 mm)" in line and "chamfer" in line
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_check_tolerance_options_and_no_metric(golden, tmp_path) -> None:
    moved = write_obj(tmp_path / "moved.obj", shift=0.001)
    loose = recon("golden", "check", moved, golden, "--vertex-atol", "0.002", "--chamfer", "0.002", "--hausdorff", "0.002")
    assert loose.exit_code == 0, loose.output
    plain = recon("golden", "check", moved, golden, "--no-metric")
    assert plain.exit_code == 5 and "mm" not in plain.stderr


def test_check_any_topology(golden, tmp_path) -> None:
    tm = trimesh.creation.icosphere(subdivisions=1, radius=0.1)
    flipped = tmp_path / "flipped.obj"
    trimesh.Trimesh(tm.vertices, tm.faces[:, ::-1], process=False).export(flipped)
    strict = recon("golden", "check", flipped, golden)
    assert strict.exit_code == 5 and "faces differ (80 of 80 faces changed)" in strict.stderr
    assert recon("golden", "check", flipped, golden, "--any-topology").exit_code == 0


@pytest.mark.parametrize("content", [b"hello, not a mesh\n", b"\x00\x01\x02binary junk"])
def test_check_unreadable_mesh_exits_3(golden, tmp_path, content) -> None:
    bad = tmp_path / "bad.obj"
    bad.write_bytes(content)
    result = recon("golden", "check", bad, golden)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"recon: error: {bad}:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_check_unreadable_mesh_format_exits_3(golden, tmp_path) -> None:
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"\x00\x01garbage")
    result = recon("golden", "check", bad, golden)
    assert result.exit_code == 3 and "cannot read mesh" in result.stderr


def test_update_unreadable_mesh_exits_3(tmp_path) -> None:
    bad = tmp_path / "bad.obj"
    bad.write_text("nothing here\n")
    result = recon("golden", "update", bad, tmp_path / "g.npz")
    assert result.exit_code == 3 and not (tmp_path / "g.npz").exists()


def test_check_unreadable_golden_exits_3(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    result = recon("golden", "check", write_obj(tmp_path / "m.obj"), bad)
    assert result.exit_code == 3 and "not a golden mesh" in result.stderr
    assert "Traceback" not in result.output


def test_check_missing_files_is_usage_error(tmp_path) -> None:
    result = recon("golden", "check", tmp_path / "none.obj", tmp_path / "none.npz")
    assert result.exit_code == 2
