"""Cameras from the skin's own texture: corners on the face followed from photo to photo, and
the cameras bundle-adjusted on them (:mod:`recon.bundle`).

MediaPipe's landmarks are not fixed points on the skin: on a turned head they slide towards the
silhouette, so a fit to them alone leaves the focal lengths 20-30 % short and the rotations 1-2
degrees off even when the shape is free (README: heads on real scans). A pore, a freckle or a
painted mark is the same point in every photo. So, with two photos or more:

1. :func:`corners`: Shi-Tomasi corners inside the face's outline, away from the eyes and the
   mouth (they move between photos);
2. :func:`tracks`: each photo's corners followed into every photo whose camera is turned less than
   ``max_angle`` from it by pyramidal Lucas-Kanade, started where MediaPipe's mesh carries the
   corner (the same barycentric place in the same landmark triangle, so the search starts a few
   pixels from the answer even across a large turn), kept when the reverse search comes back to
   the corner and the pair's fundamental matrix (RANSAC) agrees; a corner and where it was found
   make one track;
3. :func:`adjust_cameras`: the cameras (rotation, translation, focal unless EXIF gave it) and the
   tracks' points bundle-adjusted together with the landmarks, which count ``landmark_weight``
   each (they fix where the face is; the tracks fix the geometry), then moved back into the face
   fit's frame by the similarity that takes the landmarks' triangulated points onto the fitted face;
   the tracks' points that reproject well come along, as points of the skin for the head to be
   fitted to (:func:`recon_face.head_fit.fit_skin_points`).

Descriptor matching (SIFT, ratio test, tried first) found 5-10 times fewer tracks on a smooth
scan, too few to pin each photo's focal length (README: cameras from the skin's texture).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.bundle import Observations, bundle_adjust, similarity_to, triangulate
from recon.cameras import rotation_angle
from recon.structures import Camera


@dataclass(frozen=True)
class FeatureSettings:
    """Knobs of the feature cameras.

    :param max_corners: per photo. :param quality: Shi-Tomasi's quality level (of the strongest
        corner's score). :param min_distance: between corners, pixels.
    :param window: Lucas-Kanade's window, pixels. :param max_angle: degrees between two cameras
        for one's corners to be followed into the other.
    :param round_trip_px: the most a corner may miss itself when followed back.
    :param ransac_px: the fundamental matrix's inlier distance, pixels.
    :param min_tracks: fewer tracks seen by two photos, and the cameras are left as they were.
    :param min_view_observations: a photo's focal length moves only when it sees this many tracks;
        when fewer than half the photos of unknown focal length do, the cameras are left as they were
        (moving the others' rotations under focal lengths that stay wrong makes them worse).
    :param landmark_weight: a landmark's residual weight against a track's (1).
    :param skin_point_px: a track's point is kept as a point of the skin when it reprojects within
        this in every photo that sees it.
    """

    max_corners: int = 800
    quality: float = 0.001
    min_distance: int = 8
    window: int = 15
    max_angle: float = 45.0
    round_trip_px: float = 0.5
    ransac_px: float = 1.0
    min_tracks: int = 200
    min_view_observations: int = 150
    landmark_weight: float = 0.05
    skin_point_px: float = 1.5


def _polygon(edges: frozenset) -> np.ndarray:
    """The landmark indices of a closed MediaPipe contour, in order around it."""
    nxt = dict(edges)
    start = min(nxt)
    order = [start]
    while nxt[order[-1]] != start and len(order) <= len(nxt):
        order.append(nxt[order[-1]])
    return np.array(order)


def face_mask(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8, 255 inside the face's outline and outside the eyes and the mouth."""
    import cv2
    from mediapipe.python.solutions import face_mesh_connections as mp

    pts = landmarks[:, :2].astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [pts[_polygon(mp.FACEMESH_FACE_OVAL)].astype(np.int32)], 255)
    holes = np.zeros_like(mask)
    for part in (mp.FACEMESH_LEFT_EYE, mp.FACEMESH_RIGHT_EYE, mp.FACEMESH_LIPS):
        idx = np.unique(np.array(sorted(part)).ravel())
        cv2.fillConvexPoly(holes, cv2.convexHull(pts[idx]).astype(np.int32), 255)
    mask[holes > 0] = 0
    return mask


