"""Faces and 478 landmarks with MediaPipe (offline): several people, several faces per photo,
any image size, EXIF orientation, no face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon.structures import Frame
from recon_face.detect import detect, detect_faces

from face_helpers import DEMO_PHOTO, load

SINGLE = [
    "single/skimage_astronaut.png",
    "single/mica_carell.jpg",
    "single/deca_alfw1.png",
    "single/fa_aflw-test.jpg",
    "single/insightface_Tom_Hanks_54745.png",  # 112 x 112
    "single/mica_connelly.jpg",  # 2009 x 3000
]


def _ipd(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[468, :2] - points[473, :2]))


@pytest.mark.parametrize("name", SINGLE)
def test_478_landmarks_on_photos_of_different_people(faces_dir: Path, name: str) -> None:
    frame = load(faces_dir / name)
    det = detect(frame)
    assert det is not None, name
    pts = det.landmarks.points
    assert pts.shape == (478, 3)
    assert det.landmarks.visibility.mean() > 0.95
    # the face is where the box is, and its size is plausible for the photo
    assert det.box is not None
    centre = pts[:, :2].mean(0)
    assert det.box[0] <= centre[0] <= det.box[2] and det.box[1] <= centre[1] <= det.box[3]
    width = np.ptp(pts[:, 0])
    assert 0.2 * (det.box[2] - det.box[0]) < width < 3 * (det.box[2] - det.box[0])
    assert 0.25 < _ipd(pts) / width < 0.6


def test_several_faces_largest_first(faces_dir: Path) -> None:
    frame = load(faces_dir / "single" / "3ddfa_trump_hillary.jpg")
    boxes = detect_faces(frame.image)
    assert len(boxes) == 2
    assert boxes[0].area > boxes[1].area
    dets = [detect(frame, i) for i in range(2)]
    for det, box in zip(dets, boxes):
        assert det is not None and det.faces == 2
        c = det.landmarks.points[:, :2].mean(0)
        assert box.box[0] <= c[0] <= box.box[2] and box.box[1] <= c[1] <= box.box[3]
    assert np.linalg.norm(dets[0].landmarks.points[:, :2].mean(0) - dets[1].landmarks.points[:, :2].mean(0)) > 100
    with pytest.raises(IndexError, match="has 2 face"):
        detect(frame, 2)


def test_no_face_in_grass(faces_dir: Path) -> None:
    assert detect(load(faces_dir / "negatives" / "fa_grass.jpg")) is None


def test_landmarks_map_back_to_any_image_size() -> None:
    """Detection runs on a downscaled copy and a crop; landmarks come back in full-resolution
    pixels: a 3x larger photo gives 3x the coordinates (pixel centres: x' = 3x + 1), and
    padding a photo to a tall non-square one shifts them by the padding."""
    image = np.asarray(Image.open(DEMO_PHOTO).convert("RGB"))
    base = detect(Frame(image, "a")).landmarks.points[:, :2]
    big = np.asarray(Image.fromarray(image).resize((1536, 1536), Image.Resampling.BICUBIC))
    scaled = detect(Frame(big, "b")).landmarks.points[:, :2]
    ipd = _ipd(base)
    assert np.median(np.linalg.norm(scaled - (3 * base + 1), axis=1)) / 3 < 0.03 * ipd
    tall = np.zeros((1100, 512, 3), np.uint8)
    tall[300:812] = image
    shifted = detect(Frame(tall, "c")).landmarks.points[:, :2]
    assert np.median(np.linalg.norm(shifted - (base + [0, 300]), axis=1)) < 0.03 * ipd


def test_exif_orientation_is_respected(tmp_path: Path) -> None:
    """A photo stored sideways with an EXIF orientation tag is read upright (recon_io) and its
    landmarks match the upright photo's."""
    upright = Image.open(DEMO_PHOTO).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)
    frame = load(path)
    assert frame.image.shape[:2] == (512, 512)
    got = detect(frame).landmarks.points[:, :2]
    want = detect(Frame(np.asarray(upright), "u")).landmarks.points[:, :2]
    assert np.median(np.linalg.norm(got - want, axis=1)) < 0.05 * _ipd(want)


def test_mediapipe_native_logs_are_silenced(capfd: pytest.CaptureFixture[str]) -> None:
    """MediaPipe's C++ side writes to file descriptor 2; a failing run must still end with one
    clear error line, so detection keeps it quiet."""
    detect(Frame(np.full((64, 64, 3), 90, np.uint8), "grey"))
    assert capfd.readouterr().err == ""
