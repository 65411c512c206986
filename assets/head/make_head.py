"""Regenerate recon's head model (parts, identity and ARKit expression bases, LODs, MediaPipe
landmark correspondence) from the ICT Face Model.

    .venv/bin/python assets/head/make_head.py [--ict DIR] [--check]

Writes ``head.npz`` (what :mod:`recon_face.head_model` loads) and ``head.json`` (provenance,
licence and figures) into ``plugins/recon_face/data/``, the package data the wheel ships.
Deterministic: the same ICT files, MediaPipe and meshoptimizer give byte-identical files.
``--check`` regenerates in memory and exits 1 when the shipped files differ. Needs the
``assets`` extra (``pip install -e ".[assets]"``: meshoptimizer, for the LODs).

**Source**: the ICT Face Model Light (ICT-FaceKit, USC Institute for Creative Technologies, MIT
licence; ``LICENSE-ICT.txt`` beside this script is its notice, which the card repeats), as packed
in ``../shared/data/head_models/ict_facekit``: the neutral OBJ (26,719 vertices, mostly quads,
UVs, one material per part), 100 identity components and 53 expression shapes (centimetres, +Y
up, the face looking +Z; recon's axes already, so only the unit changes: metres).

**Parts** (each its own triangles, UVs and material; vertices split at UV seams, each keeping the
index of its model vertex):

- ``skin``: face, head and neck, and the two eye sockets (the skin pockets behind the eyelids:
  ICT's back-head material, stitched to the lids, and they must not turn with the eyeballs);
- ``eye_left``, ``eye_right``: sclera and iris of each eyeball (the subject's left eye is at +X),
  separate so that gaze can turn each about its own centre (ICT's expressions never move them);
- ``mouth``: the mouth socket (the oral cavity behind the lips), gums, tongue and teeth;
- ``eyelashes``.

ICT's lacrimal fluid, eye blend and eye occlusion layers are transparent shading helpers and are
dropped with their vertices. Quads are split along their shorter diagonal (at the neutral).
UVs: ICT lays its materials out in unit tiles along u (face 0, back head 1, gums 2, teeth 3,
eyelashes 6; sclera and iris each fill tile 0); each part's tiles sit side by side in one
``[0, 1]²`` layout, so a part's texture is ``uv_tiles`` times as wide as tall (skin 2:1, eyes 2:1,
mouth 3:1, eyelashes 1:1; the card lists them).

**Expressions**: ARKit's 52 blendshape names minus ``tongueOut`` in the order of
``arkit_blendshapes.txt``; ICT's ``_L``/``_R`` become ``Left``/``Right`` (both mean the subject's:
ICT's ``eyeBlink_L`` closes the lid at +X, checked below), and ``browInnerUp_L + browInnerUp_R``,
``cheekPuff_L + cheekPuff_R`` become ARKit's single ``browInnerUp`` and ``cheekPuff``.

**Storage**: identity components and expression shapes are int8 with one step size per
component (max |offset| / 127, in metres), rounded to nearest, stored (K, V, 3) (a (K, 3, V)
layout packs 30% smaller but makes loading 6x slower); the card reports the error in mm.

**LODs**: ``high`` is the full mesh; ``mid`` (~8k model vertices) and ``low`` (~2k) simplify
groups of parts with meshoptimizer's edge collapse, which keeps a subset of the original vertices
and collapses UV-seam vertices only along their seam, so the UVs stay exactly ICT's (and the
texture of one LOD fits all). Budgets per group (:data:`LOD_BUDGETS`, model vertices): the skin
keeps most; the mouth socket is simplified together with the skin so that the inner lip line
stays one edge chain in both parts (no crack). Slivers that a seam collapse leaves between two
copies of one vertex (no area in 3-D) are dropped. Every LOD vertex is stored as a barycentric
combination of high model vertices (three indices, three weights; for these subset LODs the
weights are 1, 0, 0), so a LOD's identity and expression bases are the high ones combined at load
time and agree with the high model exactly at every weight.

**Landmarks**: for each of MediaPipe's 478 face-mesh landmarks a point on the high surface (part,
triangle, barycentrics). Found by rendering the neutral head and :data:`N_IDENTITIES` random
identities with recon's CPU rasterizer (:mod:`recon.raster`), shaded skin-like with a painted
iris, eyelashes hidden (ICT's are alpha cards: opaque, they read as thick eyeliner), from
:data:`VIEWS`; running recon's MediaPipe detector (:func:`recon_face.detect.detect`) on each
render; intersecting each landmark's pixel ray with the faces that the rasterizer shows around it
(the iris points with the eyeballs, the rest with the skin; a hit on an eyeball or in the mouth
moves to the nearest skin). A hit counts when the surface faces the camera and lies where
MediaPipe's own relative depth puts the landmark (a landmark hidden behind the nose or the far
cheek is still predicted, but its pixel shows a surface far in front of it). The hits are mapped
to the neutral head through their barycentric coordinates; per landmark the mean of those near
their median, projected back onto the surface. MediaPipe's lip landmarks off the corners must lie
on their own lip (the lower lip moves with ICT's jawOpen, the upper does not): with the lips
closed a hit near a corner can land on the other one. The card reports the spread (mm), the
reprojection error (pixels and mm, kept hits only) and the distance to ICT's own 68-point
landmark vertices at the eye and mouth corners. For ``mid`` and ``low`` each landmark is the point
of a nearby LOD triangle of the same part that follows the high landmark best over the neutral,
every expression and ±2 of the first ten identity components.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon.npz import npz_bytes, write_or_check

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "plugins" / "recon_face" / "data"  # package data: recon_face/data/ in the wheel
DEFAULT_ICT = ROOT.parent / "shared" / "data" / "head_models" / "ict_facekit"
ARKIT_NAMES = "arkit_blendshapes.txt"  # beside the ict_facekit folder
CM = 0.01  # ICT is in centimetres

# ICT vertex index ranges (inclusive), from ICT-FaceKit's README.
MOUTH_SOCKET = (11248, 13293)
# part name -> (recon material, {ICT material: tile slot within the part's layout})
PARTS: dict[str, tuple[str, dict[str, int]]] = {
    "skin": ("skin", {"M_Face": 0, "M_BackHead": 1}),
    "eye_left": ("eye", {"M_ScleraLeft": 0, "M_IrisLeft": 1}),
    "eye_right": ("eye", {"M_ScleraRight": 0, "M_IrisRight": 1}),
    "mouth": ("mouth", {"M_BackHead": 0, "M_GumsTongue": 1, "M_Teeth": 2}),
    "eyelashes": ("eyelashes", {"M_EyeLashes": 0}),
}
DROPPED = ("M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion")
COMBINED = ("browInnerUp", "cheekPuff")  # ICT splits these into _L/_R; ARKit has one each


# -- reading ICT -----------------------------------------------------------------------------------
@dataclass
class Ict:
    neutral: np.ndarray  # (N, 3) float64 cm
    identity: np.ndarray  # (100, N, 3) float32 cm
    expression: np.ndarray  # (53, N, 3) float32 cm
    expression_names: list[str]
    uv: np.ndarray  # (T, 2) OBJ vt rows
    polygons: list[tuple[str, list[int], list[int]]]  # (material, vertex indices, vt indices), 0-based
    indices: dict  # vertex_indices.json
    arkit: list[str]


def read_ict(folder: Path) -> Ict:
    shapes = np.load(folder / "shapes.npz")
    uv, polygons, material = [], [], ""
    positions = []
    for line in (folder / "generic_neutral_mesh.obj").read_text().splitlines():
        if line.startswith("v "):
            positions.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("vt "):
            uv.append([float(x) for x in line.split()[1:3]])
        elif line.startswith("usemtl "):
            material = line.split()[1]
        elif line.startswith("f "):
            corners = [c.split("/") for c in line.split()[1:]]
            polygons.append((material, [int(c[0]) - 1 for c in corners], [int(c[1]) - 1 for c in corners]))
    neutral = shapes["neutral"].astype(np.float64)
    if np.abs(neutral - np.array(positions)).max() > 1e-4:
        raise SystemExit("shapes.npz's neutral is not the OBJ's vertices")
    arkit = [n.strip() for n in (folder.parent / ARKIT_NAMES).read_text().splitlines() if n.strip()]
    return Ict(
        neutral=neutral,
        identity=shapes["identity"].astype(np.float32),
        expression=shapes["expression"].astype(np.float32),
        expression_names=[str(n) for n in shapes["expression_names"]],
        uv=np.array(uv, dtype=np.float64),
        polygons=polygons,
        indices=json.loads((folder / "vertex_indices.json").read_text()),
        arkit=arkit,
    )


# -- parts -----------------------------------------------------------------------------------------
@dataclass
class Part:
    name: str
    material: str
    faces: np.ndarray  # (F, 3) into this part's vertices
    uvs: np.ndarray  # (n, 2)
    vertex_index: np.ndarray  # (n,) model vertex (high LOD)
    n_tiles: int
    face_slot: np.ndarray  # (F,) which of the part's UV tiles (ICT materials) each face is in


def part_of(material: str, vertices: list[int]) -> str | None:
    if material in DROPPED:
        return None
    if material == "M_BackHead":
        lo, hi = MOUTH_SOCKET
        return "mouth" if any(lo <= v <= hi for v in vertices) else "skin"
    for name, (_, slots) in PARTS.items():
        if material in slots:
            return name
    raise SystemExit(f"unknown ICT material {material}")


def triangulate(vertices: list[int], corners: list[int], points: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """A triangle or a quad as triangles; quads split along the shorter diagonal."""
    if len(vertices) == 3:
        return [(vertices, corners)]
    if len(vertices) != 4:
        raise SystemExit(f"a {len(vertices)}-gon in the ICT mesh")
    a, b, c, d = vertices
    if np.linalg.norm(points[a] - points[c]) <= np.linalg.norm(points[b] - points[d]):
        order = [(0, 1, 2), (0, 2, 3)]
    else:
        order = [(0, 1, 3), (1, 2, 3)]
    return [([vertices[i] for i in o], [corners[i] for i in o]) for o in order]


def build_parts(ict: Ict) -> tuple[list[Part], np.ndarray]:
    """The parts (high LOD) and ``ict_index``: the ICT vertex of each model vertex (ICT's order,
    the dropped layers' vertices left out)."""
    tiles = {}
    for material, _, corners in ict.polygons:
        tiles.setdefault(material, []).extend(corners)
    tile = {m: int(np.floor(np.median(ict.uv[c, 0]))) for m, c in tiles.items()}
    tris: dict[str, list] = {name: [] for name in PARTS}
    for material, vertices, corners in ict.polygons:
        name = part_of(material, vertices)
        if name is None:
            continue
        slot = PARTS[name][1][material]
        for v, c in triangulate(vertices, corners, ict.neutral):
            tris[name].append([(vi, ci, slot, tile[material]) for vi, ci in zip(v, c)])
    used = sorted({corner[0] for t in tris.values() for tri in t for corner in tri})
    ict_index = np.array(used, dtype=np.int64)
    to_model = {v: i for i, v in enumerate(used)}
    parts = []
    for name, (material, slots) in PARTS.items():
        n_tiles = max(slots.values()) + 1
        key_to_vertex: dict[tuple[int, int, int], int] = {}
        faces, uvs, vindex, face_slot = [], [], [], []
        for tri in tris[name]:
            face_slot.append(tri[0][2])
            f = []
            for v, c, slot, t in tri:
                key = (v, c, slot)
                if key not in key_to_vertex:
                    key_to_vertex[key] = len(vindex)
                    u, w = ict.uv[c]
                    uvs.append(((slot + np.clip(u - t, 0.0, 1.0)) / n_tiles, w))
                    vindex.append(to_model[v])
                f.append(key_to_vertex[key])
            faces.append(f)
        parts.append(Part(
            name, material, np.array(faces, np.int64), np.array(uvs, np.float64), np.array(vindex, np.int64), n_tiles,
            np.array(face_slot, np.int64),
        ))
    return parts, ict_index


# -- bases -----------------------------------------------------------------------------------------
def arkit_expressions(ict: Ict) -> tuple[list[str], np.ndarray]:
    """ARKit's names (minus tongueOut, in arkit_blendshapes.txt's order) and (51, N, 3) cm offsets."""
    names = [n for n in ict.arkit if n != "tongueOut"]
    index = {n: i for i, n in enumerate(ict.expression_names)}
    used: list[str] = []
    shapes = []
    for name in names:
        if name in COMBINED:
            sources = [f"{name}_L", f"{name}_R"]
        elif name in index:  # jawLeft, mouthRight, ...: a movement towards a side, one shape
            sources = [name]
        elif name.endswith("Left"):
            sources = [name[: -len("Left")] + "_L"]
        elif name.endswith("Right"):
            sources = [name[: -len("Right")] + "_R"]
        else:
            sources = [name]
        missing = [s for s in sources if s not in index]
        if missing:
            raise SystemExit(f"ICT has no expression {missing} for ARKit's {name}")
        used += sources
        shapes.append(sum(ict.expression[index[s]] for s in sources))
    if sorted(used) != sorted(ict.expression_names):
        raise SystemExit(f"ICT expressions not mapped: {sorted(set(ict.expression_names) - set(used))}")
    return names, np.stack(shapes)


def check_sides(ict: Ict) -> dict:
    """ICT's ``_L`` is the subject's left (+X), as ARKit's ``Left``: the vertices that
    ``eyeBlink_L`` and ``mouthSmile_L`` move most lie at +X."""
    out = {}
    for name in ("eyeBlink_L", "mouthSmile_L", "browOuterUp_L", "eyeBlink_R"):
        d = np.linalg.norm(ict.expression[ict.expression_names.index(name)], axis=1)
        top = np.argsort(-d, kind="stable")[:100]
        x = float(ict.neutral[top, 0].mean() * CM * 1000)
        out[name] = round(x, 1)
        if (x > 0) != name.endswith("_L"):
            raise SystemExit(f"ICT's {name} moves the side at x = {x:.1f} mm: _L is not the subject's left")
    return out


def quantise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, N, 3) float -> int8 steps and (K,) float32 step sizes (max |x| / 127 per component)."""
    scale = (np.abs(x).reshape(len(x), -1).max(axis=1) / 127.0).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1e-12)).astype(np.float32)
    q = np.rint(x / scale[:, None, None]).clip(-127, 127).astype(np.int8)
    return q, scale


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale[:, None, None]


# -- geometry helpers ------------------------------------------------------------------------------
def closest_on_triangles(points: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest point of each triangle ``tri`` (M, 3, 3) to ``points`` (M, 3): (M, 3) barycentrics
    and (M,) distances (Ericson, Real-Time Collision Detection, 5.1.5)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    ab, ac, ap = b - a, c - a, points - a
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = points - b
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = points - c
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1.0 / (va + vb + vc)
        v, w = vb * denom, vc * denom
        bary = np.stack([1 - v - w, v, w], axis=1)
        # edge regions
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    m = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    bary[m] = np.stack([np.zeros(m.sum()), 1 - t_bc[m], t_bc[m]], axis=1)
    m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    bary[m] = np.stack([1 - t_ac[m], np.zeros(m.sum()), t_ac[m]], axis=1)
    m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    bary[m] = np.stack([1 - t_ab[m], t_ab[m], np.zeros(m.sum())], axis=1)
    for k, m in enumerate([(d1 <= 0) & (d2 <= 0), (d3 >= 0) & (d4 <= d3), (d6 >= 0) & (d5 <= d6)]):
        e = np.zeros(3)
        e[k] = 1
        bary[m] = e
    bary = np.nan_to_num(bary, nan=1 / 3)
    dist = np.linalg.norm(np.einsum("mk,mkd->md", bary, tri) - points, axis=1)
    return bary, dist


def closest_point(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, k: int = 24
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point, the closest point on the mesh: (face index, barycentrics, distance).
    Candidates: the ``k`` triangles with the nearest centroids (enough on meshes whose triangles
    are small against the distances asked about)."""
    from scipy.spatial import cKDTree

    tri = vertices[faces]
    tree = cKDTree(tri.mean(axis=1))
    k = min(k, len(faces))
    _, cand = tree.query(points, k=k)
    cand = cand.reshape(len(points), k)
    bary, dist = closest_on_triangles(np.repeat(points, k, axis=0), tri[cand.ravel()])
    dist = dist.reshape(len(points), k)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(points))
    return cand[rows, best], bary.reshape(len(points), k, 3)[rows, best], dist[rows, best]


