"""The built-in readers: small files made in tmp_path, plus real files from ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from recon.errors import BadInputError, UsageError
from recon.registry import Registry
from recon_io import IMAGE_EXTENSIONS, recon_register_readers
from recon_io.geometry import read_mesh_or_points, read_points
from recon_io.images import natural_key, read_folder, read_image
from recon_io.scene import is_scene_folder, read_scene, write_scene_cameras
from recon_io.video import read_video

from recon.cameras import DepthRange, to_mvsnet
from recon.structures import Camera


def half_red(w: int = 40, h: int = 20) -> np.ndarray:
    """An RGB image whose left half is red and right half black."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = [255, 0, 0]
    return a


# -- images ------------------------------------------------------------------------------------------
def test_jpeg_exif_orientation_and_focal_length(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    sub = exif.get_ifd(0x8769)
    sub[37386] = TiffImagePlugin.IFDRational(42, 10)
    sub[41989] = 28
    path = tmp_path / "photo.JPG"
    Image.fromarray(half_red()).save(path, exif=exif, quality=95)
    frame = read_image(path, {}).frames[0]
    assert frame.image.shape == (40, 20, 3)  # was 40 wide, 20 high
    assert frame.image[:15, :, 0].mean() > 240 and frame.image[-15:, :, 0].mean() < 15  # left went up
    assert frame.focal_length_mm == pytest.approx(4.2)
    assert frame.focal_length_35mm == 28
    assert frame.focal_px_from_exif() == pytest.approx(28 / 36 * 40)
    assert frame.mask is None and frame.index is None and frame.source == str(path)


def test_png_alpha_becomes_mask(tmp_path: Path) -> None:
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[2:8, 3:9, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "a.png")
    frame = read_image(tmp_path / "a.png", {}).frames[0]
    assert frame.image.shape == (10, 12, 3) and frame.image.dtype == np.uint8
    assert frame.mask is not None and frame.mask.sum() == 36 and frame.mask[2:8, 3:9].all()


def test_opaque_alpha_gives_no_mask(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4, 4), 255, np.uint8)).save(tmp_path / "opaque.png")
    assert read_image(tmp_path / "opaque.png", {}).frames[0].mask is None


@pytest.mark.parametrize("name, kwargs", [("x.webp", {"lossless": True}), ("x.tiff", {}), ("x.bmp", {}), ("x.png", {})])
def test_other_formats_round_trip(tmp_path: Path, name: str, kwargs: dict) -> None:
    Image.fromarray(half_red()).save(tmp_path / name, **kwargs)
    np.testing.assert_array_equal(read_image(tmp_path / name, {}).frames[0].image, half_red())


def test_grey_and_16bit_images(tmp_path: Path) -> None:
    Image.fromarray(np.full((3, 5), 77, np.uint8)).save(tmp_path / "g.png")
    assert (read_image(tmp_path / "g.png", {}).frames[0].image == 77).all()
    Image.fromarray(np.full((3, 5), 65535, np.uint16)).save(tmp_path / "g16.png")
    assert (read_image(tmp_path / "g16.png", {}).frames[0].image == 255).all()


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + bytes(40)])
def test_corrupt_image_is_bad_input(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=r"broken\.jpg: cannot read image") as info:
        read_image(path, {})
    assert "\n" not in str(info.value)


def test_truncated_png_is_bad_input(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="t.png: cannot read image"):
        read_image(tmp_path / "t.png", {})


def test_folder_natural_order_and_notes(tmp_path: Path) -> None:
    for name in ("img10.png", "img2.png", "img1.jpg"):
        Image.fromarray(half_red()).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "sub").mkdir()
    Image.fromarray(half_red()).save(tmp_path / "sub" / "ignored.png")
    inputs = read_folder(tmp_path, {})
    assert [Path(f.source).name for f in inputs.frames] == ["img1.jpg", "img2.png", "img10.png"]
    assert inputs.notes == ["skipped notes.txt: not an image"]
    assert inputs.paths == [str(tmp_path)]


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="no images in this folder") as info:
        read_folder(tmp_path, {})
    assert str(tmp_path) in str(info.value) and all(e in str(info.value) for e in IMAGE_EXTENSIONS)


def test_natural_key() -> None:
    assert sorted(["a10", "a2", "B1", "a1b"], key=natural_key) == ["a1b", "a2", "a10", "B1"]


# -- videos ------------------------------------------------------------------------------------------
def write_video(path: Path, n: int = 30, w: int = 64, h: int = 48, fps: int = 30, rotation: int | None = None) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(n):
            image = half_red(w, h)
            image[..., 2] = i * 8  # frame number in the blue channel
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path)
    return path


