"""Ground truth for the face video method: short clips of a head moving along known smooth curves,
and the errors of a ``face_video`` reconstruction of them.

Two clips, each an H.264 MP4 (PyAV, ``yuv420p``, no metadata but the frame rate) with its truth
beside it (``truth.npz``, ``truth.json``):

- :func:`head_clip`: recon's own head (:class:`recon_face.head_model.HeadModel` ``"mid"``) with a
  seeded identity (weights ~ N(0, ``identity_sd``)), a skin-like albedo
  (:func:`recon.testing.scan_renders.skin_albedo`) with darker lips and brows (painted where
  the model's own MediaPipe landmarks put them), dark irises, pupils and mouth interior
  (no eyelashes); it turns and drifts while a few ARKit shapes move (:func:`expression_curves`:
  ``jawOpen`` 0-0.6, short blinks of both eyes and one wink of the left, ``mouthSmileLeft`` /
  ``mouthSmileRight`` 0-0.5, ``browInnerUp`` 0-0.5).
- :func:`scan_clip`: the Igea scan prepared by :func:`recon.testing.scan_renders.prepare_scan`
  (recon's axes, eye centres 63 mm apart) moving rigidly along the same kind of curves, turning
  about a point 9 cm behind its face (about where a head turns); no expression.

The camera is fixed, looks along -Z at the face from ``distance_m`` in front of it, with a
focal of ``focal_factor`` times the width (1.4: a 50 mm lens on 35 mm film), square pixels and a
centred principal point. The head turns by ``R_h = Rz(roll) Rx(pitch) Ry(yaw)`` composed as
scipy's intrinsic ``"YXZ"`` Euler angles (:func:`head_rotation`), the convention of
``head_pose_deg`` in the method's report and of the Live Link CSV's ``HeadYaw``/``HeadPitch``/
``HeadRoll``, so the truth's angles and the report's compare directly (with scipy, a positive
yaw turns the face to the subject's left, a positive pitch turns it **down**, a positive roll
lowers its right side). Each angle is a sum of two slow sinusoids with seeded phases within
+-``yaw_deg``, +-``pitch_deg``, +-``roll_deg`` (:func:`pose_curves`), and the head drifts by up to
``drift_m`` along each axis. Frames are shaded by :func:`recon.testing.scan_renders.shade`
(PyTorch3D Phong, the key light fixed in the world, so the shading moves over the turning face),
2x supersampled, with seeded sensor noise.

Truth per frame (``truth.npz``): ``R``, ``t`` (OpenCV, head frame to camera:
``x_cam = R @ X + t``), ``pose_deg`` (yaw, pitch, roll), ``weights`` (the 51 ARKit weights in
the model's order; zeros for the scan) and ``observable`` (head clip: (T, 51) bool, the shapes
that at weight 1 move a vertex visible in that frame by more than 1 mm), plus ``K``.

Scoring (:func:`score_clip`) of the method's ``animation.csv`` (head pose in radians and every
weight, per frame) and ``report.json``:

- **rotation**: per frame the angle of ``R_est G^T R_true^T``, where ``G`` is ONE constant
  rotation fitted over the clip (the chordal mean of ``R_true^T R_est``): the gauge between the
  estimated head frame and the truth's (the method's head model is not the scan; for the head
  clip it should be near the identity, and the raw error, without ``G``, is reported too). Also
  the per-axis median signed error of yaw, pitch and roll (raw), which shows a sign mistake.
- **expression** (head clip): mean absolute weight error over the (frame, shape) pairs the truth
  marks ``observable``, and over the animated shapes only, with each animated shape's error and
  the correlation of ``jawOpen`` with its truth.
- **jitter**: as LDEQ's normalised mean jitter without the normalisation
  (:func:`recon_face.video_fit.jitter`): the mean norm of the frame-to-frame change of the error,
  for the rotation (the error as a rotation vector, degrees) and for the weights (the animated
  shapes); real motion cancels, only shaking counts.
- **gaze** (head clip): the median absolute eye yaw and pitch the CSV gives; the rendered eyes
  look straight ahead (+Z of the head), so the truth is 0.

Clips are cached under ``<scan_renders cache>/video``, keyed by their parameters
(:func:`recon.testing.scan_renders.cache_root`; ``$RECON_SCAN_RENDERS`` moves it).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.cameras import rotation_angle
from recon.structures import Camera

CACHE_VERSION = 1  # bump when the clips change for the same parameters
OBSERVABLE_M = 0.001  # a shape is observable in a frame when it moves a visible vertex this far
SCAN_PIVOT = (0.0, 0.0, -0.09)  # a scan turns about this point (metres, its frame): behind the face
ANIMATED = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "browInnerUp")
SCLERA = np.array([0.85, 0.82, 0.78])
IRIS = np.array([0.30, 0.19, 0.11])
PUPIL = np.array([0.03, 0.03, 0.03])
MOUTH = np.array([0.36, 0.15, 0.13])
IRIS_RADIUS_M, PUPIL_RADIUS_M = 0.0058, 0.0022


@dataclass(frozen=True)
class ClipSettings:
    """How a clip is made; every field is part of the cache key.

    :param focal_factor: focal length over image width (1.4: 50 mm-equivalent).
    :param distance_m: from the camera to the face (the landmarks' mean) at rest.
    :param drift_m: the most the head drifts along each axis.
    :param identity_sd: standard deviation of the head clip's identity weights.
    :param crf: H.264 quality (lower is better; 18 is visually lossless).
    """

    frames: int = 40
    size: int = 512
    fps: int = 25
    focal_factor: float = 1.4
    distance_m: float = 0.55
    yaw_deg: float = 30.0
    pitch_deg: float = 10.0
    roll_deg: float = 5.0
    drift_m: float = 0.01
    identity_sd: float = 0.7
    supersample: int = 2
    noise: float = 1.0
    crf: int = 16
    seed: int = 0


@dataclass
class ClipTruth:
    """A clip on disk and its truth (see the module docstring); ``weights`` and ``observable`` are
    ``None`` for a rigid scan."""

    folder: Path
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    pose_deg: np.ndarray
    weights: np.ndarray | None
    observable: np.ndarray | None
    names: tuple[str, ...]
    info: dict[str, Any]

    @property
    def video(self) -> Path:
        return self.folder / "clip.mp4"

    @property
    def frames(self) -> int:
        return len(self.R)


# -- curves ----------------------------------------------------------------------------------------
def _wave(times: np.ndarray, rng: np.random.Generator, hz: tuple[float, float]) -> np.ndarray:
    """A sum of two sinusoids (weights 0.65, 0.35) at ``hz`` with seeded phases, within [-1, 1]."""
    phase = rng.uniform(0, 2 * np.pi, 2)
    return 0.65 * np.sin(2 * np.pi * hz[0] * times + phase[0]) + 0.35 * np.sin(2 * np.pi * hz[1] * times + phase[1])


def pose_curves(settings: ClipSettings) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) yaw, pitch, roll in degrees and (T, 3) drift in metres, per frame (smooth, seeded)."""
    rng = np.random.default_rng(settings.seed)
    times = np.arange(settings.frames) / settings.fps
    angles = np.stack(
        [
            settings.yaw_deg * _wave(times, rng, (0.30, 0.70)),
            settings.pitch_deg * _wave(times, rng, (0.45, 0.95)),
            settings.roll_deg * _wave(times, rng, (0.35, 0.80)),
        ],
        axis=1,
    )
    drift = settings.drift_m * np.stack([_wave(times, rng, (0.15, 0.4)) for _ in range(3)], axis=1)
    return angles, drift


def _blink(times: np.ndarray, at: float, duration: float = 0.24) -> np.ndarray:
    """A blink centred at ``at`` seconds: a raised cosine 0 -> 1 -> 0 over ``duration``."""
    x = np.clip((times - at) / duration, -0.5, 0.5)
    return 0.5 + 0.5 * np.cos(2 * np.pi * x)


def expression_curves(settings: ClipSettings, names: tuple[str, ...]) -> np.ndarray:
    """(T, len(names)) weights: the :data:`ANIMATED` shapes move, the others stay 0.

    Blinks: the first at 0.5 s, then every 1.6-2.4 s (seeded); the second is a wink of the left
    eye only."""
    rng = np.random.default_rng(settings.seed + 100)
    times = np.arange(settings.frames) / settings.fps
    unit = lambda w: 0.5 + 0.5 * w  # noqa: E731  [-1, 1] -> [0, 1]
    curves = {
        "jawOpen": 0.6 * unit(_wave(times, rng, (0.9, 1.7))),
        "mouthSmileLeft": 0.5 * unit(_wave(times, rng, (0.35, 0.6))),
        "mouthSmileRight": 0.5 * unit(_wave(times, rng, (0.35, 0.6))),
        "browInnerUp": 0.5 * unit(_wave(times, rng, (0.5, 1.1))),
    }
    left, right = np.zeros_like(times), np.zeros_like(times)
    at, count = 0.5, 0
    while at < times[-1] + 0.2:
        b = _blink(times, at)
        left = np.maximum(left, b)
        if count != 1:
            right = np.maximum(right, b)
        at += rng.uniform(1.6, 2.4)
        count += 1
    curves["eyeBlinkLeft"], curves["eyeBlinkRight"] = left, right
    out = np.zeros((settings.frames, len(names)))
    for name, curve in curves.items():
        out[:, names.index(name)] = curve
    return out


def head_rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """The head frame's rotation (recon's axes) for these angles: scipy's intrinsic ``"YXZ"``,
    what ``recon_face.method._head_pose`` reads back from ``diag(1, -1, -1) @ R``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("YXZ", [yaw_deg, pitch_deg, roll_deg], degrees=True).as_matrix()


def clip_camera(settings: ClipSettings, target: np.ndarray) -> Camera:
    """The fixed camera: ``distance_m`` in front of ``target`` (+Z), looking at it."""
    from recon.cameras import look_at

    s = settings.size
    eye = np.asarray(target, np.float64) + [0.0, 0.0, settings.distance_m]
    return look_at(eye, np.asarray(target, np.float64), settings.focal_factor * s, s, s, name="clip")


# -- appearance ------------------------------------------------------------------------------------
def head_appearance(identity: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Faces (all parts, into the model's vertices) and per-vertex albedo of the ``"mid"`` head
    with ``identity`` weights: skin with lips and brows painted as
    :func:`recon.testing.scan_renders.prepare_scan` paints a scan's, eyes with an iris and a
    pupil and a dark mouth interior. The eyelashes are left out (the ``mid`` head's are solid
    cards that would draw a thick black ring around each eye)."""
    from recon.raster import rasterize_view
    from recon.testing.scan_renders import (
        BROW_LEFT,
        BROW_RIGHT,
        BROWS,
        LIPS,
        LIPS_OUTER,
        SKIN,
        _frontal_camera,
        _sample_visible,
        _soft_polygon,
        skin_albedo,
    )
    from recon_face.head_model import HeadModel

    model = HeadModel.load("mid")
    verts = model.vertices(identity).astype(np.float64)
    faces = np.concatenate([p.vertex_index[p.faces] for p in model.parts if p.material != "eyelashes"])
    albedo = np.tile(SKIN, (len(verts), 1))
    for part in model.parts:
        index = part.vertex_index
        if part.material == "mouth":
            albedo[index] = MOUTH
        elif part.material == "eye":
            v = verts[index]
            front = v[np.argmax(v[:, 2])]
            r = np.linalg.norm(v[:, :2] - front[:2], axis=1)
            albedo[index] = np.where((r < PUPIL_RADIUS_M)[:, None], PUPIL, np.where((r < IRIS_RADIUS_M)[:, None], IRIS, SCLERA))
    skin = model.part("skin").vertex_index
    albedo[skin] = skin_albedo(verts[skin], seed)
    # lips and brows where the model's own landmarks are, on a frontal render
    lm = model.landmark_points(verts.astype(np.float32)).astype(np.float64)
    cam = _frontal_camera(1000, 50.0, 0.6, lm.mean(0))
    depth = rasterize_view(verts, faces, cam).depth
    xy = cam.project(lm)
    px_per_m = float(cam.K[0, 0] / 0.6)
    only_skin = np.zeros(len(verts))
    only_skin[skin] = 1.0
    lips = only_skin * _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(LIPS_OUTER)], 0.0015 * px_per_m))
    brows = only_skin * np.maximum(
        _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(BROW_RIGHT)], 0.003 * px_per_m)),
        _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(BROW_LEFT)], 0.003 * px_per_m)),
    )
    brows = np.clip(2.0 * brows, 0.0, 1.0)  # the mid head's vertices are ~4 mm apart: a brow holds few
    albedo = albedo * (1 - lips[:, None]) + LIPS * lips[:, None] * (albedo / SKIN)
    albedo = albedo * (1 - 0.85 * brows[:, None]) + BROWS * 0.85 * brows[:, None]
    return faces, albedo.clip(0.0, 1.0)


