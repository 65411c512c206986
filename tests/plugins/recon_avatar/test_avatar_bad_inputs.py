"""Bad inputs to ``recon avatar``: one line, a documented exit code, no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avatar_helpers import TINY, recon


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


def test_a_clip_too_short(wojtek_frames: Path, tmp_path: Path) -> None:
    clip = tmp_path / "short"
    clip.mkdir()
    for p in sorted(wojtek_frames.glob("*.jpg"))[:5]:
        shutil.copy(p, clip / p.name)
    done = recon("avatar", "train", str(clip), "-o", str(tmp_path / "a"), *TINY)
    assert done.returncode == 3 and "only 5 frames with a tracked face" in _one_line(done.stderr)
    assert not (tmp_path / "a").exists()  # nothing half-written


def test_a_clip_without_a_face(shared_data: Path, tmp_path: Path) -> None:
    grass = shared_data / "face_multiview" / "negatives" / "fa_grass.jpg"
    if not grass.is_file():
        pytest.skip(f"{grass} is absent")
    clip = tmp_path / "grass"
    clip.mkdir()
    for k in range(12):
        shutil.copy(grass, clip / f"frame_{k:02d}.jpg")
    done = recon("avatar", "train", str(clip), "-o", str(tmp_path / "a"), *TINY)
    assert done.returncode == 3 and "no face" in _one_line(done.stderr) and not (tmp_path / "a").exists()


@pytest.mark.parametrize("content", [b"", b"garbage" * 100], ids=["empty", "garbage"])
def test_a_corrupt_checkpoint(tiny_avatar: Path, wojtek_frames: Path, tmp_path: Path, content: bytes) -> None:
    out = tmp_path / "broken"
    shutil.copytree(tiny_avatar, out)
    (out / "avatar.pt").write_bytes(content)
    done = recon("avatar", "render", str(out), "--turntable", "-o", str(tmp_path / "t.mp4"))
    assert done.returncode == 3 and "avatar.pt: not a readable recon avatar" in _one_line(done.stderr)
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(out), *TINY)
    assert done.returncode == 3 and "--restart" in _one_line(done.stderr)
    assert not (tmp_path / "t.mp4").exists()


def test_an_output_folder_of_other_files(wojtek_frames: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(tmp_path), *TINY)
    assert done.returncode == 2 and "mine.txt" in _one_line(done.stderr) and (tmp_path / "mine.txt").read_text() == "keep"


def test_a_missing_avatar(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = recon("avatar", "render", str(tmp_path / "empty"), "--turntable", "-o", str(tmp_path / "t.mp4"))
    assert done.returncode == 3 and "no avatar here" in _one_line(done.stderr)


def test_cuda_without_a_gpu(wojtek_frames: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(tmp_path / "a"), "--device", "cuda")
    assert done.returncode == 2 and "no CUDA GPU" in _one_line(done.stderr) and not (tmp_path / "a").exists()
