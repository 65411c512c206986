"""Camera validation in scene folders (cameras.json, Middlebury *_par.txt, MVSNet cams/): every number
finite, R a rotation, K an intrinsic matrix, sizes positive, and cameras that look at a common
region; the real shared scenes pass."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon.cameras import DepthRange, look_at, to_mvsnet
from recon.errors import BadInputError
from recon.structures import Camera
from recon_io.scene import read_scene, write_scene_cameras

W, H = 32, 24


def ring(n: int = 6, radius: float = 3.0) -> list[Camera]:
    """Cameras on a horizontal ring, all looking at the origin."""
    return [
        look_at([radius * math.cos(a), 0.5, radius * math.sin(a)], [0, 0, 0], 30.0, W, H, name=f"view_{i:03d}.png")
        for i, a in enumerate(np.linspace(0, 2 * math.pi, n, endpoint=False))
    ]


def write_images(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / name)


def cameras_json(folder: Path, cams: list[Camera], edit=None) -> Path:  # noqa: ANN001 - edit(doc)
    write_images(folder, [c.name for c in cams])
    doc = json.loads(write_scene_cameras(cams, folder).read_text())
    if edit is not None:
        edit(doc)
    (folder / "cameras.json").write_text(json.dumps(doc))
    return folder


def bad(folder: Path, match: str) -> str:
    with pytest.raises(BadInputError, match=match) as info:
        read_scene(folder, {})
    message = str(info.value)
    assert "\n" not in message and "; " in message
    return message


# -- one camera at a time ---------------------------------------------------------------------------
def test_ring_reads(tmp_path: Path) -> None:
    assert len(read_scene(cameras_json(tmp_path, ring()), {}).frames) == 6


def test_scaled_identity_is_not_a_rotation(tmp_path: Path) -> None:
    folder = cameras_json(tmp_path, ring(), lambda d: d["frames"][2].update(R=(2 * np.eye(3)).tolist()))
    message = bad(folder, r"frame 2 \(view_002.png\): R is not a rotation")
    assert message.startswith(f"{folder / 'cameras.json'}: ")
    assert "off the identity by 3" in message and "det R = 8" in message and "give a rotation matrix" in message


def test_reflection_is_not_a_rotation(tmp_path: Path) -> None:
    def mirror(doc: dict) -> None:
        doc["frames"][0]["R"] = (np.diag([1.0, 1.0, -1.0]) @ np.array(doc["frames"][0]["R"])).tolist()

    assert "det R = -1" in bad(cameras_json(tmp_path, ring(), mirror), "R is not a rotation")


def test_slightly_rounded_rotation_is_accepted(tmp_path: Path) -> None:
    def round4(doc: dict) -> None:
        for f in doc["frames"]:
            f["R"] = np.round(np.array(f["R"]), 4).tolist()  # what a calibration file prints

    assert len(read_scene(cameras_json(tmp_path, ring(), round4), {}).frames) == 6


@pytest.mark.parametrize("key, index", [("R", (1, 1)), ("K", (0, 0)), ("K", (1, 2)), ("t", (2,))])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_inf_are_refused(tmp_path: Path, key: str, index: tuple, value: float) -> None:
    def poison(doc: dict) -> None:
        a = np.array(doc["frames"][1][key], dtype=float)
        a[index] = value
        doc["frames"][1][key] = a.tolist()

    bad(cameras_json(tmp_path, ring(), poison), rf"frame 1 \(view_001.png\): {key} holds NaN or infinite numbers; write finite numbers")


@pytest.mark.parametrize(
    "K, match",
    [([[-30, 0, 15.5], [0, 30, 11.5], [0, 0, 1]], "focal lengths fx = -30, fy = 30; both must be positive"),
     ([[30, 0, 15.5], [0, 0, 11.5], [0, 0, 1]], "fy = 0; both must be positive"),
     ([[30, 0, 15.5], [5, 30, 11.5], [0, 0, 1]], r"is not an intrinsic matrix; write it as \[\[fx, s, cx\], \[0, fy, cy\], \[0, 0, 1\]\]"),
     ([[30, 0, 15.5], [0, 30, 11.5], [0, 0, 2]], "is not an intrinsic matrix"),
     ([[30, 0, 15.5], [0, 30, 11.5]], r"Camera.K must have shape \(3, 3\), got \(2, 3\); write K as a 3x3 matrix")],
)
def test_bad_intrinsics(tmp_path: Path, K: list, match: str) -> None:
    bad(cameras_json(tmp_path, ring(), lambda d: d["frames"][0].update(K=K)), match)


@pytest.mark.parametrize("width", [0, -32, 31.5, "32", True, None, float("nan"), float("inf"), 10**400])
def test_bad_width(tmp_path: Path, width: object) -> None:
    bad(cameras_json(tmp_path, ring(), lambda d: d["frames"][0].update(width=width)),
        r"frame 0 \(view_000.png\): width is .*; write the image size in pixels \(a positive whole number\)")


def test_whole_float_width_is_accepted(tmp_path: Path) -> None:
    assert read_scene(cameras_json(tmp_path, ring(), lambda d: d["frames"][0].update(width=32.0)), {}).frames[0].camera.width == 32


@pytest.mark.parametrize(
    "edit, match",
    [(lambda d: d["frames"][0].update(file=7), "'file' and 'mask' must be image file names"),
     (lambda d: d["frames"][0].update(mask="nope.png"), r"lists mask nope.png, which is missing"),
     (lambda d: d["frames"][0].update(file="a\nb.png"), r"lists a\\nb.png, which is missing"),  # still one line
     (lambda d: d.update(frames=[1, 2]), "frame 0 is not an object"),
     (lambda d: d.update(frames={"a": 1}), "no 'frames' list"),
     (lambda d: d.update(bounds="big"), "bounds must be")],
)
def test_bad_structure(tmp_path: Path, edit, match: str) -> None:  # noqa: ANN001
    bad(cameras_json(tmp_path, ring(), edit), match)


def test_corrupt_mask_names_the_mask(tmp_path: Path) -> None:
    folder = cameras_json(tmp_path, ring(), lambda d: d["frames"][0].update(mask="m.png"))
    (folder / "m.png").write_bytes(b"\x89PNG broken")
    bad(folder, r"m.png: cannot read mask")


# -- the scene as a whole ---------------------------------------------------------------------------
def negate_t(doc: dict) -> None:
    for f in doc["frames"]:
        f["t"] = [-v for v in f["t"]]


def test_negated_translation_is_refused(tmp_path: Path) -> None:
    message = bad(cameras_json(tmp_path, ring(), negate_t), "the cameras do not look at a common region")
    assert message.startswith(str(tmp_path / "cameras.json"))
    assert "in front of 0 and inside the image of 0 of 6 cameras" in message and "x_cam = R X + t" in message


def test_one_camera_looking_away_is_tolerated(tmp_path: Path) -> None:
    """At least half the cameras must see the common point, not all."""
    cams = ring(8)
    cams[0] = look_at(cams[0].center, 2 * cams[0].center, 30.0, W, H, name=cams[0].name)
    assert len(read_scene(cameras_json(tmp_path, cams), {}).frames) == 8


def test_sweep_without_a_common_point_is_not_checked(tmp_path: Path) -> None:
    """A room swept from (nearly) one place: the axes meet nowhere in particular, nothing to check."""
    cams = [look_at([0.01 * i, 0, 0], [3 * math.cos(a), 0.2, 3 * math.sin(a)], 30.0, W, H, name=f"v{i}.png")
            for i, a in enumerate(np.linspace(0, math.pi, 6))]
    assert len(read_scene(cameras_json(tmp_path, cams), {}).frames) == 6


def test_parallel_stereo_pair_is_not_checked(tmp_path: Path) -> None:
    cams = [look_at([x, 0, 0], [x, 0, 5], 30.0, W, H, name=f"{side}.png") for x, side in ((-0.1, "left"), (0.1, "right"))]
    assert len(read_scene(cameras_json(tmp_path, cams), {}).frames) == 2
    negated = cameras_json(tmp_path / "neg", cams, negate_t)  # mirrored, still parallel: nothing to tell
    assert len(read_scene(negated, {}).frames) == 2


# -- Middlebury and MVSNet ----------------------------------------------------------------------------
def middlebury(folder: Path, cams: list[Camera], count: int | None = None) -> Path:
    write_images(folder, [c.name for c in cams])
    lines = [f"{len(cams) if count is None else count}"]
    lines += [f"{c.name} " + " ".join(f"{v:.10g}" for v in [*c.K.ravel(), *c.R.ravel(), *c.t]) for c in cams]
    (folder / "ring_par.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_middlebury_checks(tmp_path: Path) -> None:
    cams = ring()
    assert len(read_scene(middlebury(tmp_path / "ok", cams), {}).frames) == 6
    bad(middlebury(tmp_path / "count", cams, count=7), r"ring_par.txt: line 1 says 7 views but 6 follow")
    (tmp_path / "nocount").mkdir()
    (tmp_path / "nocount" / "ring_par.txt").write_text((tmp_path / "ok" / "ring_par.txt").read_text().split("\n", 1)[1])
    write_images(tmp_path / "nocount", [c.name for c in cams])
    bad(tmp_path / "nocount", "line 1 should be the number of views")
    cams[3] = Camera(K=cams[3].K, R=2 * np.eye(3), t=cams[3].t, width=W, height=H, name=cams[3].name)
    bad(middlebury(tmp_path / "rot", cams), r"ring_par.txt: line 5 \(view_003.png\): R is not a rotation")
    flipped = [Camera(K=c.K, R=c.R, t=-c.t, width=W, height=H, name=c.name) for c in ring()]
    bad(middlebury(tmp_path / "neg", flipped), r"ring_par.txt: the cameras do not look at a common region")


def test_middlebury_nan(tmp_path: Path) -> None:
    folder = middlebury(tmp_path, ring())
    par = folder / "ring_par.txt"
    lines = par.read_text().splitlines()
    words = lines[2].split()
    words[1] = "nan"
    par.write_text("\n".join([*lines[:2], " ".join(words), *lines[3:]]))
    bad(folder, r"line 3 \(view_001.png\): K holds NaN or infinite numbers")


def mvsnet(folder: Path, cams: list[Camera], depth: DepthRange = DepthRange(2.0, 0.1, 20)) -> Path:
    (folder / "cams").mkdir(parents=True)
    write_images(folder, [f"images/{i:08d}.png" for i in range(len(cams))])
    for i, cam in enumerate(cams):
        (folder / "cams" / f"{i:08d}_cam.txt").write_text(to_mvsnet(cam, depth))
    return folder


def test_mvsnet_checks(tmp_path: Path) -> None:
    assert len(read_scene(mvsnet(tmp_path / "ok", ring()), {}).frames) == 6
    bad(mvsnet(tmp_path / "depth", ring(), DepthRange(float("nan"), 0.1)), r"00000000_cam.txt: the depth line holds NaN")
    bad(mvsnet(tmp_path / "inf", ring(), DepthRange(2.0, 0.1, 20, float("inf"))), r"00000000_cam.txt: ")
    cams = ring()
    cams[1] = Camera(K=cams[1].K, R=-cams[1].R, t=cams[1].t, width=W, height=H, name=cams[1].name)
    bad(mvsnet(tmp_path / "rot", cams), r"cams/00000001_cam.txt: R is not a rotation .*det R = -1")
    flipped = [Camera(K=c.K, R=c.R, t=-c.t, width=W, height=H, name=c.name) for c in ring()]
    bad(mvsnet(tmp_path / "neg", flipped), r"cams: the cameras do not look at a common region")


# -- the real scenes in ../shared/data -------------------------------------------------------------------
def shared_as_cameras_json(shared_data: Path, name: str, out: Path) -> Path:
    """A shared scene converted to a cameras.json folder (images linked), in recon's convention."""
    base = shared_data / "multiview_scene"
    entries = []
    if name == "strecha":
        for cam in sorted((base / "strecha_fountain-P11" / "gt_dense_cameras").glob("*.camera")):
            v = np.array(cam.read_text().split(), dtype=float)  # K, distortion, R (camera to world), C, size
            K = v[:9].reshape(3, 3) * [[0.25], [0.25], [1]]  # 3072x2048 -> 768x512
            K[:2, 2] -= 0.375  # pixel-corner to pixel-centre convention at 1/4 scale
            R = v[12:21].reshape(3, 3).T
            entries.append((base / "strecha_fountain-P11" / "images_768x512" / cam.name[: -len(".camera")], K, R, -R @ v[21:24]))
    elif name == "fox":
        doc = json.loads((base / "instant_ngp_fox" / "transforms.json").read_text())
        K = np.array([[doc["fl_x"], 0, doc["cx"]], [0, doc["fl_y"], doc["cy"]], [0, 0, 1]])
        for f in doc["frames"]:
            M = np.array(f["transform_matrix"])
            R = (M[:3, :3] @ np.diag([1.0, -1.0, -1.0])).T  # NeRF/OpenGL camera axes to OpenCV
            entries.append((base / "instant_ngp_fox" / f["file_path"], K, R, -R @ M[:3, 3]))
    else:  # hololens: camera-to-world poses
        folder = base / "hololens_dvmvs_000"
        K = np.loadtxt(folder / "K.txt")
        for image, pose in zip((folder / "frames.txt").read_text().split(), np.loadtxt(folder / "poses.txt")):
            M = pose.reshape(4, 4)
            entries.append((folder / "images" / image, K, M[:3, :3].T, -M[:3, :3].T @ M[:3, 3]))
    out.mkdir(parents=True)
    frames = []
    for image, K, R, t in entries:
        (out / image.name).symlink_to(image)
        with Image.open(image) as img:
            width, height = img.size
        frames.append({"file": image.name, "K": K.tolist(), "R": R.tolist(), "t": t.tolist(), "width": width, "height": height})
    (out / "cameras.json").write_text(json.dumps({"convention": "opencv", "frames": frames}))
    return out


@pytest.mark.parametrize("name, views, negated_is_refused", [("strecha", 11, True), ("fox", 50, True), ("hololens", 40, False)])
def test_real_scenes_pass(shared_data: Path, tmp_path: Path, name: str, views: int, negated_is_refused: bool) -> None:
    folder = shared_as_cameras_json(shared_data, name, tmp_path / name)
    assert len(read_scene(folder, {}).frames) == views
    doc = json.loads((folder / "cameras.json").read_text())
    negate_t(doc)
    (folder / "cameras.json").write_text(json.dumps(doc))
    if negated_is_refused:  # object-centred captures: the axes meet behind the cameras
        bad(folder, "the cameras do not look at a common region")
    else:  # a handheld sweep of a room: no common point, nothing to check
        assert len(read_scene(folder, {}).frames) == views


def test_real_middlebury_and_demo_scene_pass(shared_data: Path) -> None:
    assert len(read_scene(shared_data / "multiview_scene" / "middlebury_templeSparseRing", {}).frames) == 16
    assert len(read_scene(Path(__file__).resolve().parents[3] / "assets" / "demo_scene", {}).frames) == 16
