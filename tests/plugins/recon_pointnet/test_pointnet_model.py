"""PointNet: order invariance, T-nets, checkpoints, determinism, and the shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recon.errors import BadInputError
from recon.pointnet import PointNet, PointNetEncoder, TNet, feature_transform_regularizer, parameter_count
from recon.shapes import CLASSES, PARTS, classification_set
from recon_pointnet.checkpoint import Checkpoint, load_checkpoint, procedural_weights_path, save_checkpoint
from recon_pointnet.classify import classify_points
from recon_pointnet.train import TrainConfig, evaluate, train

WEIGHTS = procedural_weights_path()  # the ten procedural shapes, with a part head


def test_tnet_starts_at_the_identity() -> None:
    torch.manual_seed(0)
    tnet = TNet(3).eval()
    out = tnet(torch.randn(2, 3, 50))
    torch.testing.assert_close(out, torch.eye(3).expand(2, 3, 3))


def test_classifier_is_invariant_to_point_order() -> None:
    torch.manual_seed(0)
    model = PointNet(4, 3).eval()
    pts = torch.randn(2, 100, 3)
    perm = torch.randperm(100)
    logits, parts, _ = model(pts)
    logits_p, parts_p, _ = model(pts[:, perm])
    torch.testing.assert_close(logits, logits_p, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(parts[:, :, perm], parts_p, rtol=1e-4, atol=1e-5)
    assert parts.shape == (2, 3, 100)


def test_encoder_output_shapes() -> None:
    enc = PointNetEncoder().eval()
    glob, local, trans = enc(torch.randn(3, 64, 3))
    assert glob.shape == (3, enc.global_dim) and local.shape == (3, 64, 64) and trans.shape == (3, 64, 64)
    assert float(feature_transform_regularizer(trans).detach()) >= 0


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PointNet(3, 2).eval()
    path = save_checkpoint(Checkpoint(model, ["a", "b", "c"], ["p", "q"], 128, "y", {"note": 1}), tmp_path / "w.pt")
    back = load_checkpoint(path)
    assert back.classes == ["a", "b", "c"] and back.parts == ["p", "q"] and back.num_points == 128
    x = torch.randn(2, 128, 3)
    torch.testing.assert_close(back.model(x)[0], model(x)[0], rtol=2e-2, atol=2e-2)  # stored as float16


def test_bad_checkpoints_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no PointNet weights"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="not a recon PointNet checkpoint"):
        load_checkpoint(junk)


def test_training_is_deterministic_and_learns() -> None:
    x, y, parts = classification_set(6, seed=3, n_points=128)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = PointNet(len(CLASSES), len(PARTS))
        history = train(model, x, y, TrainConfig(epochs=2, batch_size=20, points=64, seed=0), parts=parts)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    assert history[-1]["loss"] < history[0]["loss"] * 1.5  # two tiny epochs: no blow-up


def test_shipped_weights_are_small_and_documented() -> None:
    assert WEIGHTS.is_file(), f"{WEIGHTS} missing: run assets/pointnet/train_default.py"
    assert WEIGHTS.name == "pointnet_procedural.pt"
    assert WEIGHTS.stat().st_size < 2_000_000
    card = json.loads(WEIGHTS.with_suffix(".json").read_text())
    ckpt = load_checkpoint(WEIGHTS)
    assert ckpt.classes == list(CLASSES) == card["classes"]
    assert ckpt.parts == list(PARTS)
    assert card["held_out_accuracy"] >= 0.95
    assert card["parameters"] == parameter_count(ckpt.model)


def test_shipped_weights_classify_fresh_procedural_shapes() -> None:
    """Shapes from a seed used neither for training (0) nor for the card's held-out set (1)."""
    ckpt = load_checkpoint(WEIGHTS)
    x, y, _ = classification_set(10, seed=1234, n_points=1024)
    result = evaluate(ckpt.model, x, y, ckpt.num_points, seed=0)
    assert result["accuracy"] >= 0.93, result["per_class"]


def test_classify_points_labels_parts_and_probabilities() -> None:
    ckpt = load_checkpoint(WEIGHTS)
    x, y, _ = classification_set(1, seed=77, n_points=2000)
    table = x[CLASSES.index("table")] * 3.7 + 12.0  # any scale, any position
    result = classify_points(ckpt, table, parts=True, source="table")
    assert result["label"] == "table"
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-3
    assert len(result["point_parts"]) == 2000
    assert set(result["parts"]) <= {"table_top", "table_leg"}


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros((1, 3)), "1 point"),
        (np.ones((50, 3)), "identical"),
        (np.array([[0, 0, 0], [1, np.nan, 0], [0, 1, 0]], float), "NaN"),
    ],
)
def test_classify_rejects_unusable_clouds(points: np.ndarray, message: str) -> None:
    ckpt = load_checkpoint(WEIGHTS)
    with pytest.raises(BadInputError, match=message):
        classify_points(ckpt, points)
