"""The photometric refinement's pieces (its effect on camera rotations is measured end to end
by test_face_synthetic.py and benchmarks/face.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon_face.photometric import _working_photo, barycentric_samples


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_barycentric_samples_cover_the_triangle_once(n: int) -> None:
    b = barycentric_samples(n)
    assert b.shape == (n * n, 3)
    np.testing.assert_allclose(b.sum(1), 1.0)
    assert (b > 0).all()
    assert len(np.unique(b.round(9), axis=0)) == n * n
    np.testing.assert_allclose(b.mean(0), 1 / 3)  # the sub-triangles' centroids average to the centroid


@pytest.mark.parametrize("radius", [40.0, 200.0])
def test_working_photo_maps_pixels_to_the_same_content(radius: float) -> None:
    """A ramp photo: wherever a full-resolution pixel lands in the (cropped, maybe shrunk)
    working copy, the copy shows the same ramp value there."""
    h, w = 300, 400
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.stack([xx / (w - 1) * 255, yy / (h - 1) * 255, np.full_like(xx, 128)], -1).round().astype(np.uint8)
    landmarks = np.array([[120.0, 90.0], [260.0, 210.0], [200.0, 150.0]])
    work = _working_photo(image, landmarks, radius, target=80.0)
    scale = min(1.0, 80.0 / radius)
    assert work.A[0, 0] == pytest.approx(scale, rel=0.02)
    for u, v in [(150.0, 100.0), (230.0, 190.0), (200.0, 150.0)]:
        x, y, _ = work.A @ [u, v, 1.0]
        value = work.image[int(round(y)), int(round(x))] * 255
        assert value[0] == pytest.approx(u / (w - 1) * 255, abs=1.5 / scale + 1)
        assert value[1] == pytest.approx(v / (h - 1) * 255, abs=1.5 / scale + 1)


def test_photometric_option(tmp_path: Path, faces_dir: Path) -> None:
    """Several photos are refined photometrically unless ``-O photometric=false``; one photo
    never is. The refinement's levels are in the report."""
    host = PluginHost().load_entrypoints()
    runs = {}
    for flag in (True, False):
        out = tmp_path / str(flag)
        reconstruct(host, [faces_dir / "mvfnet"], out, options={"texture_size": 128, "photometric": flag, "model": "mask"}, quiet=True, formats=("glb",))
        runs[flag] = json.loads((out / "report.json").read_text())
    levels = runs[True]["metadata"]["fit"]["photometric"]
    assert [lv["blur"] for lv in levels] == [0.08, 0.04, 0.02]
    assert all(lv["samples"] > 1000 and lv["cost_after"] <= lv["cost_before"] for lv in levels)
    assert "photometric" in runs[True]["metadata"]["fit"]["timings_s"]
    assert runs[False]["metadata"]["fit"]["photometric"] is None
    for report in runs.values():
        assert all(v["status"] == "ok" and v["reprojection_error_px"]["median"] < 1.5 for v in report["views"])
    single = tmp_path / "single"
    photo = sorted((faces_dir / "mvfnet").glob("*.jpg"))[0]
    reconstruct(host, [photo], single, options={"texture_size": 128, "model": "mask"}, quiet=True, formats=("glb",))
    assert json.loads((single / "report.json").read_text())["metadata"]["fit"]["photometric"] is None


def test_photos_that_share_no_skin_are_left_as_they_are() -> None:
    """Two photos of opposite profiles (made-up landmarks) see no common skin: the refinement
    says so and changes nothing."""
    from recon.cameras import look_at
    from recon_face import fit
    from recon_face.photometric import refine
    from recon_face.template import load_template

    tmpl = load_template()
    cams, obs = [], []
    for yaw in (-90.0, 90.0):
        a = np.radians(yaw)
        cam = look_at(0.5 * np.array([np.sin(a), 0.0, np.cos(a)]), np.zeros(3), 600.0, 320, 320, name=f"y{yaw:.0f}")
        cams.append(cam)
        obs.append(fit.Observation(cam.project(tmpl.vertices), np.zeros(478), np.ones(478), 320, 320, 600.0, True, name=cam.name))
    start = fit.FitResult(tmpl.vertices.copy(), [np.zeros((478, 3))] * 2, cams, [o.points for o in obs], [np.zeros(478)] * 2)
    photos = [np.full((320, 320, 3), 128, np.uint8)] * 2
    out = refine(tmpl, obs, photos, start)
    assert out.details["photometric_levels"][0]["skipped"] == "the photos share too little visible skin"
    np.testing.assert_allclose(out.identity, start.identity, atol=1e-9)
    for a, b in zip(out.cameras, cams):
        np.testing.assert_allclose(a.R, b.R, atol=1e-9)
