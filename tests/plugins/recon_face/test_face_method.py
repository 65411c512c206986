"""The ``face`` method end to end on real photos: the output contract, the report, the golden
demo meshes, the shared multi-view sets, photos without a face, bad photos and the options.
Tests of the face mask's own geometry run it with ``-O model=mask``; the full head (the default)
has its own tests in ``test_head_method.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh

from recon.errors import BadInputError
from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.structures import Frame, Inputs, Mesh
from recon.testing.cli import clean_env, run_recon
from recon_io.glb import read_glb_cameras

from face_helpers import DEMO_PHOTO

REPORT_VIEW_KEYS = {"input", "status", "reprojection_error_px", "camera", "expression_norm"}


def _run(paths: list[Path], out: Path, **options: object) -> dict:
    """The face mask (``-O model=mask``) unless ``model`` is given."""
    options.setdefault("model", "mask")
    return reconstruct(PluginHost().load_entrypoints(), paths, out, options=dict(options), quiet=True, overwrite=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `make demo` job with ``-O model=mask``: the bundled photo, the face mask."""
    out = tmp_path_factory.mktemp("face_demo") / "out"
    reconstruct(PluginHost().load_entrypoints(), [DEMO_PHOTO], out, options={"model": "mask"}, quiet=True)
    return out


def test_demo_outputs_follow_the_contract(demo: Path) -> None:
    names = sorted(p.name for p in demo.iterdir())
    assert names == ["mesh.glb", "mesh.mtl", "mesh.obj", "mesh.png", "preview.png", "report.json"], names
    report = json.loads((demo / "report.json").read_text())
    assert report["method"] == "face"
    (view,) = report["views"]
    assert REPORT_VIEW_KEYS <= set(view) and view["status"] == "ok"
    assert view["input"] == str(DEMO_PHOTO)
    assert set(view["reprojection_error_px"]) == {"median", "max"}
    assert view["reprojection_error_px"]["median"] < 1.0
    assert set(view["camera"]) == {"K", "R", "t"}
    assert np.asarray(view["camera"]["K"]).shape == (3, 3) and np.asarray(view["camera"]["R"]).shape == (3, 3)
    assert view["focal_source"] == "default"
    assert set(report["timings_s"]) >= {"read inputs", "detect", "fit", "texture", "preview", "total"}
    assert report["mesh"] == {"vertices": 478, "faces": 906}


def test_demo_mesh_is_textured_metric_and_carries_its_camera(demo: Path) -> None:
    mesh = Mesh.load(demo / "mesh.glb")
    assert mesh.textured and mesh.texture.shape == (2048, 2048, 3)
    assert mesh.uvs.min() >= 0 and mesh.uvs.max() <= 1
    assert np.linalg.norm(mesh.vertices[468] - mesh.vertices[473]) == pytest.approx(0.063, abs=0.006)
    # the texture is a face, not a flat fill: skin-coloured and varied where the face is
    centre = mesh.texture[900:1200, 700:1300].reshape(-1, 3).astype(float)
    assert centre.std(0).mean() > 8 and centre.mean(0)[0] > centre.mean(0)[2]
    (cam,) = read_glb_cameras(demo / "mesh.glb")
    report = json.loads((demo / "report.json").read_text())
    np.testing.assert_allclose(cam.K, report["views"][0]["camera"]["K"], atol=1e-6)
    # the landmark vertices with the photo's expression land on the detected landmarks
    from recon_face.detect import detect
    from face_helpers import load

    gltf = trimesh.load(demo / "mesh.glb", process=False)
    assert gltf is not None
    det = detect(load(DEMO_PHOTO))
    proj = cam.project(mesh.vertices)
    assert np.median(np.linalg.norm(proj - det.landmarks.points[:, :2], axis=1)) < 2.0


def test_demo_golden(demo: Path, golden_mesh) -> None:  # noqa: ANN001 - recon's pytest fixture
    golden_mesh.check(demo / "mesh.glb", "face_demo", vertex_atol=2e-5, chamfer=1e-5, hausdorff=5e-5, texture_psnr=35.0)


def test_preview_shows_each_photo(tmp_path: Path, faces_dir: Path) -> None:
    from PIL import Image

    out = tmp_path / "out"
    _run([faces_dir / "mvfnet"], out, texture_size=256)
    preview = np.asarray(Image.open(out / "preview.png"))
    assert preview.shape[0] == 384 and preview.shape[1] >= 3 * 384


