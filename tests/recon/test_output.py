"""recon.output: which OUT folders a run may write or replace, and the final swap."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recon.errors import UsageError
from recon.output import OutputFolder, check_target, foreign_entries, remove_stale_partials


def _finish(folder: OutputFolder, marker: str) -> None:
    """Fill the run's temporary folder like a run does, then swap it in."""
    assert folder.tmp is not None
    (folder.tmp / "mesh.glb").write_text(marker)
    (folder.tmp / "report.json").write_text(json.dumps({"recon_version": "0", "outputs": ["mesh.glb", "report.json"]}))
    folder.commit()


def test_second_run_that_finishes_later_loses_and_keeps_the_first_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, second = OutputFolder(out), OutputFolder(out)
    first.open()
    second.open()
    _finish(first, "first")
    with pytest.raises(UsageError, match="written by another recon run"):
        _finish(second, "second")
    second.discard()
    assert (out / "mesh.glb").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_overwrite_race_is_lost_too(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _finish_open = OutputFolder(out)
    _finish_open.open()
    _finish(_finish_open, "old")
    first, second = OutputFolder(out, overwrite=True), OutputFolder(out, overwrite=True)
    first.open()
    second.open()
    _finish(first, "first")
    with pytest.raises(UsageError, match="another recon run"):
        _finish(second, "second")
    second.discard()
    assert (out / "mesh.glb").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_overwrite_replaces_a_recon_folder_and_removes_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for marker in ("old", "new"):
        run = OutputFolder(out, overwrite=True)
        run.open()
        _finish(run, marker)
    assert (out / "mesh.glb").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_foreign_entries(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps({"recon_version": "0", "outputs": ["mesh.glb", "report.json"]}))
    (tmp_path / "mesh.glb").write_text("")
    assert foreign_entries(tmp_path) == []
    (tmp_path / "notes.txt").write_text("")
    assert foreign_entries(tmp_path) == ["notes.txt"]
    (tmp_path / "report.json").write_text("{}")  # not recon's report: everything is foreign
    assert foreign_entries(tmp_path) == ["mesh.glb", "notes.txt", "report.json"]


def test_empty_folder_may_be_replaced_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run = OutputFolder(out)
    run.open()
    _finish(run, "x")
    assert (out / "mesh.glb").read_text() == "x"


def test_stale_partials_go_live_ones_stay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.{dead}.abc.partial"
    live = tmp_path / f".out.{os.getpid()}.abc.partial"
    other = tmp_path / f".outer.{dead}.abc.partial"  # another OUT's
    for folder in (stale, live, other):
        folder.mkdir()
    assert remove_stale_partials(out) == [stale]
    assert live.is_dir() and other.is_dir() and not stale.exists()


def test_parents_created_for_out_are_removed_when_the_run_fails(tmp_path: Path) -> None:
    run = OutputFolder(tmp_path / "a" / "b" / "out")
    run.open()
    assert (tmp_path / "a" / "b").is_dir()
    run.discard()
    assert list(tmp_path.iterdir()) == []


def test_temporary_folder_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        run = OutputFolder(tmp_path / "out")
        tmp = run.open()
    finally:
        os.umask(old)
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o750
    run.discard()


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_current_folder_and_above_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(UsageError, match="current folder"):
        check_target(Path(name), [], overwrite=True)


def test_safe_names_are_file_safe_and_unique() -> None:
    from recon.output import safe_names

    assert safe_names(["a/x y.png", "b/x y.png", "c/.hidden.png", "d/x_y.png"]) == ["x_y.png", "x_y.png_2", "hidden.png", "x_y.png_3"]
    assert safe_names(["a/img 1.jpg", "b/img 1.jpg"], keep_suffix=False) == ["img_1", "img_1_2"]