# -- LODs ------------------------------------------------------------------------------------------
# Model-vertex budgets per simplification group. The mouth socket is simplified with the skin (they
# share the inner lip line, which thus stays one edge chain in both parts: no crack).
LOD_BUDGETS = {
    "mid": {"skin+socket": 5600, "teeth+gums": 1200, "eye_left": 300, "eye_right": 300, "eyelashes": 600},
    "low": {"skin+socket": 1330, "teeth+gums": 260, "eye_left": 80, "eye_right": 80, "eyelashes": 250},
}


@dataclass
class Lod:
    parts: list[Part]  # vertex_index into this LOD's model vertices
    high_index: np.ndarray  # (V_lod,) the high model vertex each LOD model vertex is


def simplify_group(positions: np.ndarray, faces: np.ndarray, vertex_index: np.ndarray, budget: int) -> np.ndarray:
    """meshoptimizer's simplification of one group (split vertices ``positions``, ``faces``) to
    about ``budget`` model vertices: the kept faces (indices into the same vertices)."""
    import meshoptimizer

    idx = np.ascontiguousarray(faces, dtype=np.uint32).ravel()
    pos = np.ascontiguousarray(positions, dtype=np.float32)

    def run(target: int) -> np.ndarray:
        dest = np.zeros(len(idx), dtype=np.uint32)
        n = meshoptimizer.simplify(dest, idx, pos, target_index_count=int(target), target_error=1.0, options=0)
        return dest[:n].reshape(-1, 3).astype(np.int64)

    lo, hi = 3, len(idx)
    best = run(hi)
    for _ in range(24):  # bisect the triangle target for the model-vertex budget
        mid = (lo + hi) // 2
        tri = run(mid)
        count = len(np.unique(vertex_index[np.unique(tri)]))
        if count >= budget:
            best, hi = tri, mid
        else:
            lo = mid
        if hi - lo <= 3:
            break
    return best


