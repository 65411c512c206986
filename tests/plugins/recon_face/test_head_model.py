"""The head model shipped in recon_face/data (ICT Face Model, MIT): its bases, ARKit names, parts,
LODs and MediaPipe landmark correspondence, the loader, and the asset script that makes it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from recon_face.head_model import HEAD_ENV, LODS, HeadModel, head_model_path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "assets" / "head" / "make_head.py"
PARTS = ["skin", "eye_left", "eye_right", "mouth", "eyelashes"]
# MediaPipe eye and mouth corners -> ICT's 68-point landmark vertex there (idx_to_landmark_verts
# 36, 39, 42, 45, 48, 54 of ICT-FaceKit's vertex_indices.json)
CORNERS = {33: 1507, 133: 1528, 362: 3742, 263: 3721, 61: 5708, 291: 6213}


@pytest.fixture(scope="module")
def heads() -> dict[str, HeadModel]:
    return {lod: HeadModel.load(lod) for lod in LODS}


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(head_model_path().with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def ict(shared_data: Path) -> Path:
    path = shared_data / "head_models" / "ict_facekit"
    if not (path / "shapes.npz").exists():
        pytest.skip(f"{path} is absent")
    return path


def test_every_lod_loads_with_consistent_shapes(heads) -> None:  # noqa: ANN001
    counts = {}
    for lod, h in heads.items():
        v = len(h.neutral)
        assert h.neutral.shape == (v, 3) and h.neutral.dtype == np.float32
        assert h.identity.shape == (100, v, 3) and h.identity.dtype == np.float32
        assert h.expression.shape == (51, v, 3) and h.expression.dtype == np.float32
        assert [p.name for p in h.parts] == PARTS
        assert [p.material for p in h.parts] == ["skin", "eye", "eye", "mouth", "eyelashes"]
        used = np.zeros(v, bool)
        for p in h.parts:
            assert p.faces.min() >= 0 and p.faces.max() < len(p.uvs) == len(p.vertex_index)
            assert np.array_equal(np.unique(p.faces), np.arange(len(p.uvs)))  # no loose vertex
            assert p.uvs.min() >= 0 and p.uvs.max() <= 1
            used[p.vertex_index] = True
            # no degenerate triangle
            tri = h.neutral[p.vertex_index[p.faces]]
            assert np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).min() > 0
        assert used.all()  # every model vertex is in some part
        assert h.embedding_index.shape == (v, 3) and np.allclose(h.embedding_weight.sum(1), 1)
        assert not h.neutral.flags.writeable  # shared through the cache
        counts[lod] = v
    assert counts["high"] == 25959  # ICT's 26,719 minus the lacrimal, eye-blend and occlusion layers
    assert 7000 <= counts["mid"] <= 9000 and 1700 <= counts["low"] <= 2300
    assert HeadModel.load("mid") is heads["mid"]  # cached


def test_units_and_axes(heads) -> None:  # noqa: ANN001
    h = heads["high"]
    width = np.ptp(h.part("skin").vertices(h.neutral)[:, 0])
    assert 0.2 < width < 0.3  # metres: ear to ear
    nose = h.landmark_points()[1]
    assert nose[2] > h.neutral[:, 2].max() - 0.01  # the nose tip is (almost) the front-most point: +Z
    lm = h.landmark_points()
    assert lm[10, 1] > lm[152, 1]  # forehead above chin: +Y up
    assert lm[263, 0] > 0 > lm[33, 0]  # the subject's left eye corner at +X
    assert h.part("eye_left").vertices(h.neutral)[:, 0].min() > 0 > h.part("eye_right").vertices(h.neutral)[:, 0].max()


def test_expression_names_are_arkits_minus_tongue_out(heads, shared_data: Path) -> None:  # noqa: ANN001
    path = shared_data / "head_models" / "arkit_blendshapes.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    arkit = [n.strip() for n in path.read_text().splitlines() if n.strip()]
    assert len(arkit) == 52
    for h in heads.values():
        assert list(h.expression_names) == [n for n in arkit if n != "tongueOut"]


def test_combined_shapes_are_icts_left_plus_right(heads, ict: Path) -> None:  # noqa: ANN001
    h = heads["high"]
    z = np.load(ict / "shapes.npz")
    names = [str(n) for n in z["expression_names"]]
    for name in ("browInnerUp", "cheekPuff"):
        ict_sum = (z["expression"][names.index(f"{name}_L")].astype(np.float32) + z["expression"][names.index(f"{name}_R")]) / 100
        ours = h.expression[h.expression_names.index(name)]
        assert np.abs(ours - ict_sum[h.ict_index]).max() < 0.0003  # within the quantisation step
    ours = h.expression[h.expression_names.index("eyeBlinkLeft")]
    assert np.abs(ours - z["expression"][names.index("eyeBlink_L")][h.ict_index] / 100).max() < 0.0002


def test_jaw_open_lowers_the_chin_and_leaves_the_skull(heads) -> None:  # noqa: ANN001
    h = heads["high"]
    opened = h.vertices(expression_weights={"jawOpen": 1.0})
    chin = h.landmark_points(opened)[152] - h.landmark_points()[152]
    assert chin[1] < -0.02  # more than 2 cm down
    skin = np.unique(h.part("skin").vertex_index)
    move = np.linalg.norm(opened - h.neutral, axis=1)
    assert move[skin[h.neutral[skin, 1] > 0.08]].max() == 0.0  # the skull cap: not at all
    assert move[skin[h.neutral[skin, 1] > 0.06]].max() < 0.001  # the temples: under a millimetre
    for eye in ("eye_left", "eye_right"):
        assert move[h.part(eye).vertex_index].max() == 0.0
    # the upper lip stays, the lower lip goes with the jaw (MediaPipe 13 upper, 14 lower inner lip)
    lips = h.landmark_points(opened) - h.landmark_points()
    assert abs(lips[13, 1]) < 0.005 and lips[14, 1] < -0.02


def test_eye_blink_left_closes_the_subjects_left_eye(heads) -> None:  # noqa: ANN001
    h = heads["high"]
    d = h.expression[h.expression_names.index("eyeBlinkLeft")]
    skin = np.unique(h.part("skin").vertex_index)
    moved = skin[np.argsort(-np.linalg.norm(d[skin], axis=1))[:50]]
    assert (h.neutral[moved, 0] > 0.02).all()  # at +X: the subject's left
    assert d[moved, 1].mean() < -0.005  # the lid comes down
    assert np.linalg.norm(d[skin[h.neutral[skin, 0] < -0.01]], axis=1).max() < 0.0005  # the right eye stays
    lm = h.landmark_points(h.vertices(expression_weights={"eyeBlinkLeft": 1.0})) - h.landmark_points()
    assert lm[386, 1] < -0.005  # the left upper lid (MediaPipe 386) comes down
    assert np.abs(lm[159]).max() < 1e-4  # the right upper lid does not


def test_quantisation_error_within_the_stated_bound(heads, card, ict: Path) -> None:  # noqa: ANN001
    h = heads["high"]
    z = np.load(ict / "shapes.npz")
    ref = z["identity"][:, h.ict_index].astype(np.float32) / 100
    err_mm = np.abs(h.identity - ref).max() * 1000
    q = card["quantisation"]
    assert err_mm <= q["identity_max_coordinate_error_mm"] + 1e-3 and err_mm <= 0.5 * q["identity_step_mm_max"] + 1e-3
    assert err_mm < 0.06
    assert q["expression_max_coordinate_error_mm"] < 0.2
    # a plausible person (standard-normal weights on all 100 components): sub-millimetre everywhere
    w = np.random.default_rng(5).standard_normal(100).astype(np.float32)
    err = np.linalg.norm(np.tensordot(w, h.identity - ref, axes=1), axis=1) * 1000
    assert err.max() < 0.5


def test_lod_bases_agree_with_high_at_their_embedding_points(heads) -> None:  # noqa: ANN001
    high = heads["high"]
    rng = np.random.default_rng(0)
    wi = rng.standard_normal(100).astype(np.float32)
    we = rng.uniform(0, 1, 51).astype(np.float32)
    vh = high.vertices(wi, we)
    for lod in ("mid", "low"):
        h = heads[lod]
        expect = np.einsum("vk,vkd->vd", h.embedding_weight, vh[h.embedding_index])
        assert np.abs(h.vertices(wi, we) - expect).max() < 1e-5
        assert np.array_equal(h.ict_index, high.ict_index[h.embedding_index[:, 0]])
        for p, ph in zip(h.parts, high.parts):
            assert p.name == ph.name and p.material == ph.material and p.uv_tiles == ph.uv_tiles
            # UVs are the high part's own (a subset of its vertices: seams stay seams)
            def keys(index: np.ndarray, uvs: np.ndarray) -> set:
                return {(int(i), round(float(u), 6), round(float(v), 6)) for i, (u, v) in zip(index, uvs)}

            assert keys(h.embedding_index[p.vertex_index, 0], p.uvs) <= keys(ph.vertex_index, ph.uvs)
        # landmarks follow the high ones closely, open jaw included
        for weights in ({}, {"jawOpen": 1.0}, {"eyeBlinkLeft": 1.0, "mouthSmileRight": 1.0}):
            ours, theirs = h.landmark_points(h.vertices(wi, weights)), high.landmark_points(high.vertices(wi, weights))
            d = np.linalg.norm(ours - theirs, axis=1)
            assert np.median(d) < 0.001 and d.max() < 0.01, (lod, weights, np.median(d), d.max())


def test_skin_and_mouth_meet_without_a_crack(heads) -> None:  # noqa: ANN001
    """The inner lip line is one edge chain in both parts at every LOD."""

    def boundary(faces: np.ndarray) -> set:
        e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        u, c = np.unique(e, axis=0, return_counts=True)
        return {tuple(x) for x in u[c == 1]}

    for h in heads.values():
        skin, mouth = h.part("skin"), h.part("mouth")
        shared = set(np.intersect1d(skin.vertex_index, mouth.vertex_index).tolist())
        bs = {e for e in boundary(skin.vertex_index[skin.faces]) if set(e) <= shared}
        bm = {e for e in boundary(mouth.vertex_index[mouth.faces]) if set(e) <= shared}
        assert len(bs) >= 10 and bs == bm


def test_landmarks_lie_on_the_surface(heads) -> None:  # noqa: ANN001
    for h in heads.values():
        lm = h.landmarks
        assert lm.part.shape == (478,) and lm.bary.shape == (478, 3)
        assert (lm.bary >= -1e-6).all() and np.allclose(lm.bary.sum(1), 1, atol=1e-5)
        names = [h.parts[p].name for p in lm.part]
        assert set(names[:468]) == {"skin"} and set(names[468:473]) == {"eye_right"} and set(names[473:]) == {"eye_left"}
        for i in range(478):
            p = h.parts[lm.part[i]]
            assert np.array_equal(lm.vertex_index[i], p.vertex_index[p.faces[lm.face[i]]])
        v = h.vertices(np.random.default_rng(1).standard_normal(100), {"jawOpen": 0.5})
        assert np.allclose(h.landmark_matrix() @ v, h.landmark_points(v), atol=1e-7)
        assert h.landmark_points(np.stack([v, v])).shape == (2, 478, 3)


def test_eye_and_mouth_corners_near_icts_own_landmarks(heads, card) -> None:  # noqa: ANN001
    h = heads["high"]
    where = {int(i): k for k, i in enumerate(h.ict_index)}
    pts = h.landmark_points()
    for mp, ict_vertex in CORNERS.items():
        d = np.linalg.norm(pts[mp] - h.neutral[where[ict_vertex]]) * 1000
        assert d < 4.0, (mp, d)
    figures = card["landmarks"]
    assert figures["spread_mm"]["interior"]["median"] < 3.0
    assert figures["reprojection"]["interior_frontal_mm"]["median"] < 2.5


def test_iris_landmarks_sit_on_the_iris(heads) -> None:  # noqa: ANN001
    h = heads["high"]
    pts = h.landmark_points()
    for centre, eye in ((468, "eye_right"), (473, "eye_left")):
        e = h.part(eye).vertices(h.neutral)
        # the iris centre: in front of the eyeball, on its axis (within 2 mm of the front-most point)
        front = e[np.argmax(e[:, 2])]
        assert np.linalg.norm(pts[centre, :2] - front[:2]) < 0.002
        ring = pts[centre + 1 : centre + 5]
        radius = np.linalg.norm(ring[:, :2] - pts[centre, :2], axis=1)
        assert (radius > 0.0045).all() and (radius < 0.007).all()  # the rendered iris: 11.7 mm across


def test_vertices_accepts_names_and_checks_lengths(heads) -> None:  # noqa: ANN001
    h = heads["low"]
    by_name = h.vertices(expression_weights={"jawOpen": 0.3})
    by_array = h.vertices(expression_weights=h.expression_vector({"jawOpen": 0.3}))
    assert np.array_equal(by_name, by_array)
    assert np.array_equal(h.vertices(np.zeros(10)), h.neutral)  # the first ten components only
    with pytest.raises(KeyError, match="tongueOut"):
        h.vertices(expression_weights={"tongueOut": 1.0})
    with pytest.raises(ValueError, match="51"):
        h.vertices(expression_weights=np.zeros(52))
    with pytest.raises(ValueError, match="lod"):
        HeadModel.load("ultra")
    mesh = h.part("skin").mesh(h.neutral, {"jawOpen": h.expression[h.expression_names.index("jawOpen")]})
    assert mesh.uvs is not None and list(mesh.morph_targets) == ["jawOpen"]
    assert len(h.meshes()) == 5


def test_env_var_names_another_file(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    copy = tmp_path / "other.npz"
    shutil.copy(head_model_path(), copy)
    monkeypatch.setenv(HEAD_ENV, str(copy))
    assert head_model_path() == copy
    assert HeadModel.load("low").n_vertices == HeadModel.load("low", path=copy).n_vertices
    monkeypatch.setenv(HEAD_ENV, str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match="make_head.py"):
        HeadModel.load()


def test_card_carries_the_ict_licence_and_file_sizes(card) -> None:  # noqa: ANN001
    notice = (ROOT / "assets" / "head" / "LICENSE-ICT.txt").read_text()
    assert card["source"]["licence"] == "MIT" and card["source"]["licence_text"] == notice
    assert "USC Institute for Creative Technologies" in notice
    assert head_model_path().stat().st_size == card["size_bytes"] < 10_000_000


def _same_figures(got: object, want: object, where: str = "card") -> None:
    """The card's figures are rounded to a few decimals: equal within one unit of the last one."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            _same_figures(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _same_figures(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        decimals = len(repr(want).partition(".")[2]) if "e" not in repr(want) else 6
        assert got == pytest.approx(want, abs=1.5 * 10.0**-decimals), where
    else:
        assert got == want, where


