"""recon_face.landmark_bias: the viewing angles, the bias model and the correction of landmarks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from recon.structures import Camera
from recon_face.landmark_bias import (
    FEATURES,
    LandmarkBias,
    bias_path,
    correct,
    features,
    fit_coefficients,
    local_offsets,
    view_angles,
)

FRONT = np.diag([1.0, -1.0, -1.0])  # head frame to camera: the face looking at the camera
K = np.array([[700.0, 0.0, 256.0], [0.0, 700.0, 256.0], [0.0, 0.0, 1.0]])


def _camera(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, depth: float = 0.6, centre: np.ndarray = np.zeros(3)) -> Camera:
    """The head turned by ``yaw`` (towards its left), ``pitch`` (chin down) and ``roll`` degrees, ``centre`` at ``depth``."""
    R = Rotation.from_euler("z", roll, degrees=True).as_matrix() @ FRONT @ Rotation.from_euler("YX", [yaw, pitch], degrees=True).as_matrix()
    return Camera(K=K, R=R, t=np.array([0.0, 0.0, depth]) - R @ centre, width=512, height=512)


def test_view_angles_of_a_turned_head() -> None:
    centre = np.array([0.0, 0.02, 0.05])
    yaw, pitch, roll, depth = view_angles(FRONT, np.array([0.0, 0.0, 0.6]) - FRONT @ centre, centre)
    assert (yaw, pitch, roll) == pytest.approx((0.0, 0.0, 0.0), abs=1e-9) and depth == pytest.approx(0.6)
    # the head turned 20 deg to its left sees the camera 20 deg to its right (-X), and so on
    assert view_angles(*_pose(_camera(yaw=20, centre=centre)), centre)[:3] == pytest.approx((-20.0, 0.0, 0.0), abs=1e-6)
    assert view_angles(*_pose(_camera(pitch=15, centre=centre)), centre)[:3] == pytest.approx((0.0, 15.0, 0.0), abs=1e-6)
    # a roll in the image plane changes neither angle; the up axis leans by it
    y, p, r, d = view_angles(*_pose(_camera(yaw=10, roll=30, centre=centre)), centre)
    assert (y, p, np.degrees(r), d) == pytest.approx((-10.0, 0.0, 30.0, 0.6), abs=1e-6)


def _pose(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    return camera.R, camera.t


def test_bias_in_pixels_scales_with_depth_and_turns_with_roll() -> None:
    coef = np.zeros((len(FEATURES), 478, 2))
    coef[0, :, 0] = 0.001  # 1 mm to the right at every pose
    coef[1, 1, 1] = 0.002  # landmark 1: 2 mm down per 30 deg of pitch
    bias = LandmarkBias(coef, np.zeros(3), np.array([-45.0, 45.0]), np.array([-30.0, 30.0]))
    assert bias.pixels(_camera())[0] == pytest.approx([700 * 0.001 / 0.6, 0.0])
    assert bias.pixels(_camera(depth=1.2))[0] == pytest.approx([700 * 0.001 / 1.2, 0.0])
    turned = bias.pixels(_camera(roll=90))[0]  # the head's right is now the image's down
    assert turned == pytest.approx([0.0, 700 * 0.001 / 0.6], abs=1e-9)
    unit = 700 * 0.001 / 0.6  # 1 mm at 0.6 m, pixels
    assert bias.pixels(_camera(pitch=15))[1] == pytest.approx([unit, unit])  # 15 deg: half a unit of the pitch term
    # beyond the calibrated range the angles are clamped: no extrapolated quadratic
    assert bias.pixels(_camera(pitch=60))[1] == pytest.approx([unit, 2 * unit])
    # relative: without the constant term, so nothing for a frontal view
    assert np.abs(bias.pixels(_camera(), relative=True)).max() == 0.0
    assert bias.pixels(_camera(pitch=15), relative=True)[1] == pytest.approx([0.0, unit], abs=1e-12)


def test_fit_coefficients_recovers_a_known_model() -> None:
    rng = np.random.default_rng(0)
    coef = rng.normal(0, 0.001, (len(FEATURES), 478, 2))
    terms = [features(*rng.uniform(-30, 30, 2)) for _ in range(60)]
    local = [np.tensordot(f, coef, axes=1) + rng.normal(0, 1e-5, (478, 2)) for f in terms]
    assert np.abs(fit_coefficients(local, terms) - coef).max() < 2e-4
    # local_offsets undoes pixels(): the image offsets of a model read back as that model's
    bias = LandmarkBias(coef, np.zeros(3), np.array([-45.0, 45.0]), np.array([-30.0, 30.0]))
    camera = _camera(yaw=12, pitch=-7, roll=20, depth=0.8)
    back, term = local_offsets(camera, np.zeros(3), bias.pixels(camera))
    assert back == pytest.approx(np.tensordot(term, coef, axes=1), abs=1e-12)


def test_shipped_calibration_loads_and_explains_the_offsets() -> None:
    bias = LandmarkBias.load()
    assert bias.coefficients.shape == (len(FEATURES), 478, 2) and np.isfinite(bias.coefficients).all()
    card = json.loads(bias_path().with_suffix(".json").read_text())
    assert card["features"] == list(FEATURES)
    assert card["rms_mm"]["after_model"] < 0.8 * card["rms_mm"]["after_constant_only"]
    for figures in card["held_out_clip_rms_mm"].values():  # it carries over to a clip it was not fitted on
        assert figures["after_mm"] < 0.8 * figures["before_mm"]
    with pytest.raises(FileNotFoundError, match="calibrate_landmarks.py"):
        LandmarkBias.load("/nonexistent/landmark_bias.npz")


def test_correct_takes_the_bias_of_the_pose_off() -> None:
    """Landmarks of the average head at known poses with the shipped bias of each pose added
    (its pose-dependent part, the part correct() takes off): correct() finds the poses and gives
    back the true projections (far closer than the biased ones)."""
    from recon_face.head_fit import HeadFit, LandmarkSolver
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template

    model = HeadModel.load("low")
    solver = LandmarkSolver(model, HeadFit.average(model), load_template().contour, neutral=True)
    bias = LandmarkBias.load()
    poses = [(12, 8), (25, 5), (-20, -12), (5, 18)]  # a frontal view has no pose-dependent bias
    truths = [_camera(yaw, pitch, depth=0.6, centre=bias.centre) for yaw, pitch in poses]
    true = [c.project(solver.base) for c in truths]
    biased = [p + bias.pixels(c, relative=True) for p, c in zip(true, truths)]
    start = Camera(K=K, R=FRONT, t=np.zeros(3), width=512, height=512)
    fixed, found = correct(bias, solver, start, [*biased, None], sequence=False)
    assert fixed[-1] is None and found[-1] is None
    for p, b, f, c, cam in zip(true, biased, fixed, truths, found):
        before = np.linalg.norm(b - p, axis=1).mean()
        after = np.linalg.norm(f - p, axis=1).mean()
        assert before > 0.5 and after < 0.15 * before, (before, after)
        assert np.degrees(Rotation.from_matrix(cam.R @ c.R.T).magnitude()) < 1.0


def test_landmarks_without_a_head_pose_stay_as_detected() -> None:
    """Points the average head cannot be fitted to (scattered at random) are not corrected."""
    from recon_face.landmark_bias import facing_camera, pose_solver

    points = np.random.default_rng(1).uniform(0, 512, (478, 3))
    fixed, found = correct(LandmarkBias.load(), pose_solver("low"), facing_camera(512, 512), [points])
    assert found == [None] and np.array_equal(fixed[0], points)