def make_lod(parts: list[Part], positions: np.ndarray, budgets: dict[str, int]) -> Lod:
    """One LOD: each group simplified, split back into parts, vertices renumbered."""
    by_name = {p.name: p for p in parts}
    groups = {
        "skin+socket": [("skin", None), ("mouth", [0])],
        "teeth+gums": [("mouth", [1, 2])],
        "eye_left": [("eye_left", None)],
        "eye_right": [("eye_right", None)],
        "eyelashes": [("eyelashes", None)],
    }
    kept_faces: dict[str, list[np.ndarray]] = {p.name: [] for p in parts}
    for group, members in groups.items():
        offsets, faces, vindex, owners = 0, [], [], []
        for name, slots in members:
            p = by_name[name]
            sel = np.ones(len(p.faces), bool) if slots is None else np.isin(p.face_slot, slots)
            faces.append(p.faces[sel] + offsets)
            vindex.append(p.vertex_index)
            owners.append((name, offsets, len(p.uvs)))
            offsets += len(p.uvs)
        vindex_all = np.concatenate(vindex)
        tri = simplify_group(positions[vindex_all], np.concatenate(faces), vindex_all, budgets[group])
        # collapses along a seam can leave a sliver between two copies of one model vertex: no
        # area in 3-D (only in UV space); dropped
        model = vindex_all[tri]
        tri = tri[(model[:, 0] != model[:, 1]) & (model[:, 1] != model[:, 2]) & (model[:, 2] != model[:, 0])]
        for name, start, n in owners:
            mine = tri[(tri[:, 0] >= start) & (tri[:, 0] < start + n)]
            kept_faces[name].append(mine - start)
    used_high = np.unique(np.concatenate([by_name[n].vertex_index[np.concatenate(f).ravel()] for n, f in kept_faces.items()]))
    to_lod = np.full(len(positions), -1, dtype=np.int64)
    to_lod[used_high] = np.arange(len(used_high))
    out = []
    for p in parts:
        f = np.concatenate(kept_faces[p.name])
        f = f[np.lexsort(f.T[::-1])]  # a canonical face order
        keep = np.unique(f)
        remap = np.full(len(p.uvs), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        uvs = p.uvs[keep]
        slot = np.floor(uvs[remap[f], 0].mean(axis=1) * p.n_tiles).astype(np.int64)
        out.append(Part(p.name, p.material, remap[f], uvs, to_lod[p.vertex_index[keep]], p.n_tiles, slot))
    return Lod(out, used_high)


# -- landmarks -------------------------------------------------------------------------------------
N_LANDMARKS = 478
IRIS = range(468, 478)
IMAGE_SIZE = 640
FOCAL_PX = 1100.0
DISTANCE_M = 0.55
TARGET = np.array([0.0, -0.005, 0.08])  # about the middle of the face (metres)
VIEWS = [(0.0, 0.0), (0.0, 12.0), (0.0, -12.0), (20.0, 0.0), (-20.0, 0.0), (40.0, 0.0), (-40.0, 0.0)]  # (yaw, pitch) deg
N_IDENTITIES = 4  # random identities besides the neutral head
IDENTITY_SEED = 0
INLIER_MM = 3.0
MIN_COSINE = 0.3
DEPTH_TOL_M = 0.015
COLOURS = {  # (part, tile slot) -> base colour
    ("skin", 0): (0.80, 0.58, 0.47), ("skin", 1): (0.80, 0.58, 0.47),
    ("eye_left", 0): (0.92, 0.90, 0.86), ("eye_right", 0): (0.92, 0.90, 0.86),
    ("eye_left", 1): (0.92, 0.90, 0.86), ("eye_right", 1): (0.92, 0.90, 0.86),  # the iris sphere (see scene_of)
    ("mouth", 0): (0.45, 0.15, 0.15), ("mouth", 1): (0.70, 0.30, 0.30), ("mouth", 2): (0.92, 0.90, 0.82),
    ("eyelashes", 0): (0.08, 0.06, 0.05),
}
IRIS_COLOUR, PUPIL_COLOUR = (0.30, 0.20, 0.12), (0.03, 0.03, 0.03)
IRIS_RADIUS_M, PUPIL_RADIUS_M = 0.00585, 0.002
ICT_CORNERS = {33: 36, 133: 39, 362: 42, 263: 45, 61: 48, 291: 54}  # MediaPipe -> ICT's 68-point index
# MediaPipe's lip landmarks (outer and inner contours) off the corners: with the lips together a
# hit near a corner can land on the wrong lip; each must be on the lip that the jaw moves (lower)
# or not (upper), judged by ICT's jawOpen shape against the mouth corners'.
UPPER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324)


