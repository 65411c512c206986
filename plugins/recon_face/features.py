"""Cameras from the skin's own texture: SIFT points on the face matched across the photos, and the
cameras bundle-adjusted on them (:mod:`recon.bundle`).

MediaPipe's landmarks are not fixed points on the skin: on a turned head they slide towards the
silhouette, so a fit to them alone leaves the focal lengths 20-30 % short and the rotations 1-2
degrees off even when the shape is free (README: heads on real scans). A pore, a freckle or a
painted mark is the same point in every photo. So, with two photos or more:

1. :func:`face_features`: SIFT (OpenCV, which MediaPipe ships) inside the face's outline, away
   from the eyes and the mouth (they move between photos);
2. :func:`tracks`: every pair of photos matched (Lowe's ratio test, then a fundamental matrix by
   RANSAC), the matches chained into tracks, a track that meets a photo twice dropped;
3. :func:`adjust_cameras`: the cameras (rotation, translation, focal unless EXIF gave it) and the
   tracks' points bundle-adjusted together with the landmarks, which count ``landmark_weight``
   each (they fix where the face is; the tracks fix the geometry), then moved back into the face
   fit's frame by the similarity that takes the landmarks' triangulated points onto the fitted face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.bundle import Observations, bundle_adjust, similarity_to, triangulate
from recon.structures import Camera


@dataclass(frozen=True)
class FeatureSettings:
    """Knobs of the feature cameras.

    :param contrast: SIFT's contrast threshold (OpenCV's default 0.04 finds few points on skin).
    :param max_features: per photo.
    :param ratio: Lowe's ratio test.
    :param ransac_px: the fundamental matrix's inlier distance, pixels.
    :param min_tracks: fewer tracks seen by two photos, and the cameras are left as they were.
    :param landmark_weight: a landmark's residual weight against a track's (1).
    :param exclude_margin: the eyes' and the mouth's regions grown by this share of the face's size.
    """

    contrast: float = 0.004
    max_features: int = 4000
    ratio: float = 0.75
    ransac_px: float = 1.5
    min_tracks: int = 60
    landmark_weight: float = 0.05
    exclude_margin: float = 0.0


@dataclass
class Features:
    """One photo's keypoints (N, 2) pixels and SIFT descriptors (N, 128)."""

    points: np.ndarray
    descriptors: np.ndarray


def _polygon(edges: frozenset) -> np.ndarray:
    """The landmark indices of a closed MediaPipe contour, in order around it."""
    nxt = dict(edges)
    start = min(nxt)
    order = [start]
    while nxt[order[-1]] != start and len(order) <= len(nxt):
        order.append(nxt[order[-1]])
    return np.array(order)


def face_mask(landmarks: np.ndarray, height: int, width: int, margin: float) -> np.ndarray:
    """(H, W) uint8, 255 inside the face's outline and outside the eyes and the mouth (grown by
    ``margin`` times the face's size)."""
    import cv2
    from mediapipe.python.solutions import face_mesh_connections as mp

    pts = landmarks[:, :2].astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [pts[_polygon(mp.FACEMESH_FACE_OVAL)].astype(np.int32)], 255)
    grow = int(round(margin * float(np.ptp(pts[:, 0]) + np.ptp(pts[:, 1])) / 2))
    holes = np.zeros_like(mask)
    for part in (mp.FACEMESH_LEFT_EYE, mp.FACEMESH_RIGHT_EYE, mp.FACEMESH_LIPS):
        idx = np.unique(np.array(sorted(part)).ravel())
        cv2.fillConvexPoly(holes, cv2.convexHull(pts[idx]).astype(np.int32), 255)
    if grow > 0:
        holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    mask[holes > 0] = 0
    return mask


def face_features(image: np.ndarray, landmarks: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> Features:
    """SIFT keypoints and descriptors of ``image`` (H, W, 3) inside :func:`face_mask`."""
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=settings.max_features, contrastThreshold=settings.contrast)
    keys, desc = sift.detectAndCompute(gray, face_mask(landmarks, *gray.shape, settings.exclude_margin))
    if desc is None:
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32))
    return Features(np.array([k.pt for k in keys], dtype=np.float64), desc)


