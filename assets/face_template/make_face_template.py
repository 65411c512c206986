"""Regenerate recon's face template (topology, neutral metric shape, UV layout) from scratch.

    .venv/bin/python assets/face_template/make_face_template.py [--photos DIR] [--check]

Writes ``face_template.npz`` (what the ``face`` method loads) and ``face_template.json``
(provenance and figures) into ``plugins/recon_face/data/``, the package data the wheel ships, and
``face_template.obj`` (to look at, not shipped) beside this script. Deterministic: the same photos
and the same MediaPipe give byte-identical files. ``--check`` regenerates into memory and
exits 1 when the shipped files differ.

**Topology** (478 vertices = MediaPipe's 478 refined landmarks, in MediaPipe's order): the
triangles of MediaPipe's face-mesh graph (``FACEMESH_TESSELATION``: 2556 directed edges, 1322
undirected). Its 3-cliques are 852 triangles plus one spurious big triangle on each side of the
nose, where one vertex lies inside the triangle of three others (all six edges present); those
two are dropped (the clique that contains another vertex in the frontal projection). The
tessellation leaves holes at the eyes and the mouth; recon closes them so the surface is a disk
(one chart, no UV seams): each eye with a fan around its iris centre (landmarks 468, 473), the
mouth with a strip zipping the upper and lower inner lip. The ten iris landmarks' rings (469-472,
474-477) become two quads each, in a chart of their own.

**Shape**: MediaPipe Face Mesh run on the near-frontal, closed-mouth photos of ``--photos``
(``../shared/data/face_multiview`` by default: the photos listed in :data:`PHOTOS`, all of which
ship with public research code; only the mean of their landmark coordinates is kept, no pixel).
Each photo's 478 points (x, y in pixels, MediaPipe's relative depth z, same units) are aligned by
generalised Procrustes (rotation, translation, scale), averaged, made left/right symmetric, and
made metric with a **scale prior: the mean adult interpupillary distance, 63 mm** (Dodgson, N. A.
(2004), "Variation and extrema of human interpupillary distance", Proc. SPIE 5291: mean 63.36 mm,
s.d. 3.83 mm, n = 3976 adults): the distance between the two iris centres is set to 63 mm.
Axes: metres, X to the subject's left (image right in a frontal photo), Y up, Z out of the face
(glTF's convention); origin midway between the iris centres.

**UV layout**: least-squares conformal maps (Lévy et al. 2002) of the closed disk, solved here
with SciPy's sparse least squares, two outer-contour vertices pinned; scaled into the unit square
with a margin, forehead up. The iris quads get two small charts in the bottom corners.

**Expression mobility**: a per-vertex weight in [0.05, 1] (1 on the lips, eyelids and jaw, falling
off with distance) that the fitter uses to let expression offsets move the mouth and eyes freely
while the rest of the face follows the shared identity.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from recon.npz import npz_bytes, write_or_check

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "plugins" / "recon_face" / "data"  # package data: recon_face/data/ in the wheel
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "face_multiview"
IPD_M = 0.063  # Dodgson 2004: mean adult interpupillary distance 63.36 mm
N = 478
IRIS = {"right": (468, [469, 470, 471, 472]), "left": (473, [474, 475, 476, 477])}
PHOTOS = [
    "hrn_multi_view/10078.jpg",
    "hrn_multi_view/21650.jpg",
    "hrn_multi_view/5932.jpg",
    "single/hrn_00016.png",
    "single/hrn_00437.png",
    "single/mica_carell.jpg",
    "single/mica_connelly.jpg",
    "single/mica_lawrence.jpg",
    "single/skimage_astronaut.png",
    "single/3ddfa_JianzhuGuo.jpg",
    "single/deca_IMG_0392_inputs.jpg",
    "single/deca_image02673.png",
    "single/fa_aflw-test.jpg",
    "single/insightface_Tom_Hanks_54745.png",
    "mvfnet/front.jpg",
    "same_identity_pairs/obama/obama.jpg",
    "same_identity_pairs/obama/obama2.jpg",
    "same_identity_pairs/biden/biden.jpg",
    "same_identity_pairs/biden/biden2.jpg",
    "same_identity_pairs/kit_harington/john2.jpeg",
    "same_identity_pairs/rose_leslie/img1.jpg",
    "same_identity_pairs/rose_leslie/img2.jpg",
]
MAX_YAW_DEG = 12.0
MAX_PITCH_DEG = 15.0
MAX_MOUTH_OPEN = 0.06  # inner-lip gap / interpupillary distance


# -- shape -----------------------------------------------------------------------------------------
def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: (s, R, t) minimising |s R src + t - dst|²."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.diag([1.0, 1.0, d])
    R = U @ D @ Vt
    s = float((S * np.diag(D)).sum() / (a**2).sum())
    return s, R, mu_d - s * R @ mu_s


def detect_photos(photos: Path) -> tuple[list[str], list[np.ndarray]]:
    """MediaPipe landmarks of every listed photo as (478, 3) points, Y up and Z towards the camera."""
    sys.path.insert(0, str(ROOT / "plugins"))
    from recon_face.detect import detect
    from recon_io.images import load_frame

    names, shapes = [], []
    for rel in PHOTOS:
        path = photos / rel
        if not path.exists():
            raise SystemExit(f"{path} is missing; pass --photos pointing at shared/data/face_multiview")
        det = detect(load_frame(path))
        if det is None:
            raise SystemExit(f"{rel}: no face found")
        p = det.landmarks.points.astype(np.float64)
        shapes.append(np.stack([p[:, 0], -p[:, 1], -p[:, 2]], axis=1))
        names.append(rel)
    return names, shapes


def procrustes_mean(shapes: list[np.ndarray], iters: int = 10) -> tuple[np.ndarray, list[np.ndarray]]:
    """Generalised Procrustes: the mean shape (unit RMS size) and every shape aligned to it."""
    mean = shapes[0] - shapes[0].mean(0)
    mean /= np.sqrt((mean**2).sum(1).mean())
    aligned = shapes
    for _ in range(iters):
        aligned = []
        for s in shapes:
            k, R, t = similarity(s, mean)
            aligned.append(k * s @ R.T + t)
        new = np.mean(aligned, axis=0)
        new -= new.mean(0)
        new /= np.sqrt((new**2).sum(1).mean())
        k, R, t = similarity(new, mean)
        mean = k * new @ R.T + t
    return mean, aligned


def frontal_frame(p: np.ndarray) -> np.ndarray:
    """Rotate ``p`` so the eyes lie along X, the face's up is +Y and it looks along +Z."""
    x = p[473] - p[468]  # right iris -> left iris (subject's)
    x /= np.linalg.norm(x)
    up = p[10] - p[152]  # chin -> top of forehead
    up -= x * (up @ x)
    up /= np.linalg.norm(up)
    R = np.stack([x, up, np.cross(x, up)])
    out = p @ R.T
    return out if out[1, 2] > out[:, 2].mean() else out * [1, 1, -1]  # nose tip towards +Z