@pytest.mark.slow
def test_script_regenerates_the_shipped_files(ict: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """make_head.py rebuilds the shipped head from ICT: the same topology, parts, UVs, quantised
    bases and card, and every LOD's landmarks at the same places. The landmarks go through LAPACK
    least squares, so their float32 barycentrics move by an ulp with the BLAS kernel (11 of 4302 on
    OpenBLAS's Sandybridge kernels) and one on a shared edge may name either triangle: they are
    compared as points, within 1 um, not byte for byte (the script's own ``--check`` is byte for
    byte, for the machine that wrote the files)."""
    import importlib.util

    pytest.importorskip("meshoptimizer", reason="the assets extra (pip install -e '.[assets]') makes the LODs")
    spec = importlib.util.spec_from_file_location("make_head", SCRIPT)
    make_head = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_head", make_head)  # its dataclasses look their module up
    spec.loader.exec_module(make_head)
    arrays, card = make_head.build(ict, log=lambda message: None)
    shipped_path = make_head.DATA / "head.npz"
    with np.load(shipped_path) as data:
        shipped = {k: data[k] for k in data.files}
    assert sorted(arrays) == sorted(shipped)
    landmarks = {f"{lod}.landmark_{k}" for lod in LODS for k in ("face", "bary")}
    for key, value in arrays.items():
        if key in landmarks:
            continue
        value = np.asarray(value)
        assert value.dtype == shipped[key].dtype and value.shape == shipped[key].shape, key
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, shipped[key], rtol=1e-6, atol=1e-7, err_msg=key)
        else:
            np.testing.assert_array_equal(value, shipped[key], err_msg=key)
    rebuilt = tmp_path / "head.npz"
    rebuilt.write_bytes(make_head.npz_bytes(arrays))
    for lod in LODS:
        ours, theirs = HeadModel.load(lod, path=rebuilt), HeadModel.load(lod, path=shipped_path)
        for expression in ({}, {"jawOpen": 1.0}):  # a point by the lips must also move with its own lip
            v = theirs.vertices(expression_weights=expression)
            np.testing.assert_allclose(ours.landmark_points(v), theirs.landmark_points(v), rtol=0, atol=1e-6, err_msg=lod)
    want = json.loads(shipped_path.with_suffix(".json").read_text())
    for key in ("size_bytes", "sha256_npz"):  # of the exact bytes
        want.pop(key)
    _same_figures(json.loads(json.dumps(card)), want)
