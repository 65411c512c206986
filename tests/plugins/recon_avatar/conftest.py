"""A tiny avatar of a real clip, trained once per session through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from avatar_helpers import TINY, recon


@pytest.fixture(scope="session")
def wojtek_frames(shared_data: Path) -> Path:
    """40 frames (every 10th) of metrical-tracker's wojtek clip, 512x512."""
    folder = shared_data / "face_video" / "metrical_tracker" / "wojtek" / "frames_every10"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


@pytest.fixture(scope="session")
def tiny_avatar(tmp_path_factory: pytest.TempPathFactory, wojtek_frames: Path) -> Path:
    out = tmp_path_factory.mktemp("avatar") / "wojtek"
    done = recon("avatar", "train", str(wojtek_frames), "-o", str(out), *TINY)
    assert done.returncode == 0, done.stderr
    return out