def test_video_all_frames(video: Path) -> None:
    frames = read_video(video, {}).frames
    assert len(frames) == 30
    assert [f.index for f in frames] == list(range(30))
    assert frames[0].image.shape == (48, 64, 3) and frames[0].timestamp == 0.0
    assert frames[-1].timestamp == pytest.approx(29 / 30, abs=1e-3)
    assert frames[-1].name == "clip.mp4#29"
    assert abs(int(frames[5].image[..., 2].mean()) - 40) < 8  # decoded in order


def test_video_fps_sampling(video: Path) -> None:
    frames = read_video(video, {"fps": 10}).frames
    assert len(frames) == 10
    assert [f.index for f in frames] == list(range(0, 30, 3))
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(10) / 10, atol=1e-3)


def test_video_max_frames_and_string_options(video: Path) -> None:
    assert [f.index for f in read_video(video, {"max_frames": 4}).frames] == [0, 1, 2, 3]
    assert [f.index for f in read_video(video, {"fps": "5", "max_frames": "3"}).frames] == [0, 6, 12]


@pytest.mark.parametrize("options", [{"fps": 0}, {"fps": "fast"}, {"max_frames": -1}])
def test_video_bad_options(video: Path, options: dict) -> None:
    with pytest.raises(UsageError):
        read_video(video, options)


def test_video_display_rotation(tmp_path: Path) -> None:
    write_video(tmp_path / "rot.mp4", n=2, rotation=90)  # shown turned 90 degrees counter-clockwise
    image = read_video(tmp_path / "rot.mp4", {}).frames[0].image
    assert image.shape == (64, 48, 3)
    assert image[-20:, :, 0].mean() > 200 and image[:20, :, 0].mean() < 50  # the left half went down


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42" + bytes(200), b"garbage" * 100])
def test_broken_video_is_bad_input(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=r"broken\.mp4"):
        read_video(path, {})


def test_video_without_frames_is_bad_input(tmp_path: Path) -> None:
    write_video(tmp_path / "empty.mp4", n=0)
    with pytest.raises(BadInputError, match="empty.mp4"):
        read_video(tmp_path / "empty.mp4", {})


# -- point clouds --------------------------------------------------------------------------------------
def test_xyz_three_and_six_columns(tmp_path: Path) -> None:
    (tmp_path / "a.xyz").write_text("# a comment\n0 0 0\n1 2 3\n\n4 5 6\n")
    cloud = read_points(tmp_path / "a.xyz", {}).point_clouds[0]
    assert cloud.points.shape == (3, 3) and cloud.normals is None
    (tmp_path / "b.xyz").write_text("0 0 0 0 0 1\n1 2 3 0 1 0\n")
    cloud = read_points(tmp_path / "b.xyz", {}).point_clouds[0]
    np.testing.assert_array_equal(cloud.normals, [[0, 0, 1], [0, 1, 0]])