@dataclass
class Scene:
    """All parts' triangles in model vertices, with what each triangle is."""

    faces: np.ndarray  # (F, 3) model vertices
    part: np.ndarray  # (F,) part index
    part_faces: list[np.ndarray]  # per part: (F_p, 3) model vertices
    colour: np.ndarray  # (F, 3, 3) per-corner base colour


def scene_of(parts: list[Part], neutral: np.ndarray) -> Scene:
    faces, part, colour = [], [], []
    for k, p in enumerate(parts):
        f = p.vertex_index[p.faces]
        faces.append(f)
        part.append(np.full(len(f), k))
        c = np.array([COLOURS[(p.name, s)] for s in p.face_slot])[:, None, :].repeat(3, axis=1)
        if p.material == "eye":
            # ICT's sclera and iris are two nested spheres (the iris is in a texture we do not
            # have); paint an anatomical iris, 11.7 mm across (Rüfer et al. 2005, white-to-white
            # 11.71 ± 0.42 mm) with a 4 mm pupil, around the front-most point of the eyeball
            points = neutral[p.vertex_index]
            apex = points[np.argmax(points[:, 2])]
            corner = points[p.faces]
            r = np.linalg.norm(corner[..., :2] - apex[:2], axis=2)
            front = corner[..., 2] > apex[2] - 0.008
            c = np.where((front & (r < IRIS_RADIUS_M))[..., None], IRIS_COLOUR, COLOURS[(p.name, 0)])
            c = np.where((front & (r < PUPIL_RADIUS_M))[..., None], PUPIL_COLOUR, c)
        colour.append(c)
    return Scene(
        np.concatenate(faces), np.concatenate(part), [p.vertex_index[p.faces] for p in parts], np.concatenate(colour),
    )


