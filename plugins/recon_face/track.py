"""Face landmarks through a video: MediaPipe Face Mesh on a crop that follows the face.

Each frame's crop is a square around the previous frame's landmarks (:data:`CROP_SCALE` times
their extent), so Face Mesh sees the face large and centred without a detector pass on the whole
frame. When the crop holds no face (a fast move, an occlusion), the frame is searched again with
the photo detector (:func:`recon_face.detect.detect`), which takes the face nearest where the
followed face was last seen (not another person who happens to be larger); a frame where that also
fails is ``lost`` and the next one is searched whole again.

Frames are taken one at a time from any iterable (a lazily decoded video), so a clip of any
length is tracked without holding its frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from recon.structures import Frame
from recon_face import detect

CROP_SCALE = 1.6  # crop side / the landmarks' extent (the face fills ~60 % of the crop)
CROP_SIZE = 256  # Face Mesh's input is 192 px; a bigger crop buys nothing
MIN_EXTENT_PX = 16.0  # landmarks spanning fewer pixels are not a face worth following


@dataclass
class Tracked:
    """One frame's landmarks.

    :param position: the frame's position in the clip's kept frames (or in an image sequence).
    :param points: (478, 3) pixels (x, y) and MediaPipe's relative depth, or ``None`` when lost.
    :param visibility: (478,) 1 inside the frame, 0 outside.
    :param status: ``tracked`` (found in the following crop), ``detected`` (searched whole
        frame) or ``lost``.
    """

    position: int
    index: int | None
    timestamp: float | None
    source: str
    width: int
    height: int
    points: np.ndarray | None
    visibility: np.ndarray | None
    status: str


def crop_around(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The centre and side of the square crop that follows landmarks ``points`` (N, 2+)."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    return 0.5 * (lo + hi), CROP_SCALE * float(np.max(hi - lo))


def _in_crop(frame: Frame, centre: np.ndarray, side: float) -> np.ndarray | None:
    """Landmarks (478, 3) in full-frame pixels from Face Mesh on the crop, or ``None``."""
    crop, origin, step = detect._square_crop(frame.image, centre, side, CROP_SIZE)
    faces = detect._mesh_landmarks(crop)
    pts = detect._pick_centered(faces, np.array([crop.shape[1] / 2, crop.shape[0] / 2]))
    if pts is None:
        return None
    return detect.to_frame_pixels(pts, origin, step)


def track(frames: Iterable[Frame], face_index: int = 0) -> Iterator[Tracked]:
    """Landmarks of every frame, in order (one :class:`Tracked` per frame)."""
    previous: np.ndarray | None = None
    last_seen: np.ndarray | None = None  # where the face was when last found
    for position, frame in enumerate(frames):
        points, status = None, "lost"
        if previous is not None:
            points = _in_crop(frame, *crop_around(previous))
            status = "tracked"
        if points is None or np.ptp(points[:, :2], axis=0).max() < MIN_EXTENT_PX:
            try:  # the face the clip follows: the chosen one at first, then the one nearest where it was last seen
                found = detect.detect(frame, face_index, near=last_seen)
            except IndexError:
                found = None
            points = None if found is None else found.landmarks.points.astype(np.float64)
            status = "detected" if points is not None else "lost"
        visibility = None
        if points is not None:
            visibility = detect.inside(points, frame.width, frame.height).astype(np.float64)
        previous = points
        if points is not None:
            last_seen = 0.5 * (points[:, :2].min(0) + points[:, :2].max(0))
        yield Tracked(position, frame.index, frame.timestamp, frame.source, frame.width, frame.height, points, visibility, status)