@pytest.mark.parametrize(
    "text, message",
    [("", "no points"), ("1 2 3 4\n", "4 columns"), ("1 2 nan\n", "NaN or infinite"), ("1 2 x\n", "cannot read")],
)
def test_bad_xyz(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.xyz").write_text(text)
    with pytest.raises(BadInputError, match=message):
        read_points(tmp_path / "bad.xyz", {})


def test_npz_points_normals_colors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pts, nrm = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    np.savez(tmp_path / "p.npz", points=pts, normals=nrm, colors=np.full((20, 3), 0.5), labels=np.arange(20))
    cloud = read_points(tmp_path / "p.npz", {}).point_clouds[0]
    np.testing.assert_allclose(cloud.points, pts, rtol=1e-6)
    np.testing.assert_allclose(cloud.normals, nrm, rtol=1e-6)
    assert (cloud.colors == 128).all() and cloud.labels.tolist() == list(range(20))


def test_npz_first_n3_array_and_batches(tmp_path: Path) -> None:
    np.savez(tmp_path / "q.npz", meta=np.arange(4), xyz=np.ones((7, 3)))
    assert read_points(tmp_path / "q.npz", {}).point_clouds[0].points.shape == (7, 3)
    np.savez(tmp_path / "b.npz", points=np.zeros((3, 5, 3)))
    clouds = read_points(tmp_path / "b.npz", {}).point_clouds
    assert len(clouds) == 3 and clouds[2].source.endswith("b.npz[2]")


@pytest.mark.parametrize(
    "arrays, message",
    [({"meta": np.arange(4)}, "no \\(N, 3\\) point array"), ({"points": np.zeros((0, 3))}, "no points"),
     ({"points": np.array([[0, 0, np.inf]])}, "NaN or infinite")],
)
def test_bad_npz(tmp_path: Path, arrays: dict, message: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BadInputError, match=message):
        read_points(tmp_path / "bad.npz", {})


def test_corrupt_npz(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BadInputError, match="cannot read .npz"):
        read_points(tmp_path / "bad.npz", {})


PLY_POINTS = """ply
format ascii 1.0
element vertex {n}
property float x
property float y
property float z
property float nx
property float ny
property float nz
property uchar red
property uchar green
property uchar blue
end_header
{rows}"""


def test_ply_without_faces_is_a_point_cloud(tmp_path: Path) -> None:
    rows = "0 0 0 0 0 1 255 0 0\n1 0 0 0 0 1 0 255 0\n0 1 0 0 0 1 0 0 255\n"
    (tmp_path / "p.ply").write_text(PLY_POINTS.format(n=3, rows=rows))
    inputs = read_mesh_or_points(tmp_path / "p.ply", {})
    assert not inputs.meshes and len(inputs.point_clouds) == 1
    cloud = inputs.point_clouds[0]
    np.testing.assert_array_equal(cloud.normals, np.tile([0, 0, 1], (3, 1)))
    np.testing.assert_array_equal(cloud.colors, [[255, 0, 0], [0, 255, 0], [0, 0, 255]])


@pytest.mark.parametrize(
    "n, rows, message",
    [(0, "", "no geometry"), (2, "0 0 0 0 0 1 1 1 1\nnan 0 0 0 0 1 1 1 1\n", "NaN or infinite")],
)
def test_bad_ply_points(tmp_path: Path, n: int, rows: str, message: str) -> None:
    (tmp_path / "bad.ply").write_text(PLY_POINTS.format(n=n, rows=rows))
    with pytest.raises(BadInputError, match=message):
        read_mesh_or_points(tmp_path / "bad.ply", {})


# -- meshes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["obj", "off", "glb", "stl", "ply"])
def test_mesh_formats(tmp_path: Path, ext: str) -> None:
    import trimesh

    box = trimesh.creation.box(extents=(1, 2, 3))
    box.export(tmp_path / f"box.{ext}")
    inputs = read_mesh_or_points(tmp_path / f"box.{ext}", {})
    mesh = inputs.meshes[0]
    assert not inputs.point_clouds and mesh.name == "box"
    assert len(mesh.faces) == 12
    np.testing.assert_allclose(mesh.bounds(), [[-0.5, -1, -1.5], [0.5, 1, 1.5]], atol=1e-6)
    assert mesh.texture is None


def test_textured_glb(tmp_path: Path) -> None:
    import trimesh

    box = trimesh.creation.box()
    texture = Image.fromarray(half_red(16, 16))
    uv = np.random.default_rng(0).uniform(size=(len(box.vertices), 2))
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.SimpleMaterial(image=texture))
    box.export(tmp_path / "t.glb")
    mesh = read_mesh_or_points(tmp_path / "t.glb", {}).meshes[0]
    assert mesh.textured and mesh.texture.shape == (16, 16, 3)
    assert mesh.texture[:, :8, 0].mean() > 240


def test_obj_uvs_without_texture(tmp_path: Path) -> None:
    obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n"
    (tmp_path / "tri.obj").write_text(obj)
    inputs = read_mesh_or_points(tmp_path / "tri.obj", {})
    assert inputs.meshes[0].texture is None  # not trimesh's 2x2 stand-in image
    assert any("no texture image" in n for n in inputs.notes)
    Image.fromarray(half_red(8, 8)).save(tmp_path / "tri_texture.png")
    inputs = read_mesh_or_points(tmp_path / "tri.obj", {})
    assert inputs.meshes[0].textured and inputs.notes == ["tri.obj: no material texture; using tri_texture.png"]
    with pytest.raises(BadInputError, match="texture .* not found"):
        read_mesh_or_points(tmp_path / "tri.obj", {"texture": str(tmp_path / "nope.png")})


