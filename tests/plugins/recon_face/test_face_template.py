"""The face template shipped in recon_face/data: MediaPipe's topology (its tessellation's
triangles), a metric neutral shape, a conformal UV layout, and the script in
assets/face_template that regenerates all three."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from recon_face.fit import similarity
from recon_face.template import load_template

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "assets" / "face_template" / "make_face_template.py"


@pytest.fixture(scope="module")
def tmpl():  # noqa: ANN201
    return load_template()


def _edges(faces: np.ndarray) -> Counter:
    return Counter(tuple(sorted((int(f[k]), int(f[(k + 1) % 3])))) for f in faces for k in range(3))


def test_topology_is_mediapipes_tessellation_closed_into_a_disk(tmpl) -> None:  # noqa: ANN001
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    assert tmpl.vertices.shape == (478, 3) and tmpl.uvs.shape == (478, 2)
    assert sorted(Counter(tmpl.kind.tolist()).items()) == [(0, 852), (1, 32), (2, 18), (3, 4)]
    tess = tmpl.faces[tmpl.kind == 0]
    graph = {tuple(sorted(e)) for e in FACEMESH_TESSELATION}
    assert set(_edges(tess)) == graph  # the same graph: every edge used, no edge invented
    assert np.array_equal(np.unique(tmpl.faces), np.arange(478))  # no loose vertex (Blender keeps them all)
    # manifold and consistently wound: each edge on at most two faces, used once in each direction
    directed = Counter((int(f[k]), int(f[(k + 1) % 3])) for f in tmpl.faces for k in range(3))
    assert max(directed.values()) == 1
    undirected = _edges(tmpl.faces)
    assert max(undirected.values()) == 2
    # the face (tessellation + eye and mouth fills) is a disk: V - E + F = 1, one boundary loop
    disk = tmpl.faces[tmpl.kind != 3]
    verts = np.unique(disk)
    e = _edges(disk)
    assert len(verts) - len(e) + len(disk) == 1
    boundary = [k for k, n in e.items() if n == 1]
    assert len(boundary) == 36  # MediaPipe's face oval
    # outward: the face's normals point towards +Z (out of the face) on average
    v = tmpl.vertices
    n = np.cross(v[disk[:, 1]] - v[disk[:, 0]], v[disk[:, 2]] - v[disk[:, 0]])
    assert n.sum(0)[2] > 0.9 * np.linalg.norm(n.sum(0))


def test_neutral_shape_is_metric_and_symmetric(tmpl) -> None:  # noqa: ANN001
    v = tmpl.vertices
    assert np.linalg.norm(v[468] - v[473]) == pytest.approx(0.063, abs=1e-6)  # the scale prior
    size = np.ptp(v, axis=0)
    assert 0.12 < size[0] < 0.16 and 0.14 < size[1] < 0.19 and 0.07 < size[2] < 0.12  # metres
    assert v[1, 2] == v[:, 2].max() or v[4, 2] == v[:, 2].max()  # the nose tip is in front
    m = tmpl.mirror
    assert np.array_equal(m[m], np.arange(478))
    np.testing.assert_allclose(v[m] * [-1, 1, 1], v, atol=1e-6)


def test_uv_layout(tmpl) -> None:  # noqa: ANN001
    uv = tmpl.uvs.astype(np.float64)
    assert uv.min() >= 0 and uv.max() <= 1
    p = uv[tmpl.faces]
    signed = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    assert (signed > 0).all()  # no flipped triangle
    # no overlap: the rasterized atlas covers the sum of the triangles' areas
    from recon.texture import atlas

    at = atlas(tmpl.uvs, tmpl.faces, 512)
    assert len(at.rows) / 512**2 == pytest.approx(0.5 * signed.sum(), rel=0.02)
    # conformal: angles are kept (LSCM): median angle distortion of the face's triangles small
    disk = tmpl.faces[tmpl.kind == 0]

    def angles(x: np.ndarray) -> np.ndarray:
        a = x[disk]
        out = []
        for k in range(3):
            u, w = a[:, (k + 1) % 3] - a[:, k], a[:, (k + 2) % 3] - a[:, k]
            cos = (u * w).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(w, axis=1)
            out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
        return np.stack(out, 1)

    d = np.abs(angles(np.column_stack([uv, np.zeros(len(uv))])) - angles(tmpl.vertices))
    assert np.median(d) < 3.0 and np.percentile(d, 95) < 12.0, (np.median(d), np.percentile(d, 95))
    # forehead up, subject's left to the right (like a frontal photo)
    assert uv[10, 1] > uv[152, 1] and uv[473, 0] > uv[468, 0]


def test_close_to_mediapipe_canonical_model(tmpl, shared_data: Path) -> None:  # noqa: ANN001
    """MediaPipe's own canonical face (comparison only; never copied into the project)."""
    path = shared_data / "meshes" / "mediapipe_face" / "face_model_with_iris.obj"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    canon = np.array([[float(x) for x in line.split()[1:4]] for line in path.read_text().splitlines() if line.startswith("v ")])
    s, R, t = similarity(canon[:468], tmpl.vertices[:468])
    err = np.linalg.norm(s * canon[:468] @ R.T + t - tmpl.vertices[:468], axis=1) * 1000
    assert np.median(err) < 4.0 and err.max() < 12.0, (np.median(err), err.max())
    assert 0.85 < s * 100 < 1.1  # canonical model in cm, ours in m: similar metric size


@pytest.mark.slow
def test_script_regenerates_the_shipped_files(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """make_face_template.py rebuilds the shipped template from the photos: the same topology,
    loops and card, and the same vertices, UVs and mobility within 0.1 um / 1e-7. Not byte for
    byte: the float32 values come from SVDs and a sparse solve in float64 whose last bits follow
    the BLAS kernel (the UVs by up to 6e-13 between OpenBLAS's kernels, and one UV lies 6e-13 from
    a float32 rounding tie); the script's own ``--check`` is byte for byte, for the machine that
    wrote the files."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("make_face_template", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_face_template", script)
    spec.loader.exec_module(script)
    arrays, info = script.build(shared_data / "face_multiview")
    with np.load(script.DATA / "face_template.npz") as data:
        shipped = {k: data[k] for k in data.files}
    assert sorted(arrays) == sorted(shipped)
    for key, value in arrays.items():
        assert value.dtype == shipped[key].dtype and value.shape == shipped[key].shape, key
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, shipped[key], rtol=1e-6, atol=1e-7, err_msg=key)
        else:
            np.testing.assert_array_equal(value, shipped[key], err_msg=key)
    card = json.loads((script.DATA / "face_template.json").read_text())
    card.pop("sha256_npz")  # of the exact bytes
    size, want_size = info.pop("size_mm"), card.pop("size_mm")  # rounded to 0.1 mm
    assert info == card
    assert size == pytest.approx(want_size, abs=0.15)
