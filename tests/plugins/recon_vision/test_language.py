"""``recon caption``, ``recon tag`` and ``recon search`` through their real loading code.

The tiny random models of ``conftest.py`` test the plumbing (names say so): loading a Hugging Face
folder offline, the output formats, the search cache, the errors. With a real model folder in
``$RECON_TEST_CLIP_MODEL`` (e.g. openai/clip-vit-base-patch32 saved locally) the last test checks
that CLIP tells a face from a chair."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from recon.testing.cli import clean_env, run_recon

ROOT = Path(__file__).resolve().parents[3]
PHOTO = ROOT / "assets" / "demo_face" / "astronaut.jpg"


def recon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_recon(*args, env=clean_env(("RECON_", "HF_"), **(env or {})))


def one_error(proc: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recon: error:"), lines
    for text in says:
        assert text in lines[0], (text, lines[0])


def test_plumbing_caption(tiny_blip: Path) -> None:
    proc = recon("caption", str(PHOTO), "--model", str(tiny_blip), "--json", "--max-words", "5")
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["input"].endswith("astronaut.jpg") and isinstance(result["caption"], str) and result["model"] == "blip"
    assert proc.stderr == ""


def test_plumbing_tag(tiny_clip: Path) -> None:
    proc = recon("tag", str(PHOTO), str(PHOTO), "--labels", "a face, a chair,a statue", "--model", str(tiny_clip), "--json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == 2 and set(results[0]["probabilities"]) == {"a face", "a chair", "a statue"}
    assert sum(results[0]["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert results[0]["probabilities"] == results[1]["probabilities"]  # the same photo, the same answer
    text = recon("tag", str(PHOTO), "--labels", "a face,a chair", "--model", str(tiny_clip))
    assert text.returncode == 0 and text.stdout.startswith(str(PHOTO))


def test_plumbing_search_ranks_and_caches(tiny_clip: Path, tmp_path: Path) -> None:
    """Two reconstruction folders ranked; the embeddings cached in each, listed in its report, so
    --overwrite still knows the folder as recon's."""
    from PIL import Image

    library = tmp_path / "out"
    for name, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        folder = library / name
        folder.mkdir(parents=True)
        Image.new("RGB", (64, 64), colour).save(folder / "preview.png")
        (folder / "report.json").write_text(json.dumps({"method": "face", "outputs": ["preview.png", "report.json"]}))
    proc = recon("search", "a red thing", str(library), "--model", str(tiny_clip), "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert sorted(Path(h["folder"]).name for h in hits) == ["blue", "red"] and hits[0]["score"] >= hits[1]["score"]
    for name in ("red", "blue"):
        assert (library / name / "search_embeddings.npz").is_file()
        assert "search_embeddings.npz" in json.loads((library / name / "report.json").read_text())["outputs"]
    stamp = (library / "red" / "search_embeddings.npz").stat().st_mtime_ns
    again = recon("search", "a red thing", str(library), "--model", str(tiny_clip), "--json")
    assert json.loads(again.stdout) == hits and (library / "red" / "search_embeddings.npz").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("command", [["caption", str(PHOTO)], ["tag", str(PHOTO), "--labels", "a,b"], ["search", "x", str(ROOT / "assets")]], ids=["caption", "tag", "search"])
def test_no_model_is_exit_2_naming_the_option(command: list[str], tmp_path: Path) -> None:
    proc = recon(*command, env={"HF_HOME": str(tmp_path / "hf")})
    one_error(proc, 2, "--model DIR", "local Hugging Face cache")


def test_bad_model_folders_are_exit_2(tiny_clip: Path, tiny_blip: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    one_error(recon("tag", str(PHOTO), "--labels", "a,b", "--model", str(empty)), 2, str(empty), "--model")
    one_error(recon("tag", str(PHOTO), "--labels", "a,b", "--model", str(tiny_blip)), 2, str(tiny_blip), "a blip model, not a CLIP model")  # the wrong kind
    cut = tmp_path / "cut"
    shutil.copytree(tiny_clip, cut)
    weights = next(p for p in cut.iterdir() if p.suffix in (".safetensors", ".bin"))
    weights.write_bytes(weights.read_bytes()[:1000])
    one_error(recon("tag", str(PHOTO), "--labels", "a,b", "--model", str(cut)), 2, str(cut))
    one_error(recon("tag", str(PHOTO), "--labels", "a,b", "--model", str(tmp_path / "nowhere")), 2, "no such model folder")
    one_error(recon("caption", str(PHOTO), "--model", str(tiny_clip)), 2, "a clip model, not a captioning model")


def test_one_label_is_a_usage_error(tiny_clip: Path) -> None:
    proc = recon("tag", str(PHOTO), "--labels", "a face", "--model", str(tiny_clip))
    assert proc.returncode == 2 and "two or more" in proc.stderr


@pytest.mark.skipif(not os.environ.get("RECON_TEST_CLIP_MODEL"), reason="set RECON_TEST_CLIP_MODEL to a real CLIP model folder")
def test_real_clip_tells_a_face_from_a_chair() -> None:
    proc = recon("tag", str(PHOTO), "--labels", "a photo of a person,a chair,a car", "--model", os.environ["RECON_TEST_CLIP_MODEL"], "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["label"] == "a photo of a person"


def test_without_the_vision_extra_the_commands_say_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without transformers, caption/tag/search exit 2 naming the extra; without torchvision,
    detect finds faces and warns that objects need the extra."""
    import importlib.util

    from click.testing import CliRunner

    import recon_vision.language as language
    import recon_vision.objects as objects
    from recon.cli import make_cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("transformers", "torchvision") else real(name, *a))
    language.load_clip.cache_clear()
    result = CliRunner().invoke(make_cli(), ["tag", str(PHOTO), "--labels", "a,b"], prog_name="recon")
    assert result.exit_code == 2 and "pip install -e '.[vision]'" in result.stderr
    assert not objects.available()
    result = CliRunner().invoke(make_cli(), ["detect", str(PHOTO)], prog_name="recon")
    assert result.exit_code == 0 and "1 face" in result.stdout and "objects need torchvision" in result.stderr


def test_plugins_lists_what_vision_finds() -> None:
    from click.testing import CliRunner

    from recon.cli import make_cli

    result = CliRunner().invoke(make_cli(), ["plugins", "--json"], prog_name="recon")
    row = next(r for r in json.loads(result.stdout) if r["name"] == "recon_vision")
    assert set(row["status"]["dependencies"]) == {"cv2", "torchvision", "transformers"}
    assert set(row["status"]["models"]) >= {"face identity (SFace)", "COCO detector", "CLIP", "captioning"}
    assert {"detect", "caption", "tag", "search"} <= set(row["commands"])