def tracks(features: list[Features], settings: FeatureSettings = FeatureSettings()) -> Observations:
    """Matches of every pair of photos chained into tracks (see the module docstring): one
    observation per (photo, track), ``point`` the track's number, weight 1."""
    import cv2

    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def root(a: tuple[int, int]) -> tuple[int, int]:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    matcher = cv2.BFMatcher(cv2.NORM_L2)
    for i in range(len(features)):
        for j in range(i + 1, len(features)):
            a, b = features[i], features[j]
            if len(a.points) < 8 or len(b.points) < 8:
                continue
            pairs = [m for m in matcher.knnMatch(a.descriptors, b.descriptors, k=2) if len(m) == 2]
            good = [m for m, second in pairs if m.distance < settings.ratio * second.distance]
            if len(good) < 12:
                continue
            qa = a.points[[m.queryIdx for m in good]]
            qb = b.points[[m.trainIdx for m in good]]
            _, inliers = cv2.findFundamentalMat(qa, qb, cv2.FM_RANSAC, settings.ransac_px, 0.999)
            if inliers is None:
                continue
            for m, ok in zip(good, inliers.ravel()):
                if ok:
                    parent[root((i, m.queryIdx))] = root((j, m.trainIdx))
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for key in list(parent):
        groups.setdefault(root(key), []).append(key)
    kept = [g for g in groups.values() if len(g) >= 2 and len({view for view, _ in g}) == len(g)]
    view = [k for g in kept for k, _ in g]
    point = [n for n, g in enumerate(kept) for _ in g]
    xy = [features[k].points[i] for g in kept for k, i in g]
    return Observations(view, point, np.array(xy).reshape(-1, 2), 1.0)


def adjust_cameras(
    cameras: list[Camera],
    images: list[np.ndarray],
    landmarks: list[np.ndarray],
    landmark_weights: np.ndarray,
    face: np.ndarray,
    focal_known: list[bool],
    settings: FeatureSettings = FeatureSettings(),
) -> tuple[list[Camera] | None, dict]:
    """The cameras bundle-adjusted on the photos' feature tracks and their landmarks (see the
    module docstring), in the frame of ``face`` (478, 3), the fitted landmarks' 3-D points, and a
    summary for the report; ``None`` for the cameras when the photos share fewer than
    ``min_tracks`` tracks.

    :param landmarks: per photo, (478, 2+) pixels. :param landmark_weights: (478,) or (views, 478),
        each landmark's weight (0 leaves it out), times ``settings.landmark_weight``.
    """
    found = tracks([face_features(im, lm, settings) for im, lm in zip(images, landmarks)], settings)
    n_tracks = int(found.point.max()) + 1 if len(found.point) else 0
    if n_tracks < settings.min_tracks:
        return None, {"tracks": n_tracks, "reason": f"the photos share {n_tracks} feature tracks, fewer than {settings.min_tracks}"}
    V, N = len(cameras), len(face)
    lw = np.broadcast_to(np.asarray(landmark_weights, dtype=np.float64), (V, N))
    keep = lw > 0
    view, point = np.nonzero(keep)
    marks = Observations(view, point, np.stack([lm[:, :2] for lm in landmarks])[keep], settings.landmark_weight * lw[keep])
    both = Observations(
        np.concatenate([marks.view, found.view]),
        np.concatenate([marks.point, found.point + N]),
        np.concatenate([marks.xy, found.xy]),
        np.concatenate([marks.weight, found.weight]),
    )
    start = triangulate(cameras, both, N + n_tracks)
    start[np.isnan(start).any(1)] = face.mean(0) if np.isnan(start[:N]).all() else np.nanmean(start[:N], 0)
    result = bundle_adjust(cameras, start, both, refine_focal=~np.asarray(focal_known, dtype=bool))
    moved, _ = similarity_to(result.cameras, result.points[:N], face, weights=lw.sum(0))
    track_errors = result.errors_px[len(marks.view) :]
    summary = {
        "tracks": n_tracks,
        "iterations": result.iterations,
        "track_observations": len(found.view),
        "track_error_px_median": round(float(np.median(track_errors)), 3),
        "focal_change": [round(float(b.K[0, 0] / a.K[0, 0]), 4) for a, b in zip(cameras, moved)],
    }
    return moved, summary
