"""The ``occupancy`` method and ``recon mesh``: outputs, watertightness, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner, Result

from recon.cli import make_cli
from recon.errors import ExitCode
from recon.pipeline import reconstruct
from recon.plugins import PluginHost

# small settings for the default (fast) tests: 64^3 final grid, short fit
FAST = {"iterations": 60, "mise_start": 16, "levels": "8x8,16x8,32x4", "lr": 0.03, "mlp_lr": 1.0}
FAST_ARGS = [a for k, v in FAST.items() for a in ("-O", f"{k}={v}")]


def run(args: list[str]) -> Result:
    return CliRunner().invoke(make_cli(), args, prog_name="recon")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_LOAD_PLUGINS", raising=False)


def torus_mesh() -> trimesh.Trimesh:
    tm = trimesh.creation.torus(0.3, 0.12, major_sections=64, minor_sections=32)
    tm.apply_translation([1.0, 2.0, 3.0])
    tm.apply_scale(5.0)  # any scale, any position
    return tm


def write_cloud(path: Path, n: int = 4000, noise: float = 0.002, normals: bool = False, seed: int = 0) -> Path:
    tm = torus_mesh()
    pts, face = trimesh.sample.sample_surface(tm, n, seed=seed)
    diag = float(np.linalg.norm(tm.extents))
    pts = pts + np.random.default_rng(seed).normal(0, noise * diag, pts.shape)
    if path.suffix == ".xyz":
        cols = np.hstack([pts, tm.face_normals[face]]) if normals else pts
        np.savetxt(path, cols, fmt="%.7f")
    else:
        trimesh.PointCloud(pts).export(path)
    return path


@pytest.fixture(scope="module")
def torus_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("torus")
    cloud = write_cloud(base / "torus.ply")
    reference = base / "torus_truth.obj"
    torus_mesh().export(reference)
    out = base / "out"
    result = run(["mesh", str(cloud), "-o", str(out), "--reference", str(reference), "-q", *FAST_ARGS])
    assert result.exit_code == 0, result.output
    return out, reference


def test_mesh_writes_the_output_contract(torus_out: tuple[Path, Path]) -> None:
    out, _ = torus_out
    assert sorted(p.name for p in out.iterdir()) == ["mesh.glb", "mesh.obj", "mesh.ply", "report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "occupancy"
    assert {"supervision", "fit", "mise", "surface", "refine", "metrics", "total"} <= set(report["timings_s"])
    assert report["metadata"]["surface"]["watertight"] and report["metadata"]["surface"]["manifold"]
    assert report["metadata"]["mise"]["resolution"] == 64


def test_mesh_is_watertight_and_close_to_the_truth(torus_out: tuple[Path, Path]) -> None:
    out, reference = torus_out
    for name in ("mesh.ply", "mesh.glb"):
        tm = trimesh.load(out / name, force="mesh")
        assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0, name
        assert tm.euler_number == 0  # a torus: genus one
    metrics = json.loads((out / "report.json").read_text())["metadata"]["metrics"]
    assert metrics["chamfer_l1_relative"] < 0.004, metrics
    assert metrics["normal_consistency"] > 0.95 and metrics["fscore_1pct"] > 0.98 and metrics["iou"] > 0.9
    assert metrics["reference"] == str(reference)


def test_same_seed_same_mesh(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "t.xyz", n=2000)
    host = PluginHost().load_entrypoints()
    meshes = []
    for name in ("a", "b"):
        reconstruct(host, [cloud], tmp_path / name, method="occupancy", options=dict(FAST), formats=("ply",), seed=3)
        meshes.append(trimesh.load(tmp_path / name / "mesh.ply", process=False))
    np.testing.assert_array_equal(meshes[0].vertices, meshes[1].vertices)
    np.testing.assert_array_equal(meshes[0].faces, meshes[1].faces)


def test_given_normals_are_used(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "n.xyz", n=2000, normals=True)
    report = reconstruct(PluginHost().load_entrypoints(), [cloud], tmp_path / "o", method="occupancy", options=dict(FAST), formats=("ply",))
    assert report["metadata"]["supervision"]["normals"] == "given"
    assert report["metadata"]["surface"]["manifold"]


def test_large_clouds_are_subsampled(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "big.ply", n=30_000)
    options = {**FAST, "max_points": 5000}
    report = reconstruct(PluginHost().load_entrypoints(), [cloud], tmp_path / "o", method="occupancy", options=options, formats=("ply",))
    assert report["metadata"]["input_points"] == 30_000 and report["metadata"]["used_points"] == 5000


def test_reconstruct_command_takes_the_reference_option(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "r.ply", n=2000)
    reference = tmp_path / "truth.ply"
    torus_mesh().export(reference)
    result = run(["reconstruct", str(cloud), "-o", str(tmp_path / "o"), "--method", "occupancy", "-O", f"reference={reference}",
                  "--format", "ply", "-q", "--json", *FAST_ARGS])
    assert result.exit_code == 0, result.output
    assert "chamfer_l1" in json.loads(result.stdout)["metadata"]["metrics"]


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "u.ply", n=500)
    result = run(["mesh", str(cloud), "-o", str(tmp_path / "o"), "-O", "resolutoin=64", "-q"])
    assert result.exit_code == ExitCode.USAGE_ERROR and "resolutoin" in result.stderr
    assert not (tmp_path / "o").exists()


def test_missing_reference_is_bad_input(tmp_path: Path) -> None:
    cloud = write_cloud(tmp_path / "m.ply", n=500)
    result = run(["mesh", str(cloud), "-o", str(tmp_path / "o"), "--reference", str(tmp_path / "nope.obj"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT and "reference mesh not found" in result.stderr
    assert not (tmp_path / "o").exists()


def test_mesh_help_has_an_example() -> None:
    result = run(["mesh", "--help"])
    assert result.exit_code == 0 and "Example" in result.stdout and "--reference" in result.stdout


def _ply(path: Path, points: np.ndarray) -> Path:
    lines = ["ply", "format ascii 1.0", f"element vertex {len(points)}", "property float x", "property float y", "property float z", "end_header"]
    path.write_text("\n".join(lines + [" ".join(str(v) for v in p) for p in points]) + "\n")
    return path


def bad_input(tmp_path: Path, kind: str) -> Path:
    """One of the issue's bad inputs as a file."""
    from PIL import Image

    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(50, 3))
    if kind == "empty":
        return _ply(tmp_path / "empty.ply", np.zeros((0, 3)))
    if kind in ("nan", "inf"):
        cloud[7, 1] = float(kind)
        return _ply(tmp_path / f"{kind}.ply", cloud)
    if kind == "one":
        return _ply(tmp_path / "one.ply", cloud[:1])
    if kind == "identical":
        return _ply(tmp_path / "same.ply", np.full((100, 3), 0.25))
    if kind == "nofaces":
        (tmp_path / "nofaces.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n")
        return tmp_path / "nofaces.obj"
    if kind == "image":
        Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(tmp_path / "photo.png")
        return tmp_path / "photo.png"
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind, words",
    [
        ("empty", "no geometry"),
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("one", "only 1 point"),
        ("identical", "identical"),
        ("nofaces", "no faces"),
        ("image", "not a point cloud"),
    ],
)
def test_bad_input_exit_3_and_no_output(tmp_path: Path, kind: str, words: str) -> None:
    path = bad_input(tmp_path, kind)
    out = tmp_path / "out"
    result = run(["mesh", str(path), "-o", str(out), *FAST_ARGS])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and line.startswith("recon:")]
    assert len(lines) == 1 and lines[0].startswith("recon: error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.output and not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
