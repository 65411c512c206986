"""The example third-party plugin, really installed (pip, offline) and found through its entry point."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recon.testing.cli import clean_env

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "recon-example-plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin pip-installed into a fresh folder (no deps, no build isolation: offline)."""
    work = tmp_path_factory.mktemp("example_plugin")
    source = work / "src"
    # build from a copy so pip/setuptools leave no build/ or *.egg-info in the checkout
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed:\n{proc.stdout}\n{proc.stderr}")
    assert (target / "recon_example" / "__init__.py").is_file()
    return target


def recon(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-c", "from recon.cli import main; main()", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )


def test_plugins_json_lists_the_example(site: Path) -> None:
    proc = recon(site, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    row = rows["example"]
    assert row["source"] == "entrypoint"
    assert row["version"] == "0.2.0"
    assert row["methods"] == ["convex-hull"]
    assert row["commands"] == ["mesh-stats"]
    assert row["hooks"] == ["recon_register_commands", "recon_register_methods"]
    assert row["error"] is None
    assert rows["recon_io"]["source"] == "builtin"


def test_help_lists_the_plugin_command(site: Path) -> None:
    proc = recon(site, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "mesh-stats" in proc.stdout
    sub = recon(site, "mesh-stats", "--help")
    assert sub.returncode == 0 and "Example" in sub.stdout


def test_convex_hull_reconstruction_and_mesh_stats(site: Path, tmp_path: Path) -> None:
    import trimesh

    rng = np.random.default_rng(1)
    points = rng.normal(size=(200, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    np.savetxt(tmp_path / "pts.xyz", points, fmt="%.6f")

    proc = recon(site, "reconstruct", "pts.xyz", "-o", "OUT", "--method", "convex-hull", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "OUT"
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "convex-hull"
    assert report["plugins"]["example"] == "0.2.0"
    assert report["mesh"] == {"vertices": 200, "faces": 396}
    mesh = trimesh.load(out / "mesh.glb", force="mesh")
    assert mesh.is_watertight
    assert len(mesh.faces) == 396
    assert mesh.volume == pytest.approx(report["metadata"]["volume"], rel=1e-3)

    # chosen without --method too: the built-in occupancy method takes point clouds as well,
    # at priority -10 so an installed plugin's method (priority 0) comes first
    auto = recon(site, "reconstruct", "pts.xyz", "-o", "AUTO", "-q", "--json", cwd=tmp_path)
    assert auto.returncode == 0, auto.stderr
    assert json.loads(auto.stdout)["method"] == "convex-hull"

    stats = recon(site, "mesh-stats", str(out / "mesh.glb"))
    assert stats.returncode == 0, stats.stderr
    match = re.search(r"(\d+) vertices, (\d+) faces, watertight=True", stats.stdout)
    assert match, stats.stdout
    assert int(match.group(1)) == len(mesh.vertices) and int(match.group(2)) == 396
