"""``recon classify`` and ``recon train pointnet`` end to end, on ModelNet OFF samples and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from recon.cli import make_cli
from recon.errors import ExitCode


def run(args: list[str]) -> Result:
    return CliRunner().invoke(make_cli(), args, prog_name="recon")


@pytest.fixture(scope="module")
def modelnet(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared ModelNet OFF samples laid out ModelNet-style: class/train and class/test."""
    src = shared_data / "pointclouds"
    files = sorted(src.glob("modelnet*_off/*/*.off"))
    assert files, f"no OFF files under {src}"
    root = tmp_path_factory.mktemp("modelnet")
    by_class: dict[str, list[Path]] = {}
    for f in files:
        by_class.setdefault(f.parent.name, []).append(f)
    for name, group in by_class.items():
        for i, f in enumerate(group):
            split = "test" if i == 1 else "train"  # chair and toilet get a test file
            (root / name / split).mkdir(parents=True, exist_ok=True)
            (root / name / split / f.name).symlink_to(f)
    return root


def test_help_shows_examples() -> None:
    for args in (["classify", "--help"], ["train", "--help"], ["train", "pointnet", "--help"]):
        result = run(args)
        assert result.exit_code == 0 and "Example" in result.stdout, args


def test_classify_modelnet_off_json(shared_data: Path) -> None:
    chair = shared_data / "pointclouds" / "modelnet10_off" / "chair" / "chair_0001.off"
    result = run(["classify", str(chair), "--up", "z", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["label"] in doc["probabilities"] and doc["input"].endswith("chair_0001.off")
    assert abs(sum(doc["probabilities"].values()) - 1) < 1e-3
    assert doc["label"] == "chair"  # a four-legged chair with a back: one of the procedural classes


def test_classify_npz_batch_gives_a_list(shared_data: Path) -> None:
    result = run(["classify", str(shared_data / "pointclouds" / "modelnet_sample_2048.npz"), "--json", "--up", "z"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert isinstance(docs, list) and len(docs) == 9
    text = run(["classify", str(shared_data / "pointclouds" / "modelnet_sample_2048.npz"), "--parts"])
    assert text.exit_code == 0 and len(text.stdout.strip().splitlines()) == 9 and "parts:" in text.stdout


def test_train_tiny_run_then_classify_with_it(modelnet: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.pt"
    result = run(["train", "pointnet", str(modelnet), "-o", str(out), "--epochs", "2", "--points", "128", "--batch-size", "4", "--json", "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["classes"] == sorted(p.name for p in modelnet.iterdir())
    assert summary["train_clouds"] == 7 and summary["test_clouds"] == 2
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert out.is_file()
    off = next(modelnet.glob("stool/train/*.off"))
    cls = run(["classify", str(off), "--weights", str(out), "--up", "z", "--json"])
    assert cls.exit_code == 0, cls.output
    assert set(json.loads(cls.stdout)["probabilities"]) == set(summary["classes"])


def test_train_shows_a_progress_bar_on_stderr(modelnet: Path, tmp_path: Path) -> None:
    result = run(["train", "pointnet", str(modelnet), "-o", str(tmp_path / "w.pt"), "--epochs", "1", "--points", "64", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "train" in result.stderr and "trained on 7 clouds" in result.stdout


def test_train_fine_tunes_from_weights(modelnet: Path, tmp_path: Path) -> None:
    result = run(["train", "pointnet", str(modelnet), "-o", str(tmp_path / "ft.pt"), "--epochs", "1", "--points", "64",
                  "--batch-size", "4", "--weights", "", "--json", "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT  # an empty --weights path is no checkpoint
    from recon_pointnet.checkpoint import default_weights_path

    result = run(["train", "pointnet", str(modelnet), "-o", str(tmp_path / "ft.pt"), "--epochs", "1", "--points", "64",
                  "--batch-size", "4", "--weights", str(default_weights_path()), "--json", "-q"])
    assert result.exit_code == 0, result.output
    assert "encoder" in json.loads(result.stdout)["init"]


def test_train_bad_folders(tmp_path: Path) -> None:
    result = run(["train", "pointnet", str(tmp_path / "nope"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT and "no such folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = run(["train", "pointnet", str(tmp_path / "empty"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT and "no class folders" in result.stderr


def _ply(path: Path, points: np.ndarray) -> Path:
    lines = ["ply", "format ascii 1.0", f"element vertex {len(points)}", "property float x", "property float y", "property float z", "end_header"]
    lines += [" ".join(str(v) for v in p) for p in points]
    path.write_text("\n".join(lines) + "\n")
    return path


def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """The issue's list of bad inputs, as files."""
    from PIL import Image

    files = {
        "empty": _ply(tmp_path / "empty.ply", np.zeros((0, 3))),
        "nan": _ply(tmp_path / "nan.ply", np.array([[0, 0, 0], [1, float("nan"), 0], [0, 1, 0], [0, 0, 1]])),
        "inf": _ply(tmp_path / "inf.ply", np.array([[0, 0, 0], [1, float("inf"), 0], [0, 1, 0], [0, 0, 1]])),
        "one": _ply(tmp_path / "one.ply", np.array([[0.1, 0.2, 0.3]])),
        "identical": _ply(tmp_path / "same.ply", np.full((100, 3), 0.5)),
    }
    (tmp_path / "nofaces.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    files["nofaces"] = tmp_path / "nofaces.obj"
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(tmp_path / "photo.png")
    files["image"] = tmp_path / "photo.png"
    return files


@pytest.mark.parametrize("kind", ["empty", "nan", "inf", "one", "identical", "nofaces", "image"])
def test_classify_bad_input_exit_3(tmp_path: Path, kind: str) -> None:
    path = bad_inputs(tmp_path)[kind]
    result = run(["classify", str(path), "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recon: error: ") and "Traceback" not in result.output, lines
    assert result.stdout == ""


def test_plugins_lists_the_commands() -> None:
    rows = {row["name"]: row for row in json.loads(run(["plugins", "--json"]).stdout)}
    assert rows["recon_pointnet"]["commands"] == ["classify", "train"]
    assert rows["recon_pointnet"]["error"] is None
    assert rows["recon_occupancy"]["methods"] == ["occupancy"] and rows["recon_occupancy"]["commands"] == ["mesh"]


def test_a_plain_train_command_elsewhere_is_kept() -> None:
    import click

    from recon_pointnet.cli import register

    cli = click.Group()

    @cli.command("train")
    def other() -> None:
        """Someone else's."""

    register(cli)
    assert cli.commands["train"] is other and "train-pointnet" in cli.commands and "classify" in cli.commands