@pytest.mark.parametrize("name", ["mvfnet", "hrn_multi_view"])
def test_shared_multiview_sets(tmp_path: Path, faces_dir: Path, name: str) -> None:
    """Several photos of one person: every view fits its landmarks to 1.5 px median at the
    photos' own resolution, with one camera per photo."""
    out = tmp_path / name
    report = _run([faces_dir / name], out, texture_size=512)
    views = report["views"]
    assert len(views) == 3 and all(v["status"] == "ok" for v in views), views
    medians = [v["reprojection_error_px"]["median"] for v in views]
    assert max(medians) <= 1.5, medians
    assert len(read_glb_cameras(out / "mesh.glb")) == 3
    mesh = Mesh.load(out / "mesh.glb")
    assert np.linalg.norm(mesh.vertices[468] - mesh.vertices[473]) == pytest.approx(0.063, abs=0.008)


@pytest.mark.parametrize(
    "name",
    ["single/mica_carell.jpg", "single/deca_alfw1.png", "single/fa_aflw-test.jpg", "single/hrn_00437.png", "single/3ddfa_JianzhuGuo.jpg"],
)
def test_single_photos_of_different_people(tmp_path: Path, faces_dir: Path, name: str) -> None:
    report = _run([faces_dir / name], tmp_path / "out", texture_size=128)
    (view,) = report["views"]
    assert view["status"] == "ok"
    assert view["reprojection_error_px"]["median"] <= 1.5, view["reprojection_error_px"]


def test_expression_photos(faces_dir: Path) -> None:
    """Strong expressions, one photo at a time (fit only): the expression absorbs them and the
    landmarks are still met."""
    from recon_face import detect, fit
    from recon_face.template import load_template
    from face_helpers import load

    tmpl = load_template()
    norms = []
    for path in sorted((faces_dir / "expression").glob("*.jpg")):
        frame = load(path)
        det = detect.detect(frame)
        assert det is not None, path.name
        p = det.landmarks.points.astype(np.float64)
        obs = fit.Observation(p[:, :2], p[:, 2], det.landmarks.visibility.astype(float), frame.width, frame.height, fit.default_focal(frame.width, frame.height))
        res = fit.fit(tmpl, [obs])
        assert np.median(res.errors_px[0]) < 1.0, path.name
        norms.append(res.expression_norm_mm(0))
    assert max(norms) > 1.5  # these are not neutral faces