def mirror_map(p: np.ndarray) -> np.ndarray:
    """For each vertex, its left/right partner (itself on the midline), by optimal matching of
    the shape with its own mirror image."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    mirrored = p * [-1, 1, 1]
    cost = cdist(p[:468], mirrored[:468])
    _, cols = linear_sum_assignment(cost)
    partner = np.empty(N, dtype=np.int64)
    partner[:468] = cols
    partner[468:473], partner[473:478] = np.arange(473, 478), np.arange(468, 473)
    # iris rings: match by position within the ring
    for i in range(469, 473):
        j = 474 + int(np.argmin(np.linalg.norm(mirrored[474:478] - p[i], axis=1)))
        partner[i], partner[j] = j, i
    if not np.array_equal(partner[partner], np.arange(N)):
        raise SystemExit("the left/right matching is not an involution; the mean shape is too asymmetric")
    return partner


def symmetrise(p: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """Average a shape with its mirror image (partners swapped), after centring the midline on x = 0."""
    for _ in range(3):
        mid = partner == np.arange(N)
        p = p - [p[mid, 0].mean(), 0, 0]
        # rotate about Y and Z so the midline is vertical in the mirror plane
        q = 0.5 * (p + (p * [-1, 1, 1])[partner])
        _, R, t = similarity(p, q)
        p = p @ R.T + t
    return 0.5 * (p + (p * [-1, 1, 1])[partner])


def yaw_pitch(shape: np.ndarray, mean: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch (degrees) of ``shape`` relative to the frontal ``mean``."""
    _, R, _ = similarity(mean, shape)
    fwd = R @ np.array([0.0, 0.0, 1.0])
    return float(np.degrees(np.arctan2(fwd[0], fwd[2]))), float(np.degrees(np.arctan2(fwd[1], fwd[2])))


