"""The face method: detect, fit, bake, preview, report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.options import flag
from recon.output import safe_names
from recon.progress import Stages
from recon.structures import Frame, Inputs, Mesh, Reconstruction

DEFAULTS: dict[str, Any] = {
    "face_index": 0,
    "neutral": False,
    "texture_size": 2048,
    "focal_35mm": None,
    "photometric": True,
    "model": "head",  # head: recon's full head (ICT identity, 51 ARKit shapes); mask: the 478-vertex face
    "lod": "mid",  # head: high (~28k vertices), mid (~9k) or low (~2.4k)
    "same_person": True,  # photos of someone else are flagged and left out (recon_vision's face identity)
    "landmark_bias": False,  # take MediaPipe's pose-dependent landmark bias off (recon_face.landmark_bias; the video method's default)
    "features": None,  # on for the head, off for the mask (which keeps its earlier outputs): cameras bundle-adjusted on corners of the skin tracked across the photos, the head fitted to their points (recon_face.features; two photos or more sharing 200 tracks)
}
MODELS = ("head", "mask")
LODS = ("high", "mid", "low")

# A photo is down-weighted (its weight in the fit and the texture) when its face is tiny, cut off
# by the frame, or its landmarks disagree with the shared identity much more than the others'.
DOWN_WEIGHT = 0.2
MIN_IPD_PX = 12.0  # interpupillary distance in pixels
MIN_INSIDE = 0.85  # fraction of landmarks inside the photo
MAX_RESIDUAL = 0.03  # median landmark error / face radius, absolute
OUTLIER_FACTOR = 3.0  # ... and relative to the median photo
MAX_EXPRESSION_MM = 6.0


@dataclass
class _View:
    frame: Frame
    name: str
    detection: Any = None
    status: str = "ok"
    reason: str = ""
    weight: float = 1.0
    focal_source: str = "default"
    identity_similarity: float | None = None
    detected: np.ndarray | None = None  # (478, 3) MediaPipe's landmarks as found, when the fit reads corrected ones


def _options(options: dict[str, Any]) -> dict[str, Any]:
    opts = {k: options.get(k) if options.get(k) is not None else v for k, v in DEFAULTS.items()}
    try:
        opts["face_index"] = int(opts["face_index"])
        opts["texture_size"] = int(opts["texture_size"])
        for key in ("neutral", "photometric", "same_person", "landmark_bias"):
            opts[key] = flag(opts[key], key)
        opts["features"] = opts["model"] == "head" if opts["features"] is None else flag(opts["features"], "features")
        opts["focal_35mm"] = None if opts["focal_35mm"] is None else float(opts["focal_35mm"])
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad face option: {exc}") from None
    if opts["face_index"] < 0:
        raise UsageError(f"face_index must be 0 or more (0 is the largest face), got {opts['face_index']}")
    if not 16 <= opts["texture_size"] <= 8192:
        raise UsageError(f"texture_size must be between 16 and 8192 pixels, got {opts['texture_size']}")
    if opts["model"] not in MODELS:
        raise UsageError(f"-O model={opts['model']}: use {' or '.join(MODELS)}")
    if opts["lod"] not in LODS:
        raise UsageError(f"-O lod={opts['lod']}: use {', '.join(LODS)}")
    if opts["focal_35mm"] is not None and not 4 <= opts["focal_35mm"] <= 2000:
        raise UsageError(f"focal_35mm must be a 35 mm-equivalent focal length in mm (4 to 2000), got {opts['focal_35mm']}")
    return opts


def run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    """Reconstruct a textured face from the photos in ``inputs`` (NumPy's BLAS on one thread:
    :func:`recon.device.one_blas_thread`)."""
    from recon.device import one_blas_thread

    with one_blas_thread():
        return _run(inputs, options, stages)


def _run(inputs: Inputs, options: dict[str, Any], stages: Stages) -> Reconstruction:
    from recon.texture import bake_views
    from recon_face import detect, preview

    opts = _options(options)
    frames = inputs.frames
    if frames and frames[0].index is not None:
        raise UsageError(f"method face takes photos; {inputs.paths[0]} is a video: use --method face_video (the default for a video)")
    views = [_View(f, n) for f, n in zip(frames, safe_names([f.source for f in frames], fallback="photo"))]
    with stages.stage("detect", total=len(views)) as task:
        for view in views:
            try:
                view.detection = detect.detect(view.frame, opts["face_index"])
            except IndexError as exc:
                view.status, view.reason = "no face", str(exc)
            else:
                if view.detection is None:
                    view.status, view.reason = "no face", "no face found"
            task.advance()
    identity = _check_same_person(views, opts, stages)
    used = [v for v in views if v.detection is not None and v.status != "different person"]
    if not used:
        counted = [v.reason for v in views if v.reason.startswith("face_index=")]
        if counted:
            raise BadInputError(f"{counted[0]}; pass a smaller -O face_index=")
        names = ", ".join(v.frame.name for v in views[:5]) + (", ..." if len(views) > 5 else "")
        what = "the photo" if len(views) == 1 else f"any of the {len(views)} photos"
        raise BadInputError(f"no face found in {what} ({names}); give photos that show a face")

    if opts["landmark_bias"]:
        with stages.stage("landmark bias", total=len(used)) as task:
            _without_bias(used, opts, task.advance)
    template, result = fit_photos(used, opts, stages)

    if opts["model"] == "head":
        head = _HeadResult.build(template, result, used, opts, stages)
        meshes, cameras, overlay = head.meshes, head.cameras, head.overlay
        texture_figures = head.texture_figures
    else:
        with stages.stage("texture"):
            baked = bake_views(
                template.uvs,
                template.faces,
                [result.vertices(k) for k in range(len(used))],
                [v.frame.image for v in used],
                result.cameras,
                size=opts["texture_size"],
                view_weights=[v.weight for v in used],
            )
        morphs = {} if opts["neutral"] else {f"expression_{v.name}": result.expressions[k].astype(np.float32) for k, v in enumerate(used)}
        meshes = [Mesh(result.identity, template.faces, uvs=template.uvs, texture=baked.texture, morph_targets=morphs, name="face")]
        cameras = result.cameras
        overlay = [(result.vertices(k), template.faces) for k in range(len(used))]
        texture_figures = {
            "view_coverage": baked.view_coverage,
            "gains": baked.gains,
            "coverage": round(float((baked.coverage > 0).sum() / max((_atlas_texels(template, opts["texture_size"])), 1)), 4),
            "resolution": baked.resolution,
        }

    with stages.stage("preview", total=min(len(used), preview.MAX_VIEWS)) as task:
        tiles = []
        for k, v in enumerate(used[: preview.MAX_VIEWS]):
            vertices, faces = overlay[k]
            tiles.append(preview.overlay(v.frame.image, vertices, faces, cameras[k], v.detection.landmarks.points))
            task.advance()
        image = preview.tile(tiles)

    report_views = []
    k_of = {id(v): k for k, v in enumerate(used)}
    for v in views:
        entry: dict[str, Any] = {"input": v.frame.source, "status": v.status}
        if v.reason:
            entry["reason"] = v.reason
        if v.identity_similarity is not None:
            entry["identity_similarity"] = v.identity_similarity
        if v.detection is None or v.status == "different person":
            report_views.append(entry)
            continue
        k = k_of[id(v)]
        cam = cameras[k]
        err = head.errors_px[k] if opts["model"] == "head" else result.errors_px[k]
        entry.update(
            {
                "camera_name": cam.name,
                "faces_found": v.detection.faces,
                "face_index": v.detection.face_index,
                "detection_score": None if v.detection.score is None else round(v.detection.score, 3),
                "reprojection_error_px": _median_max(err),
                "camera": {"K": cam.K.tolist(), "R": cam.R.tolist(), "t": cam.t.tolist()},
                "focal_px": round(float(cam.K[0, 0]), 2),
                "focal_source": v.focal_source,
                "head_pose_deg": _head_pose(cam.R),
                "expression_norm": round(result.expression_norm_mm(k), 3),
                "weight": v.weight,
                "texture_coverage": texture_figures["view_coverage"][k],
                "colour_gain": [round(float(g), 4) for g in texture_figures["gains"][k]],
            }
        )
        if v.detected is not None:  # the fit read corrected landmarks: the error against the detections too
            projected = head.projected[k] if opts["model"] == "head" else cam.project(result.vertices(k))
            entry["reprojection_error_detected_px"] = _median_max(np.linalg.norm(projected - v.detected[:, :2], axis=1))
        if opts["model"] == "head":
            entry["expression"] = head.expression(k)
            entry["head_landmark_residual_mm"] = round(float(np.median(head.fit.residual_mm[k])), 3)
        report_views.append(entry)
    model_figures = head.figures if opts["model"] == "head" else {
        "vertices": len(template.vertices),
        "faces": len(template.faces),
        "scale_prior": "interpupillary distance 63 mm (adult mean, Dodgson 2004)",
    }
    return Reconstruction(
        method="face",
        meshes=meshes,
        cameras=cameras,
        views=report_views,
        preview=image,
        metadata={
            "options": opts,
            "units": "metres; the face looks along +Z with +Y up (glTF); expression_norm is the RMS expression offset in mm",
            "model": model_figures,
            "photos_used": len(used),
            "same_person": identity,
            "photos_skipped": len(views) - len(used),
            "landmarks": _landmarks_read(opts["landmark_bias"]),
            "fit": {
                "iterations": result.iterations,
                "cost": round(result.cost, 6),
                "photometric": result.details.get("photometric_levels"),
                **({"features": result.details["features"]} if "features" in result.details else {}),
                "timings_s": {k: round(t, 4) for k, t in result.timings.items()},
            },
            "texture_coverage": texture_figures.get("coverage", texture_figures.get("skin_texture_seen")),
            "texture_bake_resolution": texture_figures["resolution"],
        },
    )


def _landmarks_read(bias_taken_off: bool) -> str:
    """The report's ``metadata.landmarks``: which landmarks the fit read, and which the errors are against."""
    if not bias_taken_off:
        return "MediaPipe's as detected"
    return (
        "MediaPipe's, its pose-dependent bias taken off (recon_face.landmark_bias): reprojection_error_px is against these, "
        "reprojection_error_detected_px against MediaPipe's as detected"
    )


