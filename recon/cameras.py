"""Camera conventions, converted in one place.

recon's internal convention is OpenCV's (see :class:`recon.structures.Camera`): ``x_cam = R X + t``,
camera x right / y down / z forward, pixel centres on integer coordinates.

- PyTorch3D: row vectors, camera x left / y up / z forward, screen pixel centres at ``i + 0.5``.
  Converted through ``pytorch3d.utils`` with the half-pixel shift made explicit here.
- glTF (and Blender through its glTF importer): the camera node is camera-to-world, the camera
  looks down -Z with +Y up; ``yfov`` and ``aspectRatio`` imply square pixels and a centred
  principal point.
- MVSNet ``cam.txt``: a 4x4 world-to-camera ``extrinsic``, a 3x3 ``intrinsic`` and a depth range
  line; pixel convention as OpenCV's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera

if TYPE_CHECKING:
    import torch
    from pytorch3d.renderer import PerspectiveCameras

# OpenCV camera axes (x right, y down, z forward) -> OpenGL/glTF axes (x right, y up, z backward).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0])
# Pixel-centre convention offset between OpenCV (centres at i) and PyTorch3D screen space (i + 0.5).
_P3D_PIXEL_SHIFT = 0.5


# -- OpenCV --------------------------------------------------------------------------------------
def to_opencv(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K, R, t) exactly as OpenCV's ``projectPoints`` takes them (R as a matrix)."""
    return camera.K.copy(), camera.R.copy(), camera.t.copy()


def from_opencv(K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int, height: int, name: str = "") -> Camera:
    """A camera from OpenCV (K, R, t); ``R`` may be a 3x3 matrix or a Rodrigues vector."""
    R = np.asarray(R, dtype=np.float64)
    if R.shape in ((3,), (3, 1), (1, 3)):
        R = rodrigues_to_matrix(R.reshape(3))
    return Camera(K=K, R=R, t=np.asarray(t, dtype=np.float64).reshape(3), width=width, height=height, name=name)


def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Axis-angle vector to rotation matrix (OpenCV's Rodrigues)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rvec, dtype=np.float64)).as_matrix()


def rotation_angle(R: np.ndarray) -> np.ndarray | float:
    """The angle (degrees) of rotations (..., 3, 3); of ``A @ B.T`` for the angle between two."""
    angle = np.degrees(np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)))
    return float(angle) if np.ndim(angle) == 0 else angle


def skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) vectors to (..., 3, 3) cross-product matrices: ``skew(a) @ b == cross(a, b)``."""
    out = np.zeros(np.shape(v)[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


# -- PyTorch3D ------------------------------------------------------------------------------------
def to_pytorch3d(cameras: Camera | list[Camera], device: torch.device | str = "cpu") -> PerspectiveCameras:
    """PyTorch3D ``PerspectiveCameras`` (screen-space intrinsics) for one or more cameras."""
    import torch
    from pytorch3d.utils import cameras_from_opencv_projection

    cams = [cameras] if isinstance(cameras, Camera) else list(cameras)
    K = np.stack([c.K for c in cams]).copy()
    K[:, 0, 2] += _P3D_PIXEL_SHIFT
    K[:, 1, 2] += _P3D_PIXEL_SHIFT

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32, device=device)

    return cameras_from_opencv_projection(
        R=tensor(np.stack([c.R for c in cams])),
        tvec=tensor(np.stack([c.t for c in cams])),
        camera_matrix=tensor(K),
        image_size=tensor(np.array([[c.height, c.width] for c in cams], dtype=np.float32)),
    )


def from_pytorch3d(cameras: PerspectiveCameras, width: int, height: int) -> list[Camera]:
    """Cameras back from PyTorch3D ``PerspectiveCameras`` of the given image size."""
    import torch
    from pytorch3d.utils import opencv_from_cameras_projection

    n = len(cameras)
    size = torch.tensor([[height, width]] * n, dtype=torch.float32, device=cameras.device)
    R, t, K = (x.detach().cpu().double().numpy() for x in opencv_from_cameras_projection(cameras, size))
    K[:, 0, 2] -= _P3D_PIXEL_SHIFT
    K[:, 1, 2] -= _P3D_PIXEL_SHIFT
    return [Camera(K=K[i], R=R[i], t=t[i], width=width, height=height) for i in range(n)]


# -- glTF / Blender -------------------------------------------------------------------------------
@dataclass
class GltfCamera:
    """A glTF perspective camera and its node's camera-to-world transform."""

    yfov: float
    aspect_ratio: float
    znear: float
    zfar: float | None
    rotation: np.ndarray  # (4,) quaternion x, y, z, w
    translation: np.ndarray  # (3,)

    def matrix(self) -> np.ndarray:
        """The node's 4x4 camera-to-world matrix."""
        from scipy.spatial.transform import Rotation

        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(self.rotation).as_matrix()
        m[:3, 3] = self.translation
        return m


def to_gltf(camera: Camera, znear: float = 0.01, zfar: float | None = 100.0) -> GltfCamera:
    """glTF camera for ``camera``; glTF cannot store an off-centre principal point or fx != fy,
    so those are approximated (fy and a centred principal point are kept)."""
    from scipy.spatial.transform import Rotation

    fy = camera.K[1, 1]
    yfov = 2.0 * math.atan(camera.height / (2.0 * fy))
    cam_to_world = camera.R.T @ _CV_TO_GL
    quat = Rotation.from_matrix(cam_to_world).as_quat()
    return GltfCamera(yfov, camera.width / camera.height, znear, zfar, quat, camera.center)


