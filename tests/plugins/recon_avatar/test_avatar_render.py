"""``recon avatar render``: re-enactment by a tracked clip, a turntable, a Live Link Face CSV."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from avatar_helpers import recon


def _frames(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    return len(frames), frames[0].width, frames[0].height


@pytest.mark.parametrize(
    ("how", "frames"),
    [(["--turntable"], 72), (["--expressions", "tracking/animation.csv"], 40), (["--drive", "tracking"], 40)],
    ids=["turntable", "csv", "drive"],
)
def test_render(tiny_avatar: Path, tmp_path: Path, how: list[str], frames: int) -> None:
    args = [a if not a.startswith("tracking") else str(tiny_avatar / a) for a in how]
    out = tmp_path / "out.mp4"
    done = recon("avatar", "render", str(tiny_avatar), *args, "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["frames"] == frames and result["size"] == 24
    assert _frames(out) == (frames, 24, 24)
    assert not list(tmp_path.glob(".*tmp"))


def test_render_needs_one_source(tiny_avatar: Path, tmp_path: Path) -> None:
    done = recon("avatar", "render", str(tiny_avatar), "-o", str(tmp_path / "x.mp4"))
    assert done.returncode == 2 and "--drive" in done.stderr and "Traceback" not in done.stderr


def test_render_refuses_an_existing_video(tiny_avatar: Path, tmp_path: Path) -> None:
    (tmp_path / "x.mp4").write_bytes(b"mine")
    done = recon("avatar", "render", str(tiny_avatar), "--turntable", "-o", str(tmp_path / "x.mp4"))
    assert done.returncode == 2 and "--overwrite" in done.stderr and (tmp_path / "x.mp4").read_bytes() == b"mine"