def _median_max(errors: np.ndarray) -> dict[str, float]:
    """A view's landmark errors (pixels) as the report gives them."""
    return {"median": round(float(np.median(errors)), 3), "max": round(float(errors.max()), 3)}


def _without_bias(views: list[_View], opts: dict[str, Any], progress: Any) -> None:
    """Each view's landmarks with MediaPipe's pose-dependent bias taken off (:func:`recon_face.landmark_bias.correct`,
    the pose from the average head through the photo's lens: EXIF, ``focal_35mm`` or 50 mm)."""
    from recon_face import fit
    from recon_face.landmark_bias import LandmarkBias, correct, facing_camera, pose_solver

    bias, solver = LandmarkBias.load(), pose_solver(opts["lod"])
    for v in views:
        frame, landmarks = v.frame, v.detection.landmarks
        focal = frame.focal_px_from_exif() or (fit.default_focal(frame.width, frame.height, opts["focal_35mm"]) if opts["focal_35mm"] else None)
        (fixed,), _ = correct(bias, solver, facing_camera(frame.width, frame.height, focal), [landmarks.points.astype(np.float64)], sequence=False)
        v.detected = landmarks.points.copy()
        landmarks.points = fixed.astype(np.float32)
        progress()


def fit_photos(used: list[_View], opts: dict[str, Any], stages: Stages) -> tuple[Any, Any]:
    """The face template fitted to the views' landmarks (stage ``fit``): views whose face is tiny,
    cut off or in disagreement with the others are down-weighted (their status says why).
    Returns the template and the fit (:class:`recon_face.fit.FitResult`)."""
    from recon_face import fit
    from recon_face.template import load_template

    with stages.stage("fit", total=2) as task:
        template = load_template()
        observations = []
        for v in used:
            lm = v.detection.landmarks
            pts = lm.points.astype(np.float64)
            inside = float(lm.visibility.mean())
            ipd = float(np.linalg.norm(pts[468, :2] - pts[473, :2]))
            if ipd < MIN_IPD_PX:
                v.status, v.reason, v.weight = "down-weighted", f"face too small ({ipd:.0f} px between the pupils)", DOWN_WEIGHT
            elif inside < MIN_INSIDE:
                v.status, v.reason, v.weight = "down-weighted", f"face cut off by the frame ({100 * (1 - inside):.0f}% of landmarks outside)", DOWN_WEIGHT
            f_exif = v.frame.focal_px_from_exif()
            if f_exif:
                focal, known, v.focal_source = f_exif, True, "exif"
            elif opts["focal_35mm"]:
                focal, known, v.focal_source = fit.default_focal(v.frame.width, v.frame.height, opts["focal_35mm"]), True, "option"
            else:
                focal, known = fit.default_focal(v.frame.width, v.frame.height), False
                v.focal_source = "estimated" if len(used) > 1 else "default"
            observations.append(
                fit.Observation(pts[:, :2], pts[:, 2], lm.visibility.astype(np.float64), v.frame.width, v.frame.height, focal, known, v.weight, v.name)
            )
        settings = fit.FitSettings(neutral=opts["neutral"])
        photos = [v.frame.image for v in used] if opts["photometric"] and len(used) > 1 else None
        tracked = [v.frame.image for v in used] if opts.get("features") and len(used) > 1 else None
        result = _fit_views(template, observations, settings, photos, tracked)
        task.advance()
        if _flag_outliers(used, result):
            for o, v in zip(observations, used):
                o.weight = v.weight
            result = _fit_views(template, observations, settings, photos, tracked)
        task.advance()
    return template, result


