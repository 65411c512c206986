"""The face video method: landmarks on every frame, one identity from key frames, a head pose and
51 ARKit weights per frame, smoothed over the clip; an animated head GLB, a Live Link Face CSV and
a preview video.

Stages (each a progress bar with frames per second where it runs per frame):

1. ``landmarks``: :func:`recon_face.track.track`, frames decoded one at a time; ``landmark bias``
   (``landmark_bias``, default): each frame's landmarks without MediaPipe's pose-dependent bias
   (:func:`recon_face.landmark_bias.correct`); every later stage reads them, the report gives the
   reprojection error against them and against MediaPipe's as detected.
2. ``fit``, ``head fit``, ``texture``: the photo method's fit (:func:`recon_face.method.fit_photos`
   and its head) on a few key frames (:func:`recon_face.video_fit.key_frames`): the person's
   identity, the head's texture and the clip's focal length (the key frames' median).
3. ``track head``: :func:`recon_face.video_fit.fit_frames`; with ``clip_identity`` (default) the
   identity refined on every fitted frame's landmarks (:func:`recon_face.head_fit.landmark_offsets`,
   :func:`recon_face.head_fit.correct_landmarks`) and the frames fitted again from their first
   solution; then :func:`recon_face.video_fit.smooth` (the pose weighed by each frame's landmark
   information), :func:`recon_face.video_fit.follow_fast_motion`, and the weights fitted again under
   the smoothed poses (:func:`recon_face.video_fit.fit_weights`) and smoothed.
4. ``preview``: ``preview.mp4``, the clip with the tracked head over it (frames decoded again).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.progress import Stages
from recon.structures import Animation, Camera, Inputs, Landmarks, Reconstruction
from recon_face.head_fit import HeadFitSettings

VIDEO_DEFAULTS: dict[str, Any] = {
    "key_frames": 5,  # frames the identity is fitted to
    "smooth": True,  # the temporal model (false: every frame as fitted)
    "clip_identity": True,  # refine the key frames' identity on every frame's landmarks, then fit the frames again
    "pose_hz": 2.0,  # the smoother's cut-off for the head pose, Hz (head turns are slow; 4 Hz halves the jitter less)
    "expression_hz": 6.0,  # ... and for the expression weights (blinks last ~0.1-0.2 s)
    "landmark_bias": True,  # take MediaPipe's pose-dependent landmark bias off before fitting (recon_face.landmark_bias)
    "preview_video": True,
    "frame_rate": None,  # frames per second of an image sequence (a folder of frames); default 30; videos know their own
}
VIDEO_TEXTURE_SIZE = 1024  # the head's texture from a few video frames (the photo method's default is 2048)
VIDEO_FIT = HeadFitSettings(expression_l1=0.005, expression_l2=0.005, grazing_cos=0.5)
"""The per-frame solver's priors: a quarter of the photo fit's, since the temporal model also
regularises (with the photo priors a blink at 0.8 comes out at 0.64 on clean landmarks)."""
IRIS_LEFT, IRIS_RIGHT = 473, 468  # MediaPipe's iris centres of the subject's left and right eye
OPENCV_TO_GLTF = np.diag([1.0, -1.0, -1.0])  # camera axes: x right, y down, z forward -> y up, z backward


def _options(options: dict[str, Any]) -> dict[str, Any]:
    from recon.options import flag
    from recon_face.method import _options as face_options

    opts = face_options({"texture_size": VIDEO_TEXTURE_SIZE, **{k: v for k, v in options.items() if v is not None}})
    opts["features"] = False  # key frames of one clip: too little baseline to place cameras on the skin's texture
    for key, default in VIDEO_DEFAULTS.items():
        opts[key] = options.get(key) if options.get(key) is not None else default
    try:
        opts["key_frames"] = int(opts["key_frames"])
        opts["smooth"] = flag(opts["smooth"], "smooth")
        opts["clip_identity"] = flag(opts["clip_identity"], "clip_identity")
        opts["preview_video"] = flag(opts["preview_video"], "preview_video")
        opts["landmark_bias"] = flag(opts["landmark_bias"], "landmark_bias")
        opts["pose_hz"], opts["expression_hz"] = float(opts["pose_hz"]), float(opts["expression_hz"])
        opts["frame_rate"] = None if opts["frame_rate"] is None else float(opts["frame_rate"])
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad face_video option: {exc}") from None
    if not 1 <= opts["key_frames"] <= 30:
        raise UsageError(f"key_frames must be between 1 and 30, got {opts['key_frames']}")
    if not (opts["pose_hz"] > 0 and opts["expression_hz"] > 0):
        raise UsageError("pose_hz and expression_hz must be positive frequencies in Hz (turn smoothing off with -O smooth=false)")
    if opts["frame_rate"] is not None and not 0 < opts["frame_rate"] <= 1000:
        raise UsageError(f"frame_rate must be frames per second (above 0, at most 1000), got {opts['frame_rate']}")
    if opts["model"] != "head":
        raise UsageError("method face_video animates the head; -O model=mask is for photos")
    return opts


def clip_rate(inputs: Inputs, frame_rate: float | None = None) -> float:
    """Frames per second of the kept frames: from their timestamps, else the stream's rate, else
    ``frame_rate`` (an image sequence's), else 30."""
    frames = inputs.frames
    if getattr(frames, "kept", None) is None and frame_rate:
        return float(frame_rate)
    rate = float(getattr(frames, "rate", 0.0) or 0.0)
    kept = getattr(frames, "kept", None)
    if kept and len(kept) > 1:
        span = kept[-1][1] - kept[0][1]
        if span > 0:
            return (len(kept) - 1) / span
    return rate or 30.0


def run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    """Track the face of the video in ``inputs`` and animate recon's head with it (NumPy's BLAS on
    one thread: :func:`recon.device.one_blas_thread`)."""
    from recon.device import one_blas_thread

    with one_blas_thread():
        return _run(inputs, options, stages)


def _run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    from recon.prefetch import prefetched
    from recon_face.detect import Detection
    from recon_face.head_fit import LandmarkSolver, correct_landmarks, landmark_offsets
    from recon_face.livelink import livelink_csv
    from recon_face.method import _head_pose, _HeadResult, _median_max, _View, _landmarks_read, correction_mm, fit_photos
    from recon_face.track import track
    from recon_face.video_fit import EYE_LOOK, fit_frames, fit_weights, follow_fast_motion, key_frames, shape_signature, smooth, whittaker_lambda

    opts = _options(options)
    frames = inputs.frames
    source = inputs.paths[0] if inputs.paths else "the video"
    fps = clip_rate(inputs, opts["frame_rate"])
    n = len(frames)

    tracks = []
    with stages.stage("landmarks", total=n) as task:
        for tracked in track(prefetched(frames), opts["face_index"]):
            tracks.append(tracked)
            task.advance()
    found = [t for t in tracks if t.points is not None]
    if not found:
        raise BadInputError(f"{source}: no face in any of its {n} frames; give a video that shows a face")
    detected = [t.points for t in tracks]  # as MediaPipe found them; the fit reads tracks[k].points
    if opts["landmark_bias"]:
        with stages.stage("landmark bias", total=n) as task:
            tracks = _without_bias(tracks, opts["lod"], task.advance)
        found = [t for t in tracks if t.points is not None]

    keys = [found[i] for i in key_frames(np.stack([shape_signature(t.points) for t in found]), opts["key_frames"])]
    views = []
    for t in keys:
        frame = frames[t.position]  # increasing positions: one decoding pass
        landmarks = Landmarks(t.points.astype(np.float32), t.visibility.astype(np.float32))
        views.append(_View(frame, f"frame_{t.index if t.index is not None else t.position}", detection=Detection(landmarks, None, None, 1, 0)))
    template, result = fit_photos(views, opts, stages)
    head = _HeadResult.build(template, result, views, opts, stages)
    del views  # the key frames' images

    width, height = tracks[0].width, tracks[0].height
    K = _shared_intrinsics([c.K for c in head.cameras], width, height)
    nearest = int(np.argmin([abs(t.position - found[0].position) for t in keys]))
    start = head.cameras[nearest]
    start = Camera(K=K, R=start.R, t=start.t, width=width, height=height)
    solver = LandmarkSolver(head.model, head.fit, template.contour, VIDEO_FIT, opts["neutral"], pinned=EYE_LOOK)
    start_weights = np.where(solver.pinned, 0.0, head.fit.expression_weights[nearest])  # eyeLook held at 0 (the CSV's come from the gaze)
    points, visibility = [t.points for t in tracks], [t.visibility for t in tracks]
    passes = (2 if opts["clip_identity"] else 1) + (1 if opts["smooth"] else 0)
    with stages.stage("track head", total=n * passes) as task:
        raw = fit_frames(solver, start, start_weights, points, visibility, progress=task.advance, information=not opts["clip_identity"])
        if opts["clip_identity"]:
            fitted = np.flatnonzero(raw.found)
            offsets = landmark_offsets(
                solver, [raw.camera(k, K, width, height) for k in fitted], list(raw.weights[fitted]), [points[k] for k in fitted], [visibility[k] for k in fitted]
            )
            correct_landmarks(head.model, head.fit, offsets, template.contour, VIDEO_FIT)
            head.meshes = _moved_meshes(head.model, head.fit, head.meshes)
            head.figures["correction_mm"] = correction_mm(head.fit.correction)
            solver = LandmarkSolver(head.model, head.fit, template.contour, VIDEO_FIT, opts["neutral"], pinned=EYE_LOOK)
            raw = fit_frames(solver, start, start_weights, points, visibility, progress=task.advance, again=raw)

        def residuals(fit: Any, k: int, landmarks: np.ndarray | None = None) -> np.ndarray:
            """(478,) pixels between frame ``k``'s landmarks (or ``landmarks``) and the head ``fit`` gives them."""
            X = solver.base + solver.E @ fit.weights[k]
            target = tracks[k].points if landmarks is None else landmarks
            return np.linalg.norm(fit.camera(k, K, width, height).project(X) - target[:, :2], axis=1)

        neutral = head.fit.neutral(head.model)
        lam = whittaker_lambda(opts["expression_hz"], fps) if opts["smooth"] else 0.0
        if opts["smooth"]:
            final = smooth(raw, fps, opts["pose_hz"], opts["expression_hz"])
            final = follow_fast_motion(raw, final, lambda fit, k: float(np.median(residuals(fit, k))), fps, opts["pose_hz"], opts["expression_hz"])
            final = smooth(fit_weights(solver, final, K, width, height, points, visibility, progress=task.advance), fps, None, opts["expression_hz"])
        else:
            final = smooth(raw, fps, None, None)
        gaze = _gaze(head.model, neutral, final, K, tracks, lam)
    solved = final.found  # landmarks found and a plausible head fitted to them
    errors, errors_detected = [], []
    for k, t in enumerate(tracks):
        if not solved[k]:
            errors.append(None)
            errors_detected.append(None)
            continue
        inside = t.visibility > 0 if (t.visibility > 0).any() else slice(None)
        errors.append(residuals(final, k)[inside])
        errors_detected.append(residuals(final, k, detected[k])[inside] if opts["landmark_bias"] else errors[-1])

    files: dict[str, bytes] = {}
    times = np.array([t.timestamp if t.timestamp is not None else t.position / fps for t in tracks], dtype=np.float64)
    times -= times[0]
    poses = [_head_pose(final.rotations[k]) for k in range(n)]
    names = list(head.model.expression_names)
    pose_rad = np.radians([[p["yaw"], p["pitch"], p["roll"]] for p in poses])
    # outputs give the gaze as (yaw, pitch) with pitch positive when turned down, as the head's pitch
    seen = {side: gaze[f"eye_{side}"][1] * [1.0, -1.0] for side in ("left", "right")}
    eyes_rad = np.concatenate([seen["left"], np.zeros((n, 1)), seen["right"], np.zeros((n, 1))], axis=1)
    files["animation.csv"] = livelink_csv(times, fps, names, _looking(final.weights, gaze, names, opts["neutral"]), pose_rad, eyes_rad)
    skin = head.model.part("skin")
    files["tracking.npz"] = _tracking_npz(tracks, times, fps, K, final, names, seen, skin, neutral, head.model.expression, errors, head.meshes, detected)
    if opts["preview_video"]:
        from recon_face.video_preview import PreviewVideo

        with stages.stage("preview", total=n) as task:
            video = PreviewVideo(fps, width, height)
            skin_neutral, skin_shapes = skin.vertices(neutral), skin.vertices(head.model.expression)
            for k, frame in enumerate(prefetched(frames)):
                vertices = skin_neutral + np.tensordot(final.weights[k], skin_shapes, axes=1)
                video.add(frame.image, final.camera(k, K, width, height), (vertices, skin.faces), tracks[k].points)
                task.advance()
            files["preview.mp4"] = video.finish()

    from scipy.spatial.transform import Rotation

    world_rot = OPENCV_TO_GLTF @ final.rotations  # (T, 3, 3): the head in glTF camera space
    animation = Animation(
        times=_strictly_increasing(times),
        morph_weights=final.weights.astype(np.float32),
        translations=(final.translations @ OPENCV_TO_GLTF.T).astype(np.float32),
        rotations=Rotation.from_matrix(world_rot).as_quat().astype(np.float32),
        name="face_video",
        morph_names=names,
        root="head",
        parts={f"head_{part}": _eye_keys(centre, angles) for part, (centre, angles) in gaze.items()},
    )
    camera = Camera(K=K, R=OPENCV_TO_GLTF, t=np.zeros(3), width=width, height=height, name="video_camera")

    report_views = []
    for k, t in enumerate(tracks):
        entry: dict[str, Any] = {"input": t.source, "frame": t.index if t.index is not None else t.position, "time_s": round(float(times[k]), 4)}
        if not solved[k]:
            entry["status"] = "bridged"
            why = "no face found" if t.points is None else "the head could not be fitted to the landmarks found"
            entry["reason"] = f"{why}; pose and weights interpolated from the frames around it"
        else:
            entry["status"] = t.status
            entry["reprojection_error_px"] = _median_max(errors[k])
            if opts["landmark_bias"]:
                entry["reprojection_error_detected_px"] = _median_max(errors_detected[k])
        entry["head_pose_deg"] = poses[k]
        entry["gaze_deg"] = {side: [round(float(np.degrees(a)), 2) for a in seen[side][k]] for side in ("left", "right")}
        entry["expression"] = {nm: round(float(x), 3) for nm, x in zip(names, final.weights[k]) if x >= 0.05}
        report_views.append(entry)
    medians = [float(np.median(e)) for e in errors if e is not None]
    medians_detected = [float(np.median(e)) for e in errors_detected if e is not None]
    bridged = [int(t.index if t.index is not None else t.position) for k, t in enumerate(tracks) if not solved[k]]
    return Reconstruction(
        method="face_video",
        meshes=head.meshes,
        cameras=[camera],
        views=report_views,
        animation=animation,
        files=files,
        preview=None,
        metadata={
            "options": opts,
            "units": "metres; the head's frame: +X its left, +Y up, facing +Z; the animation moves it in front of a fixed camera (glTF axes)",
            "model": head.figures,
            "frames": n,
            "fps": round(fps, 4),
            "frames_with_face": len(found),
            "frames_bridged": bridged,
            "frames_redetected": sum(t.status == "detected" for t in tracks),
            "key_frames": [int(t.index if t.index is not None else t.position) for t in keys],
            "focal_px": round(float(K[0, 0]), 2),
            "reprojection_error_px": _median_stats(medians),
            **({"reprojection_error_detected_px": _median_stats(medians_detected)} if opts["landmark_bias"] else {}),
            "landmarks": _landmarks_read(opts["landmark_bias"]),
            "temporal_model": {"smooth": opts["smooth"], "pose_hz": opts["pose_hz"], "expression_hz": opts["expression_hz"]} if opts["smooth"] else {"smooth": False},
            "stage_fps": {name: round(n / s, 2) for name, s in stages.timings.items() if name in ("landmarks", "track head", "preview") and s > 0},
            "animation_csv": "Live Link Face columns (timecode, ARKit blendshapes, head and eye yaw/pitch/roll in radians)",
        },
    )


def _stacked(landmarks: list[np.ndarray | None]) -> np.ndarray:
    """(T, 478, 2) float32 pixels, NaN for frames without landmarks."""
    return np.stack([p[:, :2] if p is not None else np.full((478, 2), np.nan) for p in landmarks]).astype(np.float32)


def _median_stats(medians: list[float]) -> dict[str, float]:
    """The clip's median of the frames' median errors, and the worst frame's."""
    return {"median": round(float(np.median(medians)), 3), "max_frame_median": round(float(np.max(medians)), 3)}


def _without_bias(tracks: list[Any], lod: str, progress: Any = None) -> list[Any]:
    """The tracks with MediaPipe's pose-dependent bias taken off their landmarks
    (:func:`recon_face.landmark_bias.correct`; each frame's pose started from the previous one's)."""
    import dataclasses

    from recon_face.landmark_bias import LandmarkBias, correct, facing_camera, pose_solver

    start = facing_camera(tracks[0].width, tracks[0].height)
    fixed, _ = correct(LandmarkBias.load(), pose_solver(lod), start, [t.points for t in tracks], progress=progress)
    return [dataclasses.replace(t, points=p) for t, p in zip(tracks, fixed)]


def _moved_meshes(model: Any, fit: Any, meshes: list[Any]) -> list[Any]:
    """The head's part meshes moved onto ``fit``'s neutral head (their textures, faces and shapes kept)."""
    import dataclasses

    neutral = fit.neutral(model)
    parts = {f"head_{part.name}": part for part in model.parts}
    return [dataclasses.replace(m, vertices=parts[m.name].vertices(neutral)) if m.name in parts else m for m in meshes]


def _gaze(model: Any, neutral: np.ndarray, fit: Any, K: np.ndarray, tracks: list[Any], lam: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each eyeball's centre (head frame) and (T, 2) yaw and pitch (radians, pitch up positive)
    per frame, from the iris landmarks (:func:`recon_face.video_fit.fit_gaze`), smoothed like the
    weights (``lam``); ``neutral`` is the person's head (model vertices)."""
    from recon_face.video_fit import fit_gaze, whittaker

    found = fit.found.astype(np.float64)
    landmarks = model.landmark_points(neutral).astype(np.float64)  # the iris landmarks on the model, at rest
    out = {}
    for part, iris in (("eye_left", IRIS_LEFT), ("eye_right", IRIS_RIGHT)):
        centre = model.part(part).vertices(neutral).astype(np.float64).mean(0)
        angles = fit_gaze(fit, K, centre, landmarks[iris], [None if not fit.found[k] else t.points[iris, :2] for k, t in enumerate(tracks)])
        out[part] = (centre, whittaker(angles, found, lam))
    return out


def _looking(weights: np.ndarray, gaze: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str], neutral: bool) -> np.ndarray:
    """(T, 51) ``weights`` with the eyeLook shapes of each frame's gaze (:func:`recon_face.video_fit.look_weights`),
    as ARKit's curves mean them; the head's own animation turns its eyeballs instead."""
    from recon_face.video_fit import EYE_LOOK, look_weights

    if neutral:
        return weights
    look = [names.index(n) for n in EYE_LOOK]
    out = weights.copy()
    out[:, look] = look_weights(names, gaze["eye_left"][1], gaze["eye_right"][1])[:, look]
    return out


def _eye_keys(centre: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An eyeball node's (T, 3) translations and (T, 4) quaternions that turn it about ``centre``."""
    from scipy.spatial.transform import Rotation

    from recon_face.video_fit import gaze_rotation

    R = gaze_rotation(angles[:, 0], angles[:, 1])  # (T, 3, 3)
    return centre - R @ centre, Rotation.from_matrix(R).as_quat()


def _tracking_npz(
    tracks: list[Any], times: np.ndarray, fps: float, K: np.ndarray, fit: Any, names: list[str], gaze: dict[str, np.ndarray],
    skin: Any, neutral: np.ndarray, expression: np.ndarray, errors: list[Any], meshes: list[Any], detected: list[Any],
) -> bytes:
    """``tracking.npz``: everything per frame as arrays, for code (re-enactment, avatars): the
    head-to-camera ``R``, ``t`` (OpenCV) and ``K``; the weights, gaze (``gaze``: per side (T, 2)
    yaw and pitch, radians, pitch down positive), landmarks (as fitted, and as MediaPipe detected
    them) and their error; the skin's neutral
    vertices, faces and 51 expression offsets (head frame); and the textured head as ``mesh.glb``
    has it: ``head_parts`` (names) and per part ``<name>_vertices``, ``_faces``, ``_uvs``,
    ``_texture`` and ``_expression`` (51 offsets, zero where a shape does not move the part)."""
    from recon.npz import npz_bytes

    arrays = {
        "times": times.astype(np.float64),
        "frame_index": np.array([t.index if t.index is not None else t.position for t in tracks], dtype=np.int64),
        "found": np.array([t.points is not None for t in tracks]),
        "landmarks": _stacked([t.points for t in tracks]),
        "landmarks_detected": _stacked(detected),
        "reprojection_error_px": np.array([np.median(e) if e is not None else np.nan for e in errors], dtype=np.float32),
        "K": K,
        "image_size": np.array([tracks[0].width, tracks[0].height], dtype=np.int64),
        "fps": np.array(fps),
        "R": fit.rotations,
        "t": fit.translations,
        "weights": fit.weights.astype(np.float32),
        "weight_names": np.array(names),
        "gaze_left": gaze["left"].astype(np.float32),
        "gaze_right": gaze["right"].astype(np.float32),
        "skin_neutral": skin.vertices(neutral).astype(np.float32),
        "skin_faces": skin.faces.astype(np.int64),
        "skin_expression": np.stack([skin.vertices(e) for e in expression]).astype(np.float32),
        "head_parts": np.array([m.name for m in meshes]),
    }
    for m in meshes:
        zero = np.zeros_like(m.vertices)
        arrays[f"{m.name}_vertices"] = m.vertices
        arrays[f"{m.name}_faces"] = m.faces
        arrays[f"{m.name}_uvs"] = m.uvs
        arrays[f"{m.name}_texture"] = m.texture
        arrays[f"{m.name}_expression"] = np.stack([m.morph_targets.get(nm, zero) for nm in names]).astype(np.float32)
    return npz_bytes(arrays)


def _shared_intrinsics(Ks: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """One K for the clip: the key frames' median focal, the principal point at the centre."""
    f = float(np.median([0.5 * (k[0, 0] + k[1, 1]) for k in Ks]))
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _strictly_increasing(times: np.ndarray) -> np.ndarray:
    """Keyframe times as float32, nudged so that each is later than the one before."""
    out = times.astype(np.float32)
    for k in range(1, len(out)):
        if out[k] <= out[k - 1]:
            out[k] = np.nextafter(out[k - 1], np.float32(np.inf))
    return out
