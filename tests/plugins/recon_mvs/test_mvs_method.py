"""The ``mvs`` method end to end on real scenes: pycolmap cameras against Strecha's ground truth,
a textured fountain mesh in Blender, a fused HoloLens cloud against its measured depth, a closed
temple, and the bad inputs the issue lists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon.errors import BadInputError
from recon.pipeline import reconstruct
from recon.plugins import PluginHost
from recon.structures import Frame
from recon.testing.camera_truth import camera_errors, strecha_cameras
from recon_mvs.sfm import solve_cameras

SMALL = {"size": 192, "planes": 48, "window": 7, "max_faces": 20000, "texture_size": 512, "poisson_depth": 8}


def _scene(shared_data: Path, name: str) -> Path:
    folder = shared_data / "multiview_scene" / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def _run(inputs: list[Path], out: Path, options: dict, method: str | None = "mvs") -> dict:
    return reconstruct(PluginHost().load_entrypoints(), inputs, out, method=method, options=options, quiet=True)


def test_pycolmap_cameras_match_strecha_ground_truth(shared_data: Path) -> None:
    """All 11 fountain photos placed; after a similarity alignment of the centres the rotations
    are within 1 degree (median) and the centres within 2 % of the scene's size (measured:
    0.2 px reprojection error, rotations ~0.1 degree)."""
    folder = _scene(shared_data, "strecha_fountain-P11")
    photos = sorted((folder / "images_768x512").glob("*.jpg"))
    frames = [Frame(image=np.asarray(Image.open(p).convert("RGB")), source=str(p)) for p in photos]
    scene = solve_cameras(frames)
    truth = strecha_cameras(folder / "gt_dense_cameras")
    assert scene.registered == list(range(11)) and len(truth) == 11
    assert scene.reprojection_error_px < 1.0 and len(scene.points) > 1000
    errors = camera_errors(scene.cameras, truth)
    assert np.median(errors["rotation_deg"]) <= 1.0, errors
    assert np.median(errors["centre_relative"]) < 0.02, errors
    focal = scene.cameras[0].K[0, 0]
    assert abs(focal - 2759.48 / 4) < 0.03 * 2759.48 / 4  # the 768x512 photos are a quarter of 3072x2048


@pytest.fixture(scope="module")
def fountain(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _scene(shared_data, "strecha_fountain-P11")
    out = tmp_path_factory.mktemp("fountain") / "out"
    _run([folder / "images_768x512"], out, SMALL)
    return out


def test_fountain_photos_give_a_textured_mesh_and_a_cloud(fountain: Path) -> None:
    import trimesh

    report = json.loads((fountain / "report.json").read_text())
    assert report["method"] == "mvs" and {"mesh.glb", "points.ply", "preview.png"} <= set(report["outputs"])
    meta = report["metadata"]
    assert meta["cameras"]["registered"] == 11 and meta["fused_points"] > 20000
    assert all(v["status"] == "ok" and v["kept"] > 0.1 for v in report["views"])
    assert report["mesh"]["faces"] > 5000 and meta["texture_coverage"] > 0.3
    cloud = trimesh.load(fountain / "points.ply")
    assert len(cloud.vertices) == meta["fused_points"]
    scene = trimesh.load(fountain / "mesh.glb")
    assert len(scene.graph.nodes_geometry) >= 1


@pytest.mark.blender
def test_fountain_mesh_opens_in_blender_textured_with_its_cameras(fountain: Path) -> None:
    from recon.testing import blender

    bpy = blender.load(fountain / "mesh.glb")
    meshes = blender.mesh_objects(bpy)
    assert len(meshes) == 1 and len(meshes[0].data.polygons) > 5000
    assert blender.image_sizes(meshes[0]) == [(512, 512)]
    assert len(blender.camera_objects(bpy)) == 11


def _hololens_part(shared_data: Path, folder: Path, keep: list[int]) -> Path:
    """A sequence folder of the HoloLens frames ``keep`` (their images, poses and names)."""
    scene = _scene(shared_data, "hololens_dvmvs_000")
    (folder / "images").mkdir(parents=True)
    shutil.copy(scene / "K.txt", folder / "K.txt")
    poses = (scene / "poses.txt").read_text().splitlines()
    names = (scene / "frames.txt").read_text().split()
    for k in keep:
        shutil.copy(scene / "images" / names[k], folder / "images" / names[k])
    (folder / "poses.txt").write_text("\n".join(poses[k] for k in keep) + "\n")
    (folder / "frames.txt").write_text("\n".join(names[k] for k in keep) + "\n")
    return folder


def _distance_to_truth(shared_data: Path, part: Path, points: np.ndarray) -> float:
    """Median distance (metres) from ``points`` to the ground-truth depth of the frames of ``part`` back-projected."""
    from scipy.spatial import cKDTree

    from recon_io.scene import read_scene
    from recon_mvs.fusion import backproject

    truth = []
    for f in read_scene(part, {}).frames:
        depth = np.asarray(Image.open(_scene(shared_data, "hololens_dvmvs_000") / "depth" / Path(f.source).name)).astype(np.float64) / 1000
        truth.append(backproject(depth, f.camera)[depth > 0][::7])
    return float(np.median(cKDTree(np.concatenate(truth)).query(points)[0]))


def test_hololens_sequence_is_chosen_fused_and_near_the_measured_depth(shared_data: Path, tmp_path: Path) -> None:
    """Ten frames of the sequence (K.txt + poses.txt) go to ``mvs`` without --method; the fused
    points lie near the ground-truth surface (median under 8 cm at 1-4 m), and ``depth/`` holds
    16-bit millimetre maps near the measured depth."""
    import trimesh

    part = _hololens_part(shared_data, tmp_path / "part", list(range(10, 20)))
    out = tmp_path / "out"
    report = _run([part], out, {**SMALL, "save_depth": True}, method=None)
    assert report["method"] == "mvs"
    points = np.asarray(trimesh.load(out / "points.ply").vertices)
    assert len(points) > 5000
    assert _distance_to_truth(shared_data, part, points) < 0.08
    name = Path(report["views"][5]["input"]).stem
    saved = np.asarray(Image.open(out / "depth" / f"{name}.png"))
    measured = np.asarray(Image.open(_scene(shared_data, "hololens_dvmvs_000") / "depth" / f"{name}.png").resize(saved.shape[::-1], Image.Resampling.NEAREST)).astype(np.float64)
    assert saved.dtype == np.uint16
    m = measured > 0
    assert np.median(np.abs(saved[m] - measured[m]) / measured[m]) < 0.2
    assert (out / "depth" / f"{name}_confidence.png").is_file()


def test_shipped_mvsnet_depth_runs_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    """``-O depth=mvsnet`` with the shipped weights: the fused cloud of six frames lies near the
    measured surface too."""
    import trimesh

    part = _hololens_part(shared_data, tmp_path / "part", list(range(20, 26)))
    report = _run([part], tmp_path / "out", {**SMALL, "depth": "mvsnet"})
    assert report["metadata"]["options"]["depth"] == "mvsnet" and all(v["status"] == "ok" for v in report["views"])
    assert report["metadata"]["options"]["refine"] is True  # the MVSNet's default
    points = np.asarray(trimesh.load(tmp_path / "out" / "points.ply").vertices)
    assert len(points) > 2000
    assert _distance_to_truth(shared_data, part, points) < 0.1


def test_the_method_takes_exactly_its_defaults_keys() -> None:
    """The plugin's ``OPTIONS`` (read without importing the method) and the method's defaults name the same keys."""
    from recon_mvs import OPTIONS
    from recon_mvs.method import DEFAULTS, options_of

    assert sorted(OPTIONS) == sorted(DEFAULTS)
    assert options_of({})["refine"] is False and options_of({"depth": "mvsnet"})["refine"] is True
    assert options_of({"refine": "true"})["refine"] is True


def test_temple_ring_gives_a_closed_textured_mesh(shared_data: Path, tmp_path: Path) -> None:
    import trimesh

    folder = _scene(shared_data, "middlebury_templeSparseRing")
    report = _run([folder], tmp_path / "out", {**SMALL, "closed": True, "size": 320, "max_faces": 40000})
    assert report["metadata"]["texture_coverage"] > 0.3
    mesh = trimesh.load(tmp_path / "out" / "mesh.obj", force="mesh", process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)  # the UV atlas splits vertices along its seams
    assert mesh.is_watertight and len(mesh.faces) <= 40000
    extent = mesh.bounds[1] - mesh.bounds[0]
    assert np.all(extent > 0.03) and np.all(extent < 0.3)  # the temple is about 8 x 16 x 6 cm


# -- bad inputs -------------------------------------------------------------------------------------


def _photos(folder: Path, images: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for k, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{k:02d}.png")
    return folder


def _fountain_photos(shared_data: Path) -> list[np.ndarray]:
    folder = _scene(shared_data, "strecha_fountain-P11") / "images_768x512"
    return [np.asarray(Image.open(p).convert("RGB").resize((384, 256))) for p in sorted(folder.glob("*.jpg"))]


def test_two_photos_are_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _photos(tmp_path / "two", _fountain_photos(shared_data)[:2])
    with pytest.raises(BadInputError, match="at least 3 photos"):
        _run([folder], tmp_path / "out", SMALL)
    assert not (tmp_path / "out").exists()


def test_blank_walls_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    walls = [np.full((256, 384, 3), 180 + int(rng.integers(-3, 3)), np.uint8) for _ in range(5)]
    folder = _photos(tmp_path / "wall", walls)
    with pytest.raises(BadInputError, match="overlap"):
        _run([folder], tmp_path / "out", SMALL)


def test_photos_of_different_scenes_are_refused(shared_data: Path, tmp_path: Path) -> None:
    fountain = _fountain_photos(shared_data)
    temple = _scene(shared_data, "middlebury_templeSparseRing")
    fox = _scene(shared_data, "instant_ngp_fox") / "images"
    others = [np.asarray(Image.open(p).convert("RGB").resize((384, 256))) for p in [*sorted(temple.glob("*.png"))[:1], *sorted(fox.glob("*.jpg"))[:1]]]
    folder = _photos(tmp_path / "mixed", [fountain[0], fountain[5], *others])
    with pytest.raises(BadInputError, match="photos"):
        _run([folder], tmp_path / "out", SMALL)


def test_views_that_do_not_overlap_are_refused(tmp_path: Path) -> None:
    """Calibrated views looking in four directions from one point share nothing."""
    from recon.cameras import look_at
    from recon_io.scene import write_scene_cameras

    rng = np.random.default_rng(1)
    frames = []
    for k, target in enumerate([(1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, 0, -1)]):
        camera = look_at(np.zeros(3), np.array(target, dtype=float), focal_px=200.0, width=160, height=120, up=np.array([0.0, 1.0, 0.0]) if target[1] == 0 else np.array([0.0, 0.0, 1.0]))
        image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / f"v{k}.png")
        frames.append(Frame(image=image, source=str(tmp_path / f"v{k}.png"), camera=camera))
    write_scene_cameras(frames, tmp_path / "cameras.json")
    with pytest.raises(BadInputError, match="overlaps"):
        _run([tmp_path], tmp_path / "out", SMALL)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"depth": "stereo"}, "planesweep or mvsnet"),
        ({"size": 10}, "size"),
        ({"near": 0.5}, "near and -O far together"),
        ({"near": 2.0, "far": 1.0}, "near < far"),
        ({"window": 8}, "odd"),
        ({"min_agree": 9}, "min_agree"),
        ({"closed": "maybe"}, "closed must be true or false"),
        ({"planes": "many"}, "bad mvs option"),
    ],
)
def test_bad_options_are_usage_errors(options: dict, message: str) -> None:
    from recon.errors import UsageError
    from recon_mvs.method import options_of

    with pytest.raises(UsageError, match=message):
        options_of(options)
