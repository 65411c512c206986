"""recon.cameras: round trips between OpenCV (recon's convention) and PyTorch3D, glTF and MVSNet,
and the same 3D points landing on the same pixels in every convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from recon import cameras as rc
from recon.structures import Camera

W, H = 640, 480
SEEDS = range(5)


def random_camera(seed: int, *, square: bool = False, centred: bool = True) -> Camera:
    """A camera about 5 units from the origin looking roughly at it (unit ball in front of it)."""
    rng = np.random.default_rng(seed)
    fx = rng.uniform(400, 800)
    fy = fx if square else fx * rng.uniform(0.9, 1.1)
    cx, cy = ((W - 1) / 2, (H - 1) / 2) if centred else (rng.uniform(250, 390), rng.uniform(180, 300))
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    R = Rotation.random(random_state=seed).as_matrix()
    t = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(4, 6)])
    return Camera(K=K, R=R, t=t, width=W, height=H, name=f"cam{seed}")


def random_points(seed: int, n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return rng.uniform(-1, 1, (n, 3))


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("centred", [True, False])
def test_pytorch3d_round_trip(seed: int, centred: bool) -> None:
    cam = random_camera(seed, centred=centred)
    (back,) = rc.from_pytorch3d(rc.to_pytorch3d(cam), W, H)
    np.testing.assert_allclose(back.K, cam.K, atol=1e-4, rtol=1e-6)  # float32 inside PyTorch3D
    np.testing.assert_allclose(back.R, cam.R, atol=1e-4)
    np.testing.assert_allclose(back.t, cam.t, atol=1e-4)


def test_pytorch3d_batch_round_trip() -> None:
    cams = [random_camera(s, centred=s % 2 == 0) for s in SEEDS]
    back = rc.from_pytorch3d(rc.to_pytorch3d(cams), W, H)
    for a, b in zip(cams, back):
        np.testing.assert_allclose(b.K, a.K, atol=1e-4, rtol=1e-6)
        np.testing.assert_allclose(b.R, a.R, atol=1e-4)
        np.testing.assert_allclose(b.t, a.t, atol=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_gltf_round_trip_is_exact(seed: int) -> None:
    cam = random_camera(seed, square=True)
    assert rc.is_gltf_representable(cam)
    gltf = rc.to_gltf(cam)
    assert gltf.aspect_ratio == pytest.approx(W / H)
    back = rc.from_gltf(gltf, W, H)
    np.testing.assert_allclose(back.K, cam.K, atol=1e-6)
    np.testing.assert_allclose(back.R, cam.R, atol=1e-6)
    np.testing.assert_allclose(back.t, cam.t, atol=1e-6)


def test_gltf_flags_what_it_cannot_store() -> None:
    assert not rc.is_gltf_representable(random_camera(0, centred=False))
    assert not rc.is_gltf_representable(random_camera(1, square=False))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("centred", [True, False])
def test_mvsnet_round_trip(seed: int, centred: bool) -> None:
    cam = random_camera(seed, centred=centred)
    depth = rc.DepthRange(425.0, 2.5, 192, 902.5)
    back, depth_back = rc.from_mvsnet(rc.to_mvsnet(cam, depth), W, H, name=cam.name)
    np.testing.assert_allclose(back.K, cam.K, rtol=1e-9)
    np.testing.assert_allclose(back.R, cam.R, atol=1e-9)
    np.testing.assert_allclose(back.t, cam.t, atol=1e-9)
    assert depth_back == depth
    assert back.name == cam.name


def test_mvsnet_depth_line_two_values() -> None:
    cam = random_camera(0)
    _, depth = rc.from_mvsnet(rc.to_mvsnet(cam, rc.DepthRange(1.0, 0.5)), W, H)
    assert depth == rc.DepthRange(1.0, 0.5, None, None)


def test_mvsnet_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="extrinsic"):
        rc.from_mvsnet("intrinsic\n1 0 0\n0 1 0\n0 0 1\n", W, H)


def test_opencv_rodrigues() -> None:
    cam = random_camera(3)
    rvec = Rotation.from_matrix(cam.R).as_rotvec()
    back = rc.from_opencv(cam.K, rvec, cam.t, W, H)
    np.testing.assert_allclose(back.R, cam.R, atol=1e-12)


# -- one 3D point, one pixel, in every convention -----------------------------------------------------
def project_pytorch3d(cam: Camera, points: np.ndarray) -> np.ndarray:
    """Pixels from PyTorch3D's screen space (pixel centres at i + 0.5) shifted to OpenCV's (i)."""
    import torch

    p3d = rc.to_pytorch3d(cam)
    pts = torch.as_tensor(points, dtype=torch.float32)[None]
    screen = p3d.transform_points_screen(pts, image_size=((H, W),))[0, :, :2].double().numpy()
    return screen - 0.5


def project_gltf(gltf: rc.GltfCamera, points: np.ndarray) -> np.ndarray:
    """glTF's perspective projection (camera looks down -Z, +Y up) to pixel centres at integers."""
    cam = (np.linalg.inv(gltf.matrix()) @ np.c_[points, np.ones(len(points))].T).T[:, :3]
    tan = math.tan(gltf.yfov / 2)
    x_ndc = cam[:, 0] / -cam[:, 2] / (tan * gltf.aspect_ratio)
    y_ndc = cam[:, 1] / -cam[:, 2] / tan
    return np.stack([(x_ndc + 1) / 2 * W - 0.5, (1 - y_ndc) / 2 * H - 0.5], axis=1)


