"""Render a mesh through a camera with PyTorch3D: RGB, depth and mask, for previews and tests.

Rasterization runs PyTorch3D's CUDA kernels on a GPU and its C++ CPU kernels otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera, Mesh

if TYPE_CHECKING:
    import torch


@dataclass
class RenderResult:
    """(H, W, 3) uint8 colour, (H, W) float32 depth (camera z, 0 = background), (H, W) bool mask,
    and (H, W) int64 face index (-1 = background)."""

    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    face_index: np.ndarray


def render(
    mesh: Mesh,
    camera: Camera,
    device: torch.device | str | None = None,
    background: tuple[int, int, int] = (0, 0, 0),
    shading: str = "unlit",
) -> RenderResult:
    """Render ``mesh`` as seen by ``camera``.

    :param shading: ``"unlit"`` (texture or vertex colour as is; what a calibrated photo of an
        evenly lit object looks like) or ``"phong"`` (a head light, for previews).
    """
    import torch
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings

    from recon.cameras import to_pytorch3d
    from recon.device import pick_device

    device = torch.device(device) if device is not None else pick_device()
    meshes = mesh.to_pytorch3d(device)
    cams = to_pytorch3d(camera, device)
    settings = RasterizationSettings(
        image_size=(camera.height, camera.width), blur_radius=0.0, faces_per_pixel=1, bin_size=0 if device.type == "cpu" else None
    )
    with torch.no_grad():
        fragments = MeshRasterizer(cameras=cams, raster_settings=settings)(meshes)
        colors = meshes.sample_textures(fragments)[0, :, :, 0, :3]
        face = fragments.pix_to_face[0, :, :, 0]
        mask = face >= 0
        if shading == "phong":
            normals = meshes.faces_normals_packed()[face.clamp(min=0)]
            view = torch.as_tensor(camera.R[2], dtype=torch.float32, device=device)
            lambert = (normals @ -view).abs().clamp(0, 1)[..., None]
            colors = colors * (0.35 + 0.65 * lambert)
        bg = torch.tensor(background, dtype=torch.float32, device=device) / 255.0
        rgb = torch.where(mask[..., None], colors, bg)
        depth = torch.where(mask, fragments.zbuf[0, :, :, 0], torch.zeros((), device=device))
    to_np = lambda t: t.detach().cpu().numpy()  # noqa: E731
    return RenderResult(
        rgb=(to_np(rgb.clamp(0, 1)) * 255 + 0.5).astype(np.uint8),
        depth=to_np(depth).astype(np.float32),
        mask=to_np(mask),
        face_index=to_np(face).astype(np.int64),
    )
