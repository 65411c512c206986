"""Fixtures for the face tests: photos from ../shared/data/face_multiview."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def faces_dir(shared_data: Path) -> Path:
    path = shared_data / "face_multiview"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