def view_camera(yaw: float, pitch: float):
    from recon.cameras import look_at

    y, p = np.radians(yaw), np.radians(pitch)
    direction = np.array([np.sin(y) * np.cos(p), np.sin(p), np.cos(y) * np.cos(p)])
    return look_at(TARGET + DISTANCE_M * direction, TARGET, FOCAL_PX, IMAGE_SIZE, IMAGE_SIZE)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def shade(vertices: np.ndarray, scene: Scene, camera, raster, faces: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: base colour times a head light from above the camera, grey background;
    ``raster`` shows the scene faces ``faces``."""
    # per-corner normals of every scene face (each part smoothed on its own)
    starts = np.cumsum([0] + [len(f) for f in scene.part_faces])
    corner_n = np.zeros((len(scene.faces), 3, 3))
    for k, f in enumerate(scene.part_faces):
        nk = vertex_normals(vertices, f)
        corner_n[starts[k] : starts[k + 1]] = nk[f]
    hit = raster.face_index >= 0
    fi = faces[raster.face_index[hit]]
    b = raster.bary[hit]
    n = np.einsum("pk,pkd->pd", b, corner_n[fi])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = camera.center - TARGET + np.array([0.0, 0.25, 0.0])
    light /= np.linalg.norm(light)
    lambert = np.clip(n @ light, 0.0, 1.0)
    col = np.einsum("pk,pkd->pd", b, scene.colour[fi]) * (0.3 + 0.7 * lambert)[:, None]
    image = np.full((*raster.face_index.shape, 3), 0.55)
    image[hit] = col
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def ray_hits(camera, xy: np.ndarray, vertices: np.ndarray, faces: np.ndarray, face_index: np.ndarray, radius: int = 2):
    """Lift pixel positions ``xy`` (N, 2) onto the mesh: (N,) face (-1 = none) and (N, 3)
    barycentrics, intersecting the pixel ray with the faces the rasterizer shows around it."""
    h, w = face_index.shape
    origin = camera.center
    out_f = np.full(len(xy), -1, dtype=np.int64)
    out_b = np.zeros((len(xy), 3))
    kinv = np.linalg.inv(camera.K)
    for i, (x, y) in enumerate(xy):
        u, v = int(round(x)), int(round(y))
        window = face_index[max(v - radius, 0) : v + radius + 1, max(u - radius, 0) : u + radius + 1]
        cand = np.unique(window[window >= 0])
        if not (0 <= u < w and 0 <= v < h) or len(cand) == 0:
            continue
        d = camera.R.T @ (kinv @ np.array([x, y, 1.0]))
        d /= np.linalg.norm(d)
        a, b, c = (vertices[faces[cand, k]] for k in range(3))
        e1, e2 = b - a, c - a
        pvec = np.cross(d, e2)
        det = (e1 * pvec).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            s = origin - a
            bu = (s * pvec).sum(1) * inv
            q = np.cross(s, e1)
            bv = (q @ d) * inv
            t = (e2 * q).sum(1) * inv
        bary = np.stack([1 - bu - bv, bu, bv], axis=1)
        inside = np.isfinite(t) & (bary.min(axis=1) >= -1e-9) & (t > 0)
        if inside.any():
            j = np.flatnonzero(inside)[np.argmin(t[inside])]
            out_f[i], out_b[i] = cand[j], bary[j]
        else:  # between the faces shown (a silhouette): the nearest one, barycentrics clamped
            centre = face_index[v, u] if face_index[v, u] >= 0 else cand[0]
            j = int(np.flatnonzero(cand == centre)[0])
            bb = np.clip(bary[j], 0, None)
            out_f[i], out_b[i] = cand[j], bb / bb.sum() if bb.sum() > 0 else np.full(3, 1 / 3)
    return out_f, out_b


def random_identities(k: int) -> np.ndarray:
    rng = np.random.default_rng(IDENTITY_SEED)
    return np.concatenate([np.zeros((1, k)), rng.standard_normal((N_IDENTITIES, k))])


def landmark_correspondence(
    parts: list[Part], neutral: np.ndarray, identity: np.ndarray, jaw_open: np.ndarray, ict_corners: dict[int, int], log=print
) -> tuple[dict, dict]:
    """Landmark -> (part, face, barycentrics) on the high head, and the figures for the card.
    ``jaw_open``: the (V, 3) jawOpen shape (tells the lips apart); ``ict_corners``: MediaPipe
    landmark -> the model vertex of ICT's landmark there (a check, and the mouth corners).

    A hit (one landmark in one render) counts when the surface there faces the camera (cosine
    at least :data:`MIN_COSINE`: at grazing angles a pixel spans centimetres of depth) and lies
    where MediaPipe's own relative depth puts the landmark (within :data:`DEPTH_TOL_M`, after
    fitting the depth offset per render): a landmark hidden behind the nose or the far cheek is
    still predicted by MediaPipe, but the surface its pixel shows is far in front of it."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    sys.path.insert(0, str(ROOT / "plugins"))
    from recon.raster import rasterize_view
    from recon.structures import Frame
    from recon_face.detect import detect

    contour = np.zeros(N_LANDMARKS, bool)
    contour[np.unique(np.array(sorted(FACEMESH_FACE_OVAL)).ravel())] = True
    iris = np.zeros(N_LANDMARKS, bool)
    iris[list(IRIS)] = True
    names = [p.name for p in parts]
    skin = names.index("skin")
    scene = scene_of(parts, neutral)
    # ICT's eyelashes are cards meant for an alpha texture; opaque they read as thick eyeliner
    # that hides the lid margin, so they are neither rendered nor lifted onto
    solid = np.flatnonzero(scene.part != names.index("eyelashes"))
    eyes = np.flatnonzero(np.isin(scene.part, [names.index("eye_left"), names.index("eye_right")]))
    skin_faces = scene.part_faces[skin]
    weights = random_identities(len(identity))
    obs: list[list[tuple[int, np.ndarray, float]]] = [[] for _ in range(N_LANDMARKS)]  # (part, neutral point, jaw dy)
    corner_dy = float(jaw_open[[ict_corners[61], ict_corners[291]], 1].mean())
    lip_side = {**{lm: 1 for lm in UPPER_LIP}, **{lm: -1 for lm in LOWER_LIP}}
    records = []  # (identity, view, detected xy)
    seen = rejected = 0
    for ident, w in enumerate(weights):
        verts = neutral + np.einsum("k,kvd->vd", w.astype(np.float32), identity)
        for view, (yaw, pitch) in enumerate(VIEWS):
            cam = view_camera(yaw, pitch)
            shown = rasterize_view(verts, scene.faces[solid], cam)
            det = detect(Frame(image=shade(verts, scene, cam, shown, solid), source=f"ict head {ident} view {view}"))
            if det is None:
                log(f"identity {ident} view {yaw:+.0f}/{pitch:+.0f}: no face found")
                continue
            lms = det.landmarks.points.astype(np.float64)
            f_s, b_s = ray_hits(cam, lms[:468, :2], verts, scene.faces[solid], shown.face_index)
            eye_raster = rasterize_view(verts, scene.faces[eyes], cam)
            f_e, b_e = ray_hits(cam, lms[468:, :2], verts, scene.faces[eyes], eye_raster.face_index)
            face = np.concatenate([np.where(f_s >= 0, solid[f_s], -1), np.where(f_e >= 0, eyes[f_e], -1)])
            bary = np.concatenate([b_s, b_e])
            tri = verts[scene.faces[np.maximum(face, 0)]]
            point = np.einsum("nk,nkd->nd", bary, tri)
            normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
            to_cam = cam.center - point
            cosine = (normal * to_cam).sum(1) / np.linalg.norm(to_cam, axis=1)
            depth = cam.world_to_camera(point)[:, 2]
            step = np.median(depth) / FOCAL_PX  # metres per pixel at the face; MediaPipe's z is in pixels
            ok = (face >= 0) & ~iris
            offset = np.median(depth[ok] - lms[ok, 2] * step)
            depth_err = depth - (offset + lms[:, 2] * step)
            good = (face >= 0) & (iris | ((cosine >= MIN_COSINE) & (np.abs(depth_err) <= DEPTH_TOL_M)))
            records.append((ident, view, lms[:, :2], good))
            seen += int((face >= 0).sum())
            rejected += int(((face >= 0) & ~good).sum())
            for lm in np.flatnonzero(good):
                part, face_verts, b = int(scene.part[face[lm]]), scene.faces[face[lm]], bary[lm]
                if not iris[lm] and part != skin:  # on an eyeball or in the mouth: the nearest skin
                    f, bb, _ = closest_point(point[lm][None], verts, skin_faces)
                    part, face_verts, b = skin, skin_faces[f[0]], bb[0]
                obs[lm].append((part, b @ neutral[face_verts], float(b @ jaw_open[face_verts, 1])))
    # robust mean per landmark in the neutral head, projected onto its part
    lm_part = np.zeros(N_LANDMARKS, np.int64)
    lm_face = np.zeros(N_LANDMARKS, np.int64)
    lm_bary = np.zeros((N_LANDMARKS, 3))
    spread = np.zeros(N_LANDMARKS)
    counts = np.zeros(N_LANDMARKS, np.int64)
    for lm in range(N_LANDMARKS):
        if not obs[lm]:
            raise SystemExit(f"landmark {lm}: no usable hit in any render")
        seen_parts = [o[0] for o in obs[lm]]
        part = max(sorted(set(seen_parts)), key=seen_parts.count)
        candidates = np.arange(len(scene.part_faces[part]))
        hits = [o for o in obs[lm] if o[0] == part]
        side = lip_side.get(lm, 0)
        if side:  # on its own lip: the hits and the faces the point may end on
            on_side = [o for o in hits if side * (o[2] - corner_dy) > 0]
            if len(on_side) < len(hits):
                log(f"landmark {lm}: {len(hits) - len(on_side)} of {len(hits)} hits on the other lip")
            hits = on_side or hits
            face_dy = jaw_open[scene.part_faces[part], 1].mean(axis=1)
            candidates = np.flatnonzero(side * (face_dy - corner_dy) > 0)
        pts = np.array([o[1] for o in hits])
        med = np.median(pts, axis=0)
        d = np.linalg.norm(pts - med, axis=1)
        inliers = d <= max(INLIER_MM / 1000, float(np.median(d)))
        f, b, _ = closest_point(pts[inliers].mean(axis=0)[None], neutral, scene.part_faces[part][candidates])
        lm_part[lm], lm_face[lm], lm_bary[lm] = part, candidates[f[0]], b[0]
        final = b[0] @ neutral[scene.part_faces[part][lm_face[lm]]]
        spread[lm] = float(np.median(np.linalg.norm(pts - final, axis=1))) * 1000
        counts[lm] = len(pts)
    pos = np.stack([lm_bary[i] @ neutral[scene.part_faces[lm_part[i]][lm_face[i]]] for i in range(N_LANDMARKS)])
    # reprojection: the chosen points on each identity, through each view, against the detections
    reproj_px, reproj_mm = [], []  # the hits kept (a landmark hidden in a view has no true position there)
    for ident, view, xy, good in records:
        verts = neutral + np.einsum("k,kvd->vd", weights[ident].astype(np.float32), identity)
        pts = np.stack([lm_bary[i] @ verts[scene.part_faces[lm_part[i]][lm_face[i]]] for i in range(N_LANDMARKS)])
        cam = view_camera(*VIEWS[view])
        e = np.where(good, np.linalg.norm(cam.project(pts) - xy, axis=1), np.nan)
        reproj_px.append(e)
        reproj_mm.append(e * cam.world_to_camera(pts)[:, 2] / FOCAL_PX * 1000)
    frontal = np.array([VIEWS[v][0] == 0.0 for _, v, _, _ in records])
    reproj_px, reproj_mm = np.array(reproj_px), np.array(reproj_mm)
    interior = ~contour & ~iris
    r2 = lambda x: round(float(x), 2)  # noqa: E731

    def summary(values: np.ndarray) -> dict:
        return {"median": r2(np.nanmedian(values)), "p90": r2(np.nanpercentile(values, 90)), "max": r2(np.nanmax(values))}

    figures = {
        "method": f"MediaPipe Face Mesh (recon_face.detect) on shaded renders (recon.raster, {IMAGE_SIZE} px, focal "
        f"{FOCAL_PX:.0f} px at {DISTANCE_M} m; painted iris {IRIS_RADIUS_M * 2000:.1f} mm across; eyelashes hidden) of the "
        f"neutral head and {N_IDENTITIES} random identities (seed {IDENTITY_SEED}, standard-normal weights) from views "
        f"(yaw, pitch) {VIEWS} deg; each landmark's pixel ray intersected with the skin (iris points: the eyeballs; hits on "
        f"an eyeball or in the mouth moved to the nearest skin), kept when the surface faces the camera (cosine >= "
        f"{MIN_COSINE}) and agrees with MediaPipe's relative depth (within {DEPTH_TOL_M * 1000:.0f} mm), mapped to the "
        f"neutral head by its barycentrics; per landmark the mean of the hits within max({INLIER_MM} mm, their median "
        "distance) of their median, projected onto the surface; lip landmarks off the corners held to their own lip "
        "(by ICT's jawOpen)",
        "renders": len(weights) * len(VIEWS),
        "renders_with_a_face": len(records),
        "hits_rejected_fraction": r2(rejected / max(seen, 1)),
        "hits_per_landmark_min": int(counts.min()),
        "spread_mm": {  # per landmark: median distance of its hits (on the neutral head) to the chosen point
            "interior": summary(spread[interior]), "face_oval": summary(spread[contour]), "iris": summary(spread[iris]),
        },
        "reprojection": {  # the chosen points on each rendered identity against the detections kept
            "all_px": summary(reproj_px), "all_mm": summary(reproj_mm),
            "interior_frontal_mm": summary(reproj_mm[frontal][:, interior]),
            "face_oval_frontal_mm": summary(reproj_mm[frontal][:, contour]),
        },
        "vs_ict_68_landmarks_mm": {
            f"mediapipe {m} vs ict68 {ICT_CORNERS[m]}": r2(np.linalg.norm(pos[m] - neutral[v]) * 1000)
            for m, v in ict_corners.items()
        },
    }
    return {"part": lm_part, "face": lm_face, "bary": lm_bary, "points": pos}, figures


