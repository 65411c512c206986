"""``recon detect`` and the detections in every reconstruction's report and GLB.

Faces run MediaPipe's real detectors on the shared photos. Objects need COCO weights, which this
machine does not have: the object tests build a tiny randomly initialised torchvision detector in
the published checkpoint format and go through the same loading code (they test the plumbing,
not detection quality, and say so in their names)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from recon.testing.cli import run_recon


def recon(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_recon(*args, cwd=cwd)


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> Path:
    path = shared_data / "face_multiview"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def test_faces_in_shared_photos(photos: Path) -> None:
    """Two people in one photo, one in a portrait, none in the grass."""
    proc = recon("detect", str(photos / "single" / "fr_two_people.jpg"), str(photos / "mvfnet" / "front.jpg"), str(photos / "negatives"), "--json")
    assert proc.returncode == 0, proc.stderr
    found = {Path(r["input"]).name: r for r in json.loads(proc.stdout)}
    assert [len(found[n]["faces"]) for n in ("fr_two_people.jpg", "front.jpg", "fa_grass.jpg")] == [2, 1, 0]
    face = found["front.jpg"]["faces"][0]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224 and face["score"] > 0.5 and len(face["keypoints"]) == 6
    right_eye, left_eye = face["keypoints"][:2]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert found["front.jpg"]["objects"] is None  # no COCO weights here


def test_text_output_and_a_note_without_weights(photos: Path) -> None:
    proc = recon("detect", str(photos / "mvfnet"))
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].endswith("front.jpg: 1 face; objects: not detected")
    assert proc.stderr.startswith("recon: warning: objects not detected: no COCO weights") and "--weights" in proc.stderr


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised SSDlite (torchvision's architecture and checkpoint format)."""
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    torch.manual_seed(0)
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path_factory.mktemp("weights") / "ssdlite320_mobilenet_v3_large_coco-random.pth"
    torch.save(model.state_dict(), path)
    return path


def test_plumbing_objects_from_a_local_checkpoint(photos: Path, tiny_coco: Path) -> None:
    proc = recon("detect", str(photos / "mvfnet" / "front.jpg"), "--weights", str(tiny_coco), "--min-score", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["object_model"] == "ssdlite320_mobilenet_v3_large" and isinstance(result["objects"], list)
    for obj in result["objects"]:
        assert isinstance(obj["label"], str) and 0 <= obj["score"] <= 1 and len(obj["box"]) == 4


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("ssdlite320_mobilenet_v3_large_coco-empty.pth", b"", "not a readable torch checkpoint"),
        ("ssdlite320_mobilenet_v3_large_coco-garbage.pth", b"\x00garbage" * 100, "not a readable torch checkpoint"),
        ("mystery.pth", b"whatever", "cannot tell the detector"),
        ("missing/ssdlite320_mobilenet_v3_large.pth", None, "no such weights file"),
    ],
    ids=["empty", "garbage", "unknown-name", "missing"],
)
def test_bad_weights_are_exit_2(tmp_path: Path, photos: Path, name: str, content: bytes | None, says: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    proc = recon("detect", str(photos / "mvfnet" / "front.jpg"), "--weights", str(path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recon: error:") and says in lines[0] and "Traceback" not in proc.stderr


def test_plumbing_weights_of_another_detector_are_exit_2(tmp_path: Path, photos: Path, tiny_coco: Path) -> None:
    """SSDlite weights under a Faster R-CNN name: refused, naming the architecture."""
    wrong = tmp_path / "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"
    wrong.write_bytes(tiny_coco.read_bytes())
    proc = recon("detect", str(photos / "mvfnet" / "front.jpg"), "--weights", str(wrong))
    assert proc.returncode == 2 and "not a fasterrcnn_mobilenet_v3_large_fpn checkpoint" in proc.stderr


def test_unreadable_image_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    proc = recon("detect", str(tmp_path / "broken.jpg"))
    assert proc.returncode == 3 and proc.stderr.count("recon: error:") == 1 and "broken.jpg" in proc.stderr


@pytest.mark.blender
def test_detections_reach_the_report_and_blender(tmp_path: Path, photos: Path) -> None:
    """A face reconstruction's report and GLB carry the detections; Blender reads them as the
    scene's custom property, and the meshes are as without them."""
    pytest.importorskip("bpy")
    from recon.pipeline import reconstruct
    from recon.plugins import PluginHost
    from recon.testing import blender

    out = tmp_path / "out"
    report = reconstruct(PluginHost().load_entrypoints(), [photos / "mvfnet"], out, options={"texture_size": 256, "photometric": False}, quiet=True)
    found = report["annotations"]["recon_vision"]["detections"]
    assert sorted(found) == ["front.jpg", "left.jpg", "right.jpg"] and all(len(v["faces"]) == 1 for v in found.values())
    bpy = blender.load(out / "mesh.glb")
    extras = bpy.context.scene.get("recon_annotations")
    assert extras is not None and "front.jpg" in extras["recon_vision"]["detections"]
    names = sorted(o.name for o in blender.mesh_objects(bpy))
    assert names == ["head_eye_left", "head_eye_right", "head_eyelashes", "head_mouth", "head_skin"]


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "~/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"}])
def test_the_hub_folder_is_torchs_without_importing_torch(env: dict[str, str]) -> None:
    """The annotation step looks for cached COCO weights on every run; finding torch's hub
    folder must not import torch (1.5 s) in a run that has no other use for it."""
    import os
    import sys

    code = (
        "import sys; from recon_vision.objects import _hub_dir; found = _hub_dir(); "
        "assert 'torch' not in sys.modules; import torch; print(found == __import__('pathlib').Path(torch.hub.get_dir()))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