@dataclass
class _HeadResult:
    """The full head fitted to the face fit's landmark shapes (see :mod:`recon_face.head_fit`)."""

    model: Any
    fit: Any
    meshes: list[Mesh]
    cameras: list[Any]
    errors_px: list[np.ndarray]
    projected: list[np.ndarray]
    overlay: list[tuple[np.ndarray, np.ndarray]]
    texture_figures: dict[str, Any]
    figures: dict[str, Any]

    @classmethod
    def build(cls, template: Any, result: Any, used: list[_View], opts: dict[str, Any], stages: Stages) -> _HeadResult:
        from recon_face.head_fit import (
            HeadFitSettings, LandmarkSolver, correct_landmarks, fit_head, fit_skin_points, landmark_offsets, refine_photo,
        )
        from recon_face.head_mesh import head_meshes
        from recon_face.head_model import HeadModel

        with stages.stage("head fit"):
            model = HeadModel.load(opts["lod"])
            n = len(used)
            # the photometric refinement's rotations are the better ones (README figures): keep them
            settings = HeadFitSettings(refine_rotation=not (opts["photometric"] and n > 1))
            head = fit_head(model, result.identity, [result.vertices(k) for k in range(n)], template.contour, neutral=opts["neutral"], settings=settings)
            cameras = [
                refine_photo(
                    model, head, k, head.camera(c), v.detection.landmarks.points[:, :2].astype(np.float64), template.contour, settings, opts["neutral"]
                )
                for k, (c, v) in enumerate(zip(result.cameras, used))
            ]
            skin_fit = None
            if n >= 2:  # the identity refined on the photos' own landmarks (as the video method does on its frames)
                found = [v.detection.landmarks.points[:, :2].astype(np.float64) for v in used]
                solver = LandmarkSolver(model, head, template.contour, settings, opts["neutral"])
                offsets = landmark_offsets(solver, cameras, head.expression_weights, found, [None] * n)
                correct_landmarks(model, head, offsets, template.contour, settings)
                # the skin's own points, triangulated from the photos, where the features step gave them: they have the last word
                skin_fit = fit_skin_points(model, head, result.skin_points, settings) if result.skin_points is not None else None
                cameras = [refine_photo(model, head, k, c, found[k], template.contour, settings, opts["neutral"]) for k, c in enumerate(cameras)]
            posed = [head.posed(model, k) for k in range(n)]
            projected = [cameras[k].project(model.landmark_points(p)) for k, p in enumerate(posed)]
            errors = [np.linalg.norm(projected[k] - v.detection.landmarks.points[:, :2], axis=1) for k, v in enumerate(used)]
        with stages.stage("texture"):
            meshes, texture_figures = head_meshes(
                model,
                head,
                [v.frame.image for v in used],
                cameras,
                [v.detection.landmarks.points for v in used],
                [v.weight for v in used],
                opts["texture_size"],
            )
        skin = model.part("skin")
        overlay = [(skin.vertices(p), skin.faces) for p in posed]
        figures = {
            "name": "recon head (ICT Face Model Light, MIT; see recon_face/data/head.json)",
            "lod": model.lod,
            "vertices": int(sum(len(m.vertices) for m in meshes)),
            "faces": int(sum(len(m.faces) for m in meshes)),
            "parts": [m.name for m in meshes],
            "shape_keys": list(model.expression_names),
            "identity_weights_norm": round(float(np.linalg.norm(head.identity_weights)), 3),
            "correction_mm": correction_mm(head.correction),
            **({"skin_fit": skin_fit} if skin_fit is not None else {}),
        }
        return cls(model, head, meshes, cameras, errors, projected, overlay, texture_figures, figures)

    def expression(self, k: int) -> dict[str, float]:
        """Photo ``k``'s ARKit weights that are not zero, rounded."""
        w = self.fit.expression_weights[k]
        return {name: round(float(x), 3) for name, x in zip(self.model.expression_names, w) if x >= 0.005}


