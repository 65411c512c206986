"""PointNet: order invariance, T-nets, checkpoints, determinism, and the shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recon.errors import BadInputError
from recon.pointnet import EncoderConfig, PointNet, PointNetEncoder, TNet, canonical_turns, feature_transform_regularizer, parameter_count
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


def _turned(points: torch.Tensor, angle: float) -> torch.Tensor:
    c, s = np.cos(angle), np.sin(angle)
    return points @ torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=points.dtype)


def test_canonical_turns_undo_any_turn_about_the_up_axis() -> None:
    """A cloud long along one horizontal direction, with a longer tail on one side: every turned
    copy comes out the same, its main axis on +X and its tail towards +X."""
    gen = torch.Generator().manual_seed(0)
    pts = torch.randn(2, 400, 3, generator=gen) * torch.tensor([3.0, 1.0, 1.0])
    pts[..., 0] = torch.where(pts[..., 0] > 0, 2 * pts[..., 0], pts[..., 0])  # the tail: +x side
    pts = _turned(pts, 0.9)  # not in its own frame to start with
    outs = [q @ canonical_turns(q) for q in (_turned(pts, a) for a in (0.0, 1.0, 2.5, -2.0))]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=0, atol=1e-4)
    spread = outs[0][..., [0, 2]].var(dim=1)
    assert torch.all(spread[:, 0] > 4 * spread[:, 1]) and torch.all((outs[0][..., 0] ** 3).mean(dim=1) > 0)
    dropped = pts.clone()
    dropped[:, 1:120] = dropped[:, :1]  # point dropout repeats the first point: counted once
    torch.testing.assert_close(canonical_turns(dropped), canonical_turns(torch.cat([pts[:, :1], pts[:, 120:]], dim=1)), rtol=0, atol=1e-5)
    R = canonical_turns(pts)
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), rtol=0, atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(2), atol=1e-5)  # turns, never mirrors


def test_a_canonical_encoder_ignores_turns_and_its_checkpoint_keeps_it(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PointNet(3, 0, EncoderConfig(global_dim=32, canonical_turn=True)).eval()
    x = torch.randn(2, 128, 3) * torch.tensor([2.0, 1.0, 0.7])
    torch.testing.assert_close(model(_turned(x, 2.2))[0], model(x)[0], rtol=1e-3, atol=1e-4)
    back = load_checkpoint(save_checkpoint(Checkpoint(model, ["a", "b", "c"], [], 128, "y"), tmp_path / "w.pt"))
    assert back.model.encoder.config.canonical_turn and not PointNetEncoder().config.canonical_turn


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
