"""PointNet on ModelNet40: a short training run on a slice, the shipped weights on real meshes,
inputs as users have them (any size, scale, position, turn about the up axis, up axis), calibration
and the "unknown" answer. Reads ``../shared/data/pointclouds`` (academic-use data, never in the
repository) and skips, saying so, when it is absent."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from recon.cli import make_cli
from recon.errors import ExitCode
from recon.pointnet import EncoderConfig, PointNet, fused_for_inference
from recon_pointnet.calibration import choose_unknown_threshold, expected_calibration_error, fit_temperature
from recon_pointnet.checkpoint import Checkpoint, default_weights_path, load_checkpoint, save_checkpoint
from recon_pointnet.classify import classify_points
from recon_pointnet.data import farthest_point_sample, subsample
from recon_pointnet.modelnet import prepare, split_indices
from recon_pointnet.train import TrainConfig, train

OFF_MESHES = {
    "bed": "modelnet10_off/bed/bed_0001.off",
    "chair": "modelnet10_off/chair/chair_0001.off",
    "toilet": "modelnet10_off/toilet/toilet_0001.off",
    "flower_pot": "modelnet40_off/flower_pot/flower_pot_0002.off",
    "stool": "modelnet40_off/stool/stool_0002.off",
}


def run(args: list[str]) -> Result:
    return CliRunner().invoke(make_cli(), args, prog_name="recon")


@pytest.fixture(scope="module")
def modelnet40(shared_data: Path) -> np.lib.npyio.NpzFile:
    npz = shared_data / "pointclouds" / "modelnet40_1024" / "modelnet40_1024.npz"
    if not npz.is_file():
        pytest.skip(f"{npz} is absent; these tests need the shared ModelNet40 clouds")
    return np.load(npz)


@pytest.fixture(scope="module")
def shipped() -> Checkpoint:
    return load_checkpoint(default_weights_path())


def _off_points(path: Path, n: int = 4000) -> np.ndarray:
    import trimesh

    pts, _ = trimesh.sample.sample_surface(trimesh.load(path, force="mesh"), n, seed=0)
    return np.asarray(pts, dtype=np.float64)


def _turn_z(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T


# --- training ---------------------------------------------------------------------------------

def test_short_training_on_a_slice_learns_in_seconds(modelnet40: np.lib.npyio.NpzFile) -> None:
    """Five ModelNet40 classes, 40 training clouds each, a small PointNet, 8 epochs of 128 points:
    >= 70 % on held-out clouds of the validation part (chance 20 %; measured 82 %), in about 4 s on
    2 idle cores."""
    classes = [str(c) for c in modelnet40["classes"]]
    y = modelnet40["train_labels"].astype(np.int64)
    train_idx, val_idx = split_indices(y, len(classes), seed=0)
    keep = [classes.index(n) for n in ("airplane", "bed", "bottle", "chair", "guitar")]

    def pick(idx: np.ndarray, k: int) -> np.ndarray:
        return np.concatenate([idx[y[idx] == c][:k] for c in keep])

    tri, vai = pick(train_idx, 40), pick(val_idx, 20)
    remap = {c: i for i, c in enumerate(keep)}
    x = modelnet40["train_points"]
    xt, yt = prepare(x[tri]), np.array([remap[c] for c in y[tri]])
    xv, yv = prepare(x[vai]), np.array([remap[c] for c in y[vai]])
    torch.manual_seed(0)
    model = PointNet(5, 0, EncoderConfig(global_dim=64, input_transform=False, feature_transform=False), head=(64, 32))
    cfg = TrainConfig(epochs=8, batch_size=16, lr=3e-3, points=128, seed=0, feature_reg=0.0, scale=(0.8, 1.2), jitter=0.01, dropout_max=0.5)
    start = time.perf_counter()
    train(model, xt, yt, cfg)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        acc = float((model(torch.as_tensor(xv))[0].argmax(1).numpy() == yv).mean())
    assert acc >= 0.70, (acc, seconds)  # the time is reported, not bounded: speed is the benchmarks' job


def test_validation_part_is_stratified_and_disjoint() -> None:
    y = np.repeat(np.arange(4), [100, 50, 20, 10])
    tr, va = split_indices(y, 4, seed=0)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(y)
    assert [int((y[va] == c).sum()) for c in range(4)] == [10, 5, 2, 1]


def test_prepare_turns_z_up_into_y_up_and_normalises() -> None:
    pts = np.array([[[0, 0, 0], [0, 0, 4], [2, 0, 0], [0, 1, 0]]], dtype=np.float16) + 7
    out = prepare(pts)[0]
    np.testing.assert_allclose(out[1] - out[0], [0, 4 / np.linalg.norm([1, 2, 0.5]), 0], atol=1e-2)
    assert abs(np.linalg.norm(out, axis=1).max() - 1) < 1e-6


# --- the shipped ModelNet40 weights -------------------------------------------------------------

def test_shipped_weights_are_modelnet40_with_calibration(shipped: Checkpoint) -> None:
    assert len(shipped.classes) == 40 and "bed" in shipped.classes and shipped.num_points == 1024
    assert shipped.model.seg is None and shipped.parts == []
    assert 0.05 < shipped.temperature < 20 and 0 < shipped.unknown_threshold < 1 and shipped.votes >= 1
    card = json.loads(Path(shipped.path).with_suffix(".json").read_text())
    assert card["classes"] == shipped.classes and card["test"]["clouds"] == 2468
    assert card["test"]["ece_after"] <= card["test"]["ece_before"] + 0.01
    assert Path(shipped.path).stat().st_size < 2_000_000


MISSED = pytest.mark.xfail(
    strict=True,
    reason="the shipped ModelNet40 weights (87.8 % test accuracy, below the 89.2 % target of issue 15) "
    "put chair first for stool_0002 (0.44, stool 0.28: 'unknown'; the weights at 84.5 % also called flower_pot_0002 'plant'); "
    "the npz cloud of the same shape gets the same answer, so it is the model, not the mesh sampling",
)


@pytest.mark.parametrize("label", [pytest.param(k, marks=MISSED) if k == "stool" else k for k in sorted(OFF_MESHES)])
def test_shipped_weights_classify_the_shared_off_meshes(shared_data: Path, label: str) -> None:
    path = shared_data / "pointclouds" / OFF_MESHES[label]
    result = run(["classify", str(path), "--up", "z", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # the top answer (a borderline one, such as the flower pot's 0.60 against plant 0.39, may sit near the "unknown" threshold)
    assert doc["top_k"][0]["label"] == label, doc["top_k"]
    assert doc["label"] in (label, "unknown")
    assert doc["sampling"] == {"input": "mesh surface, uniform by area", "method": "all", "points": 1024}


def test_any_scale_position_and_turn_about_the_up_axis(shared_data: Path, shipped: Checkpoint) -> None:
    pts = _off_points(shared_data / "pointclouds" / OFF_MESHES["chair"])
    for angle, scale, shift in ((0.0, 1.0, 0.0), (1.1, 250.0, -40.0), (3.5, 0.01, 3.0)):
        r = classify_points(shipped, _turn_z(pts, angle) * scale + shift, up="z")
        assert r["label"] == "chair", (angle, r["top_k"])


def test_up_axis_option_matches_the_data(shared_data: Path, shipped: Checkpoint) -> None:
    """ModelNet meshes are Z up; the same cloud written Y up classifies the same with --up y."""
    pts = _off_points(shared_data / "pointclouds" / OFF_MESHES["toilet"])
    y_up = np.stack([pts[:, 0], pts[:, 2], -pts[:, 1]], axis=1)
    assert classify_points(shipped, pts, up="z")["label"] == "toilet"
    assert classify_points(shipped, y_up, up="y")["label"] == "toilet"


def test_test_split_clouds_mostly_right(modelnet40: np.lib.npyio.NpzFile, shipped: Checkpoint) -> None:
    """A quick look at 200 test clouds (the figure itself is benchmarks/pointnet.py's)."""
    from recon_pointnet.classify import vote_logits

    idx = np.random.default_rng(0).choice(len(modelnet40["test_labels"]), 200, replace=False)
    x = torch.as_tensor(prepare(modelnet40["test_points"][np.sort(idx)]))
    pred = vote_logits(shipped.inference_model, x, shipped.votes).argmax(1).numpy()
    assert (pred == modelnet40["test_labels"][np.sort(idx)]).mean() >= 0.8


def test_fused_model_gives_the_same_logits(shipped: Checkpoint) -> None:
    x = torch.randn(3, 1024, 3) * 0.4
    with torch.no_grad():
        torch.testing.assert_close(fused_for_inference(shipped.model)(x)[0], shipped.model(x)[0], rtol=1e-3, atol=1e-3)


# --- inputs as users have them -----------------------------------------------------------------

def test_large_cloud_sampling_is_stated(shared_data: Path, tmp_path: Path) -> None:
    pts = _off_points(shared_data / "pointclouds" / OFF_MESHES["stool"], 5000)
    np.savez(tmp_path / "stool.npz", points=pts.astype(np.float32))
    for sampling, method in (("random", "random"), ("fps", "farthest-point")):
        result = run(["classify", str(tmp_path / "stool.npz"), "--up", "z", "--sampling", sampling, "--json", "--top-k", "3"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["sampling"] == {"input": "point cloud", "method": method, "points": 1024} and doc["points"] == 5000
        assert len(doc["top_k"]) == 3 and doc["top_k"][0]["label"] == max(doc["probabilities"], key=doc["probabilities"].get)


def test_small_cloud_is_padded_and_still_classified(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "few.npz", points=rng.normal(size=(50, 3)).astype(np.float32))
    result = run(["classify", str(tmp_path / "few.npz"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sampling"]["method"] == "repeat"


def test_unknown_below_the_threshold_exits_0(shared_data: Path) -> None:
    chair = shared_data / "pointclouds" / OFF_MESHES["chair"]
    result = run(["classify", str(chair), "--up", "z", "--threshold", "1", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["label"] == "unknown" and doc["top_k"][0]["label"] == "chair" and doc["unknown_threshold"] == 1
    text = run(["classify", str(chair), "--up", "z", "--threshold", "1"])
    assert text.exit_code == 0 and ": unknown (" in text.stdout and "chair" in text.stdout


def test_procedural_weights_by_name_keep_the_part_head(shared_data: Path) -> None:
    chair = shared_data / "pointclouds" / OFF_MESHES["chair"]
    result = run(["classify", str(chair), "--up", "z", "--weights", "procedural", "--parts", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "box" in doc["probabilities"] and doc["parts"] and doc["weights"].endswith("pointnet_procedural.pt")
    default = json.loads(run(["classify", str(chair), "--up", "z", "--parts", "--json"]).stdout)
    assert default["parts"] and default["parts_weights"].endswith("pointnet_procedural.pt")  # the part head is the procedural one


def test_garbage_file_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "garbage.ply"
    path.write_bytes(np.random.default_rng(0).bytes(3000))
    result = run(["classify", str(path), "--json"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert result.stdout == "" and "Traceback" not in result.output


def test_farthest_point_sampling_spreads_points() -> None:
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(size=(2000, 3)) * 0.01, rng.normal(size=(20, 3)) + 5])  # a dense blob, a few far points
    fps = farthest_point_sample(pts, 30, rng)
    assert len(fps) == 30 and (np.linalg.norm(fps - 5, axis=1) < 4).sum() >= 20 - 1
    out, how = subsample(pts, 30, "random", rng)
    assert how == "random" and len(out) == 30


# --- calibration --------------------------------------------------------------------------------

def test_temperature_scaling_recovers_a_known_temperature() -> None:
    gen = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 10, generator=gen) * 2
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=gen)[:, 0]
    t = fit_temperature(true_logits * 3, labels)  # over-confident by 3x
    assert abs(t - 3) < 0.3, t
    probs_over = torch.softmax(true_logits * 3, 1).numpy()
    probs_fixed = torch.softmax(true_logits * 3 / t, 1).numpy()
    assert expected_calibration_error(probs_fixed, labels.numpy()) < 0.03 < expected_calibration_error(probs_over, labels.numpy())


def test_unknown_threshold_keeps_answers_that_are_more_often_right() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45], [0.52, 0.48]])
    labels = np.array([0, 0, 1, 1, 0])  # right, right, wrong, wrong, right
    t = choose_unknown_threshold(probs, labels)
    assert 0.6 < t <= 0.8
    assert choose_unknown_threshold(probs, np.array([1, 1, 1, 1, 1])) == 1.0  # never right: always unknown


def test_checkpoint_keeps_temperature_threshold_votes_and_head(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PointNet(3, 0, EncoderConfig(global_dim=32), head=(16, 8)).eval()
    path = save_checkpoint(Checkpoint(model, ["a", "b", "c"], [], 64, "y", temperature=1.7, unknown_threshold=0.4, votes=3), tmp_path / "w.pt")
    back = load_checkpoint(path)
    assert (back.temperature, back.unknown_threshold, back.votes, back.model.head_widths) == (1.7, 0.4, 3, (16, 8))
