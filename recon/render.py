"""Render a mesh through a camera with PyTorch3D: RGB, depth and mask, for previews and tests.

Rasterization runs PyTorch3D's CUDA kernels on a GPU and recon's vectorised CPU rasterizer
(:mod:`recon.raster`, same pixels, hundreds of times faster than PyTorch3D's CPU kernel) otherwise;
``rasterizer="pytorch3d"`` forces PyTorch3D's kernel on any device. Texture sampling and shading
are PyTorch3D's in both cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    rasterizer: str = "auto",
) -> RenderResult:
    """Render ``mesh`` as seen by ``camera``.

    :param shading: ``"unlit"`` (texture or vertex colour as is; what a calibrated photo of an
        evenly lit object looks like) or ``"phong"`` (a head light, for previews).
    :param rasterizer: ``"auto"`` (PyTorch3D on CUDA, :mod:`recon.raster` on the CPU),
        ``"pytorch3d"`` or ``"recon"``.
    """
    import torch

    from recon.device import pick_device

    device = torch.device(device) if device is not None else pick_device()
    meshes = mesh.to_pytorch3d(device)
    use_p3d = rasterizer == "pytorch3d" or (rasterizer == "auto" and device.type == "cuda")
    with torch.no_grad():
        fragments = _fragments_pytorch3d(meshes, camera, device) if use_p3d else _fragments_cpu(mesh, camera, device)
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


def render_meshes(meshes: list[Mesh], camera: Camera, **kwargs: Any) -> RenderResult:
    """Render several meshes (a head's parts) through one camera: each with :func:`render`, the
    nearest surface kept per pixel; ``face_index`` is -1 where nothing is, else the face in the
    mesh that won the pixel."""
    out: RenderResult | None = None
    for mesh in meshes:
        part = render(mesh, camera, **kwargs)
        if out is None:
            out = part
            continue
        nearer = part.mask & (~out.mask | (part.depth < out.depth))
        out.rgb[nearer] = part.rgb[nearer]
        out.depth[nearer] = part.depth[nearer]
        out.face_index[nearer] = part.face_index[nearer]
        out.mask |= part.mask
    if out is None:
        raise ValueError("render_meshes needs at least one mesh")
    return out


def _fragments_pytorch3d(meshes: Any, camera: Camera, device: torch.device) -> Any:
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings

    from recon.cameras import to_pytorch3d

    settings = RasterizationSettings(
        image_size=(camera.height, camera.width), blur_radius=0.0, faces_per_pixel=1, bin_size=0 if device.type == "cpu" else None
    )
    return MeshRasterizer(cameras=to_pytorch3d(camera, device), raster_settings=settings)(meshes)


def _fragments_cpu(mesh: Mesh, camera: Camera, device: torch.device) -> Any:
    """PyTorch3D ``Fragments`` computed by :func:`recon.raster.rasterize_view`."""
    import torch
    from pytorch3d.renderer.mesh.rasterizer import Fragments

    from recon.raster import rasterize_view

    r = rasterize_view(mesh.vertices, mesh.faces, camera)
    as_t = lambda a, dt: torch.as_tensor(a, dtype=dt, device=device)[None, :, :, None]  # noqa: E731
    return Fragments(
        pix_to_face=as_t(r.face_index, torch.int64),
        zbuf=torch.where(as_t(r.face_index, torch.int64) >= 0, as_t(r.depth, torch.float32), torch.full((), -1.0, device=device)),
        bary_coords=torch.as_tensor(r.bary, dtype=torch.float32, device=device)[None, :, :, None, :],
        dists=torch.zeros((1, camera.height, camera.width, 1), device=device),
    )