def corners(gray: np.ndarray, landmarks: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """(N, 2) float32 Shi-Tomasi corners of ``gray`` (H, W) inside :func:`face_mask`."""
    import cv2

    found = cv2.goodFeaturesToTrack(
        gray, settings.max_corners, settings.quality, settings.min_distance, mask=face_mask(landmarks, *gray.shape), blockSize=7
    )
    return np.zeros((0, 2), np.float32) if found is None else found.reshape(-1, 2).astype(np.float32)


def _signed_areas(points: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle (T, 3, 2)."""
    a, b, c = points[:, 0], points[:, 1], points[:, 2]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _carried(points: np.ndarray, landmarks: np.ndarray, triangles: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point (N, 2) of a photo, the landmark triangle under it and its barycentric
    coordinates in that photo's ``landmarks``; points under no triangle dropped. Returns
    (kept indices, triangle per kept point, (n, 3) coordinates)."""
    import cv2

    corners_2d = landmarks[triangles][..., :2]
    under = np.full(shape, -1, np.int32)
    for k, tri in enumerate(corners_2d):
        cv2.fillConvexPoly(under, np.round(tri).astype(np.int32), int(k))
    h, w = shape
    px = np.clip(np.round(points).astype(np.int64), 0, [w - 1, h - 1])
    tri = under[px[:, 1], px[:, 0]]
    kept = np.nonzero(tri >= 0)[0]
    tri = tri[kept]
    A = corners_2d[tri]
    edges = np.stack([A[:, 1] - A[:, 0], A[:, 2] - A[:, 0]], axis=-1)
    det = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]
    ok = np.abs(det) > 1e-9
    kept, tri, A, edges, det = kept[ok], tri[ok], A[ok], edges[ok], det[ok]
    d = points[kept] - A[:, 0]
    u = (d[:, 0] * edges[:, 1, 1] - d[:, 1] * edges[:, 0, 1]) / det
    v = (edges[:, 0, 0] * d[:, 1] - edges[:, 1, 0] * d[:, 0]) / det
    return kept, tri, np.stack([1 - u - v, u, v], axis=1)


def tracks(
    grays: list[np.ndarray], landmarks: list[np.ndarray], cameras: list[Camera], triangles: np.ndarray,
    settings: FeatureSettings = FeatureSettings(),
) -> Observations:
    """Each photo's :func:`corners` followed into the other photos (see the module docstring):
    one observation per (photo, track), ``point`` the track's number, weight 1.

    :param grays: per photo, (H, W) uint8, all one size. :param landmarks: per photo, (478, 2+) pixels.
    :param cameras: the current cameras (which photos are close enough to follow a corner into).
    :param triangles: (T, 3) landmark indices of MediaPipe's mesh.
    """
    import cv2

    lk = {"winSize": (settings.window, settings.window), "maxLevel": 3, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW}
    areas = [_signed_areas(lm[triangles][..., :2]) for lm in landmarks]
    view: list[np.ndarray] = []
    point: list[np.ndarray] = []
    xy: list[np.ndarray] = []
    count = 0
    for r, gray in enumerate(grays):
        found = corners(gray, landmarks[r], settings)
        kept, tri, bary = _carried(found.astype(np.float64), landmarks[r], triangles, gray.shape)
        found = found[kept]
        seen = np.zeros(len(found), bool)
        for j, other in enumerate(grays):
            if j == r or len(found) < 8 or rotation_angle(cameras[j].R @ cameras[r].R.T) > settings.max_angle:
                continue
            start = np.einsum("nk,nkd->nd", bary, landmarks[j][triangles[tri]][..., :2]).astype(np.float32)
            there, ok, _ = cv2.calcOpticalFlowPyrLK(gray, other, found, start, **lk)
            back, ok_back, _ = cv2.calcOpticalFlowPyrLK(other, gray, there, found.copy(), **lk)
            good = (np.sign(areas[j][tri]) == np.sign(areas[r][tri])) & (ok.ravel() == 1) & (ok_back.ravel() == 1)
            good &= np.linalg.norm(back - found, axis=1) < settings.round_trip_px
            if good.sum() < 12:
                continue
            index = np.nonzero(good)[0]
            _, inliers = cv2.findFundamentalMat(found[index].astype(np.float64), there[index].astype(np.float64), cv2.FM_RANSAC, settings.ransac_px, 0.999)
            if inliers is None:
                continue
            index = index[inliers.ravel() == 1]
            view.append(np.full(len(index), j))
            point.append(count + index)
            xy.append(there[index])
            seen[index] = True
        index = np.nonzero(seen)[0]
        view.append(np.full(len(index), r))
        point.append(count + index)
        xy.append(found[index])
        count += len(found)
    if not view:
        return Observations(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 2)), 1.0)
    _, numbered = np.unique(np.concatenate(point), return_inverse=True)
    return Observations(np.concatenate(view), numbered, np.concatenate(xy).astype(np.float64), 1.0)


