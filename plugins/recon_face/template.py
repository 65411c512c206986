"""recon's face template: MediaPipe's 478-landmark topology, a neutral metric shape, a UV layout.

Shipped in the package as ``recon_face/data/face_template.npz`` (with its card
``face_template.json``), made by ``assets/face_template/make_face_template.py`` of the checkout
(which documents every source, including the scale prior: a 63 mm interpupillary distance);
loaded here once per process.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recon.package_data import package_file
from recon.structures import Mesh

N_VERTICES = 478
TEMPLATE_ENV = "RECON_FACE_TEMPLATE"


def template_path() -> Path:
    """``$RECON_FACE_TEMPLATE`` or the shipped ``recon_face/data/face_template.npz``."""
    env = os.environ.get(TEMPLATE_ENV)
    if env:
        return Path(env)
    return package_file("recon_face", "face_template.npz")


@dataclass(eq=False)
class FaceTemplate:
    """The template's arrays (see the generator script for what each holds).

    :param vertices: (478, 3) float64 metres, X subject's left, Y up, Z out of the face.
    :param faces: (F, 3) int64, counter-clockwise seen from outside.
    :param uvs: (478, 2) float32, origin bottom-left.
    :param mobility: (478,) how freely expression may move each vertex, in [0.05, 1].
    :param mirror: (478,) each vertex's left/right partner.
    :param contour: (478,) bool, MediaPipe's face-oval landmarks (the outline, not fixed points
        on the skin when the head turns).
    :param kind: (F,) 0 = MediaPipe's tessellation, 1 = eye fill, 2 = mouth fill, 3 = iris quad.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    mobility: np.ndarray
    mirror: np.ndarray
    contour: np.ndarray
    kind: np.ndarray
    _bases: dict = field(default_factory=dict, repr=False)

    def mesh(self, vertices: np.ndarray | None = None, name: str = "face") -> Mesh:
        """A :class:`Mesh` with the template's faces and UVs (and ``vertices`` if given)."""
        return Mesh(self.vertices if vertices is None else vertices, self.faces, uvs=self.uvs, name=name)

    def edges(self, fills: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Unique undirected edges as two index arrays; ``fills=False`` leaves out the edges
        that only the eye and mouth fills add (so eyelids and lips may part freely)."""
        f = self.faces if fills else self.faces[(self.kind == 0) | (self.kind == 3)]
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        e = np.sort(e, axis=1)
        e = np.unique(e, axis=0)
        return e[:, 0], e[:, 1]

    def basis(self, m: int, fills: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The ``m`` smoothest vertex functions: eigenvectors (V, m), orthonormal, of the
        combinatorial Laplacian (with or without the eye and mouth fills) and their eigenvalues
        divided by the mean vertex degree (so they approximate the uniform Laplacian's)."""
        key = (m, fills)
        if key not in self._bases:
            a, b = self.edges(fills)
            A = np.zeros((N_VERTICES, N_VERTICES))
            A[a, b] = A[b, a] = 1.0
            deg = A.sum(1)
            evals, evecs = np.linalg.eigh(np.diag(deg) - A)
            self._bases[key] = (evecs[:, :m].copy(), np.maximum(evals[:m], 0.0) / deg[deg > 0].mean())
        return self._bases[key]

    def laplacian(self, fills: bool = True) -> np.ndarray:
        """(V, V) uniform graph Laplacian ``I - D^-1 A`` (dense: V is 478)."""
        a, b = self.edges(fills)
        A = np.zeros((N_VERTICES, N_VERTICES))
        A[a, b] = A[b, a] = 1.0
        deg = A.sum(1, keepdims=True)
        return np.eye(N_VERTICES) - A / np.maximum(deg, 1)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> FaceTemplate:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    data = np.load(path)
    contour = np.zeros(N_VERTICES, bool)
    contour[np.unique(np.array(sorted(FACEMESH_FACE_OVAL)).ravel())] = True
    return FaceTemplate(
        vertices=data["vertices"].astype(np.float64),
        faces=data["faces"].astype(np.int64),
        uvs=data["uvs"].astype(np.float32),
        mobility=data["mobility"].astype(np.float64),
        mirror=data["mirror"].astype(np.int64),
        contour=contour,
        kind=data["kind"].astype(np.int64),
    )


def load_template(path: Path | None = None) -> FaceTemplate:
    """The face template (cached per path).

    :raises FileNotFoundError: naming the path and the script that makes it.
    """
    path = Path(path) if path is not None else template_path()
    if not path.exists():
        raise FileNotFoundError(f"face template {path} is missing; run assets/face_template/make_face_template.py")
    return _load(str(path))
