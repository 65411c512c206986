"""The ``face_video`` method against clips whose truth is known (:mod:`recon.testing.video_truth`):
recon's own head turning (yaw +-30, pitch +-10, roll +-5 degrees) while it opens its jaw, blinks,
smiles and raises its brows, and the Igea scan moving rigidly; 40 frames of 512x512 at 25 fps,
each reconstructed in-process with the temporal model on and off (``-O smooth=false``), without
the preview video.

The bounds are regression bounds with a margin over what was measured (see each assert), not the
issue's targets (``benchmarks/video.py`` reports those on 150-frame clips). The cheap tests first
check the truth's pose convention and the scoring itself against known answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from recon.testing.video_truth import (
    ClipSettings,
    ClipTruth,
    Estimate,
    expression_curves,
    head_clip,
    head_rotation,
    pose_curves,
    reconstruct_and_score,
    scan_clip,
    score_clip,
)

FRAMES = 40
RUN = {"preview_video": False}


def _run_both(truth: ClipTruth, out: Path) -> dict[str, dict]:
    """The clip reconstructed and scored with the temporal model on and off."""
    runs = {}
    for smooth in (True, False):
        res = reconstruct_and_score(truth, out / f"smooth_{smooth}", {**RUN, "smooth": smooth})
        print(json.dumps({k: v for k, v in res.items() if k != "rotation_deg"} | {"rotation_deg_median": res["rotation_deg"]["median"]}))
        runs["on" if smooth else "off"] = res
    return runs


@pytest.fixture(scope="module")
def head_runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    # the head clip needs only recon's head; it asks for ../shared/data all the same, so that the
    # module's end-to-end tests skip together, saying why
    return _run_both(head_clip(ClipSettings(frames=FRAMES)), tmp_path_factory.mktemp("video_head"))


@pytest.fixture(scope="module")
def igea_runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return _run_both(scan_clip(shared_data, "igea", ClipSettings(frames=FRAMES)), tmp_path_factory.mktemp("video_igea"))


def _fake_truth(frames: int = 30) -> ClipTruth:
    from recon_face.head_model import HeadModel

    settings = ClipSettings(frames=frames)
    angles, drift = pose_curves(settings)
    names = HeadModel.load("mid").expression_names
    R = np.diag([1.0, -1.0, -1.0])[None] @ Rotation.from_euler("YXZ", angles, degrees=True).as_matrix()
    weights = expression_curves(settings, names)
    return ClipTruth(
        folder=Path("."), K=np.eye(3), R=R, t=drift + [0, 0, 0.55], pose_deg=angles,
        weights=weights, observable=np.ones_like(weights, bool), names=names, info={},
    )


def _estimate(R: np.ndarray, names: tuple[str, ...], weights: np.ndarray) -> Estimate:
    rel = np.diag([1.0, -1.0, -1.0])[None] @ R
    pose = Rotation.from_matrix(rel).as_euler("YXZ", degrees=True)
    return Estimate(R, pose, {n: weights[:, i] for i, n in enumerate(names)}, {"views": []})


def test_truth_angles_are_what_the_report_reads() -> None:
    from recon_face.method import _head_pose

    rng = np.random.default_rng(1)
    for yaw, pitch, roll in rng.uniform([-30, -10, -5], [30, 10, 5], (20, 3)):
        R = np.diag([1.0, -1.0, -1.0]) @ head_rotation(yaw, pitch, roll)  # the fixed camera looks along -Z
        pose = _head_pose(R)
        assert (pose["yaw"], pose["pitch"], pose["roll"]) == pytest.approx((yaw, pitch, roll), abs=0.006)
    # the curves keep to their ranges and blink both eyes, then the left alone
    settings = ClipSettings(frames=150)
    angles, drift = pose_curves(settings)
    assert (np.abs(angles) <= [30, 10, 5]).all() and np.abs(drift).max() <= 0.01
    assert np.ptp(angles[:, 0]) > 30  # the head does turn
    names = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight", "browInnerUp", "cheekPuff")
    w = expression_curves(settings, names)
    assert w[:, 0].max() > 0.99 and w[:, 2].max() <= 0.6 and w[:, 3:6].max() <= 0.5 and not w[:, 6].any()
    assert (w[:, 0] > 0.5).sum() > (w[:, 1] > 0.5).sum() > 0  # the wink


def test_score_removes_one_constant_gauge() -> None:
    truth = _fake_truth()
    G = Rotation.from_rotvec([0.05, -0.12, 0.03]).as_matrix()  # another head frame, e.g. a scan's
    exact = score_clip(truth, _estimate(truth.R @ G, truth.names, truth.weights))
    assert exact["rotation_deg"]["max"] < 1e-4 and exact["rotation_jitter_deg"] < 1e-4
    assert exact["gauge_deg"] == pytest.approx(np.degrees(np.linalg.norm([0.05, -0.12, 0.03])), abs=1e-3)
    assert exact["rotation_raw_deg"]["median"] == pytest.approx(exact["gauge_deg"], abs=1e-3)
    assert exact["expression_mae"] == 0 and exact["jaw_open_correlation"] == pytest.approx(1.0)
    # shaking of 1 degree about a random axis per frame: error and jitter see it, a slow drift
    # of the same size barely moves the jitter
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(truth.frames, 3))
    shake = Rotation.from_rotvec(np.radians(1.0) * axes / np.linalg.norm(axes, axis=1, keepdims=True)).as_matrix()
    shaken = score_clip(truth, _estimate(shake @ truth.R @ G, truth.names, truth.weights))
    assert shaken["rotation_deg"]["median"] == pytest.approx(1.0, abs=0.15)
    assert shaken["rotation_jitter_deg"] > 1.0
    drift = Rotation.from_rotvec(np.radians(np.linspace(-1, 1, truth.frames))[:, None] * [0, 1.0, 0]).as_matrix()
    drifted = score_clip(truth, _estimate(drift @ truth.R @ G, truth.names, truth.weights))
    assert drifted["rotation_jitter_deg"] < 0.1
    noisy = truth.weights + rng.normal(0, 0.05, truth.weights.shape)
    res = score_clip(truth, _estimate(truth.R, truth.names, noisy))
    assert res["expression_mae"] == pytest.approx(0.05 * np.sqrt(2 / np.pi), rel=0.1)
    assert res["expression_jitter"] > 0.05


@pytest.mark.slow
def test_head_clip_pose_and_expression(head_runs: dict[str, dict]) -> None:
    on = head_runs["on"]
    assert on["frames"] == FRAMES and on["frames_bridged"] == 0
    # measured (40 frames, 2 cores): landmarks 0.73 px; rotation 1.31 deg median after the gauge,
    # 6.6 raw (a constant pitch offset of ~6.5 deg: the fitted head frame is tilted against the
    # model's own); expression MAE 0.077 over the observable (frame, shape) pairs, 0.140 over the
    # six animated shapes; jawOpen correlation 0.87
    assert on["reprojection_px_median"] <= 2.0
    assert on["rotation_deg"]["median"] <= 3.5
    assert on["rotation_raw_deg"]["median"] <= 12.0
    assert on["expression_mae"] <= 0.2
    assert on["expression_mae_animated"] <= 0.3
    assert on["jaw_open_correlation"] >= 0.7
    assert on["expression_mae_per_shape"]["eyeBlinkLeft"] <= 0.15  # the wink is seen


@pytest.mark.slow
def test_head_clip_smoothing_lowers_jitter(head_runs: dict[str, dict]) -> None:
    on, off = head_runs["on"], head_runs["off"]
    # measured: rotation jitter 0.42 deg (on) vs 0.94 (off), weights 0.099 vs 0.121; the error
    # does not grow (1.31 vs 1.99 deg)
    assert on["rotation_jitter_deg"] <= 0.85 * off["rotation_jitter_deg"]
    assert on["expression_jitter"] < off["expression_jitter"]
    assert on["rotation_deg"]["median"] <= off["rotation_deg"]["median"] + 0.3


@pytest.mark.slow
def test_igea_clip_pose(igea_runs: dict[str, dict]) -> None:
    on, off = igea_runs["on"], igea_runs["off"]
    assert on["frames"] == FRAMES and on["frames_bridged"] == 0
    # measured: landmarks 0.75 px; rotation 1.35 deg median after the gauge (11.4 deg: the scan's
    # frame against the head model's), 1.65 without smoothing; jitter 0.33 vs 1.03 deg
    assert on["reprojection_px_median"] <= 2.0
    assert on["rotation_deg"]["median"] <= 4.5
    assert on["rotation_jitter_deg"] <= 0.85 * off["rotation_jitter_deg"]
    assert on["rotation_deg"]["median"] <= off["rotation_deg"]["median"] + 0.3


@pytest.mark.slow
def test_igea_clip_landmark_bias(igea_runs: dict[str, dict], shared_data: Path, tmp_path: Path) -> None:
    """MediaPipe's pose-dependent bias taken off the landmarks (the default; calibrated on renders
    of recon's head, not on this scan) brings the scan's rotations closer: ``benchmarks/video.py``
    measured 1.63 deg against 2.13 with ``-O landmark_bias=false``, whose pitch follows the truth's less."""
    off = reconstruct_and_score(scan_clip(shared_data, "igea", ClipSettings(frames=FRAMES)), tmp_path, {**RUN, "landmark_bias": False})
    assert igea_runs["on"]["rotation_deg"]["median"] <= off["rotation_deg"]["median"] - 0.3
    # the report says which landmarks its error is against
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metadata"]["landmarks"] == "MediaPipe's as detected" and "reprojection_error_detected_px" not in report["metadata"]
