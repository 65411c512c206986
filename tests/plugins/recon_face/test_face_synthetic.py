"""Ground truth the tests make themselves: a textured face (recon's own reconstruction of the
mvfnet photos, with a head behind it) rendered with PyTorch3D from known cameras (yaw up to
+-45 degrees, pitch up to +-20, several lenses), reconstructed from the renders, and compared:
camera rotation (degrees), focal length (%), shape after similarity alignment (mm).

The numbers are printed (``-s``). Bounds: the issue's targets, rotation <= 2 degrees median
(landmarks alone leave 3.4-4.5 degrees; the photometric refinement brings it to about 1) and shape
<= 1.5 mm median as the distance from the true skin to the reconstructed surface (about 0.65 mm
today, bounded at 1.0). Per corresponding vertex the shape error is about 1.57 mm (1.43 mm on a
truth made by the landmark-only fit): MediaPipe's landmarks on the renders sit a millimetre or so
off the true vertices along the surface, which no photo-consistency can see. That figure misses
its 1.5 mm target (README), so its bound only guards against regressions; it moves with the BLAS
kernel (1.57 mm with OpenBLAS's SkylakeX kernels, 1.64 mm with its Haswell ones: the multi-photo
fit makes both the truth and the result), so the bound is 2.0 mm, several times that spread above
it, yet well below a broken fit's several millimetres. Focal lengths are weakly determined without
EXIF, so their bounds are loose.
benchmarks/face.py reports the same figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.structures import Mesh
from recon_face.synthetic import VIEWS, errors, render_views
from recon_face.template import load_template
from recon_io.glb import read_glb_cameras


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Mesh:
    out = tmp_path_factory.mktemp("face_truth") / "out"
    options = {"texture_size": 1024, "neutral": True, "model": "mask"}
    reconstruct(PluginHost().load_entrypoints(), [faces_dir / "mvfnet"], out, options=options, quiet=True, formats=("glb",))
    return Mesh.load(out / "mesh.glb")


def ground_truth_errors(truth: Mesh, lenses: list[float], folder: Path) -> dict:
    cams = render_views(truth, folder / "renders", lenses)
    out = folder / "out"
    report = reconstruct(PluginHost().load_entrypoints(), [folder / "renders"], out, options={"texture_size": 256, "model": "mask"}, quiet=True, formats=("glb",))
    got = Mesh.load(out / "mesh.glb")
    template = load_template()
    result = errors(truth, got, read_glb_cameras(out / "mesh.glb"), cams, skin=template.faces[template.kind == 0])
    result["status"] = [v["status"] for v in report["views"]]
    return result


def test_synthetic_ground_truth(truth: Mesh, tmp_path: Path) -> None:
    result = ground_truth_errors(truth, [50.0], tmp_path)
    print(json.dumps(result, indent=1))
    assert result["status"] == ["ok"] * len(VIEWS)
    assert result["rotation_deg_median"] <= 2.0 and max(result["rotation_deg"]) < 4.0
    assert result["shape_surface_mm_median"] <= 1.0
    assert result["shape_mm_median"] < 2.0
    assert result["focal_pct_median"] < 20.0


@pytest.mark.slow
def test_synthetic_ground_truth_several_lenses(truth: Mesh, tmp_path: Path) -> None:
    result = ground_truth_errors(truth, [35.0, 50.0, 85.0], tmp_path)
    print(json.dumps(result, indent=1))
    assert result["status"] == ["ok"] * len(VIEWS)
    assert result["rotation_deg_median"] <= 2.0
    assert result["shape_surface_mm_median"] <= 1.0
    assert result["shape_mm_median"] < 2.0
    assert result["focal_pct_median"] < 50.0
