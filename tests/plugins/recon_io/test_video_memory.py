"""The video reader's memory budget: with neither fps nor max_frames, a long clip is sampled evenly
over its whole length into at most RECON_MAX_VIDEO_BYTES of decoded frames."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest

import recon_io.video as video
from recon.errors import UsageError
from recon_io.video import BUDGET_ENV, read_video, video_budget

W, H, N = 32, 24, 400
FRAME_BYTES = W * H * 3


def write_long_video(path: Path, n: int = N, codec: str = "mpeg4") -> Path:
    """``n`` frames of W x H; frame i has grey level i % 256 (to check the order)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            image = np.full((H, W, 3), i % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_video(tmp_path_factory.mktemp("long") / "long.mp4")


def test_budget_samples_the_whole_clip_evenly(long_video: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(BUDGET_ENV, str(50 * FRAME_BYTES))
    inputs = read_video(long_video, {})
    indices = [f.index for f in inputs.frames]
    assert indices == list(range(0, N, 8))  # 400 frames announced, 50 fit: one in 8, from the first to the last
    assert sum(f.image.nbytes for f in inputs.frames) <= 50 * FRAME_BYTES
    np.testing.assert_allclose([f.timestamp for f in inputs.frames], np.array(indices) / 25, atol=1e-3)
    means = [f.image.mean() for f in inputs.frames[:20]]
    assert np.all(np.abs(np.array(means) - np.array(indices[:20]) % 256) < 8)  # the frames are the ones indexed
    assert inputs.notes == [f"long.mp4: kept 50 of {N} frames (one in 8, evenly spaced) to hold at most 112 KiB of decoded "
                            f"frames; choose frames with --max-frames or --fps, or raise {BUDGET_ENV}"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"recon: warning: {long_video}: kept 50 of {N} frames")


class LiveFrames:
    """Counts the decoded images alive at once (weak references): the peak of frames held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.live = self.peak = 0
        real = video._rgb

        def tracked(vf: object) -> np.ndarray:
            image = real(vf)
            self.live += 1
            self.peak = max(self.peak, self.live)
            weakref.finalize(image, self._release)
            return image

        monkeypatch.setattr(video, "_rgb", tracked)

    def _release(self) -> None:
        self.live -= 1


def test_peak_memory_stays_within_the_budget(long_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoded frames alive at any moment never exceed the budget (and do without it)."""
    monkeypatch.setenv(BUDGET_ENV, str(1 << 30))
    counter = LiveFrames(monkeypatch)
    inputs = read_video(long_video, {})
    assert counter.peak == len(inputs.frames) == N
    del inputs
    monkeypatch.setenv(BUDGET_ENV, str(20 * FRAME_BYTES))
    counter = LiveFrames(monkeypatch)
    inputs = read_video(long_video, {})
    assert counter.peak == len(inputs.frames) == 20


@pytest.mark.parametrize("announced", [None, 100])
def test_clip_longer_than_announced_is_thinned_while_decoding(
    long_video: Path, monkeypatch: pytest.MonkeyPatch, announced: int | None
) -> None:
    """Without a frame count or duration (or with a wrong one), every other kept frame is dropped
    whenever the budget fills: never more than the budget, still spread over the whole clip."""
    monkeypatch.setenv(BUDGET_ENV, str(50 * FRAME_BYTES))
    monkeypatch.setattr(video, "_frame_count", lambda *args: announced)
    counter = LiveFrames(monkeypatch)
    inputs = read_video(long_video, {})
    indices = [f.index for f in inputs.frames]
    stride = indices[1]
    assert counter.peak <= 50
    assert 25 <= len(indices) <= 50 and indices == list(range(0, N, stride))
    assert indices[-1] >= N - stride


def test_options_are_not_capped(long_video: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """--max-frames or --fps choose the frames: the budget does not apply."""
    monkeypatch.setenv(BUDGET_ENV, str(10 * FRAME_BYTES))
    assert len(read_video(long_video, {"max_frames": 60}).frames) == 60
    assert len(read_video(long_video, {"fps": 5}).frames) == N // 5
    assert capsys.readouterr().err == ""


def test_short_clip_within_budget_keeps_every_frame(long_video: Path, capsys: pytest.CaptureFixture) -> None:
    inputs = read_video(long_video, {})  # 400 small frames: far below the default 1 GiB
    assert len(inputs.frames) == N and inputs.notes == [] and capsys.readouterr().err == ""


def test_webm_uses_the_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Matroska/WebM file announces no frame count; its duration gives the stride."""
    path = write_long_video(tmp_path / "long.webm", n=120, codec="libvpx")
    monkeypatch.setenv(BUDGET_ENV, str(30 * FRAME_BYTES))
    indices = [f.index for f in read_video(path, {}).frames]
    assert len(indices) <= 30 and indices[-1] >= 120 - 8 and len(set(np.diff(indices))) == 1


@pytest.mark.parametrize("raw, expected", [("", 1 << 30), ("2G", 2 << 30), ("512M", 512 << 20), ("1000", 1000), ("1.5k", 1536)])
def test_budget_variable(raw: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUDGET_ENV, raw)
    assert video_budget() == expected


@pytest.mark.parametrize("raw", ["lots", "-5", "0", "1e9"])
def test_bad_budget_variable_is_a_usage_error(raw: str, monkeypatch: pytest.MonkeyPatch, long_video: Path) -> None:
    monkeypatch.setenv(BUDGET_ENV, raw)
    with pytest.raises(UsageError, match=BUDGET_ENV) as info:
        read_video(long_video, {})
    assert "\n" not in str(info.value)
