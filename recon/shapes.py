"""Procedural shapes: unions of solid primitives with surface samples, part labels and occupancy.

The project's own training data for the PointNet classifier (``recon_pointnet``) and the occupancy
prior (``recon_occupancy``), hence in the core. A shape is a
list of :class:`Primitive` solids (box, ellipsoid, cylinder, cone, torus, pyramid, capsule) placed
in a Y-up frame; its surface is the boundary of their union and its occupancy the union of their
insides, both computed exactly from the primitives (surface points inside another primitive are
dropped). Classes (:data:`CLASSES`) are arrangements of primitives with random proportions; every
primitive carries a part name (:data:`PARTS`) for part segmentation.

Everything is NumPy; one ``numpy.random.Generator`` drives a shape, so a seed gives the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

CLASSES = ("box", "sphere", "cylinder", "cone", "torus", "pyramid", "table", "chair", "airplane", "lamp")
"""Class names of the procedural set, in label order."""

PARTS = (
    "body",
    "table_top",
    "table_leg",
    "chair_seat",
    "chair_back",
    "chair_leg",
    "fuselage",
    "wing",
    "tail",
    "lamp_base",
    "lamp_pole",
    "lamp_shade",
)
"""Part names, in part-label order; single-primitive classes are all ``body``."""

PRIMITIVE_KINDS = ("box", "ellipsoid", "cylinder", "cone", "torus", "pyramid", "capsule")


@dataclass
class Primitive:
    """A solid in a local frame (axis along local Z), placed by ``world = R @ local + t``.

    :param kind: one of box (half extents ``size``), ellipsoid (radii ``size``), cylinder
        (radius ``size[0]``, half height ``size[2]``), cone (base radius ``size[0]``, half height
        ``size[2]``, apex at +Z), torus (major radius ``size[0]``, minor radius ``size[1]``, axis Z),
        pyramid (base half width ``size[0]``, half height ``size[2]``, apex at +Z), capsule (radius
        ``size[0]``, segment half length ``size[2]``).
    :param part: index into :data:`PARTS`.
    """

    kind: str
    size: np.ndarray
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    part: int = 0

    def local(self, x: np.ndarray) -> np.ndarray:
        """World points (N, 3) in this primitive's frame."""
        return (x - self.t) @ self.R

    def inside(self, x: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: points strictly inside the solid shrunk by ``margin``."""
        p = self.local(x)
        s = self.size
        rho = np.hypot(p[:, 0], p[:, 1])
        z = p[:, 2]
        if self.kind == "box":
            return (np.abs(p) < s - margin).all(axis=1)
        if self.kind == "ellipsoid":
            return ((p / np.maximum(s - margin, 1e-9)) ** 2).sum(axis=1) < 1.0
        if self.kind == "cylinder":
            return (rho < s[0] - margin) & (np.abs(z) < s[2] - margin)
        if self.kind == "cone":
            h = s[2]
            return (np.abs(z) < h - margin) & (rho < s[0] * (h - z) / (2 * h) - margin)
        if self.kind == "torus":
            return (rho - s[0]) ** 2 + z**2 < max(s[1] - margin, 0.0) ** 2
        if self.kind == "pyramid":
            h = s[2]
            half = s[0] * (h - z) / (2 * h) - margin
            return (np.abs(z) < h - margin) & (np.abs(p[:, 0]) < half) & (np.abs(p[:, 1]) < half)
        if self.kind == "capsule":
            zc = np.clip(z, -s[2], s[2])
            return rho**2 + (z - zc) ** 2 < max(s[0] - margin, 0.0) ** 2
        raise ValueError(f"unknown primitive kind {self.kind!r}")

    def mesh(self):  # noqa: ANN201 - trimesh.Trimesh
        """A closed triangle mesh of the surface, in world coordinates (for surface sampling)."""
        import trimesh

        s = self.size
        if self.kind == "box":
            m = trimesh.creation.box(extents=2 * s)
        elif self.kind == "ellipsoid":
            m = trimesh.creation.icosphere(subdivisions=4)
            m.vertices = m.vertices * s
        elif self.kind == "cylinder":
            m = trimesh.creation.cylinder(radius=s[0], height=2 * s[2], sections=48)
        elif self.kind == "cone":
            m = trimesh.creation.cone(radius=s[0], height=2 * s[2], sections=48)
            m.vertices = m.vertices - [0, 0, s[2]]
        elif self.kind == "torus":
            m = trimesh.creation.torus(major_radius=s[0], minor_radius=s[1], major_sections=96, minor_sections=48)
        elif self.kind == "pyramid":
            a, h = s[0], s[2]
            v = np.array([[-a, -a, -h], [a, -a, -h], [a, a, -h], [-a, a, -h], [0, 0, h]], dtype=np.float64)
            f = np.array([[0, 2, 1], [0, 3, 2], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
            m = trimesh.Trimesh(v, f, process=False)
        elif self.kind == "capsule":
            m = trimesh.creation.capsule(height=2 * s[2], radius=s[0], count=[24, 24])
        else:
            raise ValueError(f"unknown primitive kind {self.kind!r}")
        return trimesh.Trimesh(np.asarray(m.vertices) @ self.R.T + self.t, np.asarray(m.faces), process=False)


@dataclass
class Shape:
    """A procedural shape: its class label and the primitives whose union it is."""

    label: int
    primitives: list[Primitive]

    @property
    def name(self) -> str:
        return CLASSES[self.label]

    def occupancy(self, x: np.ndarray) -> np.ndarray:
        """(N,) bool: inside the union of the primitives."""
        out = np.zeros(len(x), dtype=bool)
        for prim in self.primitives:
            out |= prim.inside(x)
        return out

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` area-uniform points on the union's surface with their normals and part labels."""
        pts, nrm, part = [], [], []
        meshes = [p.mesh() for p in self.primitives]
        areas = np.array([m.area for m in meshes])
        # oversample: part of each primitive's surface lies inside another one and is dropped
        for attempt in range(4):
            want = int(n * (2.0 + attempt))
            counts = rng.multinomial(want, areas / areas.sum())
            for i, (prim, m, k) in enumerate(zip(self.primitives, meshes, counts)):
                if k == 0:
                    continue
                p, nn = _sample_mesh(m, int(k), rng)
                keep = np.ones(len(p), dtype=bool)
                for j, other in enumerate(self.primitives):
                    if j != i:
                        keep &= ~other.inside(p, margin=1e-4)
                pts.append(p[keep])
                nrm.append(nn[keep])
                part.append(np.full(int(keep.sum()), prim.part))
            if sum(len(p) for p in pts) >= n:
                break
        points, normals, parts = np.concatenate(pts), np.concatenate(nrm), np.concatenate(part)
        idx = rng.choice(len(points), n, replace=len(points) < n)
        return points[idx], normals[idx], parts[idx]


def _sample_mesh(mesh, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Area-weighted points and face normals, driven by ``rng`` (trimesh's own sampler is not)."""
    tri = np.asarray(mesh.triangles)
    area = np.asarray(mesh.area_faces)
    face = rng.choice(len(tri), n, p=area / area.sum())
    u, v = rng.random((2, n))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = tri[face, 0], tri[face, 1], tri[face, 2]
    pts = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    return pts, np.asarray(mesh.face_normals)[face]


# -- rotations -------------------------------------------------------------------------------------


def rotation(axis: str | np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by ``angle`` radians about ``axis`` ('x', 'y', 'z' or a vector)."""
    if isinstance(axis, str):
        axis = np.eye(3)["xyz".index(axis)]
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


_Z_TO_Y = rotation("x", -np.pi / 2)  # local +Z (the primitives' axis) to world +Y (up)
_Z_TO_X = rotation("y", np.pi / 2)  # local +Z to world +X


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _up(kind: str, size: tuple[float, float, float], t: tuple[float, float, float] = (0, 0, 0), part: int = 0) -> Primitive:
    """A primitive standing along world Y."""
    return Primitive(kind, np.asarray(size, dtype=np.float64), _Z_TO_Y, np.asarray(t, dtype=np.float64), part)


def _box(half: tuple[float, float, float], t: tuple[float, float, float], part: int) -> Primitive:
    return Primitive("box", np.asarray(half, dtype=np.float64), np.eye(3), np.asarray(t, dtype=np.float64), part)


# -- classes ---------------------------------------------------------------------------------------


def _make_box(rng: np.random.Generator) -> list[Primitive]:
    return [_box((_u(rng, 0.25, 1.0), _u(rng, 0.25, 1.0), _u(rng, 0.25, 1.0)), (0, 0, 0), 0)]


def _make_sphere(rng: np.random.Generator) -> list[Primitive]:
    r = _u(rng, 0.5, 1.0)
    return [Primitive("ellipsoid", np.array([r, r, r]) * rng.uniform(0.9, 1.1, 3))]


def _make_cylinder(rng: np.random.Generator) -> list[Primitive]:
    return [_up("cylinder", (_u(rng, 0.2, 0.8), 0, _u(rng, 0.25, 1.0)))]


def _make_cone(rng: np.random.Generator) -> list[Primitive]:
    return [_up("cone", (_u(rng, 0.3, 0.8), 0, _u(rng, 0.35, 1.0)))]


def _make_torus(rng: np.random.Generator) -> list[Primitive]:
    major = _u(rng, 0.6, 1.0)
    return [_up("torus", (major, major * _u(rng, 0.15, 0.4), 0))]


def _make_pyramid(rng: np.random.Generator) -> list[Primitive]:
    return [_up("pyramid", (_u(rng, 0.35, 0.8), 0, _u(rng, 0.35, 0.9)))]


def _legs(rng: np.random.Generator, hx: float, hz: float, y_top: float, y_bottom: float, part: int) -> list[Primitive]:
    r = _u(rng, 0.03, 0.07)
    half = (y_top - y_bottom) / 2
    inset = _u(rng, 0.0, 0.15)
    xs, zs = hx * (1 - inset) - r, hz * (1 - inset) - r
    round_legs = rng.random() < 0.5
    legs = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            t = (sx * xs, y_bottom + half, sz * zs)
            legs.append(_up("cylinder", (r, 0, half), t, part) if round_legs else _box((r, half, r), t, part))
    return legs


def _make_table(rng: np.random.Generator) -> list[Primitive]:
    hx, hz = _u(rng, 0.6, 1.0), _u(rng, 0.35, 0.8)
    top = _u(rng, 0.03, 0.07)
    height = _u(rng, 0.5, 0.9)
    prims = [_box((hx, top, hz), (0, height, 0), PARTS.index("table_top"))]
    return prims + _legs(rng, hx, hz, height - top, 0.0, PARTS.index("table_leg"))


def _make_chair(rng: np.random.Generator) -> list[Primitive]:
    hx = _u(rng, 0.35, 0.5)
    hz = hx * _u(rng, 0.85, 1.15)
    seat_t = _u(rng, 0.03, 0.06)
    seat_y = _u(rng, 0.4, 0.55)
    back_h = _u(rng, 0.35, 0.6)
    back_t = _u(rng, 0.03, 0.06)
    prims = [
        _box((hx, seat_t, hz), (0, seat_y, 0), PARTS.index("chair_seat")),
        _box((hx, back_h, back_t), (0, seat_y + back_h, -hz + back_t), PARTS.index("chair_back")),
    ]
    return prims + _legs(rng, hx, hz, seat_y - seat_t, 0.0, PARTS.index("chair_leg"))


def _make_airplane(rng: np.random.Generator) -> list[Primitive]:
    length = _u(rng, 0.8, 1.1)
    radius = _u(rng, 0.07, 0.12)
    span = _u(rng, 0.7, 1.0)
    chord = _u(rng, 0.12, 0.22)
    thick = _u(rng, 0.015, 0.03)
    sweep = rotation("y", _u(rng, -0.25, 0.25))
    prims = [
        Primitive("capsule", np.array([radius, 0, length - radius]), _Z_TO_X, np.zeros(3), PARTS.index("fuselage")),
        Primitive("box", np.array([chord, thick, span]), sweep, np.array([_u(rng, -0.1, 0.15), 0, 0]), PARTS.index("wing")),
        _box((chord * 0.6, thick, span * 0.35), (-length + 0.12, 0, 0), PARTS.index("tail")),
        _box((chord * 0.6, _u(rng, 0.12, 0.22), thick), (-length + 0.12, radius + 0.1, 0), PARTS.index("tail")),
    ]
    return prims


def _make_lamp(rng: np.random.Generator) -> list[Primitive]:
    base_r, base_h = _u(rng, 0.25, 0.45), _u(rng, 0.02, 0.06)
    pole_r, pole_h = _u(rng, 0.02, 0.05), _u(rng, 0.5, 0.9)
    shade_r, shade_h = _u(rng, 0.3, 0.55), _u(rng, 0.15, 0.3)
    return [
        _up("cylinder", (base_r, 0, base_h), (0, base_h, 0), PARTS.index("lamp_base")),
        _up("cylinder", (pole_r, 0, pole_h / 2), (0, 2 * base_h + pole_h / 2, 0), PARTS.index("lamp_pole")),
        _up("cone", (shade_r, 0, shade_h), (0, 2 * base_h + pole_h + shade_h * 0.6, 0), PARTS.index("lamp_shade")),
    ]


_MAKERS: dict[str, Callable[[np.random.Generator], list[Primitive]]] = {
    "box": _make_box,
    "sphere": _make_sphere,
    "cylinder": _make_cylinder,
    "cone": _make_cone,
    "torus": _make_torus,
    "pyramid": _make_pyramid,
    "table": _make_table,
    "chair": _make_chair,
    "airplane": _make_airplane,
    "lamp": _make_lamp,
}


def make_shape(label: int, rng: np.random.Generator) -> Shape:
    """A random shape of class ``CLASSES[label]`` (canonical pose, Y up)."""
    return Shape(label, _MAKERS[CLASSES[label]](rng))


def random_pose(rng: np.random.Generator, tilt: float = 0.1, scale: tuple[float, float] = (0.8, 1.25)) -> np.ndarray:
    """A 3x3 augmentation: anisotropic scale, any rotation about Y, a small tilt (radians)."""
    S = np.diag(rng.uniform(scale[0], scale[1], 3))
    spin = rotation("y", rng.uniform(0, 2 * np.pi))
    tilt_m = rotation(rng.normal(size=3), rng.uniform(-tilt, tilt))
    return tilt_m @ spin @ S


def normalize_sphere(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre on the bounding-box centre and scale into the unit sphere; returns (points, centre, scale)."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    scale = float(np.linalg.norm(points - centre, axis=1).max())
    scale = scale if scale > 0 else 1.0
    return (points - centre) / scale, centre, scale


def crop(points: np.ndarray, rng: np.random.Generator, max_fraction: float = 0.3) -> np.ndarray:
    """Indices of the points kept after cutting away up to ``max_fraction`` of the cloud with a
    random plane (a partial scan)."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    proj = points @ direction
    cut = np.quantile(proj, 1 - rng.uniform(0.05, max_fraction))
    return np.flatnonzero(proj <= cut)


def classification_sample(
    label: int, rng: np.random.Generator, n_points: int = 1024, noise: float = 0.01, partial: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented training cloud: (n_points, 3) float32 in the unit sphere and (n_points,) part labels.

    Augmentation: random pose (:func:`random_pose`), Gaussian noise of standard deviation up to
    ``noise`` (relative to the unit sphere), and with probability ``partial`` a cut by a random
    plane that removes 5-30 % of the surface.
    """
    shape = make_shape(label, rng)
    pts, _, parts = shape.sample(2 * n_points, rng)
    if rng.random() < partial:
        keep = crop(pts, rng)
        pts, parts = pts[keep], parts[keep]
    idx = rng.choice(len(pts), n_points, replace=len(pts) < n_points)
    pts, parts = pts[idx], parts[idx]
    pts = pts @ random_pose(rng).T
    pts, _, _ = normalize_sphere(pts)
    pts = pts + rng.normal(0, rng.uniform(0.0, noise), pts.shape)
    return pts.astype(np.float32), parts.astype(np.int64)


def classification_set(
    n_per_class: int, seed: int, n_points: int = 1024, noise: float = 0.02, partial: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A balanced set: points (M, n_points, 3) float32, labels (M,), part labels (M, n_points)."""
    rng = np.random.default_rng(seed)
    xs, ys, ps = [], [], []
    for _ in range(n_per_class):
        for label in range(len(CLASSES)):
            x, p = classification_sample(label, rng, n_points, noise, partial)
            xs.append(x)
            ys.append(label)
            ps.append(p)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), np.stack(ps)
