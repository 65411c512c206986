"""Ground truth: a rendered clip of recon's textured head with known expressions. The avatar
re-renders its held-out frames better than the tracked, textured mesh does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from avatar_helpers import recon

from recon.testing.video_truth import ClipSettings, head_clip


@pytest.mark.slow
def test_the_avatar_beats_the_mesh_on_held_out_frames(tmp_path: Path) -> None:
    truth = head_clip(ClipSettings(frames=40, size=256, seed=2), cache=tmp_path / "clips")
    out = tmp_path / "avatar"
    done = recon("avatar", "train", str(truth.video), "-o", str(out), "--size", "48", "--iterations", "300", "--no-mesh", "--json")
    assert done.returncode == 0, done.stderr
    held = json.loads(done.stdout)["heldout"]
    assert held["frames"] == 4
    assert held["psnr_gain_db"] > 1.0 and held["face_psnr_gain_db"] > 0.0, held  # measured 4.8 and 1.3 dB
