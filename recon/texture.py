"""UV atlases and texture baking from calibrated photos.

``unwrap`` computes a UV atlas with xatlas (through trimesh). ``bake`` rasterizes the atlas in UV
space with PyTorch3D to find, for every texel, its surface point; projects those points into each
photo; keeps the ones the photo sees (a z-buffer test against PyTorch3D's rasterization of the
mesh from that camera); blends the photos weighted by how squarely they see the surface; and
fills texels no photo saw from their nearest baked neighbour, so there are no black seams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon.structures import Camera, Mesh


def unwrap(mesh: Mesh) -> Mesh:
    """A copy of ``mesh`` with a UV atlas (vertices split along seams, geometry unchanged)."""
    unwrapped = Mesh(mesh.vertices, mesh.faces).to_trimesh().unwrap()
    uvs = np.asarray(unwrapped.visual.uv, dtype=np.float32)
    return Mesh(np.asarray(unwrapped.vertices), np.asarray(unwrapped.faces), uvs=uvs, name=mesh.name)


@dataclass
class TexelSurface:
    """Texels covered by the atlas: their (row, col), surface point and normal."""

    rows: np.ndarray
    cols: np.ndarray
    points: np.ndarray
    normals: np.ndarray


def texel_surface(mesh: Mesh, size: int) -> TexelSurface:
    """Rasterize ``mesh.uvs`` into a ``size`` x ``size`` atlas and lift each covered texel to 3D.

    Row 0 of the texture is the top (v = 1), as images are stored.
    """
    from recon.raster import rasterize

    if mesh.uvs is None:
        raise ValueError("texel_surface needs a mesh with uvs; call unwrap() first")
    # Texel (row r, col c) has its centre at u = (c + 0.5) / size, v = 1 - (r + 0.5) / size.
    xy = np.stack([mesh.uvs[:, 0] * size - 0.5, (1.0 - mesh.uvs[:, 1]) * size - 0.5], axis=1)
    raster = rasterize(xy, mesh.faces, size, size)
    face = raster.face_index
    rows, cols = np.nonzero(face >= 0)
    f = face[rows, cols]
    w = raster.bary[rows, cols]
    corners = mesh.vertices[mesh.faces[f]].astype(np.float64)  # (N, 3, 3)
    points = np.einsum("nk,nkd->nd", w, corners)
    import trimesh

    normals = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).face_normals[f]
    return TexelSurface(rows, cols, points, normals)


def bake(
    mesh: Mesh,
    images: list[np.ndarray],
    cameras: list[Camera],
    size: int = 1024,
    depth_tolerance: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """Bake ``images`` seen by ``cameras`` into ``mesh``'s UV atlas.

    :param depth_tolerance: a texel is visible when its depth is within this fraction of the
        z-buffer depth at its pixel.
    :returns: (texture (size, size, 3) uint8, coverage (size, size) float32 = summed blend weight).
    """
    from scipy import ndimage

    from recon.raster import rasterize_view

    surface = texel_surface(mesh, size)
    acc = np.zeros((len(surface.points), 3))
    weight = np.zeros(len(surface.points))
    for image, camera in zip(images, cameras):
        zbuf = rasterize_view(mesh.vertices, mesh.faces, camera).depth
        pix = camera.project(surface.points)
        depth = camera.world_to_camera(surface.points)[:, 2]
        u = np.round(pix[:, 0]).astype(int)
        v = np.round(pix[:, 1]).astype(int)
        inside = (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height) & (depth > 0)
        idx = np.nonzero(inside)[0]
        z = zbuf[v[idx], u[idx]]
        visible = idx[(z > 0) & (np.abs(depth[idx] - z) <= depth_tolerance * z)]
        to_camera = camera.center - surface.points[visible]
        to_camera /= np.linalg.norm(to_camera, axis=1, keepdims=True)
        cos = np.einsum("nd,nd->n", surface.normals[visible], to_camera).clip(0, 1)
        w = cos**2
        acc[visible] += w[:, None] * _bilinear(image, pix[visible])
        weight[visible] += w
    texture = np.zeros((size, size, 3), dtype=np.float64)
    coverage = np.zeros((size, size), dtype=np.float32)
    seen = weight > 1e-6
    texture[surface.rows[seen], surface.cols[seen]] = acc[seen] / weight[seen, None]
    coverage[surface.rows, surface.cols] = weight
    # Fill every unseen texel (and the gutter between charts) from its nearest baked texel.
    filled = coverage > 1e-6
    if filled.any():
        _, (ri, ci) = ndimage.distance_transform_edt(~filled, return_indices=True)
        texture = texture[ri, ci]
    return np.clip(texture + 0.5, 0, 255).astype(np.uint8), coverage


def _bilinear(image: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Sample (H, W, 3) ``image`` at (N, 2) sub-pixel positions (pixel centres on integers)."""
    h, w = image.shape[:2]
    x = np.clip(pix[:, 0], 0, w - 1)
    y = np.clip(pix[:, 1], 0, h - 1)
    x0 = np.floor(x).astype(int).clip(0, w - 2) if w > 1 else np.zeros(len(x), int)
    y0 = np.floor(y).astype(int).clip(0, h - 2) if h > 1 else np.zeros(len(y), int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    img = image.astype(np.float64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