def correction_mm(correction: np.ndarray) -> dict[str, float]:
    """The per-vertex correction's median and largest length, millimetres (for the report)."""
    lengths = np.linalg.norm(correction, axis=1) * 1000.0
    return {"median": round(float(np.median(lengths)), 3), "max": round(float(lengths.max()), 3)}


def _fit_views(template: Any, observations: list[Any], settings: Any, photos: list[np.ndarray] | None, tracked: list[np.ndarray] | None = None) -> Any:
    """The landmark fit; with ``tracked`` (the photos, two or more), a neutral landmark fit's
    cameras adjusted on the skin's feature tracks (:func:`_feature_cameras`); with ``photos`` (two
    or more) and no tracks used, the neutral fit refined photometrically
    (:mod:`recon_face.photometric`: on the scan renders it turned the tracks' cameras about 1
    degree away from the truth, and it costs 2 s on six photos); then the expressions fitted to
    the landmarks with that identity and those cameras kept."""
    from dataclasses import replace

    from recon_face import fit, photometric

    if photos is None and tracked is None:
        return fit.fit(template, observations, settings)
    neutral = replace(settings, neutral=True)
    refined = fit.fit(template, observations, neutral)
    if tracked is not None:
        refined = _feature_cameras(template, observations, tracked, refined, neutral)
    tracked_summary = refined.details.get("features")
    if photos is not None and not (tracked_summary or {}).get("used"):  # the tracks' cameras need no photometric refinement
        refined = photometric.refine(template, observations, photos, refined, fit_settings=neutral)
        if tracked_summary is not None:
            refined.details["features"] = tracked_summary
    if settings.neutral:
        return refined
    final = fit.fit(template, observations, settings, start=refined)
    final.timings = {k: refined.timings.get(k, 0.0) + final.timings.get(k, 0.0) for k in {**refined.timings, **final.timings}}
    final.details, final.skin_points = refined.details, refined.skin_points
    return final


