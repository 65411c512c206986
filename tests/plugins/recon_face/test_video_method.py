"""Method face_video on real clips: an animated head GLB that Blender plays, a Live Link CSV, a
preview video and a per-frame report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.testing.memory import LiveObjects
from recon_face.livelink import HEADER

FRAMES = 30


def _clip(shared_data: Path, *parts: str) -> Path:
    path = shared_data.joinpath("face_video", *parts)
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def wojtek_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, LiveObjects]:
    """30 frames of metrical-tracker's wojtek clip (512x512, 25 fps), the method chosen by itself,
    with the decoded frames counted."""
    import recon_io.video as video

    out = tmp_path_factory.mktemp("video") / "wojtek"
    clip = _clip(shared_data, "metrical_tracker", "wojtek", "video.mp4")
    counter = LiveObjects()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video, "_rgb", counter.wrap(video._rgb))
        reconstruct(PluginHost().load_entrypoints(), [clip], out, options={"max_frames": FRAMES}, quiet=True)
    return out, counter


@pytest.fixture(scope="module")
def wojtek(wojtek_run: tuple[Path, LiveObjects]) -> Path:
    return wojtek_run[0]


def test_frames_are_not_all_held(wojtek_run: tuple[Path, LiveObjects]) -> None:
    """Every frame was decoded (landmarks, preview, key frames) but never more than the key
    frames and the frame at hand were alive at once."""
    out, counter = wojtek_run
    keys = len(json.loads((out / "report.json").read_text())["metadata"]["key_frames"])
    assert counter.peak <= keys + 2 < FRAMES


def _csv(out: Path) -> list[list[str]]:
    with open(out / "animation.csv", newline="") as f:
        return list(csv.reader(f))


def test_outputs_and_report(wojtek: Path) -> None:
    report = json.loads((wojtek / "report.json").read_text())
    assert report["method"] == "face_video"
    assert {"mesh.glb", "mesh.obj", "animation.csv", "preview.mp4", "tracking.npz", "report.json"} <= set(report["outputs"])
    views = report["views"]
    assert [v["frame"] for v in views] == list(range(FRAMES))
    assert all(v["status"] in ("tracked", "detected") for v in views) and views[0]["status"] == "detected"
    assert sum(v["status"] == "tracked" for v in views) >= FRAMES - 2  # the crop follows the face
    errors = [v["reprojection_error_px"]["median"] for v in views]
    assert np.median(errors) < 1.5 and max(errors) < 3.0  # measured 0.5-0.9 px
    # against MediaPipe's landmarks as detected, before their pose bias is taken off: further
    detected = [v["reprojection_error_detected_px"]["median"] for v in views]
    assert np.median(detected) > np.median(errors) and np.median(detected) < 4.0
    np.testing.assert_allclose([v["time_s"] for v in views], np.arange(FRAMES) / 25, atol=1e-3)
    meta = report["metadata"]
    assert meta["fps"] == pytest.approx(25) and meta["frames"] == FRAMES and meta["frames_bridged"] == []
    assert 1 <= len(meta["key_frames"]) <= 5 and meta["focal_px"] > 100
    assert set(meta["stage_fps"]) == {"landmarks", "track head", "preview"}
    assert meta["reprojection_error_detected_px"]["median"] == pytest.approx(np.median(detected), abs=1e-3)
    assert "landmark bias" in report["timings_s"] and meta["options"]["landmark_bias"] is True


def test_livelink_csv(wojtek: Path) -> None:
    """One row per frame, the Live Link Face header, timecodes at 25 fps, weights in [0, 1]."""
    rows = _csv(wojtek)
    assert rows[0] == HEADER and len(HEADER) == 2 + 52 + 9
    assert len(rows) == FRAMES + 1
    assert [r[0] for r in rows[1:4]] == ["00:00:00:00.000", "00:00:00:01.000", "00:00:00:02.000"]
    values = np.array([[float(x) for x in r[2:]] for r in rows[1:]])
    shapes = values[:, :52]
    assert shapes.min() >= 0 and shapes.max() <= 1 and shapes[:, HEADER.index("TongueOut") - 2].max() == 0
    assert shapes.max() > 0.05  # the face moves
    assert np.abs(values[:, 52:55]).max() < np.pi / 2  # head yaw, pitch, roll in radians
    # the eyeLook curves are the eyes' gaze columns (yaw towards the subject's left, pitch down;
    # a full weight at 30 degrees), not the landmark fit's
    column = {name: values[:, HEADER.index(name) - 2] for name in HEADER[2:]}
    for side, outward in (("Left", 1.0), ("Right", -1.0)):
        yaw, pitch = np.degrees(column[f"{side}EyeYaw"]) / 30.0, np.degrees(column[f"{side}EyePitch"]) / 30.0
        expected = {"Out": outward * yaw, "In": -outward * yaw, "Down": pitch, "Up": -pitch}
        for direction, value in expected.items():
            np.testing.assert_allclose(column[f"EyeLook{direction}{side}"], np.clip(value, 0, 1), atol=2e-3)
    assert max(column["LeftEyeYaw"].std(), column["LeftEyePitch"].std()) > 0.005  # the eyes do move


def test_glb_animation(wojtek: Path) -> None:
    """One animation, a key per frame: morph weights on every part with shapes, the head's
    transform on a root node holding the parts."""
    gltf = pygltflib.GLTF2().load(str(wojtek / "mesh.glb"))
    (animation,) = gltf.animations
    nodes = {i: n for i, n in enumerate(gltf.nodes)}
    paths = {(nodes[c.target.node].name, c.target.path) for c in animation.channels}
    assert ("head", "translation") in paths and ("head", "rotation") in paths and ("head_skin", "weights") in paths
    root = next(n for n in gltf.nodes if n.name == "head")
    assert {nodes[c].name for c in root.children} >= {"head_skin", "head_eye_left", "head_mouth"}
    for sampler in animation.samplers:
        assert gltf.accessors[sampler.input].count == FRAMES
    skin = next(m for m in gltf.meshes if m.name == "head_skin")
    assert len(skin.extras["targetNames"]) == 51


def test_tracking_arrays_reproduce_the_landmarks(wojtek: Path) -> None:
    """tracking.npz poses the skin: with its R, t and K (OpenCV) the posed skin lands where the
    face was detected."""
    data = np.load(wojtek / "tracking.npz")
    T = len(data["times"])
    assert T == FRAMES and data["R"].shape == (T, 3, 3) and data["weights"].shape == (T, 51)
    assert list(data["weight_names"][:1]) and data["skin_expression"].shape == (51, *data["skin_neutral"].shape)
    for k in (0, T - 1):
        skin = data["skin_neutral"] + np.tensordot(data["weights"][k], data["skin_expression"], axes=1)
        cam = skin @ data["R"][k].T + data["t"][k]
        uv = cam[:, :2] / cam[:, 2:] * np.diag(data["K"])[:2] + data["K"][:2, 2]
        box = np.nanmin(data["landmarks"][k], 0), np.nanmax(data["landmarks"][k], 0)
        inside = np.all((uv >= box[0] - 60) & (uv <= box[1] + 60), axis=1).mean()
        assert inside > 0.6  # most of the head sits around the detected face (the neck and scalp reach out)
    # the landmarks as fitted (bias taken off) and as detected: a few pixels apart, never more than ~15
    shift = np.linalg.norm(data["landmarks"] - data["landmarks_detected"], axis=2)
    assert data["landmarks_detected"].shape == (T, 478, 2) and 0.2 < np.nanmedian(shift) < 15.0


def test_preview_video(wojtek: Path) -> None:
    import av

    with av.open(str(wojtek / "preview.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == FRAMES and frames[0].shape == (512, 512, 3)
    assert float(stream.average_rate) == pytest.approx(25)


@pytest.mark.blender
def test_animation_plays_in_blender(wojtek: Path) -> None:
    """Blender imports the head with its ARKit shape keys driven by the animation: at each
    frame's time the shape-key values are the CSV's weights (but the eyeLook shapes, which the
    head leaves at 0 and turns its eyeballs instead), and the head moves as one."""
    pytest.importorskip("bpy")
    from recon.testing import blender

    bpy = blender.load(wojtek / "mesh.glb")
    scene = bpy.context.scene
    skin, head = bpy.data.objects["head_skin"], bpy.data.objects["head"]
    assert skin.parent == head and bpy.data.objects["head_eye_left"].parent == head
    rows = _csv(wojtek)
    names = [n for n in HEADER[2:54] if n != "TongueOut"]
    poses = []
    for k in (0, FRAMES // 2, FRAMES - 1):
        when = k / 25.0 * scene.render.fps / scene.render.fps_base  # glTF seconds -> Blender frames
        scene.frame_set(int(np.floor(when)), subframe=float(when - np.floor(when)))
        keys = skin.data.shape_keys.key_blocks
        blender_values = [keys[n[0].lower() + n[1:]].value for n in names]
        csv_values = [0.0 if n.startswith("EyeLook") else float(rows[k + 1][HEADER.index(n)]) for n in names]
        np.testing.assert_allclose(blender_values, csv_values, atol=2e-3)
        poses.append(np.array(head.matrix_world))
    assert not np.allclose(poses[0], poses[2], atol=1e-4)  # the head's transform is animated


@pytest.mark.parametrize(
    "parts, frames",
    [(("metrical_tracker", "justin", "video.mp4"), 15), (("face_recognition", "short_hamilton_clip.mp4"), 15)],
    ids=["justin-1080p", "hamilton"],
)
def test_other_real_clips(tmp_path: Path, shared_data: Path, parts: tuple[str, ...], frames: int) -> None:
    """A 1080p address and a music clip: every frame tracked, landmarks reprojected within 2 px."""
    out = tmp_path / "out"
    options = {"max_frames": frames, "preview_video": False}
    report = reconstruct(PluginHost().load_entrypoints(), [_clip(shared_data, *parts)], out, options=options, quiet=True)
    assert report["method"] == "face_video" and len(report["views"]) == frames
    assert report["metadata"]["reprojection_error_px"]["median"] < 2.0
    assert len(_csv(out)) == frames + 1 and "preview.mp4" not in report["outputs"]


def test_a_folder_of_frames_is_a_clip_too(tmp_path: Path, shared_data: Path) -> None:
    """wojtek's every tenth frame as JPEGs, with --method face_video and their rate (2.5 per
    second): one key per frame at that rate, each frame's own file in the report."""
    folder = shared_data / "face_video" / "metrical_tracker" / "wojtek" / "frames_every10"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    options = {"preview_video": False, "frame_rate": 2.5}
    report = reconstruct(PluginHost().load_entrypoints(), [folder], tmp_path / "out", method="face_video", options=options, quiet=True)
    views = report["views"]
    files = sorted(p.name for p in folder.iterdir())
    assert [Path(v["input"]).name for v in views] == files and [v["frame"] for v in views] == list(range(len(files)))
    np.testing.assert_allclose([v["time_s"] for v in views], np.arange(len(files)) / 2.5, atol=1e-4)
    assert report["metadata"]["fps"] == 2.5 and report["metadata"]["reprojection_error_px"]["median"] < 1.5  # measured 1.05
    assert len(_csv(tmp_path / "out")) == len(files) + 1