# -- main ------------------------------------------------------------------------------------------
LODS = ("high", "mid", "low")


def fit_barycentrics(corners: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """Barycentrics ``b`` (3,), in the triangle, minimising sum_s |b @ corners[s] - target[s]|²
    over samples s (``corners`` (S, 3, 3), ``target`` (S, 3)), and that RMS distance."""
    a = np.stack([corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]], axis=2).reshape(-1, 2)
    r = (target - corners[:, 0]).reshape(-1)
    uv = np.linalg.lstsq(a, r, rcond=None)[0]
    best, best_err = None, np.inf
    if uv.min() >= 0 and uv.sum() <= 1:
        best = np.array([1 - uv.sum(), uv[0], uv[1]])
    else:  # on the boundary: the best point of each edge
        for i, j in ((0, 1), (1, 2), (2, 0)):
            e = (corners[:, j] - corners[:, i]).reshape(-1)
            t = float(np.clip(e @ (target - corners[:, i]).reshape(-1) / max(e @ e, 1e-30), 0, 1))
            b = np.zeros(3)
            b[i], b[j] = 1 - t, t
            err = np.linalg.norm(np.einsum("k,skd->sd", b, corners) - target)
            if err < best_err:
                best, best_err = b, err
    rms = float(np.sqrt(((np.einsum("k,skd->sd", best, corners) - target) ** 2).sum(1).mean()))
    return best, rms


