"""The video method's pieces on known answers: the smoother (no lag, bridging), key frames, gaze,
the Live Link CSV, and the per-frame solver on synthetic landmarks of recon's head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recon.structures import Camera
from recon_face.livelink import HEADER, livelink_csv, timecode
from recon_face.video_fit import (
    FrameFit,
    fit_gaze,
    fit_weights,
    gaze_rotation,
    informed_whittaker,
    jitter,
    key_frames,
    smooth,
    whittaker,
    whittaker_lambda,
)


def test_whittaker_removes_noise_without_lag() -> None:
    """A 1 Hz sine at 25 fps with noise: the smoothed curve is closer to the truth, not delayed
    (its best alignment with the truth is at zero shift) and the jitter drops."""
    rng = np.random.default_rng(0)
    t = np.arange(150) / 25
    truth = np.sin(2 * np.pi * t)[:, None]
    noisy = truth + rng.normal(0, 0.1, truth.shape)
    smoothed = whittaker(noisy, np.ones(150), whittaker_lambda(4.0, 25))
    assert np.abs(smoothed - truth).mean() < 0.6 * np.abs(noisy - truth).mean()
    shifts = range(-3, 4)
    errors = [np.abs(np.roll(smoothed[:, 0], s)[5:-5] - truth[5:-5, 0]).mean() for s in shifts]
    assert list(shifts)[int(np.argmin(errors))] == 0
    assert jitter(truth, smoothed) < 0.4 * jitter(truth, noisy)


def test_whittaker_bridges_frames_without_data() -> None:
    """Frames of zero confidence take the curve through them (here a straight line), with and
    without smoothing."""
    values = np.arange(20, dtype=float)[:, None] * 2.0
    confidence = np.ones(20)
    confidence[8:13] = 0
    gapped = values.copy()
    gapped[8:13] = 99.0  # garbage where there is no face
    for lam in (0.0, whittaker_lambda(4.0, 25)):
        np.testing.assert_allclose(whittaker(gapped, confidence, lam)[8:13, 0], values[8:13, 0], atol=0.05)
    single = np.zeros(5)
    single[2] = 1
    np.testing.assert_allclose(whittaker(np.arange(5.0)[:, None], single, 1.0)[:, 0], 2.0)  # one frame: held


def test_informed_whittaker_is_whittaker_for_one_confidence_per_frame() -> None:
    """Information ``c_k * I`` gives back the plain smoother, frames without data included."""
    rng = np.random.default_rng(2)
    values = rng.normal(0, 1, (40, 3))
    c = rng.uniform(0.5, 2.0, 40)
    c[10:15] = 0
    lam = whittaker_lambda(3.0, 25)
    np.testing.assert_allclose(informed_whittaker(values, c[:, None, None] * np.eye(3), np.full(3, lam)), whittaker(values, c, lam), atol=1e-8)


def test_informed_whittaker_smooths_what_the_frames_leave_loose() -> None:
    """Two curves that move together (a 0.5 Hz turn seen through their sum, which the frames hold
    firmly: small noise), while their difference, which the frames leave loose (large noise),
    stays put: weighing each frame by that information follows the motion and removes the loose
    noise, where one confidence per frame either keeps the noise or cuts the motion."""
    rng = np.random.default_rng(3)
    t = np.arange(150) / 25
    firm, loose = np.array([1.0, 1.0]) / np.sqrt(2), np.array([1.0, -1.0]) / np.sqrt(2)
    truth = np.outer(np.sin(2 * np.pi * 0.5 * t), firm) + 0.3 * loose
    noisy = truth + rng.normal(0, 0.01, (150, 1)) * firm + rng.normal(0, 0.3, (150, 1)) * loose
    information = np.broadcast_to(np.outer(firm, firm) / 0.01**2 + np.outer(loose, loose) / 0.3**2, (150, 2, 2))
    scale = np.diagonal(information[0]).copy()  # as smooth() does: each curve's typical information
    error = lambda x: np.abs(x - truth).mean()  # noqa: E731
    for hz in (2.0, 4.0):
        lam = whittaker_lambda(hz, 25)
        informed = informed_whittaker(noisy, information, lam * scale)
        plain = whittaker(noisy, np.ones(150), lam)
        assert error(informed) < 0.85 * error(plain), hz  # 0.73 and 0.64 here
        assert jitter(truth, informed) < 0.4 * jitter(truth, plain), hz  # 0.25 and 0.13 here


def test_lambda_halves_the_response_at_the_cutoff() -> None:
    lam = whittaker_lambda(5.0, 25)
    s = 2 * np.sin(np.pi * 5.0 / 25)
    assert 1 / (1 + lam * s**4) == pytest.approx(0.5)


def test_key_frames_spread_over_the_shapes() -> None:
    """Farthest-point sampling: the chosen frames include the extremes, not neighbours."""
    line = np.linspace(0, 1, 50)[:, None] * np.ones((1, 4))
    chosen = key_frames(line, 3)
    assert chosen[0] == 0 and chosen[-1] == 49 and 20 <= chosen[1] <= 29
    assert key_frames(line[:2], 5) == [0, 1]


def test_gaze_rotation_signs() -> None:
    ahead = np.array([0.0, 0.0, 1.0])
    left = gaze_rotation(np.radians(20), 0.0) @ ahead
    up = gaze_rotation(0.0, np.radians(20)) @ ahead
    assert left[0] > 0.3 and abs(left[1]) < 1e-9  # towards the subject's left (+X)
    assert up[1] > 0.3 and abs(up[0]) < 1e-9  # up (+Y)


def test_fit_gaze_recovers_known_angles() -> None:
    """An eyeball 60 cm in front of a camera turned by known angles: the pupil's projection gives
    them back."""
    K = np.array([[800.0, 0, 256], [0, 800, 256], [0, 0, 1]])
    T = 5
    fit = FrameFit(np.repeat(np.diag([1.0, -1, -1])[None], T, 0), np.tile([0.0, 0.0, 0.6], (T, 1)), np.zeros((T, 51)), np.ones(T, bool))
    centre, pupil = np.array([0.03, 0.035, 0.08]), np.array([0.03, 0.035, 0.096])
    truth = np.radians([[0, 0], [10, 0], [0, -8], [-15, 5], [20, 12]])
    iris = []
    for k, (yaw, pitch) in enumerate(truth):
        p = centre + gaze_rotation(yaw, pitch) @ (pupil - centre)
        q = fit.rotations[k] @ p + fit.translations[k]
        iris.append((K @ q)[:2] / q[2])
    found = fit_gaze(fit, K, centre, pupil, iris)
    np.testing.assert_allclose(found, truth, atol=np.radians(0.05))
    held = fit_gaze(fit, K, centre, pupil, [iris[0], iris[1], None, iris[3], iris[4]])
    np.testing.assert_allclose(held[2], truth[1], atol=np.radians(0.05))  # no iris: the last angles


def test_smooth_keeps_a_still_head_still_and_bridges() -> None:
    from scipy.spatial.transform import Rotation

    T = 30
    rng = np.random.default_rng(1)
    turns = Rotation.from_rotvec(rng.normal(0, np.radians(0.5), (T, 3))) * Rotation.from_euler("Y", 10, degrees=True)
    found = np.ones(T, bool)
    found[10:14] = False
    weights = np.clip(rng.normal(0.3, 0.05, (T, 51)), 0, 1)
    weights[10:14] = 1.0  # what the frames without a face hold: not used
    fit = FrameFit(turns.as_matrix(), rng.normal(0, 1e-3, (T, 3)) + [0, 0, 0.6], weights, found)
    out = smooth(fit, 25.0, 4.0, 6.0)
    truth = np.repeat(Rotation.from_euler("Y", 10, degrees=True).as_matrix()[None], T, 0)
    angle = lambda R: np.degrees(Rotation.from_matrix(R @ np.swapaxes(truth, 1, 2)).magnitude())  # noqa: E731
    assert angle(out.rotations).mean() < 0.6 * angle(fit.rotations).mean()
    assert out.weights.min() >= 0 and out.weights.max() <= 1
    assert np.abs(out.weights[10:14] - 0.3).max() < 0.2  # bridged from the frames around, not the 1.0 held there


def test_timecode() -> None:
    assert timecode(0.0, 25) == "00:00:00:00.000"
    assert timecode(1.04, 25) == "00:00:01:01.000"
    assert timecode(3661.5, 30) == "01:01:01:15.000"
    assert timecode(1 / 59.94 * 3, 59.94) == "00:00:00:03.000"


def test_livelink_columns() -> None:
    weights = np.array([[0.5, 0.25], [1.0, 0.0]])
    data = livelink_csv([0.0, 0.04], 25, ["jawOpen", "eyeBlinkLeft"], weights, np.zeros((2, 3))).decode().splitlines()
    assert data[0].split(",") == HEADER
    row = data[1].split(",")
    assert row[1] == "61" and float(row[HEADER.index("JawOpen")]) == 0.5 and float(row[HEADER.index("EyeBlinkLeft")]) == 0.25
    assert float(row[HEADER.index("TongueOut")]) == 0.0
    with pytest.raises(ValueError, match="not ARKit"):
        livelink_csv([0.0], 25, ["smile"], np.zeros((1, 1)), np.zeros((1, 3)))


def test_solver_recovers_pose_and_expression_from_clean_landmarks() -> None:
    """Landmarks of recon's head with a known pose and jawOpen/eyeBlinkLeft: the per-frame solver
    (the video method's settings) started from a frontal pose finds them."""
    from scipy.spatial.transform import Rotation

    from recon_face.head_fit import HeadFit, LandmarkSolver
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template
    from recon_face.video_method import VIDEO_FIT

    model = HeadModel.load("low")
    head = HeadFit.average(model)
    solver = LandmarkSolver(model, head, load_template().contour, VIDEO_FIT)
    names = list(model.expression_names)
    w = np.zeros(51)
    w[names.index("jawOpen")], w[names.index("eyeBlinkLeft")] = 0.5, 0.8
    K = np.array([[700.0, 0, 255.5], [0, 700, 255.5], [0, 0, 1]])
    R = Rotation.from_euler("YX", [15, -5], degrees=True).as_matrix() @ np.diag([1.0, -1, -1])
    truth = Camera(K=K, R=np.diag([1.0, -1, -1]) @ Rotation.from_euler("YX", [15, -5], degrees=True).as_matrix(), t=np.array([0.0, 0.0, 0.6]), width=512, height=512)
    points = truth.project(solver.base + solver.E @ w)
    start = Camera(K=K, R=np.diag([1.0, -1, -1]), t=np.array([0.0, 0.0, 0.6]), width=512, height=512)
    camera, found = start, np.zeros(51)
    for _ in range(3):
        camera, found = solver.solve(camera, points, found)
    angle = np.degrees(Rotation.from_matrix(camera.R @ truth.R.T).magnitude())
    assert angle < 0.5 and R.shape == (3, 3)
    assert found[names.index("jawOpen")] == pytest.approx(0.5, abs=0.1)
    assert found[names.index("eyeBlinkLeft")] == pytest.approx(0.8, abs=0.1)
    information = solver.information(camera, points, found)
    assert information.shape == (57, 57) and np.allclose(information, information.T)
    assert np.linalg.eigvalsh(information[:6, :6]).min() > 0  # the landmarks fix the pose

    # fit_weights: the weights found again with the pose held, from none
    fit = FrameFit(truth.R[None], truth.t[None], np.zeros((1, 51)), np.ones(1, bool))
    again = fit_weights(solver, fit, K, 512, 512, [points], [None], iterations=8)
    assert again.weights[0, names.index("jawOpen")] == pytest.approx(0.5, abs=0.1)
    assert again.weights[0, names.index("eyeBlinkLeft")] == pytest.approx(0.8, abs=0.1)
    np.testing.assert_array_equal(again.rotations, fit.rotations)


def test_tracker_finds_the_same_person_again(shared_data: Path) -> None:
    """Two people, the smaller one followed (face_index=1); the face is lost for a frame; the
    search after it takes the followed person again, not the larger one."""
    import av
    from PIL import Image

    from recon.structures import Frame
    from recon_face.track import track

    clip = shared_data / "face_video" / "metrical_tracker" / "wojtek" / "video.mp4"
    photo = shared_data / "face_multiview" / "mvfnet" / "front.jpg"
    if not (clip.is_file() and photo.is_file()):
        pytest.skip("../shared/data face clips absent")
    with av.open(str(clip)) as container:
        big = next(container.decode(video=0)).to_ndarray(format="rgb24")  # 512x512, a large face
    small = np.asarray(Image.open(photo).convert("RGB").resize((256, 256)))
    both = np.zeros((512, 1024, 3), np.uint8)
    both[:, :512] = big
    both[128:384, 640:896] = small
    frames = [Frame(image=both, source="two", index=0), Frame(image=np.zeros_like(both), source="two", index=1), Frame(image=both, source="two", index=2)]
    tracked = list(track(frames, face_index=1))
    assert [t.status for t in tracked] == ["detected", "lost", "detected"]
    for t in (tracked[0], tracked[2]):
        assert t.points[:, 0].mean() > 600  # the small face on the right, both times


def test_clip_identity_moves_the_landmarks_the_frames_agree_on() -> None:
    """Frames of a face whose landmarks sit off the model's by a smooth 2-4 mm field, seen from
    five poses: :func:`landmark_offsets` finds the field across the image from the frames'
    residuals, and after :func:`correct_landmarks` the head meets the frames' landmarks far more
    closely."""
    from scipy.spatial.transform import Rotation

    from recon_face.head_fit import IRIS, HeadFit, LandmarkSolver, correct_landmarks, landmark_offsets
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template
    from recon_face.video_method import VIDEO_FIT

    model = HeadModel.load("low")
    head = HeadFit.average(model)
    contour = load_template().contour
    solver = LandmarkSolver(model, head, contour, VIDEO_FIT)
    base = solver.base
    centred = (base - base.mean(0)) / np.abs(base - base.mean(0)).max()
    offsets = 0.002 * np.stack([np.sin(2 * centred[:, 1]), np.cos(2 * centred[:, 0]), centred[:, 0] * centred[:, 1] + 1], axis=1)
    offsets[IRIS] = 0.0
    K = np.array([[700.0, 0, 255.5], [0, 700, 255.5], [0, 0, 1]])
    flip = np.diag([1.0, -1, -1])
    rotations = np.stack([flip @ Rotation.from_euler("YX", [yaw, pitch], degrees=True).as_matrix() for yaw, pitch in [(-25, 0), (-10, 5), (0, -5), (10, 5), (25, 0)]])
    translations = np.tile([0.0, 0.0, 0.6], (5, 1))
    fit = FrameFit(rotations, translations, np.zeros((5, 51)), np.ones(5, dtype=bool))
    landmarks = [fit.camera(k, K, 512, 512).project(base + offsets) for k in range(5)]

    def reprojection(points_3d: np.ndarray) -> float:
        return float(np.median([np.linalg.norm(fit.camera(k, K, 512, 512).project(points_3d) - landmarks[k], axis=1) for k in range(5)]))

    found = landmark_offsets(solver, [fit.camera(k, K, 512, 512) for k in range(5)], list(fit.weights), landmarks, [None] * 5)
    face = np.setdiff1d(np.arange(len(base)), IRIS)
    # across the image (the head's x and y); depth is seen only through the turns, weakly
    error = np.linalg.norm(found[face, :2] - offsets[face, :2], axis=1)
    assert np.median(error) < 0.3 * np.median(np.linalg.norm(offsets[face, :2], axis=1))
    before = reprojection(base)
    correct_landmarks(model, head, found, contour, VIDEO_FIT)
    after = reprojection(LandmarkSolver(model, head, contour, VIDEO_FIT).base)
    assert before > 2.0 and after < 0.5 * before


def test_landmarks_on_a_surface_turned_away_count_less() -> None:
    """With ``grazing_cos`` the solver weighs each landmark by how squarely its surface faces the
    camera: a frontal face keeps its weights; turned 60 degrees, the landmarks on the far side
    (whose surface turns edge-on, where MediaPipe's points slide) count less than the near ones."""
    from scipy.spatial.transform import Rotation

    from recon_face.head_fit import HeadFit, HeadFitSettings, LandmarkSolver
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template

    model = HeadModel.load("low")
    head = HeadFit.average(model)
    solver = LandmarkSolver(model, head, load_template().contour, HeadFitSettings(grazing_cos=0.5, grazing_floor=0.1))
    R0, t = np.diag([1.0, -1, -1]), np.array([0.0, 0.0, 0.6])
    frontal = solver._facing(R0, t)
    assert np.median(frontal) > 0.9 and frontal.min() >= 0.1
    R = R0 @ Rotation.from_euler("Y", 60, degrees=True).as_matrix()
    turned = solver._facing(R, t)
    depth = (solver.base @ R.T + t)[:, 2]
    far, near = depth > np.percentile(depth, 75), depth < np.percentile(depth, 25)
    assert turned[far].mean() < turned[near].mean() - 0.2
    off = LandmarkSolver(model, head, load_template().contour, HeadFitSettings())._facing(R, t)
    np.testing.assert_array_equal(off, 1.0)  # the default (photos): every landmark counts fully


def test_look_weights_follow_each_eyes_gaze() -> None:
    """eyeLook weights of a gaze: Out/In by the yaw away from or towards the nose (the subject's
    left eye sits at +X), Up/Down by the pitch, 1 at 30 degrees and clipped there."""
    from recon_face.video_fit import EYE_LOOK, look_weights

    names = ["jawOpen", *EYE_LOOK]
    left = np.radians([[15.0, 0.0], [0.0, -45.0]])  # towards +X (away from the nose), then down
    right = np.radians([[15.0, 6.0], [-30.0, 0.0]])  # towards +X (towards the nose) and up, then away
    w = dict(zip(names, look_weights(names, left, right).T))
    assert w["eyeLookOutLeft"] == pytest.approx([0.5, 0]) and w["eyeLookInLeft"] == pytest.approx([0, 0])
    assert w["eyeLookDownLeft"] == pytest.approx([0, 1]) and w["eyeLookUpLeft"] == pytest.approx([0, 0])
    assert w["eyeLookInRight"] == pytest.approx([0.5, 0]) and w["eyeLookOutRight"] == pytest.approx([0, 1])
    assert w["eyeLookUpRight"] == pytest.approx([0.2, 0]) and w["jawOpen"] == pytest.approx([0, 0])


def test_pinned_shapes_keep_their_weights() -> None:
    """A solver with pinned shapes leaves them at the weights it starts from, and its information
    does not couple them to the pose."""
    from recon_face.head_fit import HeadFit, LandmarkSolver
    from recon_face.head_model import HeadModel
    from recon_face.template import load_template
    from recon_face.video_fit import EYE_LOOK
    from recon_face.video_method import VIDEO_FIT

    model = HeadModel.load("low")
    solver = LandmarkSolver(model, HeadFit.average(model), load_template().contour, VIDEO_FIT, pinned=EYE_LOOK)
    names = list(model.expression_names)
    assert solver.pinned.sum() == 8 and all(solver.pinned[names.index(n)] for n in EYE_LOOK)
    truth = np.zeros(51)
    truth[names.index("eyeBlinkRight")] = 0.7
    camera = Camera(K=np.array([[700.0, 0, 256], [0, 700, 256], [0, 0, 1]]), R=np.diag([1.0, -1, -1]), t=np.array([0, 0, 0.6]), width=512, height=512)
    points = camera.project(solver.base + solver.E @ truth)
    start = np.zeros(51)
    start[names.index("eyeLookDownRight")] = 0.3  # held, although the landmarks show none
    _, found = solver.solve(camera, points, start)
    assert found[names.index("eyeLookDownRight")] == 0.3 and found[solver.pinned].sum() == pytest.approx(0.3)
    information = solver.information(camera, points, found)
    pinned = 6 + np.flatnonzero(solver.pinned)
    assert np.abs(information[pinned][:, :6]).max() == 0.0