def test_photo_without_face_is_reported_and_skipped(tmp_path: Path, faces_dir: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("mvfnet/front.jpg", "mvfnet/left.jpg", "negatives/fa_grass.jpg"):
        shutil.copy(faces_dir / name, photos / Path(name).name)
    report = _run([photos], tmp_path / "out", texture_size=128)
    status = {Path(v["input"]).name: v["status"] for v in report["views"]}
    assert status == {"fa_grass.jpg": "no face", "front.jpg": "ok", "left.jpg": "ok"}
    assert len(read_glb_cameras(tmp_path / "out" / "mesh.glb")) == 2
    assert report["metadata"]["photos_skipped"] == 1


def test_cut_off_face_is_down_weighted(tmp_path: Path, faces_dir: Path) -> None:
    pairs = faces_dir / "same_identity_pairs"
    report = _run([pairs / "obama" / "obama.jpg", pairs / "tests_obama_partial_face2.jpg"], tmp_path / "out", texture_size=128)
    status = {Path(v["input"]).name: (v["status"], v.get("reason", ""), v["weight"]) for v in report["views"]}
    assert status["obama.jpg"][0] == "ok"
    assert status["tests_obama_partial_face2.jpg"][0] == "down-weighted" and "cut off" in status["tests_obama_partial_face2.jpg"][1]
    assert status["tests_obama_partial_face2.jpg"][2] < 1


def test_no_face_anywhere_is_bad_input(tmp_path: Path, faces_dir: Path) -> None:
    with pytest.raises(BadInputError, match="no face found"):
        _run([faces_dir / "negatives" / "fa_grass.jpg"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_no_face_exit_3_one_line_no_output(tmp_path: Path, faces_dir: Path) -> None:
    """The real command, in a subprocess: exit 3, one clear line on stderr (MediaPipe's native
    logging silenced), nothing left behind."""
    out = tmp_path / "out"
    proc = run_recon("reconstruct", faces_dir / "negatives" / "fa_grass.jpg", "-o", out, "-q", env=clean_env())
    assert proc.returncode == 3, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["recon: error: no face found in the photo (fa_grass.jpg); give photos that show a face"], proc.stderr
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_face_index_picks_the_other_face(tmp_path: Path, faces_dir: Path) -> None:
    photo = faces_dir / "single" / "3ddfa_trump_hillary.jpg"
    first = _run([photo], tmp_path / "a", texture_size=128)["views"][0]
    second = _run([photo], tmp_path / "b", texture_size=128, face_index=1)["views"][0]
    assert first["faces_found"] == second["faces_found"] == 2
    assert second["face_index"] == 1 and second["status"] == "ok"
    # different heads: the cameras see the face at different places
    assert np.linalg.norm(np.subtract(first["camera"]["t"], second["camera"]["t"])) > 0.05
    with pytest.raises(Exception, match="face_index=3 but"):
        _run([photo], tmp_path / "c", face_index=3)


def test_neutral_option(tmp_path: Path, faces_dir: Path) -> None:
    report = _run([faces_dir / "mvfnet"], tmp_path / "out", texture_size=128, neutral=True)
    assert all(v["expression_norm"] == 0.0 for v in report["views"])
    gltf = json.loads(_gltf_json(tmp_path / "out" / "mesh.glb"))
    assert "targets" not in gltf["meshes"][0]["primitives"][0]
    free = _run([faces_dir / "mvfnet"], tmp_path / "free", texture_size=128)
    gltf = json.loads(_gltf_json(tmp_path / "free" / "mesh.glb"))
    assert gltf["meshes"][0]["extras"]["targetNames"] == ["expression_front.jpg", "expression_left.jpg", "expression_right.jpg"]
    assert all(v["expression_norm"] > 0 for v in free["views"])


def _gltf_json(path: Path) -> str:
    import struct

    data = path.read_bytes()
    length = struct.unpack("<I", data[12:16])[0]
    return data[20 : 20 + length].decode()


def test_method_is_chosen_for_photos_only() -> None:
    from recon.pipeline import choose_method
    from recon.structures import Camera

    registry = PluginHost().load_entrypoints().registry
    photo = Frame(np.zeros((8, 8, 3), np.uint8), "a.jpg")
    assert choose_method(registry, Inputs(frames=[photo]), None).name == "face"
    from recon.cameras import look_at

    ring = [look_at(np.array([np.sin(a), 0.0, np.cos(a)]) * 2, np.zeros(3), 8.0, 8, 8) for a in (0.0, 2.0, 4.0)]
    calibrated = [Frame(np.zeros((8, 8, 3), np.uint8), f"{i}.png", camera=c) for i, c in enumerate(ring)]
    assert choose_method(registry, Inputs(frames=calibrated), None).name == "visual-hull"
    walk = [Camera(np.eye(3), np.eye(3), np.array([-0.1 * i, 0.0, 0.0]), 8, 8) for i in range(3)]  # a sideways walk, axes parallel
    walked = [Frame(np.zeros((8, 8, 3), np.uint8), f"{i}.png", camera=c) for i, c in enumerate(walk)]
    assert choose_method(registry, Inputs(frames=walked), None).name == "mvs"
    video = [Frame(np.zeros((8, 8, 3), np.uint8), "c.mp4", index=i, timestamp=i / 25) for i in range(3)]
    assert not registry.methods["face"].accepts(Inputs(frames=video))


@pytest.mark.parametrize("option", ["face_index=-1", "texture_size=3", "focal_35mm=0", "photometric=maybe", "neutral=2"])
def test_bad_options_are_usage_errors(tmp_path: Path, option: str) -> None:
    from recon.errors import UsageError

    key, value = option.split("=")
    with pytest.raises(UsageError):
        _run([DEMO_PHOTO], tmp_path / "out", **{key: value if value.isalpha() else float(value) if "." in value else int(value)})


@pytest.mark.blender
def test_demo_opens_in_blender(demo: Path) -> None:
    """What `make demo` writes, as Blender sees it: the face, its UVs, its texture, the camera."""
    pytest.importorskip("bpy")
    from recon.testing import blender

    bpy = blender.load(demo / "mesh.glb")
    (obj,) = blender.mesh_objects(bpy)
    assert len(obj.data.vertices) == 478 and len(obj.data.uv_layers) == 1
    assert len(blender.image_sizes(obj)) == 1
    (cam,) = read_glb_cameras(demo / "mesh.glb")
    cams = blender.camera_objects(bpy)
    mesh = Mesh.load(demo / "mesh.glb")
    got, _ = blender.project(bpy, cams[cam.name], cam, mesh.vertices)
    assert np.abs(got - cam.project(mesh.vertices)).max() < 0.5


def test_face_index_flag_on_the_command_line(tmp_path: Path, faces_dir: Path) -> None:
    from click.testing import CliRunner

    from recon.cli import make_cli

    photo = faces_dir / "single" / "fr_two_people.jpg"
    args = ["reconstruct", str(photo), "-o", str(tmp_path / "out"), "--face-index", "1", "-O", "texture_size=128", "-O", "lod=low", "--json", "-q"]
    result = CliRunner().invoke(make_cli(), args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["views"][0]["face_index"] == 1