def lod_landmarks(lod: Lod, high_parts: list[Part], high: dict, samples: np.ndarray, k: int = 16) -> dict:
    """The high landmarks on a simplified LOD: for each, among the ``k`` LOD triangles of its part
    nearest to it on the neutral head, the point that follows it best over ``samples`` (S, V, 3)
    heads (identities and expressions: a point near the closed lips must move with its own lip)."""
    idx, w = landmark_vertices(high_parts, high)
    target = np.einsum("nk,snkd->snd", w, samples[:, idx])  # (S, 478, 3)
    part, face, bary = high["part"].copy(), np.zeros(N_LANDMARKS, np.int64), np.zeros((N_LANDMARKS, 3))
    lod_samples = samples[:, lod.high_index]
    for lm in range(N_LANDMARKS):
        p = lod.parts[part[lm]]
        tri = p.vertex_index[p.faces]
        centroid = lod_samples[0][tri].mean(axis=1)
        near = np.argsort(np.linalg.norm(centroid - target[0, lm], axis=1), kind="stable")[:k]
        fits = [fit_barycentrics(lod_samples[:, tri[f]], target[:, lm]) for f in near]
        j = int(np.argmin([e for _, e in fits]))
        face[lm], bary[lm] = near[j], fits[j][0]
    return {"part": part, "face": face, "bary": bary}


