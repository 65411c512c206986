"""Prior mode: procedural training data, the PointNet-encoded decoder, checkpoints, ``-O mode=prior``
and fit mode started from the prior."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recon.errors import BadInputError
from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.pointnet import PointNetEncoder
from recon_occupancy.network import PriorConfig, PriorNetwork
from recon_occupancy.prior import (
    Prior,
    PriorTrainConfig,
    default_prior_path,
    evaluate_prior,
    load_prior,
    make_dataset,
    make_sample,
    save_prior,
    train_prior,
)


def test_samples_are_normalised_with_exact_labels() -> None:
    s = make_sample(np.random.default_rng(0))
    assert 300 <= len(s.cloud) <= 1024 and s.queries.shape == (4096, 3) and s.occupancy.dtype == bool
    assert np.abs(s.cloud).max() < 0.56 and 0.02 < s.occupancy.mean() < 0.8


def test_the_encoder_is_recon_pointnets() -> None:
    assert isinstance(PriorNetwork().encoder, PointNetEncoder)


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = PriorNetwork(PriorConfig(latent=16, hidden=32, blocks=1, encoder={"global_dim": 64, "input_transform": False, "feature_transform": False}))
    data = make_dataset(40, seed=0, n_queries=1024)
    losses = train_prior(model, data, PriorTrainConfig(steps=30, batch=8, cloud_points=128, queries=256))
    assert losses[-1] < losses[0]
    return save_prior(Prior(model, 128, {"note": "test"}), tmp_path_factory.mktemp("prior") / "prior.pt")


def test_checkpoint_round_trip(tiny_prior: Path) -> None:
    prior = load_prior(tiny_prior)
    assert prior.cloud_points == 128 and prior.metrics == {"note": "test"}
    result = evaluate_prior(prior.model, make_dataset(3, seed=5, n_queries=512), 128)
    assert 0.0 <= result["iou"] <= 1.0


def test_missing_prior_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no occupancy prior"):
        load_prior(tmp_path / "none.pt")


def _cloud(path: Path, n: int = 400) -> Path:
    s = make_sample(np.random.default_rng(3), n_cloud=(n, n))
    np.savetxt(path, s.cloud * 2.0 + 1.0, fmt="%.6f")
    return path


def test_prior_mode_runs_with_given_weights(tiny_prior: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_OCCUPANCY_PRIOR", str(tiny_prior))
    cloud = _cloud(tmp_path / "sparse.xyz")
    try:
        report = reconstruct(PluginHost().load_entrypoints(), [cloud], tmp_path / "o", method="occupancy",
                             options={"mode": "prior", "mise_start": 16}, formats=("ply",))
    except BadInputError as exc:  # an untrained tiny prior may predict no surface at all: clear message
        assert "no surface" in str(exc)
        return
    assert report["metadata"]["prior_weights"] == str(tiny_prior)
    assert report["metadata"]["surface"]["watertight"]


def test_fit_can_start_from_the_prior(tiny_prior: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_OCCUPANCY_PRIOR", str(tiny_prior))
    cloud = _cloud(tmp_path / "p.xyz", n=1500)
    options = {"init": "prior", "iterations": 60, "mise_start": 16, "levels": "8x8,16x8,32x4", "lr": 0.03, "mlp_lr": 1.0}
    report = reconstruct(PluginHost().load_entrypoints(), [cloud], tmp_path / "o", method="occupancy", options=options, formats=("ply",))
    assert report["metadata"]["prior_weights"] == str(tiny_prior) and "prior" in report["timings_s"]
    assert report["metadata"]["surface"]["manifold"]


def test_shipped_prior_is_small_and_documented() -> None:
    path = default_prior_path()
    assert path.is_file(), f"{path} missing: run assets/occupancy/train_prior.py"
    assert path.stat().st_size < 2_000_000
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["held_out_iou"] >= 0.6, card
    prior = load_prior(path)
    assert card["parameters"] == sum(p.numel() for p in prior.model.parameters())


def test_shipped_prior_completes_a_partial_cloud(tmp_path: Path) -> None:
    """A held-out procedural shape, sparse and cut by a plane: the prior closes it."""
    prior = load_prior()
    data = make_dataset(20, seed=99, partial=1.0)
    result = evaluate_prior(prior.model, data, prior.cloud_points)
    assert result["iou"] > 0.55, result
