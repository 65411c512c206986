"""``recon avatar train`` end to end on a real clip at a tiny size: the outputs, a reproducible
run with the same seed, a training that resumes after an interruption, Blender reading the mesh."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from recon_avatar.checkpoint import FILENAME
from avatar_helpers import TINY, recon


def _field(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / FILENAME, weights_only=True)["avatar"]["field"]


def test_outputs_and_report(tiny_avatar: Path) -> None:
    report = json.loads((tiny_avatar / "report.json").read_text())
    assert set(report["outputs"]) == {"avatar.pt", "heldout.png", "mesh.glb", "report.json", "tracking"}
    assert report["frames"] == {"training": 36, "heldout": 4, "tracked": 40, "clip": 40}
    assert [f["frame"] for f in report["heldout_frames"]] == [9, 19, 29, 39]
    held = report["heldout"]
    assert 8 < held["avatar"]["psnr_db"] < 60 and 8 < held["mesh"]["psnr_db"] < 60 and 0 < held["avatar"]["ssim"] <= 1
    assert report["training"]["iterations"] == 30 and report["training"]["resumed_at"] == 0
    assert report["render_fps"] > 0
    picture = np.asarray(Image.open(tiny_avatar / "heldout.png"))
    assert picture.shape == (4 * 24 + 3 * 2, 3 * 24 + 2 * 2, 3)  # rows: held-out frames; columns: truth, avatar, mesh


def test_the_same_seed_gives_the_same_avatar(tiny_avatar: Path, wojtek_frames: Path, tmp_path: Path) -> None:
    """A second run from the same tracking with the same seed: the same field, bit for bit."""
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(tmp_path / "again"), "--tracking", str(tiny_avatar / "tracking"), "--no-mesh", *TINY)
    assert done.returncode == 0, done.stderr
    a, b = _field(tiny_avatar), _field(tmp_path / "again")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_training_resumes(tiny_avatar: Path, wojtek_frames: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C right after the checkpoint at step 20 (in-process), then the same command again:
    it goes on from step 20 and ends with the avatar an uninterrupted run made."""
    import recon_avatar.run as run
    from recon.plugins import PluginHost
    from recon_avatar.train import TrainSettings

    out = tmp_path / "resumed"
    real_save = run.save

    def save_then_interrupt(path: Path, state: dict) -> None:
        real_save(path, state)
        if state["step"] == 20:
            raise KeyboardInterrupt

    monkeypatch.setattr(run, "save", save_then_interrupt)
    settings = TrainSettings(size=24, iterations=30, resolution=24, seed=3)
    with pytest.raises(KeyboardInterrupt):
        run.train_avatar(PluginHost().load_entrypoints(), wojtek_frames, out, settings, tracking=tiny_avatar / "tracking", export=False, checkpoint_every=10)
    assert torch.load(out / FILENAME, weights_only=True)["step"] == 20 and not (out / "report.json").exists()
    monkeypatch.undo()
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(out), "--tracking", str(tiny_avatar / "tracking"), "--no-mesh", "--json", *TINY)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["training"]["resumed_at"] == 20
    a, b = _field(tiny_avatar), _field(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_other_settings_do_not_resume(tiny_avatar: Path, wojtek_frames: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(tiny_avatar, out)
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(out), "--size", "32", "--iterations", "30")
    assert done.returncode == 2 and "size=24" in done.stderr and "--restart" in done.stderr


def test_another_clip_does_not_resume(tiny_avatar: Path, shared_data: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(tiny_avatar, out)
    other = shared_data / "face_video" / "metrical_tracker" / "wojtek" / "video.mp4"
    done = recon("avatar", "train", str(other), "-o", str(out), *TINY)
    assert done.returncode == 2 and "an avatar of" in done.stderr and "--restart" in done.stderr


@pytest.mark.blender
def test_blender_opens_the_mesh_with_arkit_shape_keys(tiny_avatar: Path) -> None:
    pytest.importorskip("bpy")
    from recon.testing.blender import image_sizes, load, mesh_objects

    bpy = load(tiny_avatar / "mesh.glb")
    (obj,) = mesh_objects(bpy)
    keys = [k.name for k in obj.data.shape_keys.key_blocks]
    assert keys[0] == "Basis" and {"jawOpen", "eyeBlinkLeft", "mouthSmileRight"} <= set(keys) and len(keys) == 52
    assert image_sizes(obj) and len(obj.data.vertices) > 500
    jaw = obj.data.shape_keys.key_blocks["jawOpen"]
    moved = np.array([(a.co - b.co).length for a, b in zip(jaw.data, obj.data.shape_keys.key_blocks["Basis"].data)])
    assert moved.max() > 0.005  # the chin drops with the jaw


def test_a_stopped_training_says_where_it_resumes(tiny_avatar: Path, wojtek_frames: Path, tmp_path: Path) -> None:
    """SIGTERM during a long training (the command line, as a scheduler stops it): exit 143 and
    one line saying the folder keeps the last checkpoint, which the same command resumes."""
    import signal
    import subprocess
    import time

    from recon.testing.cli import RECON

    out = tmp_path / "stopped"
    args = [str(wojtek_frames), "-o", str(out), "--tracking", str(tiny_avatar / "tracking"), "--no-mesh", "--size", "24", "--iterations", "100000", "--checkpoint-every", "10"]
    proc = subprocess.Popen([str(RECON), "avatar", "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / FILENAME).exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    step = torch.load(out / FILENAME, weights_only=True)["step"]
    errors = [line for line in stderr.splitlines() if line.startswith("recon: error:")]
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert errors == [f"recon: error: stopped by signal 15; {out}/ keeps the training at step {step}: run the same command again to resume"]
    assert step >= 10 and not (out / "report.json").exists()