def from_gltf(gltf: GltfCamera, width: int, height: int, name: str = "") -> Camera:
    """Camera from a glTF camera and node for an image of ``width`` x ``height`` pixels."""
    fy = height / (2.0 * math.tan(gltf.yfov / 2.0))
    fx = fy * (width / height) / gltf.aspect_ratio
    K = np.array([[fx, 0, (width - 1) / 2.0], [0, fy, (height - 1) / 2.0], [0, 0, 1]])
    cam_to_world = gltf.matrix()
    R = (cam_to_world[:3, :3] @ _CV_TO_GL).T
    t = -R @ cam_to_world[:3, 3]
    return Camera(K=K, R=R, t=t, width=width, height=height, name=name)


def is_gltf_representable(camera: Camera, tol_px: float = 1e-3) -> bool:
    """True when glTF can store ``camera`` exactly (square pixels, centred principal point)."""
    K = camera.K
    return (
        abs(K[0, 0] - K[1, 1]) < tol_px
        and abs(K[0, 2] - (camera.width - 1) / 2.0) < tol_px
        and abs(K[1, 2] - (camera.height - 1) / 2.0) < tol_px
    )


# -- MVSNet cam.txt -------------------------------------------------------------------------------
@dataclass
class DepthRange:
    """MVSNet's depth sampling line: ``depth_min depth_interval [depth_num depth_max]``."""

    depth_min: float
    depth_interval: float
    depth_num: int | None = None
    depth_max: float | None = None


def to_mvsnet(camera: Camera, depth: DepthRange) -> str:
    """The text of an MVSNet ``cam.txt``."""
    E = np.eye(4)
    E[:3, :3], E[:3, 3] = camera.R, camera.t
    rows = ["extrinsic", *(" ".join(f"{v:.10g}" for v in r) for r in E), "", "intrinsic"]
    rows += [" ".join(f"{v:.10g}" for v in r) for r in camera.K]
    extra = [depth.depth_min, depth.depth_interval]
    if depth.depth_num is not None:
        extra += [depth.depth_num, depth.depth_max if depth.depth_max is not None else depth.depth_min + depth.depth_interval * (depth.depth_num - 1)]
    rows += ["", " ".join(f"{v:.10g}" for v in extra), ""]
    return "\n".join(rows)


def from_mvsnet(text: str, width: int, height: int, name: str = "") -> tuple[Camera, DepthRange]:
    """Parse an MVSNet ``cam.txt``; raises ``ValueError`` naming what is missing."""
    words = text.split()
    try:
        e = words.index("extrinsic")
        i = words.index("intrinsic")
        E = np.array(words[e + 1 : e + 17], dtype=np.float64).reshape(4, 4)
        K = np.array(words[i + 1 : i + 10], dtype=np.float64).reshape(3, 3)
        rest = [float(w) for w in words[i + 10 :]]
    except (ValueError, IndexError) as exc:
        raise ValueError(f"not an MVSNet cam.txt (need 'extrinsic' 4x4 and 'intrinsic' 3x3): {exc}") from None
    if len(rest) < 2:
        raise ValueError("MVSNet cam.txt lacks the 'depth_min depth_interval' line")
    depth = DepthRange(rest[0], rest[1], int(rest[2]) if len(rest) > 2 else None, rest[3] if len(rest) > 3 else None)
    return Camera(K=K, R=E[:3, :3], t=E[:3, 3], width=width, height=height, name=name), depth


def _axis_projectors(cameras: list[Camera]) -> np.ndarray:
    """(N, 3, 3) per camera, the projector that removes the component along its optical axis."""
    axes = np.array([cam.R[2] for cam in cameras])  # optical axes in world coordinates
    return np.eye(3) - axes[:, :, None] * axes[:, None, :]


def focus_point(cameras: list[Camera]) -> np.ndarray:
    """The point closest (least squares) to every camera's optical axis: where a ring of cameras
    around an object looks."""
    projectors = _axis_projectors(cameras)
    centres = np.array([cam.center for cam in cameras])
    return np.linalg.lstsq(projectors.sum(axis=0), np.einsum("nij,nj->i", projectors, centres), rcond=None)[0]


def axes_spread(cameras: list[Camera]) -> float:
    """How far the cameras' optical axes are from parallel: the smallest eigenvalue of their
    summed axis projectors, per camera (0 for parallel axes, such as a stereo pair or a walk
    forward, where :func:`focus_point` is not determined; 2/3 at most)."""
    return float(np.linalg.eigvalsh(_axis_projectors(cameras).sum(axis=0))[0] / len(cameras))


# -- construction ---------------------------------------------------------------------------------
def scale_camera(camera: Camera, scale: float) -> Camera:
    """The same camera for its image resized by ``scale`` (pixel centres stay pixel centres:
    ``u' = (u + 0.5) * scale - 0.5``); the size is rounded up."""
    if scale == 1.0:
        return camera
    K = camera.K.copy()
    K[0, 0] *= scale
    K[0, 1] *= scale
    K[1, 1] *= scale
    K[0, 2] = (K[0, 2] + 0.5) * scale - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * scale - 0.5
    width, height = max(1, math.ceil(camera.width * scale)), max(1, math.ceil(camera.height * scale))
    return Camera(K=K, R=camera.R, t=camera.t, width=width, height=height, name=camera.name)



def look_at(
    eye: np.ndarray,
    target: np.ndarray,
    focal_px: float,
    width: int,
    height: int,
    up: np.ndarray = np.array([0.0, 1.0, 0.0]),
    name: str = "",
) -> Camera:
    """A camera at ``eye`` looking at ``target`` with ``up`` pointing up in the image, square
    pixels and a centred principal point (so glTF stores it exactly)."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: the view direction is parallel to 'up'")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    K = np.array([[focal_px, 0, (width - 1) / 2.0], [0, focal_px, (height - 1) / 2.0], [0, 0, 1]])
    return Camera(K=K, R=R, t=-R @ eye, width=width, height=height, name=name)