# -- topology --------------------------------------------------------------------------------------
def tessellation_triangles(xy: np.ndarray) -> np.ndarray:
    """The faces of MediaPipe's tessellation graph: its 3-cliques, minus those that contain
    another vertex in the frontal projection ``xy`` (the spurious triangle of a K4)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    nbr: dict[int, set[int]] = defaultdict(set)
    for a, b in FACEMESH_TESSELATION:
        nbr[a].add(b)
        nbr[b].add(a)
    cliques = sorted({tuple(sorted((a, b, c))) for a in nbr for b in nbr[a] for c in nbr[a] & nbr[b]})

    def contains(tri: tuple[int, int, int], q: np.ndarray) -> bool:
        a, b, c = xy[list(tri)]
        d = lambda p1, p2, p3: (p1[0] - p3[0]) * (p2[1] - p3[1]) - (p2[0] - p3[0]) * (p1[1] - p3[1])  # noqa: E731
        s = [d(q, a, b), d(q, b, c), d(q, c, a)]
        return all(v > 0 for v in s) or all(v < 0 for v in s)

    keep = []
    for tri in cliques:
        others = set.intersection(*(nbr[v] for v in tri)) - set(tri)
        if any(contains(tri, xy[o]) for o in others):
            continue
        keep.append(tri)
    return np.array(keep, dtype=np.int64)


def orient(faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Consistent winding over each connected component, counter-clockwise seen from +Z."""
    faces = faces.copy()
    edge_faces: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, f in enumerate(faces):
        for k in range(3):
            edge_faces[tuple(sorted((f[k], f[(k + 1) % 3])))].append(i)
    done = np.zeros(len(faces), bool)
    for seed in range(len(faces)):
        if done[seed]:
            continue
        comp, stack = [seed], [seed]
        done[seed] = True
        while stack:
            i = stack.pop()
            f = faces[i]
            for k in range(3):
                a, b = f[k], f[(k + 1) % 3]
                for j in edge_faces[tuple(sorted((a, b)))]:
                    if done[j]:
                        continue
                    g = list(faces[j])
                    # a neighbour traverses the shared edge the other way round
                    if any(g[m] == a and g[(m + 1) % 3] == b for m in range(3)):
                        faces[j] = faces[j][::-1]
                    done[j] = True
                    comp.append(j)
                    stack.append(j)
        v = points[faces[comp]]
        normal = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]).sum(0)
        if normal[2] < 0:
            faces[comp] = faces[comp][:, ::-1]
    return faces


def boundary_loops(faces: np.ndarray) -> list[list[int]]:
    """Closed loops of boundary edges (edges on one face), each in traversal order."""
    count: dict[tuple[int, int], int] = defaultdict(int)
    for f in faces:
        for k in range(3):
            count[tuple(sorted((f[k], f[(k + 1) % 3])))] += 1
    nxt: dict[int, list[int]] = defaultdict(list)
    for (a, b), c in count.items():
        if c == 1:
            nxt[a].append(b)
            nxt[b].append(a)
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            cand = [v for v in nxt[cur] if v != prev]
            step = cand[0]
            if step == start:
                break
            loop.append(step)
            seen.add(step)
            prev, cur = cur, step
        loops.append(loop)
    return loops


