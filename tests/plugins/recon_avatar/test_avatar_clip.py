"""Training data from a tracked clip: the split, the crop's camera, unreadable tracking files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recon.errors import BadInputError
from recon.structures import Camera
from recon_avatar.clip import HELD_OUT_EVERY, MIN_TRACKED_FRAMES, Crop, Tracking, split


class _Found:
    def __init__(self, found: np.ndarray, path: Path) -> None:
        self.found = found
        self.path = path


def test_every_tenth_tracked_frame_is_held_out(tmp_path: Path) -> None:
    found = np.ones(45, bool)
    found[[3, 4]] = False  # bridged: in neither part
    train, held = split(_Found(found, tmp_path / "tracking.npz"))  # type: ignore[arg-type]
    assert len(held) == 43 // HELD_OUT_EVERY and not set(train) & set(held)
    assert {3, 4}.isdisjoint(set(train) | set(held)) and len(train) + len(held) == 43


def test_a_short_clip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=f"at least {MIN_TRACKED_FRAMES}"):
        split(_Found(np.ones(MIN_TRACKED_FRAMES - 1, bool), tmp_path / "tracking.npz"))  # type: ignore[arg-type]


def test_crop_intrinsics_follow_the_pixels() -> None:
    """A point projected with the crop's K lands where the crop moves and scales its pixel."""
    K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    crop = Crop(x0=100, y0=60, side=300, size=75)
    point = np.array([[0.03, -0.02, 0.5]])
    full = Camera(K=K, R=np.eye(3), t=np.zeros(3), width=640, height=480).project(point)[0]
    small = Camera(K=crop.intrinsics(K), R=np.eye(3), t=np.zeros(3), width=75, height=75).project(point)[0]
    s = 75 / 300
    np.testing.assert_allclose(small, (full - [100, 60] + 0.5) * s - 0.5, atol=1e-9)


def test_crop_image_size() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    assert Crop(100, 60, 300, 75).apply(image).shape == (75, 75, 3)


def test_unreadable_tracking_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "tracking.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match="tracking.npz: not a face_video tracking file"):
        Tracking.load(bad)
    np.savez(bad, R=np.zeros((2, 3, 3)))  # an npz, but an old or foreign one
    with pytest.raises(BadInputError, match="face_video"):
        Tracking.load(bad)


def test_the_shortest_clip_holds_one_frame_out(tmp_path: Path) -> None:
    train, held = split(_Found(np.ones(MIN_TRACKED_FRAMES, bool), tmp_path / "tracking.npz"))  # type: ignore[arg-type]
    assert len(held) == 1 and len(train) == MIN_TRACKED_FRAMES - 1
