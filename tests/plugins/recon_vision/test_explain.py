"""``recon explain``: PointNet's critical points on real ModelNet meshes, and the CLIP maps' plumbing
(a tiny random CLIP: the pictures are written, not meaningful)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recon.testing.cli import run_recon

PHOTO = Path(__file__).resolve().parents[3] / "assets" / "demo_face" / "astronaut.jpg"


def recon(*args: str) -> subprocess.CompletedProcess[str]:
    return run_recon(*args)


@pytest.fixture(scope="module")
def chair(shared_data: Path) -> Path:
    path = shared_data / "pointclouds" / "modelnet10_off" / "chair" / "chair_0001.off"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def test_critical_points_summarise_the_shape(chair: Path) -> None:
    """The points that win PointNet's max-pool are a few hundred at most, and on their own they
    are still classified as the same object (the PointNet paper's observation)."""
    import trimesh

    import recon_pointnet
    points = trimesh.sample.sample_surface(trimesh.load(chair, force="mesh"), 4096, seed=0)[0]
    result = recon_pointnet.critical_points(points, up="z")
    assert result["label"] == "chair" and result["points"].shape == (1024, 3)
    critical = result["critical"]
    assert 20 <= len(critical) <= 256 and result["channels_won"].sum() == 256  # one winner per channel of the 256-d feature
    alone = recon_pointnet.critical_points(result["points"][critical], up="z")
    assert alone["label"] == "chair"


def test_explain_writes_a_coloured_cloud_and_a_report(chair: Path, tmp_path: Path) -> None:
    import trimesh

    proc = recon("explain", str(chair), "--up", "z", "-o", str(tmp_path / "why"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "why" / "report.json").read_text())
    (entry,) = report["explanations"]
    assert entry["label"] == "chair" and 20 <= entry["critical_points"] <= 256
    cloud = trimesh.load(tmp_path / "why" / "chair_0001_critical_points.ply")
    red = (np.asarray(cloud.colors)[:, :3] == (220, 30, 30)).all(axis=1).sum()
    assert len(cloud.vertices) == 1024 and red == entry["critical_points"]
    assert sorted(report["outputs"]) == sorted(p.name for p in (tmp_path / "why").iterdir())


def test_plumbing_clip_maps_for_a_photo(tiny_clip: Path, tmp_path: Path) -> None:
    from PIL import Image

    proc = recon("explain", str(PHOTO), "--labels", "a face,a chair", "--model", str(tiny_clip), "-o", str(tmp_path / "why"))
    assert proc.returncode == 0, proc.stderr
    for kind in ("occlusion", "saliency"):
        with Image.open(tmp_path / "why" / f"astronaut_{kind}.png") as im:
            assert min(im.size) >= 384
    (entry,) = json.loads((tmp_path / "why" / "report.json").read_text())["explanations"]
    assert entry["label"] in ("a face", "a chair") and set(entry["probabilities"]) == {"a face", "a chair"}


@pytest.mark.parametrize("extra, says", [([], "needs --labels"), (["--labels", "a,b", "--label", "c"], "--label 'c'")], ids=["no-labels", "unknown-label"])
def test_photo_usage_errors(tmp_path: Path, extra: list[str], says: str) -> None:
    proc = recon("explain", str(PHOTO), "-o", str(tmp_path / "why"), *extra)
    assert proc.returncode == 2 and says in proc.stderr and not (tmp_path / "why").exists()
