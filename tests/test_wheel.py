"""The wheel works on its own: built from the checkout, installed into a fresh venv, run outside
the checkout, it finds its shipped face template and network weights (package data).

Offline and without reinstalling torch: the fresh venv sees this venv's site-packages through a
plain path line in a ``.pth`` file. Such a line adds the folder to ``sys.path`` but runs none of
the ``.pth`` files inside it, so the editable install's finder stays off and ``recon`` resolves
to the wheel's copy (the test checks that it does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recon", "recon_io", "recon_face", "recon_pointnet", "recon_occupancy", "recon_visualhull")
FACE_PHOTO = Path("face_multiview") / "single" / "mica_carell.jpg"
CLOUD = Path("pointclouds") / "modelnet10_off" / "chair" / "chair_0001.off"

pytestmark = pytest.mark.slow


@dataclass
class Venv:
    root: Path
    python: Path
    recon: Path


def _run(args: list[str | Path], cwd: Path | None = None, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """Run with no ``RECON_*`` override and no ``PYTHONPATH``, so only the installed files count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def _check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """recon's wheel built from a copy of the checkout and installed into a fresh venv."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    # build from a copy so pip/setuptools leave no build/ or *.egg-info in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".bench-site", "build", "dist", "out", "*.egg-info", "__pycache__", ".pytest_cache", ".whl", ".gl"))
    dist = work / "dist"
    _check(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--disable-pip-version-check", "--quiet", "-w", dist, source]), "pip wheel")
    (wheel,) = dist.glob("recon-*.whl")

    root = work / "venv"
    _check(_run([sys.executable, "-m", "venv", "--without-pip", root]), "python -m venv")
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    _check(_run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
                 "--disable-pip-version-check", "--quiet", wheel]), "pip install of the wheel")
    site = Path(_check(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]), "sysconfig").strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))  # torch & co., not reinstalled
    (site / "recon_test_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    return Venv(root, python, bindir / ("recon.exe" if os.name == "nt" else "recon"))


def _inside(path: str | Path, venv: Venv) -> bool:
    return Path(path).resolve().is_relative_to(venv.root.resolve())


def test_the_wheel_ships_the_assets_and_recon_resolves_to_it(venv: Venv, tmp_path: Path) -> None:
    code = (
        "import importlib, json\n"
        f"mods = {{m: importlib.import_module(m).__file__ for m in {PACKAGES!r}}}\n"
        "from recon_face.template import template_path\n"
        "from recon_pointnet.checkpoint import default_weights_path\n"
        "from recon_occupancy.prior import default_prior_path\n"
        "print(json.dumps({'modules': mods, 'assets': [str(f()) for f in (template_path, default_weights_path, default_prior_path)]}))\n"
    )
    found = json.loads(_check(_run([venv.python, "-c", code], cwd=tmp_path), "import from the wheel"))
    for name, path in found["modules"].items():
        assert _inside(path, venv), f"{name} imported from {path}, not from the wheel in {venv.root}"
    for path in found["assets"]:
        assert _inside(path, venv) and Path(path).is_file(), f"{path}: not shipped in the wheel"


def test_reconstruct_a_face_from_the_installed_wheel(venv: Venv, shared_data: Path, tmp_path: Path) -> None:
    photo = shared_data / FACE_PHOTO
    if not photo.is_file():
        pytest.skip(f"{photo} is absent from the shared data")
    _check(_run([venv.recon, "reconstruct", photo, "-o", "out", "-q"], cwd=tmp_path), "recon reconstruct")
    out = tmp_path / "out"
    for name in ("mesh.glb", "mesh.obj", "report.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, f"{name} missing from {sorted(out.iterdir())}"
    assert json.loads((out / "report.json").read_text())["method"] == "face"


def test_classify_a_point_cloud_from_the_installed_wheel(venv: Venv, shared_data: Path, tmp_path: Path) -> None:
    cloud = shared_data / CLOUD
    if not cloud.is_file():
        pytest.skip(f"{cloud} is absent from the shared data")
    result = json.loads(_check(_run([venv.recon, "classify", cloud, "--up", "z", "--json"], cwd=tmp_path), "recon classify"))
    assert _inside(result["weights"], venv), result["weights"]  # the shipped weights, from the wheel
    assert result["label"] in result["probabilities"]
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