@pytest.mark.parametrize(
    "name, content, message",
    [("empty.obj", "", "no faces"), ("points.obj", "v 0 0 0\nv 1 0 0\n", "no faces"),
     ("nan.obj", "v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n", "NaN or infinite"),
     ("bad.glb", "glTF garbage", "cannot read"), ("bad.ply", "ply\nformat nonsense\n", "cannot read"),
     ("bad.stl", "solid x\n facet nonsense\n", "bad.stl")],
)
def test_bad_meshes(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(BadInputError, match=message) as info:
        read_mesh_or_points(tmp_path / name, {})
    assert str(info.value).startswith(str(tmp_path / name)) and "\n" not in str(info.value)


# -- scenes --------------------------------------------------------------------------------------------
def scene_cameras(n: int = 3, w: int = 32, h: int = 24) -> list[Camera]:
    from scipy.spatial.transform import Rotation

    K = [[30.0, 0, (w - 1) / 2], [0, 30.0, (h - 1) / 2], [0, 0, 1]]
    return [
        Camera(K=K, R=Rotation.from_euler("y", 360 * i / n, degrees=True).as_matrix(), t=[0, 0, 3], width=w, height=h, name=f"view_{i:03d}.png")
        for i in range(n)
    ]


def test_cameras_json_round_trip(tmp_path: Path) -> None:
    cams = scene_cameras()
    for cam in cams:
        rgba = np.zeros((cam.height, cam.width, 4), np.uint8)
        rgba[8:16, 10:20] = 255
        Image.fromarray(rgba).save(tmp_path / cam.name)
    written = write_scene_cameras(cams, tmp_path, bounds=[[-1, -1, -1], [1, 1, 1]])
    assert written == tmp_path / "cameras.json" and json.loads(written.read_text())["convention"] == "opencv"
    assert is_scene_folder(tmp_path)
    inputs = read_scene(tmp_path, {})
    assert inputs.calibrated and len(inputs.frames) == 3
    for frame, cam in zip(inputs.frames, cams):
        assert frame.camera.name == cam.name == Path(frame.source).name
        np.testing.assert_allclose(frame.camera.K, cam.K)
        np.testing.assert_allclose(frame.camera.R, cam.R)
        assert frame.mask is not None and frame.mask.sum() == 80
        np.testing.assert_array_equal(frame.meta["bounds"], [[-1, -1, -1], [1, 1, 1]])
    # frames carry their cameras: writing them back gives the same file
    again = write_scene_cameras(inputs.frames, tmp_path / "again.json", bounds=inputs.frames[0].meta["bounds"])
    assert json.loads(again.read_text()) == json.loads(written.read_text())


def test_cameras_json_mask_file(tmp_path: Path) -> None:
    cam = scene_cameras(1)[0]
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / cam.name)
    mask = np.zeros((24, 32), np.uint8)
    mask[:, :5] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    write_scene_cameras([cam], tmp_path)
    doc = json.loads((tmp_path / "cameras.json").read_text())
    doc["frames"][0]["mask"] = "m.png"
    (tmp_path / "cameras.json").write_text(json.dumps(doc))
    frame = read_scene(tmp_path, {}).frames[0]
    assert frame.mask.sum() == 24 * 5 and "bounds" not in frame.meta


@pytest.mark.parametrize(
    "edit, message",
    [(lambda d: d["frames"][0].update(width=99), "image is 32x24 but cameras.json says 99x24"),
     (lambda d: d["frames"][0].update(file="missing.png"), "lists missing.png, which is missing"),
     (lambda d: d["frames"][0].pop("K"), "missing key 'K'"),
     (lambda d: d["frames"][0].update(R=[1, 2]), "Camera.R must have shape"),
     (lambda d: d.update(bounds=[[1, 1, 1], [0, 0, 0]]), "bounds must be"),
     (lambda d: d.update(frames=[]), "lists no views")],
)
def test_bad_cameras_json(tmp_path: Path, edit, message: str) -> None:
    cam = scene_cameras(1)[0]
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / cam.name)
    doc = json.loads(write_scene_cameras([cam], tmp_path).read_text())
    edit(doc)
    (tmp_path / "cameras.json").write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match=message):
        read_scene(tmp_path, {})


def test_unparseable_cameras_json(tmp_path: Path) -> None:
    (tmp_path / "cameras.json").write_text("{not json")
    with pytest.raises(BadInputError, match="cameras.json: invalid cameras file"):
        read_scene(tmp_path, {})


def test_mvsnet_layout(tmp_path: Path) -> None:
    (tmp_path / "cams").mkdir()
    (tmp_path / "images").mkdir()
    for i, cam in enumerate(scene_cameras(2)):
        (tmp_path / "cams" / f"{i:08d}_cam.txt").write_text(to_mvsnet(cam, DepthRange(2.0, 0.1, 20)))
        Image.fromarray(half_red(32, 24)).save(tmp_path / "images" / f"{i:08d}.jpg")
    (tmp_path / "pair.txt").write_text("2\n")
    assert is_scene_folder(tmp_path)
    frames = read_scene(tmp_path, {}).frames
    assert [f.camera.name for f in frames] == ["00000000.jpg", "00000001.jpg"]
    np.testing.assert_allclose(frames[1].camera.R, scene_cameras(2)[1].R, atol=1e-9)
    assert frames[0].meta["depth_range"] == DepthRange(2.0, 0.1, 20, pytest.approx(3.9))
    (tmp_path / "images" / "00000001.jpg").unlink()
    with pytest.raises(BadInputError, match="no image images/00000001"):
        read_scene(tmp_path, {})


