"""The video reader decodes frames when they are used: a clip of any length is read without
holding its frames, and iterating it holds one decoded frame at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recon_io.video as video
from recon.structures import Inputs
from recon.testing.memory import LiveObjects
from recon_io.video import read_video

W, H, N = 32, 24, 400


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


class LiveFrames(LiveObjects):
    """Counts the decoded images alive at once: the peak of frames held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        monkeypatch.setattr(video, "_rgb", self.wrap(video._rgb))


def test_frames_are_decoded_one_at_a_time(long_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading decodes no image; iterating holds one decoded frame at a time; indexing in order
    continues one decoder (one pass for many key frames)."""
    counter = LiveFrames(monkeypatch)
    inputs = read_video(long_video, {})
    assert counter.peak == 0 and len(inputs.frames) == N
    levels = [int(round(f.image.mean())) for f in inputs.frames]
    assert counter.peak <= 2 and levels[:3] == [0, 1, 2] and len(levels) == N
    counter = LiveFrames(monkeypatch)
    picked = [inputs.frames[i] for i in (5, 50, 399)]
    assert [f.index for f in picked] == [5, 50, 399] and counter.peak == 3  # only the ones asked for are kept
    assert [f.index for f in inputs.frames[-2:]] == [398, 399] and inputs.frames[3].index == 3  # back: decodes again
    with pytest.raises(IndexError):
        inputs.frames[N]


def test_indexing_converts_only_the_frames_asked_for(long_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Key frames far into a clip: the frames passed on the way are decoded (the codec needs
    them) but not converted to RGB, the costly step."""
    converted: list[int] = []
    real = video._rgb
    monkeypatch.setattr(video, "_rgb", lambda vf: converted.append(1) or real(vf))
    frames = read_video(long_video, {}).frames
    levels = [frames[i].image.mean() for i in (10, 200, 399)]
    assert len(converted) == 3
    np.testing.assert_allclose(levels, [10, 200, 399 % 256], atol=2)  # the right frames (the codec rounds)


def test_every_frame_is_kept_in_order_with_its_time(long_video: Path, capsys: pytest.CaptureFixture) -> None:
    inputs = read_video(long_video, {})
    assert [f.index for f in inputs.frames] == list(range(N)) and inputs.notes == [] and capsys.readouterr().err == ""
    np.testing.assert_allclose([f.timestamp for f in inputs.frames[::50]], np.arange(0, N, 50) / 25, atol=1e-3)
    assert inputs.frames.rate == pytest.approx(25)


def test_options_choose_the_frames(long_video: Path) -> None:
    assert len(read_video(long_video, {"max_frames": 60}).frames) == 60
    assert [f.index for f in read_video(long_video, {"fps": 5}).frames][:3] == [0, 5, 10]
    assert len(read_video(long_video, {"fps": 5}).frames) == N // 5


def test_one_video_stays_lazy_in_the_inputs(long_video: Path) -> None:
    """Inputs.extend keeps a single video's frames lazy; with photos beside it, they are listed."""
    inputs = Inputs()
    inputs.extend(read_video(long_video, {"max_frames": 3}))
    assert isinstance(inputs.frames, video.VideoFrames)
    inputs.extend(read_video(long_video, {"max_frames": 2}))
    assert [f.index for f in inputs.frames] == [0, 1, 2, 0, 1]


def test_webm(tmp_path: Path) -> None:
    """A Matroska/WebM file (no frame count in its header) reads the same way."""
    path = write_long_video(tmp_path / "long.webm", n=120, codec="libvpx")
    assert [f.index for f in read_video(path, {}).frames] == list(range(120))