def _feature_cameras(template: Any, observations: list[Any], photos: list[np.ndarray], refined: Any, neutral: Any) -> Any:
    """``refined`` with its cameras bundle-adjusted on the photos' feature tracks
    (:func:`recon_face.features.adjust_cameras`) and the neutral identity fitted again to the
    landmarks under them; as it was when the photos share too few tracks (``details["features"]``
    says which)."""
    import time
    from dataclasses import replace

    from recon_face import features, fit

    start = time.perf_counter()
    landmarks = [o.points for o in observations]
    # the outline slides and the irises follow the gaze: only the other visible landmarks place the face
    weights = np.stack([(o.visible > 0.5) & ~template.contour for o in observations]).astype(np.float64)
    weights[:, 468:] = 0.0
    cameras, skin, summary = features.adjust_cameras(refined.cameras, photos, landmarks, weights, refined.identity, [o.focal_known for o in observations])
    elapsed = time.perf_counter() - start
    if cameras is None:
        refined.details["features"] = {"used": False, **summary}
        refined.timings["features"] = elapsed
        return refined
    out = fit.fit(template, observations, neutral, start=replace(refined, cameras=cameras), cameras_fixed=True)
    out.details = {**refined.details, "features": {"used": True, **summary}}
    out.skin_points = skin
    out.timings = {k: refined.timings.get(k, 0.0) + out.timings.get(k, 0.0) for k in {**refined.timings, **out.timings}}
    out.timings["features"] = elapsed
    return out