def test_plain_folder_is_not_a_scene(tmp_path: Path) -> None:
    Image.fromarray(half_red()).save(tmp_path / "a.png")
    assert not is_scene_folder(tmp_path) and not is_scene_folder(tmp_path / "a.png")


def test_registry_picks_the_right_reader(tmp_path: Path) -> None:
    registry = Registry()
    recon_register_readers(register=lambda r: registry.add_reader(r, "recon_io"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "scene").mkdir()
    (tmp_path / "scene" / "cameras.json").write_text("{}")
    for name in ("a.jpg", "b.mp4", "c.xyz", "d.ply", "e.glb"):
        (tmp_path / name).write_bytes(b"")
    picked = {p: registry.reader_for(tmp_path / p).name for p in ("plain", "scene", "a.jpg", "b.mp4", "c.xyz", "d.ply", "e.glb")}
    assert picked == {"plain": "image-folder", "scene": "scene", "a.jpg": "image", "b.mp4": "video",
                      "c.xyz": "points", "d.ply": "mesh", "e.glb": "mesh"}


# -- real files from ../shared/data --------------------------------------------------------------------------
def test_real_video(shared_data: Path) -> None:
    inputs = read_video(shared_data / "face_video" / "face_recognition" / "short_hamilton_clip.mp4", {"max_frames": 5})
    assert [f.index for f in inputs.frames] == [0, 1, 2, 3, 4]
    assert inputs.frames[0].image.shape == (360, 640, 3) and inputs.frames[0].timestamp == 0.0
    np.testing.assert_allclose([f.timestamp for f in inputs.frames], np.arange(5) * 100 / 2997, atol=1e-3)


def test_real_middlebury_scene(shared_data: Path) -> None:
    folder = shared_data / "multiview_scene" / "middlebury_templeSparseRing"
    assert is_scene_folder(folder)
    inputs = read_scene(folder, {})
    assert len(inputs.frames) == 16 and inputs.calibrated
    centre = np.array([[-0.0224, 0.1018, 0.0251]])  # README bounding box centre
    for i, frame in enumerate(inputs.frames, start=1):
        assert frame.camera.name == f"templeSR{i:04d}.png" == Path(frame.source).name
        assert (frame.width, frame.height) == (frame.camera.width, frame.camera.height) == (640, 480)
        u, v = frame.camera.project(centre)[0]
        assert 0 <= u < 640 and 0 <= v < 480
        assert frame.camera.world_to_camera(centre)[0, 2] > 0
        np.testing.assert_allclose(frame.meta["bounds"], [[-0.073568, 0.021728, -0.012445], [0.028855, 0.181892, 0.062736]])
    np.testing.assert_allclose(inputs.frames[0].camera.K, [[1520.4, 0, 302.32], [0, 1525.9, 246.87], [0, 0, 1]])


def test_real_textured_obj(shared_data: Path) -> None:
    inputs = read_mesh_or_points(shared_data / "meshes" / "spot.obj", {})
    mesh = inputs.meshes[0]
    assert mesh.textured and mesh.uvs.shape == (len(mesh.vertices), 2) and len(mesh.faces) == 5856
    assert mesh.texture.shape == (1024, 1024, 3)
    assert inputs.notes == ["spot.obj: no material texture; using spot_texture.png"]


def test_real_off_meshes(shared_data: Path) -> None:
    files = sorted((shared_data / "pointclouds" / "modelnet10_off").glob("*/*.off"), key=lambda p: p.stat().st_size)
    assert files, "no ModelNet .off files"
    mesh = read_mesh_or_points(files[0], {}).meshes[0]
    assert len(mesh.faces) > 0 and np.isfinite(mesh.vertices).all()


def test_real_ply_without_faces(shared_data: Path) -> None:
    """igea.ply stores triangle strips, no face element: read as its 134345 points."""
    inputs = read_mesh_or_points(shared_data / "meshes" / "igea.ply", {})
    assert not inputs.meshes and len(inputs.point_clouds[0]) == 134345


def test_real_npz_batch(shared_data: Path) -> None:
    clouds = read_points(shared_data / "pointclouds" / "modelnet_sample_2048.npz", {}).point_clouds
    assert len(clouds) == 9 and all(c.points.shape == (2048, 3) for c in clouds)
