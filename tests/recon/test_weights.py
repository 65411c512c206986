"""recon.weights: one on-disk format for every plugin's network weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recon.errors import BadInputError
from recon.weights import load_weights, save_weights


def test_round_trip_half_precision_and_fields(tmp_path: Path) -> None:
    state = {"w": torch.linspace(-1, 1, 7), "steps": torch.tensor([3])}
    path = save_weights(tmp_path / "sub" / "net.pt", "recon-test", state, classes=["a", "b"], config={"width": 4})
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["net.pt"]  # no temp file left
    doc, back = load_weights(path, "recon-test", "test", "retrain it")
    assert doc["classes"] == ["a", "b"] and doc["config"] == {"width": 4}
    assert doc["state_dict"]["w"].dtype == torch.float16 and back["w"].dtype == torch.float32
    torch.testing.assert_close(back["w"], state["w"], atol=1e-3, rtol=1e-3)
    assert back["steps"].dtype == torch.int64 and back["steps"].item() == 3


def test_bad_files_are_bad_input_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"missing\.pt: no test weights there; retrain it"):
        load_weights(tmp_path / "missing.pt", "recon-test", "test", "retrain it")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not torch")
    with pytest.raises(BadInputError, match=r"junk\.pt: not a recon test checkpoint \(\w+\); retrain it"):
        load_weights(junk, "recon-test", "test", "retrain it")
    other = save_weights(tmp_path / "other.pt", "recon-other", {"w": torch.zeros(2)})
    with pytest.raises(BadInputError, match=r"other\.pt: not a recon test checkpoint; retrain it"):
        load_weights(other, "recon-test", "test", "retrain it")