def _check_same_person(views: list[_View], opts: dict[str, Any], stages: Stages) -> dict[str, Any]:
    """Flag the photos of someone else (status ``different person``, left out of the fit) with
    :func:`recon_vision.same_person` on SFace embeddings; what was done, for the report."""
    found = [v for v in views if v.detection is not None]
    if not opts["same_person"]:
        return {"checked": False, "reason": "-O same_person=off"}
    if len(found) < 2:
        return {"checked": False, "reason": "fewer than two photos with a face"}
    try:
        import recon_vision
    except ImportError:
        return {"checked": False, "reason": "the recon_vision plugin is not installed"}
    model = recon_vision.identifier()
    if model is None:
        return {"checked": False, "reason": f"no face-identity models: {recon_vision.INSTALL_HINT}"}
    with stages.stage("same person", total=len(found)) as task:
        embeddings = []
        for v in found:
            face = recon_vision.matching_face(model.faces(v.frame.image), v.detection.box)
            embeddings.append(None if face is None else face.embedding)
            task.advance()
    outcome = recon_vision.same_person(embeddings)
    for v, o in zip(found, outcome):
        v.identity_similarity = o.similarity
        if not o.same:
            v.status, v.reason = "different person", f"face similarity {o.similarity:.2f} to the other photos, below {recon_vision.SAME_PERSON_THRESHOLD}"
    return {"checked": True, "threshold": recon_vision.SAME_PERSON_THRESHOLD, "model": "SFace (OpenCV Zoo, int8), cosine similarity", "flagged": sum(not o.same for o in outcome)}


def _atlas_texels(template: Any, size: int) -> int:
    from recon.texture import atlas

    return len(atlas(template.uvs, template.faces, size).rows)


def _flag_outliers(used: list[_View], result: Any) -> bool:
    """Mark photos whose fit is much worse than the others' (or bad outright); True if any
    photo's weight changed."""
    radius = np.array([np.sqrt(((v.detection.landmarks.points[:, :2] - v.detection.landmarks.points[:, :2].mean(0)) ** 2).sum(1).mean()) for v in used])
    resid = np.array([np.median(e) for e in result.errors_px]) / radius
    expr = np.array([result.expression_norm_mm(k) for k in range(len(used))])
    changed = False
    for k, v in enumerate(used):
        others = np.delete(np.arange(len(used)), k)
        ref_r = np.median(resid[others]) if len(others) >= 2 else 0.0
        ref_e = np.median(expr[others]) if len(others) >= 2 else 0.0
        bad_r = resid[k] > max(MAX_RESIDUAL, OUTLIER_FACTOR * ref_r)
        bad_e = expr[k] > max(MAX_EXPRESSION_MM, OUTLIER_FACTOR * ref_e)
        if (bad_r or bad_e) and v.weight == 1.0:
            what = f"landmark error {resid[k] * 100:.1f}% of the face size" if bad_r else f"expression {expr[k]:.1f} mm RMS"
            v.status, v.reason, v.weight = "down-weighted", f"disagrees with the other photos ({what})", DOWN_WEIGHT
            changed = True
    return changed


def _head_pose(R: np.ndarray) -> dict[str, float]:
    """Yaw (the face turned to the subject's left positive), pitch (the face turned down
    positive), roll, in degrees (scipy's intrinsic "YXZ" angles), of the
    head relative to a camera looking at the face from the front."""
    from scipy.spatial.transform import Rotation

    front = np.diag([1.0, -1.0, -1.0])  # camera axes of a frontal view, in template axes
    rel = front @ R  # head rotation as the camera sees it, in template axes
    yaw, pitch, roll = Rotation.from_matrix(rel).as_euler("YXZ", degrees=True)
    return {"yaw": round(float(yaw), 2), "pitch": round(float(pitch), 2), "roll": round(float(roll), 2)}
