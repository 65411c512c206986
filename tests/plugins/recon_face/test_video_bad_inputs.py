"""Clips a user really has, through the real ``recon`` command: a face that leaves the frame, a
phone clip stored sideways, truncated files, a clip without a face, a file with only sound."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recon.testing.cli import run_recon

FPS = 25


@pytest.fixture(scope="module")
def wojtek_frames(shared_data: Path) -> list[np.ndarray]:
    """The first 50 frames of metrical-tracker's wojtek clip (512x512)."""
    import av

    clip = shared_data / "face_video" / "metrical_tracker" / "wojtek" / "video.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent")
    with av.open(str(clip)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 50:
                break
    return frames


def write_clip(path: Path, frames: list[np.ndarray], rotation: int | None = None, faststart: bool = False) -> Path:
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_recon("reconstruct", *args, "-q", "-O", "preview_video=false", cwd=cwd)


def one_error(proc: subprocess.CompletedProcess[str], code: int, names: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recon: error:") and names in lines[0], lines


def test_face_leaves_the_frame_for_a_second(tmp_path: Path, wojtek_frames: list[np.ndarray]) -> None:
    """Frames 15-39 show no face (the camera looks away): they are bridged and marked, the
    animation still has a key for every frame."""
    frames = [f.copy() for f in wojtek_frames]
    for k in range(15, 40):
        frames[k] = np.roll(frames[k], 300, axis=1)[:, :1].repeat(512, axis=1)  # one column of the frame, smeared: no face
    write_clip(tmp_path / "away.mp4", frames)
    proc = run(["away.mp4", "-o", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    status = [v["status"] for v in report["views"]]
    assert len(status) == 50 and status.count("bridged") == 25 and set(status[15:40]) == {"bridged"}
    assert report["metadata"]["frames_bridged"] == list(range(15, 40))
    assert status[40] == "detected"  # searched whole again after the gap
    rows = (tmp_path / "out" / "animation.csv").read_text().splitlines()
    assert len(rows) == 51
    yaw = [v["head_pose_deg"]["yaw"] for v in report["views"]]
    assert np.all(np.isfinite(yaw)) and abs(yaw[27] - 0.5 * (yaw[14] + yaw[40])) < 10  # bridged smoothly


def test_phone_clip_stored_sideways(tmp_path: Path, wojtek_frames: list[np.ndarray]) -> None:
    """Frames stored turned a quarter, with the display rotation that turns them back: tracked
    upright like the original."""
    turned = [np.rot90(f, k=-1) for f in wojtek_frames[:20]]  # stored turned clockwise ...
    write_clip(tmp_path / "phone.mp4", turned, rotation=90)  # ... displayed turned back counter-clockwise
    proc = run(["phone.mp4", "-o", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert all(v["status"] != "bridged" for v in report["views"])
    assert report["metadata"]["reprojection_error_px"]["median"] < 1.5
    pitch = np.median([v["head_pose_deg"]["roll"] for v in report["views"]])
    assert abs(pitch) < 15  # upright, not lying on its side


def test_truncated_clip_with_index_first_keeps_what_decodes(tmp_path: Path, wojtek_frames: list[np.ndarray]) -> None:
    data = write_clip(tmp_path / "full.mp4", wojtek_frames[:40], faststart=True).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    proc = run(["cut.mp4", "-o", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert 1 <= len(report["views"]) < 40  # what the first half of the file holds
    assert any("cut.mp4: decoding stopped" in note for note in report["notes"]), report["notes"]


def test_truncated_clip_without_index_is_exit_3(tmp_path: Path, wojtek_frames: list[np.ndarray]) -> None:
    data = write_clip(tmp_path / "full.mp4", wojtek_frames[:20]).read_bytes()  # the index (moov) at the end
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    proc = run(["cut.mp4", "-o", "out"], tmp_path)
    one_error(proc, 3, "cut.mp4")
    assert "re-encode" in proc.stderr and not (tmp_path / "out").exists()


def test_clip_without_a_face_is_exit_3(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    write_clip(tmp_path / "noise.mp4", [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(10)])
    proc = run(["noise.mp4", "-o", "out"], tmp_path)
    one_error(proc, 3, "noise.mp4")
    assert "no face in any of its 10 frames" in proc.stderr and not (tmp_path / "out").exists()


def test_sound_only_file_is_exit_3(tmp_path: Path) -> None:
    import av

    with av.open(str(tmp_path / "voice.mp4"), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for _ in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    proc = run(["voice.mp4", "-o", "out"], tmp_path)
    one_error(proc, 3, "voice.mp4")
    assert "no video stream" in proc.stderr and not (tmp_path / "out").exists()