def adjust_cameras(
    cameras: list[Camera],
    images: list[np.ndarray],
    landmarks: list[np.ndarray],
    landmark_weights: np.ndarray,
    face: np.ndarray,
    focal_known: list[bool],
    settings: FeatureSettings = FeatureSettings(),
) -> tuple[list[Camera] | None, np.ndarray, dict]:
    """The cameras bundle-adjusted on the photos' feature tracks and their landmarks (see the
    module docstring), in the frame of ``face`` (478, 3), the fitted landmarks' 3-D points; the
    tracks' points in that frame (M, 3; those every photo of theirs sees within
    ``skin_point_px``), and a summary for the report. ``None`` for the cameras (and no points)
    when the photos share fewer than ``min_tracks`` tracks.

    :param landmarks: per photo, (478, 2+) pixels. :param landmark_weights: (478,) or (views, 478),
        each landmark's weight (0 leaves it out), times ``settings.landmark_weight``.
    """
    import cv2

    from recon_face.template import load_template

    # one size for all (Lucas-Kanade compares equal pyramids): padded right and below, so pixel coordinates stay
    h, w = max(im.shape[0] for im in images), max(im.shape[1] for im in images)
    grays = [np.pad(cv2.cvtColor(np.ascontiguousarray(im[..., :3]), cv2.COLOR_RGB2GRAY), ((0, h - im.shape[0]), (0, w - im.shape[1]))) for im in images]
    found = tracks(grays, [np.asarray(lm, dtype=np.float64) for lm in landmarks], cameras, load_template().faces, settings)
    n_tracks = int(found.point.max()) + 1 if len(found.point) else 0
    if n_tracks < settings.min_tracks:
        return None, np.zeros((0, 3)), {"tracks": n_tracks, "reason": f"the photos share {n_tracks} feature tracks, fewer than {settings.min_tracks}"}
    V, N = len(cameras), len(face)
    seen = np.bincount(found.view, minlength=V) >= settings.min_view_observations
    unknown = ~np.asarray(focal_known, dtype=bool)
    if unknown.any() and (seen & unknown).sum() < unknown.sum() / 2:
        reason = f"{int((seen & unknown).sum())} of the {int(unknown.sum())} photos of unknown focal length see {settings.min_view_observations} tracks"
        return None, np.zeros((0, 3)), {"tracks": n_tracks, "reason": f"{reason}, fewer than half"}
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
    result = bundle_adjust(cameras, start, both, refine_focal=unknown & seen)
    track_errors = result.errors_px[len(marks.view) :]
    worst = np.zeros(n_tracks)
    np.maximum.at(worst, found.point, track_errors)
    moved, _, skin = similarity_to(result.cameras, result.points[:N], face, weights=lw.sum(0), carry=result.points[N:][worst < settings.skin_point_px])
    summary = {
        "tracks": n_tracks,
        "iterations": result.iterations,
        "track_observations": len(found.view),
        "track_error_px_median": round(float(np.median(track_errors)), 3),
        "focal_change": [round(float(b.K[0, 0] / a.K[0, 0]), 4) for a, b in zip(cameras, moved)],
        "skin_points": len(skin),
    }
    return moved, skin, summary
