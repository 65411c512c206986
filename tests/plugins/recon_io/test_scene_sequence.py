"""Sequence folders (K.txt, camera-to-world poses.txt, images/): the HoloLens sample reads with
its cameras inverted to world-to-camera; wrong poses get one line naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from recon.errors import BadInputError
from recon_io.scene import is_scene_folder, read_scene


@pytest.fixture(scope="module")
def hololens(shared_data: Path) -> Path:
    folder = shared_data / "multiview_scene" / "hololens_dvmvs_000"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def test_the_sequence_reads(hololens: Path) -> None:
    assert is_scene_folder(hololens)
    frames = read_scene(hololens, {}).frames
    names = (hololens / "frames.txt").read_text().split()
    assert [Path(f.source).name for f in frames] == names and len(frames) == 40
    poses = np.loadtxt(hololens / "poses.txt").reshape(-1, 4, 4)
    for frame, pose in zip(frames, poses):
        np.testing.assert_allclose(frame.camera.center, pose[:3, 3], atol=1e-4)  # inverted (R is printed to 6 digits: not exactly orthonormal)
        np.testing.assert_allclose(frame.camera.R, pose[:3, :3].T, atol=1e-12)
    np.testing.assert_allclose(frames[0].camera.K, np.loadtxt(hololens / "K.txt"))


def _copy(hololens: Path, tmp_path: Path, n: int = 4) -> Path:
    folder = tmp_path / "seq"
    (folder / "images").mkdir(parents=True)
    names = (hololens / "frames.txt").read_text().split()[:n]
    for name in names:
        shutil.copy(hololens / "images" / name, folder / "images" / name)
    (folder / "frames.txt").write_text("\n".join(names) + "\n")
    shutil.copy(hololens / "K.txt", folder / "K.txt")
    (folder / "poses.txt").write_text("\n".join((hololens / "poses.txt").read_text().splitlines()[:n]) + "\n")
    return folder


def _edit_poses(folder: Path, edit) -> None:  # noqa: ANN001 - edit(lines) -> lines
    lines = (folder / "poses.txt").read_text().splitlines()
    (folder / "poses.txt").write_text("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda ls: ls[:-1], "3 poses for 4 images"),
        (lambda ls: [ls[0].replace(ls[0].split()[0], "nan", 1), *ls[1:]], "line 1 .*NaN"),
        (lambda ls: [" ".join(ls[0].split()[:12]), *ls[1:]], "a line of 12 numbers"),
        (lambda ls: [ls[0].replace(ls[0].split()[0], "oops", 1), *ls[1:]], "not 16 numbers"),
        (lambda ls: [" ".join(ls[0].split()[:15] + ["2"]), *ls[1:]], "last row is not 0 0 0 1"),
        (lambda ls: [" ".join(["2", *ls[0].split()[1:]]), *ls[1:]], "R is not a rotation"),
    ],
    ids=["count", "nan", "short", "text", "last-row", "not-rotation"],
)
def test_wrong_poses_are_named(hololens: Path, tmp_path: Path, edit, match: str) -> None:  # noqa: ANN001
    folder = _copy(hololens, tmp_path)
    _edit_poses(folder, edit)
    with pytest.raises(BadInputError, match=match) as info:
        read_scene(folder, {})
    assert "poses.txt" in str(info.value) and "\n" not in str(info.value)
