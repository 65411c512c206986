"""Built-in method ``face``: a textured face mesh from one or more photos of one person.

MediaPipe Face Mesh landmarks (478, offline) in every photo; recon's own face template (MediaPipe's
topology, a metric neutral shape, a conformal UV layout; shipped as
``recon_face/data/face_template.npz``) fitted to all photos at once: one identity, one camera per
photo, a small expression per photo; the photos baked into the template's UV layout. Output: the
neutral face (metres, Y up, facing +Z) with its texture, one camera per photo, and each photo's
expression as a morph target (a Blender shape key).

Options (``-O key=value``):

- ``face_index`` (default 0): which face when a photo holds several, largest first.
- ``neutral`` (default false): no per-photo expression (one rigid face for all photos).
- ``texture_size`` (default 2048): the texture's width and height in pixels.
- ``focal_35mm``: the lens as a 35 mm-equivalent focal length, for photos without EXIF (default:
  EXIF when present, otherwise 50 mm and, with several photos, refined by the fit).

A photo without a face is reported (status ``no face``) and skipped, and so is a photo of someone
else (status ``different person``, with its face similarity; ``-O same_person=off`` turns the
check off; see :mod:`recon_vision.identity`); a photo whose landmarks
disagree with the others, or whose face is tiny or cut off, is reported and down-weighted
(status ``down-weighted``). The run fails (exit 3) only when no photo has a face.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recon import hookimpl
from recon.registry import Method, lazy
from recon.structures import Inputs

__version__ = "0.1.0"

OPTIONS = ("face_index", "neutral", "texture_size", "focal_35mm", "photometric", "model", "lod", "same_person", "landmark_bias", "features")
"""The ``-O`` keys of method ``face`` (the keys of :data:`recon_face.method.DEFAULTS`)."""
VIDEO_OPTIONS = (*(o for o in OPTIONS if o not in ("same_person", "features")), "key_frames", "smooth", "clip_identity", "pose_hz", "expression_hz", "preview_video", "frame_rate")
"""The ``-O`` keys of method ``face_video`` (``face``'s and :data:`recon_face.video_method.VIDEO_DEFAULTS`)."""


def find_faces(image: Any) -> list[Any]:
    """Faces in an RGB image (H, W, 3 uint8), largest first: MediaPipe's short- and full-range
    BlazeFace detectors merged (:class:`recon_face.detect.FaceBox`: ``box`` (x0, y0, x1, y1)
    pixels, ``score``, six ``keypoints``). Part of this plugin's public API."""
    from recon_face.detect import detect_faces

    return detect_faces(image)


def read_livelink_csv(path: Any, names: Any) -> Any:
    """Weights (T, len(names)) and head yaw, pitch, roll (T, 3, radians, or ``None``) from a
    Live Link Face CSV (:func:`recon_face.livelink.read_livelink_csv`). Part of this plugin's
    public API."""
    from recon_face.livelink import read_livelink_csv as read

    return read(path, names)


def _accepts(inputs: Inputs) -> bool:
    """Photos (still images, no video frames) that carry no calibration."""
    frames = inputs.frames
    return bool(frames) and not inputs.calibrated and all(f.index is None for f in frames)


def _accepts_video(inputs: Inputs) -> bool:
    """Frames of a video (the first frame says so: checking it decodes only that one)."""
    frames = inputs.frames
    return bool(frames) and not inputs.calibrated and frames[0].index is not None and len(inputs.paths) == 1


@hookimpl
def recon_register_methods(register: Callable[[Method], None]) -> None:
    register(
        Method(
            name="face",
            description="textured face mesh from photos of one person (MediaPipe landmarks, multi-view fit, baked texture)",
            accepts=_accepts,
            run=lazy("recon_face.method:run"),
            priority=20,
            options=OPTIONS,
        )
    )
    register(
        Method(
            name="face_video",
            description="animated head from a video of a face: per-frame pose and 51 ARKit weights, smoothed; GLB animation, Live Link CSV, preview.mp4",
            accepts=_accepts_video,
            run=lazy("recon_face.video_method:run"),
            priority=20,
            options=VIDEO_OPTIONS,
        )
    )