# -- writing ---------------------------------------------------------------------------------------
def _folder(kind: str, settings: ClipSettings, cache: Path | None, extra: dict[str, Any]) -> Path:
    from recon.testing.scan_renders import cache_root

    key = json.dumps({"version": CACHE_VERSION, "kind": kind, "settings": asdict(settings), **extra}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return (cache or cache_root() / "video") / f"{kind}-{settings.frames}f-{settings.size}px-{digest}"


def _encode(path: Path, frames: Callable[[int], np.ndarray], settings: ClipSettings) -> None:
    """Write ``settings.frames`` frames (``frames(k)``: (H, W, 3) uint8) as an H.264 MP4."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=settings.fps)
        stream.width = stream.height = settings.size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(settings.crf), "preset": "medium"}
        for k in range(settings.frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frames(k), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _make(folder: Path, build: Callable[[Path], None]) -> ClipTruth:
    """Run ``build`` into a scratch folder and move it to ``folder`` (unless already cached)."""
    if (folder / "truth.json").is_file():
        return load_clip(folder)
    from recon.testing.scan_renders import build_cached

    build_cached(folder, build)
    return load_clip(folder)


def _frame_image(rgb: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    return (rgb * 255 + rng.normal(0, noise, rgb.shape) + 0.5).clip(0, 255).astype(np.uint8)


def _check_first_frame(image: np.ndarray, what: str) -> None:
    from recon.structures import Frame
    from recon_face.detect import detect

    if detect(Frame(image=image, source=f"{what} frame 0")) is None:
        raise RuntimeError(f"{what}: MediaPipe finds no face in the first frame; change the appearance or the camera")


def _write_truth(
    work: Path, settings: ClipSettings, camera: Camera, R_h: np.ndarray, moved: np.ndarray, info: dict[str, Any], **arrays: np.ndarray
) -> None:
    """``truth.npz`` and ``truth.json``: the head's world motion ``X_w = R_h X + moved`` turned
    into head-to-camera ``R``, ``t``."""
    R = camera.R[None] @ R_h
    t = moved @ camera.R.T + camera.t
    np.savez_compressed(work / "truth.npz", K=camera.K, R=R, t=t, **arrays)
    info = {
        **info,
        "video": "clip.mp4",
        "frames": settings.frames,
        "fps": settings.fps,
        "size": [settings.size, settings.size],
        "focal_px": float(camera.K[0, 0]),
        "camera": {"K": camera.K.tolist(), "R": camera.R.tolist(), "t": camera.t.tolist()},
        "camera_convention": "OpenCV: x_cam = R X + t (head frame to camera), x right, y down, z forward",
        "pose_convention": "R = camera.R @ R_h, R_h = scipy Rotation.from_euler('YXZ', [yaw, pitch, roll], degrees=True): what the report's head_pose_deg reads",
        "light": "PyTorch3D Phong, the key light of recon.testing.scan_renders.key_light() fixed in the world (the camera's frame)",
        "settings": asdict(settings),
    }
    (work / "truth.json").write_text(json.dumps(info, indent=1))


def head_clip(settings: ClipSettings = ClipSettings(), cache: Path | None = None) -> ClipTruth:
    """recon's head moving and changing expression (see the module docstring), or the cached clip."""
    from scipy.spatial.transform import Rotation

    from recon.structures import Mesh
    from recon.testing.scan_renders import shade, visible_vertices
    from recon_face.head_model import HeadModel

    def build(work: Path) -> None:
        model = HeadModel.load("mid")
        identity = np.random.default_rng(settings.seed).normal(0.0, settings.identity_sd, len(model.identity))
        faces, albedo = head_appearance(identity, settings.seed)
        names = tuple(model.expression_names)
        angles, drift = pose_curves(settings)
        weights = expression_curves(settings, names)
        face_centre = model.landmark_points(model.vertices(identity)).astype(np.float64).mean(0)
        camera = clip_camera(settings, face_centre)
        R_h = Rotation.from_euler("YXZ", angles, degrees=True).as_matrix()
        reach = np.linalg.norm(model.expression, axis=2)  # (51, V) how far each shape moves each vertex
        observable = np.zeros((settings.frames, len(names)), bool)
        rng = np.random.default_rng(settings.seed + 1)

        def frame(k: int) -> np.ndarray:
            v = model.vertices(identity, weights[k]).astype(np.float64) @ R_h[k].T + drift[k]
            seen = visible_vertices(Mesh(v, faces), [camera])
            observable[k] = (reach[:, seen] > OBSERVABLE_M).any(axis=1)
            image = _frame_image(shade(v, faces, albedo, camera, settings.supersample), rng, settings.noise)
            if k == 0:
                _check_first_frame(image, "head clip")
            return image

        _encode(work / "clip.mp4", frame, settings)
        info = {
            "kind": "head",
            "model": "recon_face HeadModel 'mid' (ICT face model)",
            "identity": "weights ~ N(0, identity_sd), seeded; stored as identity in truth.npz",
            "animated": list(ANIMATED),
            "observable": f"(T, 51): the shape at weight 1 moves a vertex visible in that frame by more than {OBSERVABLE_M * 1000:g} mm",
        }
        _write_truth(
            work, settings, camera, R_h, drift, info,
            pose_deg=angles, weights=weights, observable=observable, identity=identity, names=np.array(names),
        )

    return _make(_folder("head", settings, cache, {}), build)


def scan_clip(data: Path, scan: str = "igea", settings: ClipSettings = ClipSettings(), cache: Path | None = None) -> ClipTruth:
    """A scan of :data:`recon.testing.scan_renders.SCANS` moving rigidly (see the module
    docstring), or the cached clip.

    :param data: the shared data folder (``../shared/data``).
    """
    from scipy.spatial.transform import Rotation

    from recon.testing.scan_renders import SCANS, prepare_scan, shade

    spec = SCANS[scan]
    path = data / spec.file

    def build(work: Path) -> None:
        prepared = prepare_scan(spec, data, settings.seed)
        verts = prepared["vertices"].astype(np.float64)
        faces, albedo = prepared["faces"].astype(np.int64), prepared["albedo"].astype(np.float64)
        angles, drift = pose_curves(settings)
        camera = clip_camera(settings, np.zeros(3))  # the scan's origin is its landmarks' mean
        R_h = Rotation.from_euler("YXZ", angles, degrees=True).as_matrix()
        pivot = np.array(SCAN_PIVOT)
        moved = pivot - R_h @ pivot + drift  # X_w = R_h (X - p) + p + drift
        rng = np.random.default_rng(settings.seed + 1)

        def frame(k: int) -> np.ndarray:
            image = _frame_image(shade(verts @ R_h[k].T + moved[k], faces, albedo, camera, settings.supersample), rng, settings.noise)
            if k == 0:
                _check_first_frame(image, f"{scan} clip")
            return image

        _encode(work / "clip.mp4", frame, settings)
        info = {
            "kind": "scan",
            "scan": scan,
            "scan_file": str(path),
            "source": spec.source,
            "scale_m_per_unit": float(prepared["scale"]),
            "normalisation": "recon.testing.scan_renders.prepare_scan: recon's axes, eye centres 63 mm apart, origin at the landmarks' mean",
            "pivot_m": list(SCAN_PIVOT),
        }
        _write_truth(work, settings, camera, R_h, moved, info, pose_deg=angles)

    return _make(_folder(scan, settings, cache, {"spec": asdict(spec), "bytes": path.stat().st_size}), build)


def load_clip(folder: Path) -> ClipTruth:
    """A clip written by :func:`head_clip` or :func:`scan_clip`."""
    info = json.loads((folder / "truth.json").read_text())
    with np.load(folder / "truth.npz") as z:
        has = lambda k: k in z.files  # noqa: E731
        return ClipTruth(
            folder=folder,
            K=z["K"],
            R=z["R"],
            t=z["t"],
            pose_deg=z["pose_deg"],
            weights=z["weights"] if has("weights") else None,
            observable=z["observable"] if has("observable") else None,
            names=tuple(str(n) for n in z["names"]) if has("names") else (),
            info=info,
        )


# -- scoring ---------------------------------------------------------------------------------------
@dataclass
class Estimate:
    """What a ``face_video`` run says per frame: ``R`` (T, 3, 3) head frame to camera (OpenCV,
    from the CSV's head yaw, pitch and roll), ``pose_deg`` (T, 3), ``weights`` ({ARKit name: (T,)}),
    the report, and ``gaze_deg`` (T, 4): the left eye's yaw and pitch, the right eye's."""

    R: np.ndarray
    pose_deg: np.ndarray
    weights: dict[str, np.ndarray]
    report: dict[str, Any]
    gaze_deg: np.ndarray | None = None


def read_estimate(out: Path) -> Estimate:
    """The head pose and weights of every frame from ``out/animation.csv``, and ``out/report.json``."""
    from scipy.spatial.transform import Rotation

    with (out / "animation.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    pose = np.degrees([[float(r["HeadYaw"]), float(r["HeadPitch"]), float(r["HeadRoll"])] for r in rows]).reshape(-1, 3)
    front = np.diag([1.0, -1.0, -1.0])
    R = front[None] @ Rotation.from_euler("YXZ", pose, degrees=True).as_matrix()
    shapes = [c for c in (rows[0] if rows else {}) if c not in ("Timecode", "BlendShapeCount") and not c.endswith(("Yaw", "Pitch", "Roll"))]
    weights = {c[0].lower() + c[1:]: np.array([float(r[c]) for r in rows]) for c in shapes}  # EyeBlinkLeft -> eyeBlinkLeft
    eyes = ("LeftEyeYaw", "LeftEyePitch", "RightEyeYaw", "RightEyePitch")
    gaze = np.degrees([[float(r[c]) for c in eyes] for r in rows]).reshape(-1, 4) if rows and eyes[0] in rows[0] else None
    return Estimate(R, pose, weights, json.loads((out / "report.json").read_text()), gaze)


def chordal_mean(rotations: np.ndarray) -> np.ndarray:
    """The rotation nearest (Frobenius) to the mean of (N, 3, 3) ``rotations``."""
    U, _, Vt = np.linalg.svd(rotations.mean(0))
    return U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt


def _stats(values: np.ndarray, digits: int = 3) -> dict[str, float]:
    return {"median": round(float(np.median(values)), digits), "mean": round(float(np.mean(values)), digits), "max": round(float(np.max(values)), digits)}


def score_clip(truth: ClipTruth, estimate: Estimate | Path) -> dict[str, Any]:
    """The errors of ``estimate`` (or the output folder it is read from) against ``truth``, as
    JSON-able figures (see the module docstring). Frames beyond the shorter of the two are left out."""
    from scipy.spatial.transform import Rotation

    from recon_face.video_fit import jitter

    est = read_estimate(estimate) if isinstance(estimate, Path) else estimate
    T = min(truth.frames, len(est.R))
    R_true, R_est = truth.R[:T], est.R[:T]
    gauge = chordal_mean(np.swapaxes(R_true, 1, 2) @ R_est)  # R_est ~ R_true @ G
    aligned = R_est @ gauge.T
    residual = aligned @ np.swapaxes(R_true, 1, 2)  # in the camera's frame
    err = rotation_angle(residual)
    raw = rotation_angle(R_est @ np.swapaxes(R_true, 1, 2))
    signed = (est.pose_deg[:T] - truth.pose_deg[:T] + 180.0) % 360.0 - 180.0
    err_vec = np.degrees(Rotation.from_matrix(residual).as_rotvec())
    views = est.report.get("views", [])[:T]
    out: dict[str, Any] = {
        "frames": T,
        "frames_bridged": sum(v.get("status") == "bridged" for v in views),
        "rotation_deg": {**_stats(err), "per_frame": [round(float(e), 2) for e in err]},
        "gauge_deg": round(float(rotation_angle(gauge)), 3),
        "rotation_raw_deg": _stats(raw),
        "pose_signed_error_deg_median": {k: round(float(np.median(signed[:, i])), 3) for i, k in enumerate(("yaw", "pitch", "roll"))},
        "rotation_jitter_deg": round(jitter(err_vec, np.zeros_like(err_vec)), 4),
    }
    medians = [v["reprojection_error_px"]["median"] for v in views if "reprojection_error_px" in v]
    if medians:
        out["reprojection_px_median"] = round(float(np.median(medians)), 3)
    if truth.weights is not None:
        names = truth.names
        W_true = truth.weights[:T]
        W_est = np.stack([est.weights.get(n, np.zeros(len(est.R)))[:T] for n in names], axis=1)
        abs_err = np.abs(W_est - W_true)
        mask = truth.observable[:T]
        animated = [names.index(n) for n in ANIMATED]
        out["expression_mae"] = round(float(abs_err[mask].mean()), 4)
        out["expression_mae_observable_shapes"] = int(mask.any(0).sum())
        out["expression_mae_animated"] = round(float(abs_err[:, animated].mean()), 4)
        out["expression_mae_per_shape"] = {names[i]: round(float(abs_err[:, i].mean()), 4) for i in animated}
        worst = np.argsort(-abs_err.mean(0))[:5]
        out["expression_worst_shapes"] = {names[i]: round(float(abs_err[:, i].mean()), 4) for i in worst}
        jaw = names.index("jawOpen")
        sd = W_est[:, jaw].std() * W_true[:, jaw].std()
        out["jaw_open_correlation"] = round(float(np.corrcoef(W_est[:, jaw], W_true[:, jaw])[0, 1]), 4) if sd > 0 else 0.0
        out["expression_jitter"] = round(jitter(W_true[:, animated], W_est[:, animated]), 4)
        if est.gaze_deg is not None:  # the head clip's eyes look straight ahead (+Z of the head)
            out["gaze_abs_deg_median"] = round(float(np.median(np.abs(est.gaze_deg[:T]))), 3)
    return out


def reconstruct_and_score(truth: ClipTruth, out: Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run method ``face_video`` on the clip in-process (plugins from the entry points) into
    ``out`` and :func:`score_clip` it; adds the options, the run's time and its stage timings."""
    import time

    from recon.pipeline import reconstruct
    from recon.plugins import PluginHost

    start = time.perf_counter()
    report = reconstruct(
        PluginHost().load_entrypoints(), [truth.video], out, method="face_video", options=options or {}, formats=("glb",), quiet=True, overwrite=True
    )
    elapsed = time.perf_counter() - start
    meta = report.get("metadata", {})
    return {
        **score_clip(truth, out),
        "options": options or {},
        "seconds": round(elapsed, 2),
        "stage_fps": meta.get("stage_fps"),
        "focal_px": meta.get("focal_px"),
        "focal_px_true": round(float(truth.K[0, 0]), 2),
    }
