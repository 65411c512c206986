"""recon's full-head model: ICT Face Model (MIT) identity and ARKit-named expression bases,
separate parts with UVs, three levels of detail, and MediaPipe's 478 landmarks on its surface.

Shipped as ``recon_face/data/head.npz`` (with its card ``head.json``: sources, the ICT licence
notice, and every figure: quantisation error, LOD counts and deviations, landmark registration
error), made by ``assets/head/make_head.py`` of the checkout, which documents each choice.
``$RECON_HEAD_MODEL`` names another file.

A head is ``neutral + identity_weights @ identity + expression_weights @ expression``:

    head = HeadModel.load("mid")
    v = head.vertices(identity_weights=w, expression_weights={"jawOpen": 0.6, "eyeBlinkLeft": 1.0})
    for part in head.parts:
        part.mesh(v)                          # a recon Mesh with the part's UVs
    head.landmark_points(v)                   # (478, 3), MediaPipe's landmark order

Axes and units: metres, +X the subject's left, +Y up, the face looking +Z. The eyeballs are the
parts ``eye_left`` and ``eye_right``; no expression moves them (gaze turns them).

Levels of detail share the identity and expression space: each vertex of ``mid`` and ``low`` is a
barycentric combination of ``high`` vertices (``embedding_index``, ``embedding_weight``), and
their bases are the high ones combined the same way, so any weights give the same head at every
level, up to the coarser triangles.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recon.package_data import package_file
from recon.structures import Mesh

if TYPE_CHECKING:
    import scipy.sparse

HEAD_ENV = "RECON_HEAD_MODEL"
LODS = ("high", "mid", "low")
N_LANDMARKS = 478


def head_model_path() -> Path:
    """``$RECON_HEAD_MODEL`` or the shipped ``recon_face/data/head.npz``."""
    env = os.environ.get(HEAD_ENV)
    if env:
        return Path(env)
    return package_file("recon_face", "head.npz")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class HeadPart:
    """One part of the head (``skin``, ``eye_left``, ``eye_right``, ``mouth``, ``eyelashes``).

    Vertices are split where the UVs have seams; each keeps the model vertex it is.

    :param faces: (F, 3) int64 into this part's vertices, counter-clockwise seen from outside.
    :param uvs: (n, 2) float32, origin bottom-left; the part's ``uv_tiles`` ICT tiles side by side
        in [0, 1]², so its texture is ``uv_tiles`` times as wide as tall.
    :param vertex_index: (n,) int64, the model vertex of each part vertex.
    :param material: ``skin``, ``eye``, ``mouth`` or ``eyelashes``.
    """

    name: str
    faces: np.ndarray
    uvs: np.ndarray
    vertex_index: np.ndarray
    material: str
    uv_tiles: int

    def vertices(self, head_vertices: np.ndarray) -> np.ndarray:
        """This part's (..., n, 3) vertices from the head's (..., V, 3)."""
        return np.asarray(head_vertices)[..., self.vertex_index, :]

    def mesh(self, head_vertices: np.ndarray, offsets: Mapping[str, np.ndarray] | None = None) -> Mesh:
        """A :class:`Mesh` of this part at ``head_vertices`` (V, 3), with its UVs; ``offsets``
        (name -> (V, 3) head offsets, e.g. expression shapes) become morph targets."""
        morphs = {k: np.asarray(v)[self.vertex_index] for k, v in (offsets or {}).items()}
        return Mesh(self.vertices(head_vertices), self.faces, uvs=self.uvs, morph_targets=morphs, name=self.name)


@dataclass(frozen=True, eq=False)
class HeadLandmarks:
    """MediaPipe's 478 face-mesh landmarks as points on the head's surface.

    :param part: (478,) index into :attr:`HeadModel.parts` (``skin``; the iris points 468-477 on
        the eyes).
    :param face: (478,) triangle index within that part's ``faces``.
    :param bary: (478, 3) float32 barycentric coordinates in that triangle.
    :param vertex_index: (478, 3) int64, the triangle's model vertices.
    """

    part: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    vertex_index: np.ndarray

    def points(self, vertices: np.ndarray) -> np.ndarray:
        """(..., 478, 3) landmark points of head vertices (..., V, 3)."""
        v = np.asarray(vertices)
        return np.einsum("nk,...nkd->...nd", self.bary, v[..., self.vertex_index, :])

    def matrix(self, n_vertices: int) -> scipy.sparse.csr_matrix:
        """The (478, V) sparse linear map from vertices to landmark points."""
        import scipy.sparse

        rows = np.repeat(np.arange(N_LANDMARKS), 3)
        return scipy.sparse.csr_matrix(
            (self.bary.ravel().astype(np.float64), (rows, self.vertex_index.ravel())), shape=(N_LANDMARKS, n_vertices)
        )


@dataclass(frozen=True, eq=False)
class HeadModel:
    """The head at one level of detail. Arrays are read-only (loads are cached and shared).

    :param lod: ``"high"`` (ICT's full mesh), ``"mid"`` (~8k vertices) or ``"low"`` (~2k).
    :param neutral: (V, 3) float32 metres.
    :param identity: (K, V, 3) float32 identity components (K = 100; standard-normal weights give
        plausible people).
    :param expression: (51, V, 3) float32 offsets of each expression at weight 1.
    :param expression_names: ARKit's blendshape names minus ``tongueOut``, in ARKit's order.
    :param parts: the parts, each with its own triangles, UVs and material.
    :param landmarks: MediaPipe's 478 landmarks on the surface.
    :param embedding_index: (V, 3) int64 high vertices that make each vertex ...
    :param embedding_weight: (V, 3) float32 ... with these weights (high: itself, weight 1).
    :param ict_index: (V,) int64, the ICT-FaceKit vertex (of ``generic_neutral_mesh.obj``) of the
        heaviest high vertex in each vertex's embedding.
    """

    lod: str
    neutral: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...]
    parts: tuple[HeadPart, ...]
    landmarks: HeadLandmarks
    embedding_index: np.ndarray
    embedding_weight: np.ndarray
    ict_index: np.ndarray

    @classmethod
    def load(cls, lod: str = "high", path: Path | str | None = None) -> HeadModel:
        """The head model at ``lod`` (cached per file and level).

        :raises ValueError: an unknown ``lod``.
        :raises FileNotFoundError: naming the path and the script that makes it.
        """
        if lod not in LODS:
            raise ValueError(f"lod must be one of {LODS}, got {lod!r}")
        path = Path(path) if path is not None else head_model_path()
        if not path.exists():
            raise FileNotFoundError(f"head model {path} is missing; run assets/head/make_head.py")
        return _load_model(str(path.resolve()), lod)

    @property
    def n_vertices(self) -> int:
        return len(self.neutral)

    def part(self, name: str) -> HeadPart:
        """The part called ``name``.

        :raises KeyError: naming the parts there are.
        """
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"no part {name!r}; parts: {[p.name for p in self.parts]}")

    def expression_vector(self, weights: Mapping[str, float]) -> np.ndarray:
        """(51,) float32 weights from ``{ARKit name: weight}``.

        :raises KeyError: an unknown name.
        """
        out = np.zeros(len(self.expression_names), np.float32)
        index = {n: i for i, n in enumerate(self.expression_names)}
        for name, w in weights.items():
            if name not in index:
                raise KeyError(f"no expression {name!r} (ARKit's names minus tongueOut)")
            out[index[name]] = w
        return out

    def vertices(
        self,
        identity_weights: np.ndarray | None = None,
        expression_weights: np.ndarray | Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """(V, 3) float32 head: the neutral plus weighted identity components (the first
        ``len(identity_weights)`` of them) and expression shapes (an array of 51 or a mapping
        from ARKit names)."""
        v = self.neutral.astype(np.float32, copy=True)
        if identity_weights is not None:
            w = np.asarray(identity_weights, np.float32).reshape(-1)
            if len(w) > len(self.identity):
                raise ValueError(f"{len(w)} identity weights for {len(self.identity)} components")
            v += np.tensordot(w, self.identity[: len(w)], axes=1)
        if expression_weights is not None:
            if isinstance(expression_weights, Mapping):
                e = self.expression_vector(expression_weights)
            else:
                e = np.asarray(expression_weights, np.float32).reshape(-1)
            if len(e) != len(self.expression):
                raise ValueError(f"{len(e)} expression weights for {len(self.expression)} shapes")
            v += np.tensordot(e, self.expression, axes=1)
        return v

    def landmark_points(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """(..., 478, 3) MediaPipe landmark points of ``vertices`` (..., V, 3) (the neutral if None)."""
        return self.landmarks.points(self.neutral if vertices is None else vertices)

    def landmark_matrix(self) -> scipy.sparse.csr_matrix:
        """(478, V) sparse map: ``landmark_matrix() @ vertices == landmark_points(vertices)``."""
        return self.landmarks.matrix(self.n_vertices)

    def meshes(self, vertices: np.ndarray | None = None) -> list[Mesh]:
        """One :class:`Mesh` per part at ``vertices`` (the neutral if None)."""
        v = self.neutral if vertices is None else vertices
        return [p.mesh(v) for p in self.parts]


@functools.lru_cache(maxsize=2)
def _arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@functools.lru_cache(maxsize=8)
def _high_bases(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """High neutral, identity (K, V, 3) and expression (E, V, 3), dequantised."""
    a = _arrays(path)

    def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:  # (K, V, 3) int8 steps, (K,) step sizes
        return np.multiply(q, scale[:, None, None], dtype=np.float32, order="C")

    return (
        a["neutral"].astype(np.float32),
        dequantise(a["identity"].transpose(0, 2, 1), a["identity_scale"].astype(np.float32)),  # stored (K, 3, V): it packs smaller
        dequantise(a["expression"], a["expression_scale"].astype(np.float32)),
    )


@functools.lru_cache(maxsize=8)
def _load_model(path: str, lod: str) -> HeadModel:
    a = _arrays(path)
    neutral, identity, expression = _high_bases(path)
    ict_high = a["ict_index"].astype(np.int64)
    if lod == "high":
        index = np.repeat(np.arange(len(neutral), dtype=np.int64)[:, None], 3, axis=1)
        weight = np.tile(np.array([1.0, 0.0, 0.0], np.float32), (len(neutral), 1))
    else:
        index = a[f"{lod}.embedding_index"].astype(np.int64)
        weight = a[f"{lod}.embedding_weight"].astype(np.float32)
        if np.array_equal(weight, np.broadcast_to(np.array([1.0, 0.0, 0.0], np.float32), weight.shape)):
            pick = index[:, 0]  # a subset of the high vertices (what the asset script makes)
            neutral, identity, expression = neutral[pick], identity[:, pick], expression[:, pick]
        else:
            combine = lambda b: np.einsum("vk,...vkd->...vd", weight, b[..., index, :]).astype(np.float32)  # noqa: E731
            neutral, identity, expression = combine(neutral), combine(identity), combine(expression)
    names = [str(n) for n in a["part_names"]]
    parts = tuple(
        HeadPart(
            name=name,
            faces=_frozen(a[f"{lod}.{name}.faces"].astype(np.int64)),
            uvs=_frozen(a[f"{lod}.{name}.uvs"].astype(np.float32)),
            vertex_index=_frozen(a[f"{lod}.{name}.vertex_index"].astype(np.int64)),
            material=str(material),
            uv_tiles=int(tiles),
        )
        for name, material, tiles in zip(names, a["part_materials"], a["part_tiles"])
    )
    lm_part = a[f"{lod}.landmark_part"].astype(np.int64)
    lm_face = a[f"{lod}.landmark_face"].astype(np.int64)
    lm_index = np.stack([parts[p].vertex_index[parts[p].faces[f]] for p, f in zip(lm_part, lm_face)])
    landmarks = HeadLandmarks(
        part=_frozen(lm_part), face=_frozen(lm_face),
        bary=_frozen(a[f"{lod}.landmark_bary"].astype(np.float32)), vertex_index=_frozen(lm_index),
    )
    heaviest = index[np.arange(len(index)), np.argmax(weight, axis=1)]
    return HeadModel(
        lod=lod,
        neutral=_frozen(np.ascontiguousarray(neutral)),
        identity=_frozen(np.ascontiguousarray(identity)),
        expression=_frozen(np.ascontiguousarray(expression)),
        expression_names=tuple(str(n) for n in a["expression_names"]),
        parts=parts,
        landmarks=landmarks,
        embedding_index=_frozen(index),
        embedding_weight=_frozen(weight),
        ict_index=_frozen(ict_high[heaviest]),
    )
