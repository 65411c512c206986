"""recon.testing.cli: the console script the tests run, and the environment they give it."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.testing.cli import RECON, clean_env, run_recon


@pytest.mark.skipif(not RECON.exists(), reason="no recon console script beside this interpreter")
def test_run_recon_runs_the_console_script_with_paths_as_arguments(tmp_path: Path) -> None:
    proc = run_recon("plugins", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "recon_io" in proc.stdout
    missing = tmp_path / "nothing.ply"
    proc = run_recon("reconstruct", missing, "-o", tmp_path / "out", timeout=120)
    assert proc.returncode != 0 and str(missing) in proc.stderr
    assert not (tmp_path / "out").exists()


def test_clean_env_drops_recon_settings_or_the_prefixes_given_and_adds_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_DEVICE", "cuda")
    monkeypatch.setenv("HF_HOME", "/elsewhere")
    monkeypatch.setenv("KEEP_ME", "1")
    env = clean_env(RECON_FACE_TEMPLATE="x.npz")
    assert "RECON_DEVICE" not in env and env["HF_HOME"] == "/elsewhere"
    assert env["KEEP_ME"] == "1" and env["RECON_FACE_TEMPLATE"] == "x.npz"
    env = clean_env(("RECON_", "HF_"), RECON_FACE_TEMPLATE="x.npz")
    assert "RECON_DEVICE" not in env and "HF_HOME" not in env
    assert env["KEEP_ME"] == "1" and env["RECON_FACE_TEMPLATE"] == "x.npz"
