"""Ground truth that is not recon's own model: a real head scan (``meshes/nefertiti.obj`` of
../shared/data) rendered by :mod:`recon.testing.scan_renders` from 5 known cameras (yaw -40 to
+40 degrees, pitch +-15, 35-85 mm lenses, 640x640 px), reconstructed by method ``face`` without
calibration, and scored: camera rotation after a similarity alignment of the cameras, focal
length, and the distance from the reconstruction's face-area vertices to the scan after a
similarity + ICP alignment. ``benchmarks/face.py --scans`` runs the full version (10 views of
each of two scans at 1000 px) against the targets (2 degrees, 10 %, 1.0 mm).

The bounds below are regression bounds with a margin over what was measured on this set (see
each assert), not the targets: the focal length in particular is far from its 10 % target today.
The cheap tests first check the scoring machinery itself (alignment, closest points, the PLY
triangle-strip reader) against known answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from recon.structures import Camera
from recon.testing.scan_renders import (
    RenderSettings,
    SurfaceQuery,
    camera_errors,
    cameras,
    initial_alignment,
    read_ply_tristrips,
    reconstruct_and_score,
    render_set,
)


def _moved(true: list[Camera], s: float, R: np.ndarray, T: np.ndarray, focal: float = 1.0) -> list[Camera]:
    """The cameras of a world mapped by ``X' = s R X + T``, with focal lengths times ``focal``
    and each camera moved along its axis so the origin (which all look at) keeps its image size:
    what a fit with a wrong focal length finds."""
    out = []
    for c in true:
        Re = c.R @ R.T
        K = c.K.copy()
        K[:2, :2] *= focal
        out.append(Camera(K, Re, -Re @ (s * R @ (c.center * focal) + T), c.width, c.height, c.name))
    return out


def test_camera_errors_remove_the_gauge() -> None:
    true = cameras(RenderSettings(views=6, size=500))
    R = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    est = _moved(true, 1.7, R, np.array([0.1, 0.2, -0.3]), focal=1.1)
    res = camera_errors(est, true)
    assert res["rotation_deg_median"] < 1e-6 and res["relative_rotation_deg_median"] < 1e-6
    assert res["focal_pct_median"] == pytest.approx(10.0)
    # a 20 % focal error moves the cameras along their axes; the surface alignment's start
    # still finds the scale (the face's image size) and the point the cameras look at
    t = np.array([0.1, 0.2, -0.3])
    s, Ri, T = initial_alignment(_moved(true, 1.7, R, t, focal=1.2), true)
    assert s == pytest.approx(1 / 1.7)
    assert np.allclose(Ri, R.T, atol=1e-9)
    assert np.allclose(s * Ri @ t + T, 0, atol=1e-9)  # the looked-at point maps onto the origin


def test_closest_points_are_exact() -> None:
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(60, 3))
    faces = np.array([rng.choice(60, 3, replace=False) for _ in range(80)])
    points = rng.normal(size=(30, 3))
    # with every vertex's triangles as candidates the query is exhaustive: no point of any
    # triangle (dense barycentric samples) may be nearer, and the nearest samples come close
    _, d, _ = SurfaceQuery(verts, faces, k=60).closest(points)
    w = rng.dirichlet(np.ones(3), 300)
    samples = np.einsum("sk,fkc->fsc", w, verts[faces]).reshape(-1, 3)
    sampled = np.linalg.norm(samples[None] - points[:, None], axis=-1).min(1)
    assert (d <= sampled + 1e-12).all()
    assert (sampled - d).max() < 0.1


def test_tristrip_ply_matches_the_derived_triangles(shared_data: Path) -> None:
    import trimesh

    verts, faces = read_ply_tristrips(shared_data / "meshes" / "igea.ply")
    derived = trimesh.load(shared_data / "meshes" / "igea_triangles.ply", process=False)
    assert np.array_equal(verts, np.asarray(derived.vertices))
    rows = lambda f: f[np.lexsort(f.T[::-1])]  # noqa: E731
    assert np.array_equal(rows(faces), rows(np.asarray(derived.faces, np.int64)))


@pytest.mark.slow
def test_face_on_scan_renders(shared_data: Path, tmp_path: Path) -> None:
    from recon.plugins import PluginHost

    truth = render_set("nefertiti", shared_data, RenderSettings(views=5, size=640))
    options = {"texture_size": 256}
    if "model" in (PluginHost().load_entrypoints().registry.methods["face"].options or ()):
        options["model"] = "mask"
    res = reconstruct_and_score(truth, tmp_path / "out", options)
    print(json.dumps(res, indent=1))
    assert not res["views_missing"] and set(res["status"].values()) == {"ok"}
    # measured on this set (mask, 2 cores): rotation 1.17 deg median, relative 2.59, focal 39 %
    # (all five under), surface 0.99 mm median over 418 face-area vertices; the 10-view, 1000 px
    # benchmark sets measure 1.0-1.6 deg, 21-32 %, 1.04-1.20 mm
    assert res["rotation_deg_median"] <= 2.5
    assert res["relative_rotation_deg_median"] <= 4.0
    assert res["focal_pct_median"] <= 60.0  # the target is 10 %: weakly determined without EXIF
    assert res["surface_mm_median"] <= 1.5
    assert res["face_vertices"] >= 300  # of the mask's 478: the face area is found