def deformation_samples(neutral: np.ndarray, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
    """(S, V, 3) heads: the neutral, each expression at 1, the first ten identity components at ±2."""
    heads = [neutral[None], neutral + expression]
    heads += [neutral + 2 * identity[:10], neutral - 2 * identity[:10]]
    return np.concatenate(heads).astype(np.float32)


def landmark_vertices(parts: list[Part], lm: dict) -> tuple[np.ndarray, np.ndarray]:
    """(478, 3) model vertices and weights of the landmark points."""
    idx = np.stack([parts[p].vertex_index[parts[p].faces[f]] for p, f in zip(lm["part"], lm["face"])])
    return idx, lm["bary"]


def build(folder: Path, log=print) -> tuple[dict[str, np.ndarray], dict]:
    ict = read_ict(folder)
    sides = check_sides(ict)
    parts, ict_index = build_parts(ict)
    to_model = {v: i for i, v in enumerate(ict_index)}
    neutral = (ict.neutral[ict_index] * CM).astype(np.float32)
    identity_q, identity_scale = quantise(ict.identity[:, ict_index] * CM)
    names, expression_cm = arkit_expressions(ict)
    expression_q, expression_scale = quantise(expression_cm[:, ict_index] * CM)
    identity = dequantise(identity_q, identity_scale)
    expression = dequantise(expression_q, expression_scale)
    # quantisation error against ICT's float16 offsets (converted to metres)
    err_id = np.abs(identity - ict.identity[:, ict_index] * CM).max() * 1000
    err_ex = np.abs(expression - expression_cm[:, ict_index] * CM).max() * 1000
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, len(identity))).astype(np.float32)
    head_err = np.linalg.norm(np.einsum("sk,kvd->svd", w, identity - ict.identity[:, ict_index] * CM), axis=2) * 1000
    # LODs
    lods = {"high": Lod(parts, np.arange(len(neutral)))}
    for name, budget in LOD_BUDGETS.items():
        lods[name] = make_lod(parts, neutral, budget)
    # landmarks
    corners = {m: to_model[ict.indices["idx_to_landmark_verts"][k]] for m, k in ICT_CORNERS.items()}
    jaw_open = expression[names.index("jawOpen")]
    high_lm, lm_figures = landmark_correspondence(parts, neutral, identity, jaw_open, corners, log=log)
    landmarks = {"high": high_lm}
    samples = deformation_samples(neutral, identity, expression)
    for name in ("mid", "low"):
        landmarks[name] = lod_landmarks(lods[name], parts, high_lm, samples)

    arrays: dict[str, np.ndarray] = {
        "ict_index": ict_index.astype(np.int32),
        "neutral": neutral,
        "identity": np.ascontiguousarray(identity_q.transpose(0, 2, 1)),  # (K, 3, V) int8: packs 28 % smaller than (K, V, 3)
        "identity_scale": identity_scale,
        "expression": expression_q,
        "expression_scale": expression_scale,
        "expression_names": np.array(names),
        "part_names": np.array([p.name for p in parts]),
        "part_materials": np.array([p.material for p in parts]),
        "part_tiles": np.array([p.n_tiles for p in parts], dtype=np.int8),
    }
    lod_info = {}
    rng = np.random.default_rng(2)
    w_id = rng.standard_normal((8, len(identity))).astype(np.float32)
    w_ex = rng.uniform(0, 1, (8, len(expression))).astype(np.float32) * (rng.uniform(size=(8, len(expression))) < 0.2)
    heads = neutral + np.einsum("sk,kvd->svd", w_id, identity) + np.einsum("sk,kvd->svd", w_ex, expression)
    hi_idx, hi_w = landmark_vertices(parts, high_lm)
    hi_points = np.einsum("nk,snkd->snd", hi_w, heads[:, hi_idx])
    for name, lod in lods.items():
        for p in lod.parts:
            arrays[f"{name}.{p.name}.faces"] = p.faces.astype(np.int32)
            arrays[f"{name}.{p.name}.uvs"] = p.uvs.astype(np.float32)
            arrays[f"{name}.{p.name}.vertex_index"] = p.vertex_index.astype(np.int32)
        if name != "high":
            # each LOD vertex is one high vertex (weights 1, 0, 0): subset simplification
            arrays[f"{name}.embedding_index"] = np.repeat(lod.high_index[:, None], 3, axis=1).astype(np.int32)
            arrays[f"{name}.embedding_weight"] = np.tile(np.array([1.0, 0.0, 0.0], np.float32), (len(lod.high_index), 1))
        lm = landmarks[name]
        arrays[f"{name}.landmark_part"] = lm["part"].astype(np.int8)
        arrays[f"{name}.landmark_face"] = lm["face"].astype(np.int32)
        arrays[f"{name}.landmark_bary"] = lm["bary"].astype(np.float32)
        # figures: counts, surface deviation from high, landmark deviation from high
        info = {
            "model_vertices": int(len(lod.high_index)),
            "vertices": int(sum(len(p.uvs) for p in lod.parts)),
            "triangles": int(sum(len(p.faces) for p in lod.parts)),
            "parts": {p.name: {"vertices": int(len(p.uvs)), "model_vertices": int(len(np.unique(p.vertex_index))),
                               "triangles": int(len(p.faces))} for p in lod.parts},
        }
        if name != "high":
            dev = {}
            for ph, pl in zip(parts, lod.parts):
                _, _, d = closest_point(neutral[np.unique(ph.vertex_index)], neutral[lod.high_index], pl.vertex_index[pl.faces])
                dev[ph.name] = {"mean": round(float(d.mean() * 1000), 3), "p99": round(float(np.percentile(d, 99) * 1000), 3),
                                "max": round(float(d.max() * 1000), 3)}
            info["high_vertices_to_lod_surface_mm"] = dev
            idx, wts = landmark_vertices(lod.parts, lm)
            pts = np.einsum("nk,snkd->snd", wts, heads[:, lod.high_index][:, idx])
            d = np.linalg.norm(pts - hi_points, axis=2) * 1000
            info["landmarks_vs_high_mm"] = {"median": round(float(np.median(d)), 2), "max": round(float(d.max()), 2)}
        lod_info[name] = info
    licence = (HERE / "LICENSE-ICT.txt").read_text()
    card = {
        "what": "recon's full-head model: neutral, 100 identity components, 51 ARKit-named expression shapes, parts, 3 LODs, "
        "MediaPipe 478-landmark correspondence (loaded by recon_face.head_model)",
        "made_by": "assets/head/make_head.py",
        "source": {
            "name": "ICT Face Model Light (ICT-FaceKit, FaceXModel/)",
            "repository": "ICT-VGL/ICT-FaceKit",
            "commit": "da5f95a607f5e6b37755b38d3385d7f2853732e5",
            "licence": "MIT",
            "copyright": "Copyright (c) 2020 USC Institute for Creative Technologies",
            "notice": "this data is derived from the ICT Face Model; its MIT licence notice (licence_text below, "
            "assets/head/LICENSE-ICT.txt in the checkout) must accompany copies or substantial portions",
            "licence_text": licence,
        },
        "units": "metres; +X the subject's left, +Y up, the face looking +Z (ICT's axes, centimetres / 100)",
        "model_vertices_high": int(len(neutral)),
        "ict_vertices_dropped": int(len(ict.neutral) - len(neutral)),
        "parts": {p.name: {"material": p.material, "uv_tiles": p.n_tiles,
                           "ict_materials": sorted(PARTS[p.name][1], key=PARTS[p.name][1].get)} for p in parts},
        "uv_layout": "per part, ICT's unit tiles of its materials side by side in [0, 1]^2 (origin bottom-left, "
        "ICT's order in uv_tiles); a part's texture is uv_tiles times as wide as tall",
        "expressions": {
            "names": names,
            "order": "arkit_blendshapes.txt minus tongueOut",
            "combined": {n: [f"{n}_L", f"{n}_R"] for n in COMBINED},
            "sides": "ICT's _L/_R are the subject's left/right (+X/-X), as ARKit's Left/Right",
            "side_check_mean_x_mm_of_most_moved_vertices": sides,
            "eyeballs": "no expression moves the eyeballs (ICT's eyeLook* move the lids only); gaze turns the eye parts",
        },
        "quantisation": {
            "scheme": "int8 per component/shape, step = max |offset| / 127, round to nearest",
            "identity_step_mm_max": round(float(identity_scale.max() * 1000), 4),
            "expression_step_mm_max": round(float(expression_scale.max() * 1000), 4),
            "identity_max_coordinate_error_mm": round(float(err_id), 4),
            "expression_max_coordinate_error_mm": round(float(err_ex), 4),
            "random_identity_vertex_error_mm": {  # 16 heads, standard-normal weights on all 100 components
                "mean": round(float(head_err.mean()), 4), "p99": round(float(np.percentile(head_err, 99)), 4),
                "max": round(float(head_err.max()), 4),
            },
        },
        "lods": lod_info,
        "lod_method": "meshoptimizer simplify (edge collapse onto existing vertices, UV seams collapsed only along "
        "themselves) per group with model-vertex budgets " + json.dumps(LOD_BUDGETS) + "; the mouth socket is "
        "simplified with the skin so the inner lip line matches",
        "landmarks": lm_figures,
    }
    return arrays, card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ict", type=Path, default=DEFAULT_ICT, help="the ict_facekit folder")
    parser.add_argument("--check", action="store_true", help="exit 1 when the shipped files differ")
    args = parser.parse_args()
    if not (args.ict / "shapes.npz").exists():
        raise SystemExit(f"{args.ict} has no shapes.npz; pass --ict pointing at shared/data/head_models/ict_facekit")
    arrays, card = build(args.ict, log=lambda m: print(m, file=sys.stderr))
    data = npz_bytes(arrays)
    card["size_bytes"] = len(data)
    card["sha256_npz"] = hashlib.sha256(data).hexdigest()
    outputs = {DATA / "head.npz": data, DATA / "head.json": (json.dumps(card, indent=2) + "\n").encode()}
    write_or_check(outputs, args.check)
    print(json.dumps({k: v for k, v in card.items() if k != "source"}, indent=2))


if __name__ == "__main__":
    main()