def project_mvsnet(text: str, points: np.ndarray) -> np.ndarray:
    """``K @ (E @ X)[:3]`` straight from the cam.txt numbers."""
    words = text.split()
    e, i = words.index("extrinsic"), words.index("intrinsic")
    E = np.array(words[e + 1 : e + 17], dtype=float).reshape(4, 4)
    K = np.array(words[i + 1 : i + 10], dtype=float).reshape(3, 3)
    uvw = (K @ (E @ np.c_[points, np.ones(len(points))].T)[:3]).T
    return uvw[:, :2] / uvw[:, 2:]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("centred", [True, False])
def test_pytorch3d_projects_to_the_same_pixels(seed: int, centred: bool) -> None:
    cam, points = random_camera(seed, centred=centred), random_points(seed)
    np.testing.assert_allclose(project_pytorch3d(cam, points), cam.project(points), atol=2e-3)


def test_pytorch3d_image_centre() -> None:
    """A point on the optical axis of a centred camera hits (W-1)/2, (H-1)/2 in both conventions."""
    cam = random_camera(0)
    on_axis = cam.center + 3.0 * cam.R[2]  # R's third row is the viewing direction in world space
    np.testing.assert_allclose(cam.project(on_axis[None])[0], [(W - 1) / 2, (H - 1) / 2], atol=1e-9)
    np.testing.assert_allclose(project_pytorch3d(cam, on_axis[None])[0], [(W - 1) / 2, (H - 1) / 2], atol=2e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_gltf_projects_to_the_same_pixels(seed: int) -> None:
    cam, points = random_camera(seed, square=True), random_points(seed)
    np.testing.assert_allclose(project_gltf(rc.to_gltf(cam), points), cam.project(points), atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("centred", [True, False])
def test_mvsnet_projects_to_the_same_pixels(seed: int, centred: bool) -> None:
    cam, points = random_camera(seed, centred=centred), random_points(seed)
    text = rc.to_mvsnet(cam, rc.DepthRange(1.0, 0.01, 192))
    np.testing.assert_allclose(project_mvsnet(text, points), cam.project(points), atol=1e-6)


def test_all_conventions_agree() -> None:
    """One camera, one set of points: OpenCV, PyTorch3D, glTF and MVSNet give the same pixels."""
    cam, points = random_camera(7, square=True), random_points(7, 20)
    ref = cam.project(points)
    assert np.all((ref > 0) & (ref < [W, H]))  # the test points are in view
    np.testing.assert_allclose(project_pytorch3d(cam, points), ref, atol=2e-3)
    np.testing.assert_allclose(project_gltf(rc.to_gltf(cam), points), ref, atol=1e-6)
    np.testing.assert_allclose(project_mvsnet(rc.to_mvsnet(cam, rc.DepthRange(1, 1)), points), ref, atol=1e-6)


def test_rays_pass_through_projected_points() -> None:
    cam, points = random_camera(2, centred=False), random_points(2, 10)
    origins, dirs = cam.rays(cam.project(points))
    to_points = points - origins
    cross = np.cross(dirs, to_points / np.linalg.norm(to_points, axis=1, keepdims=True))
    np.testing.assert_allclose(cross, 0, atol=1e-9)


def test_pytorch3d_rasterizer_samples_opencv_pixel_centres() -> None:
    """Independent of transform_points_screen: a rectangle spanning OpenCV u in [10.3, 50.7],
    v in [5.2, 40.6] covers exactly the pixels whose centres (integers) lie inside it."""
    import torch
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    w, h = 64, 48
    cam = Camera(K=[[60.0, 0, 30.0], [0, 55.0, 22.0], [0, 0, 1]], R=Rotation.from_euler("xyz", [5, -10, 3], degrees=True).as_matrix(), t=[0.1, -0.2, 4.0], width=w, height=h)
    corners = np.array([[10.3, 5.2], [50.7, 5.2], [50.7, 40.6], [10.3, 40.6]])
    origins, dirs = cam.rays(corners)
    depth = 4.0 / (dirs @ cam.R[2])  # all corners on the camera-space plane z = 4
    verts = origins + dirs * depth[:, None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    mesh = Meshes(verts=torch.as_tensor(verts, dtype=torch.float32)[None], faces=faces[None])
    rasterizer = MeshRasterizer(cameras=rc.to_pytorch3d(cam), raster_settings=RasterizationSettings(image_size=(h, w)))
    covered = (rasterizer(mesh).pix_to_face[0, :, :, 0] >= 0).numpy()
    rows, cols = np.nonzero(covered)
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (11, 50, 6, 40)
    assert covered[6:41, 11:51].all()


def test_scale_camera_keeps_pixel_centres() -> None:
    cam = rc.look_at(np.array([0.1, 0.2, 1.0]), np.zeros(3), 800.0, 640, 480)
    pts = np.random.default_rng(0).normal(0, 0.1, (20, 3))
    for scale in (0.5, 0.37, 2.0):
        small = rc.scale_camera(cam, scale)
        np.testing.assert_allclose(small.project(pts), (cam.project(pts) + 0.5) * scale - 0.5, atol=1e-9)
        assert (small.width, small.height) == (math.ceil(640 * scale), math.ceil(480 * scale))
    assert rc.scale_camera(cam, 1.0) is cam


def test_focus_point_of_a_ring_and_the_spread_of_parallel_axes() -> None:
    """Eight cameras on a ring looking at (0.1, 0.2, 0.3): that is their focus point and their
    axes are well spread; a row of cameras looking the same way has no focus (spread ~0)."""
    target = np.array([0.1, 0.2, 0.3])
    ring = [
        rc.look_at(target + 2.0 * np.array([math.cos(a), 0.3, math.sin(a)]), target, 800.0, 640, 480)
        for a in np.linspace(0, 2 * math.pi, 8, endpoint=False)
    ]
    np.testing.assert_allclose(rc.focus_point(ring), target, atol=1e-9)
    assert rc.axes_spread(ring) > 0.05
    row = [rc.look_at(np.array([x, 0.0, 2.0]), np.array([x, 0.0, 0.0]), 800.0, 640, 480) for x in (-0.2, 0.0, 0.2)]
    assert rc.axes_spread(row) < 1e-9


def test_skew_is_the_cross_product() -> None:
    from recon.cameras import skew

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3))
    np.testing.assert_allclose((skew(a) @ b[..., None])[..., 0], np.cross(a, b), atol=1e-12)
    np.testing.assert_allclose(skew(a[0, 0]), -skew(a[0, 0]).T)


def test_rotation_angle_of_one_and_of_many() -> None:
    from recon.cameras import rodrigues_to_matrix, rotation_angle

    turns = np.array([[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, -1.2, 0.5]])
    np.testing.assert_allclose(rotation_angle(rodrigues_to_matrix(turns)), np.degrees(np.linalg.norm(turns, axis=1)), atol=1e-5)
    assert isinstance(rotation_angle(np.eye(3)), float)