def zip_strip(loop: list[int], xy: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangulate a thin closed loop (the mouth) as a strip between its two chains, which meet
    at the leftmost and rightmost vertices."""
    n = len(loop)
    i0 = int(np.argmin(xy[loop, 0]))
    i1 = int(np.argmax(xy[loop, 0]))
    loop = loop[i0:] + loop[:i0]
    i1 = (i1 - i0) % n
    a = loop[: i1 + 1]  # left corner -> right corner one way
    b = [loop[0]] + loop[i1:][::-1]  # and the other way
    tris, i, j = [], 0, 0
    while i < len(a) - 1 or j < len(b) - 1:
        if j >= len(b) - 1 or (i < len(a) - 1 and xy[a[i + 1], 0] <= xy[b[j + 1], 0]):
            tris.append((a[i], a[i + 1], b[j]))
            i += 1
        else:
            tris.append((a[i], b[j + 1], b[j]))
            j += 1
    return [t for t in tris if len(set(t)) == 3]


def build_faces(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, list[int]]]:
    """All faces, a per-face chart id (0 = face disk, 1/2 = iris quads), a per-face kind
    (0 = MediaPipe's tessellation, 1 = eye fill, 2 = mouth fill, 3 = iris quad) and the hole loops."""
    tess = tessellation_triangles(points[:, :2])
    loops = boundary_loops(tess)
    outer = max(loops, key=len)
    holes = [lp for lp in loops if lp is not outer]
    fills: list[tuple[int, int, int]] = []
    named: dict[str, list[int]] = {"outer": outer}
    for hole in holes:
        centre = hole_centre = None
        for side, (c, _) in IRIS.items():
            x = points[hole, :2]
            if np.linalg.norm(x.mean(0) - points[c, :2]) < 0.5 * np.ptp(x[:, 0]):
                centre, hole_centre = c, side
        if centre is not None:
            named[f"{hole_centre}_eye"] = hole
            fills += [(centre, hole[k], hole[(k + 1) % len(hole)]) for k in range(len(hole))]
        else:
            named["mouth"] = hole
            fills += zip_strip(hole, points[:, :2])
    iris = []
    for _, (_, ring) in sorted(IRIS.items()):
        # ring order around the centre, counter-clockwise seen from +Z
        c = points[ring, :2].mean(0)
        ang = np.arctan2(points[ring, 1] - c[1], points[ring, 0] - c[0])
        r = [ring[k] for k in np.argsort(ang)]
        iris.append([(r[0], r[1], r[2]), (r[0], r[2], r[3])])
    disk = orient(np.concatenate([tess, np.array(fills)]), points)
    faces = np.concatenate([disk, np.array(iris[0]), np.array(iris[1])])
    chart = np.concatenate([np.zeros(len(disk), int), [1, 1, 2, 2]])
    kind = np.concatenate([np.zeros(len(tess), int), np.where(np.array(fills)[:, 0] >= 468, 1, 2), [3, 3, 3, 3]])
    return faces.astype(np.int64), chart, kind, named


# -- UVs -------------------------------------------------------------------------------------------
def lscm(points: np.ndarray, faces: np.ndarray, pins: dict[int, tuple[float, float]]) -> np.ndarray:
    """Least-squares conformal map of a disk: (V, 2) UVs; ``pins`` fixes two vertices."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    n = len(points)
    p = points[faces]
    e1 = p[:, 1] - p[:, 0]
    e2 = p[:, 2] - p[:, 0]
    normal = np.cross(e1, e2)
    area = 0.5 * np.linalg.norm(normal, axis=1)
    ax = e1 / np.linalg.norm(e1, axis=1, keepdims=True)
    ay = np.cross(normal / (2 * area[:, None]), ax)
    # local 2-D coordinates of the three corners
    x = np.stack([np.zeros(len(faces)), (e1 * ax).sum(1), (e2 * ax).sum(1)], axis=1)
    y = np.stack([np.zeros(len(faces)), np.zeros(len(faces)), (e2 * ay).sum(1)], axis=1)
    # gradient of a linear function: grad = sum_k f_k * (rot90 of the opposite edge) / (2A)
    gx = np.stack([y[:, 1] - y[:, 2], y[:, 2] - y[:, 0], y[:, 0] - y[:, 1]], axis=1) / (2 * area[:, None])
    gy = np.stack([x[:, 2] - x[:, 1], x[:, 0] - x[:, 2], x[:, 1] - x[:, 0]], axis=1) / (2 * area[:, None])
    w = np.sqrt(area)[:, None]
    rows = np.repeat(np.arange(len(faces)), 3)
    cols = faces.reshape(-1)
    Gx = sp.csr_matrix(((gx * w).ravel(), (rows, cols)), shape=(len(faces), n))
    Gy = sp.csr_matrix(((gy * w).ravel(), (rows, cols)), shape=(len(faces), n))
    # Cauchy-Riemann: u_x = v_y, u_y = -v_x
    A = sp.vstack([sp.hstack([Gx, -Gy]), sp.hstack([Gy, Gx])]).tocsc()
    fixed = np.zeros(2 * n, bool)
    values = np.zeros(2 * n)
    for v, (u, vv) in pins.items():
        fixed[[v, n + v]] = True
        values[[v, n + v]] = (u, vv)
    used = np.zeros(n, bool)
    used[np.unique(faces)] = True
    free = ~fixed & np.concatenate([used, used])
    Af, Ac = A[:, free], A[:, fixed]
    rhs = -Ac @ values[fixed]
    sol = spsolve((Af.T @ Af).tocsc(), Af.T @ rhs)
    out = values.copy()
    out[free] = sol
    return np.stack([out[:n], out[n:]], axis=1)


def layout(points: np.ndarray, faces: np.ndarray, chart: np.ndarray, outer: list[int]) -> np.ndarray:
    """UVs in the unit square: the face disk by LSCM, the two iris charts in the bottom corners."""
    disk = faces[chart == 0]
    left = outer[int(np.argmin(points[outer, 0]))]
    right = outer[int(np.argmax(points[outer, 0]))]
    uv = lscm(points, disk, {left: (0.0, 0.0), right: (1.0, 0.0)})
    used = np.unique(disk)
    margin = 0.02
    lo, hi = uv[used].min(0), uv[used].max(0)
    scale = (1 - 2 * margin) / (hi - lo).max()
    uv = (uv - lo) * scale + margin + ((1 - 2 * margin) - (hi - lo) * scale) / 2
    for k, (_, (_, ring)) in enumerate(sorted(IRIS.items())):
        q = points[ring, :2]
        q = (q - q.mean(0)) / np.abs(q - q.mean(0)).max() * 0.035
        corner = np.array([0.05 if k == 0 else 0.95, 0.05])
        uv[ring] = corner + q
    return uv


# -- mobility --------------------------------------------------------------------------------------
def mobility(points: np.ndarray, named: dict[str, list[int]]) -> np.ndarray:
    """How freely expression may move each vertex, in [0.05, 1]."""
    from mediapipe.python.solutions import face_mesh_connections as c

    def verts(conns: frozenset) -> np.ndarray:
        return np.unique(np.array(sorted(conns)).ravel())

    def near(idx: np.ndarray, radius: float) -> np.ndarray:
        d = np.linalg.norm(points[:, None] - points[idx][None], axis=2).min(1)
        return np.exp(-((d / radius) ** 2))

    ipd = np.linalg.norm(points[468] - points[473])
    lips = verts(c.FACEMESH_LIPS)
    eyes = np.concatenate([verts(c.FACEMESH_LEFT_EYE), verts(c.FACEMESH_RIGHT_EYE), np.arange(468, 478)])
    brows = np.concatenate([verts(c.FACEMESH_LEFT_EYEBROW), verts(c.FACEMESH_RIGHT_EYEBROW)])
    m = np.maximum.reduce([
        near(lips, 0.35 * ipd),
        near(eyes, 0.12 * ipd),
        0.6 * near(brows, 0.2 * ipd),
    ])
    mouth_y = points[named["mouth"], 1].mean()
    chin = np.clip((mouth_y - points[:, 1]) / (0.4 * ipd), 0, 1) * 0.8  # below the mouth: the jaw
    m = np.maximum(m, chin)
    return np.clip(m, 0.05, 1.0)


# -- main ------------------------------------------------------------------------------------------
def build(photos: Path) -> tuple[dict[str, np.ndarray], dict]:
    names, shapes = detect_photos(photos)
    mean, _ = procrustes_mean(shapes)
    mean = frontal_frame(mean)
    ipd = lambda s: np.linalg.norm(s[468] - s[473])  # noqa: E731
    keep = []
    for name, s in zip(names, shapes):
        yaw, pitch = yaw_pitch(s, mean)
        mouth = np.linalg.norm(s[13] - s[14]) / ipd(s)
        print(f"{name}: yaw {yaw:+.1f} pitch {pitch:+.1f} mouth {mouth:.3f}", file=sys.stderr)
        if abs(yaw) <= MAX_YAW_DEG and abs(pitch) <= MAX_PITCH_DEG and mouth <= MAX_MOUTH_OPEN:
            keep.append(name)
    if len(keep) < 5:
        raise SystemExit(f"only {len(keep)} near-frontal closed-mouth photos; need at least 5")
    mean, _ = procrustes_mean([s for n, s in zip(names, shapes) if n in keep])
    mean = frontal_frame(mean)
    partner = mirror_map(mean)
    mean = symmetrise(mean, partner)
    mean = frontal_frame(mean)
    mean = symmetrise(mean, partner)
    mean *= IPD_M / ipd(mean)
    mean -= 0.5 * (mean[468] + mean[473])
    faces, chart, kind, named = build_faces(mean)
    uvs = layout(mean, faces, chart, named["outer"])
    arrays = {
        "vertices": mean.astype(np.float32),
        "faces": faces.astype(np.int32),
        "chart": chart.astype(np.int8),
        "kind": kind.astype(np.int8),
        "uvs": uvs.astype(np.float32),
        "mobility": mobility(mean, named).astype(np.float32),
        "mirror": partner.astype(np.int32),
        "outer_loop": np.array(named["outer"], dtype=np.int32),
        "mouth_loop": np.array(named["mouth"], dtype=np.int32),
        "left_eye_loop": np.array(named["left_eye"], dtype=np.int32),
        "right_eye_loop": np.array(named["right_eye"], dtype=np.int32),
    }
    size = np.ptp(mean, axis=0) * 1000
    info = {
        "vertices": N,
        "faces": int(len(faces)),
        "scale_prior": "interpupillary distance (iris centre to iris centre) = 63 mm, the adult mean of Dodgson 2004 (Proc. SPIE 5291, 63.36 mm, s.d. 3.83 mm)",
        "units": "metres; X subject's left, Y up, Z out of the face; origin midway between the iris centres",
        "photos_used": keep,
        "photos_rejected": [n for n in names if n not in keep],
        "size_mm": {"width": round(float(size[0]), 1), "height": round(float(size[1]), 1), "depth": round(float(size[2]), 1)},
        "selection": {"max_yaw_deg": MAX_YAW_DEG, "max_pitch_deg": MAX_PITCH_DEG, "max_mouth_open_per_ipd": MAX_MOUTH_OPEN},
    }
    return arrays, info


def obj_text(arrays: dict[str, np.ndarray]) -> str:
    lines = ["# recon face template (see make_face_template.py); metres, Y up"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in arrays["vertices"]]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in arrays["uvs"]]
    lines += [f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}" for a, b, c in arrays["faces"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="the face_multiview folder")
    parser.add_argument("--check", action="store_true", help="exit 1 when the shipped files differ")
    args = parser.parse_args()
    arrays, info = build(args.photos)
    data = npz_bytes(arrays)
    info["sha256_npz"] = hashlib.sha256(data).hexdigest()
    outputs = {
        DATA / "face_template.npz": data,
        HERE / "face_template.obj": obj_text(arrays).encode(),
        DATA / "face_template.json": (json.dumps(info, indent=2) + "\n").encode(),
    }
    write_or_check(outputs, args.check)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
