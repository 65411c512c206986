"""UV atlases and texture baking from calibrated photos.

``unwrap`` computes a UV atlas with xatlas (through trimesh). ``bake`` rasterizes the atlas in UV
space (:func:`atlas`, cached) to find, for every texel, its surface point; projects those points
into each photo; keeps the ones the photo sees (a z-buffer test against :mod:`recon.raster`'s
rasterization of the mesh from that camera); blends the photos weighted by how squarely they see
the surface; and fills texels no photo saw from their nearest baked neighbour, so there are no
black seams.

``bake_views`` is the fuller blend for photos of a deforming subject (a face with a different
expression in each photo): per-photo vertex positions, weights that also fall off towards the
silhouette and depth edges of each view (:func:`edge_distance`), per-photo colour gains that
equalise brightness and white balance where photos overlap (:func:`colour_gains`), and a
push-pull fill (:func:`fill_push_pull`) that inpaints unseen texels and the gutter smoothly.
"""

from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera, Mesh

if TYPE_CHECKING:
    from recon.raster import Raster


def unwrap(mesh: Mesh) -> Mesh:
    """A copy of ``mesh`` with a UV atlas (vertices split along seams, geometry unchanged). The mesh
    is put in :func:`recon.isosurface.canonical_order` first: the atlas depends on the order of the
    faces, which would otherwise depend on how a library's extraction or clean-up numbered them."""
    from recon.isosurface import canonical_order

    unwrapped = Mesh(*canonical_order(mesh.vertices, mesh.faces)).to_trimesh().unwrap()
    uvs = np.asarray(unwrapped.visual.uv, dtype=np.float32)
    return Mesh(np.asarray(unwrapped.vertices), np.asarray(unwrapped.faces), uvs=uvs, name=mesh.name)


@dataclass
class TexelSurface:
    """Texels covered by the atlas: their (row, col), surface point and normal."""

    rows: np.ndarray
    cols: np.ndarray
    points: np.ndarray
    normals: np.ndarray


@dataclass(frozen=True)
class Atlas:
    """The texels a UV layout covers at one texture size: their (row, col), the face under each
    and its barycentric coordinates (float32), and the face's vertex indices (``corners``)."""

    size: int
    rows: np.ndarray
    cols: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    corners: np.ndarray

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex ``values`` (V, C) at every texel (N, C), float32."""
        v = np.asarray(values, dtype=np.float32)
        c, b = self.corners, self.bary
        return v[c[:, 0]] * b[:, 0:1] + v[c[:, 1]] * b[:, 1:2] + v[c[:, 2]] * b[:, 2:3]


def atlas(uvs: np.ndarray, faces: np.ndarray, size: int) -> Atlas:
    """Rasterize the layout ``uvs`` (V, 2, origin bottom-left) of ``faces`` into a ``size`` x
    ``size`` texture (row 0 on top, v = 1). Cached on the layout's bytes: a fixed layout (a
    template's) is rasterized once per process."""
    uvs = np.ascontiguousarray(uvs, dtype=np.float32)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    key = hashlib.sha1(uvs.tobytes() + faces.tobytes()).hexdigest()
    return _atlas(key, int(size), uvs.tobytes(), faces.tobytes(), len(uvs))


@functools.lru_cache(maxsize=8)
def _atlas(key: str, size: int, uv_bytes: bytes, face_bytes: bytes, n: int) -> Atlas:
    from recon.raster import rasterize

    uvs = np.frombuffer(uv_bytes, dtype=np.float32).reshape(n, 2).astype(np.float64)
    faces = np.frombuffer(face_bytes, dtype=np.int64).reshape(-1, 3)
    # Texel (row r, col c) has its centre at u = (c + 0.5) / size, v = 1 - (r + 0.5) / size.
    xy = np.stack([uvs[:, 0] * size - 0.5, (1.0 - uvs[:, 1]) * size - 0.5], axis=1)
    raster = rasterize(xy, faces, size, size)
    rows, cols = np.nonzero(raster.face_index >= 0)
    f = raster.face_index[rows, cols]
    return Atlas(size, rows.astype(np.int32), cols.astype(np.int32), f, raster.bary[rows, cols].astype(np.float32), faces[f])


def texel_surface(mesh: Mesh, size: int) -> TexelSurface:
    """Rasterize ``mesh.uvs`` into a ``size`` x ``size`` atlas and lift each covered texel to 3D.

    Row 0 of the texture is the top (v = 1), as images are stored.
    """
    if mesh.uvs is None:
        raise ValueError("texel_surface needs a mesh with uvs; call unwrap() first")
    at = atlas(mesh.uvs, mesh.faces, size)
    corners = mesh.vertices[at.corners].astype(np.float64)  # (N, 3, 3)
    points = np.einsum("nk,nkd->nd", at.bary.astype(np.float64), corners)
    import trimesh

    normals = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).face_normals[at.face]
    return TexelSurface(at.rows.astype(np.int64), at.cols.astype(np.int64), points, normals)


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


# -- blending photos of a deforming subject ------------------------------------------------------
def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals (zero for vertices on no face)."""
    v = np.asarray(vertices, dtype=np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-30), 0.0)


def edge_distance(raster: Raster, depth_jump: float = 0.03) -> np.ndarray:
    """(H, W) distance in pixels from each covered pixel to the nearest edge of what the camera
    sees: the silhouette (an uncovered pixel) or a depth discontinuity (neighbours whose depths
    differ by more than ``depth_jump`` of the depth: one surface in front of another). Zero on
    uncovered pixels. Texels near such edges are where a small misregistration takes colour from
    the wrong surface, so blending weights fall off there."""
    from scipy import ndimage

    covered = raster.face_index >= 0
    z = np.where(covered, raster.depth, 0.0).astype(np.float32)
    edges = ~covered
    for axis in (0, 1):
        a = np.take(z, np.arange(z.shape[axis] - 1), axis=axis)
        b = np.take(z, np.arange(1, z.shape[axis]), axis=axis)
        jump = (a > 0) & (b > 0) & (np.abs(a - b) > depth_jump * np.minimum(a, b))
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        first = np.pad(jump, pad)
        pad[axis] = (1, 0)
        second = np.pad(jump, pad)
        edges |= first | second
    if not edges.any():
        return np.full(z.shape, np.inf, dtype=np.float32)
    return np.where(covered, ndimage.distance_transform_edt(~edges), 0.0).astype(np.float32)


def colour_gains(
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_texels: int, limits: tuple[float, float] = (0.5, 2.0)
) -> np.ndarray:
    """Per-photo, per-channel gains that make overlapping photos agree in brightness and colour.

    :param samples: one ``(texel index (M,), colour (M, 3) float, weight (M,))`` per photo, from a
        (low-resolution) bake.
    :returns: (K, 3) gains; their weighted geometric mean is 1, so the overall colour is the
        photos' weighted average. For each pair of photos that share texels, the weighted mean
        colours over the shared texels should match after the gains: a least-squares problem in
        log space, solved per channel.
    """
    K = len(samples)
    if K < 2:
        return np.ones((K, 3))
    dense_w = np.zeros((K, n_texels), dtype=np.float32)
    dense_c = np.zeros((K, n_texels, 3), dtype=np.float32)
    for k, (idx, col, w) in enumerate(samples):
        dense_w[k, idx] = w
        dense_c[k, idx] = col
    rows, rhs, weights = [], [], []
    for i in range(K):
        for j in range(i + 1, K):
            w = dense_w[i] * dense_w[j]
            mass = float(w.sum())
            if mass <= 1e-9 or (w > 0).sum() < 20:
                continue
            mi = (w[:, None] * dense_c[i]).sum(0) / mass
            mj = (w[:, None] * dense_c[j]).sum(0) / mass
            row = np.zeros(K)
            row[i], row[j] = 1.0, -1.0
            rows.append(row)
            rhs.append(np.log(np.maximum(mj, 1.0)) - np.log(np.maximum(mi, 1.0)))  # log g_i - log g_j
            weights.append(np.sqrt(mass))
    if not rows:
        return np.ones((K, 3))
    total = dense_w.sum(1)
    anchor = total / max(total.sum(), 1e-9)
    A = np.vstack([np.array(rows) * np.array(weights)[:, None], anchor[None] * 10 * max(weights)])
    b = np.vstack([np.array(rhs) * np.array(weights)[:, None], np.zeros((1, 3))])
    log_g = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.clip(np.exp(log_g), *limits)


def fill_push_pull(texture: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill texels of weight 0 smoothly from their neighbours (push-pull: average down a pyramid
    of weighted means, then blend the coarser levels back up where fine weights are missing).
    Known texels keep their colour. ``texture`` (H, W, C) float, ``weight`` (H, W) >= 0."""
    tex = np.asarray(texture, dtype=np.float32)
    w = np.clip(np.asarray(weight, dtype=np.float32), 0, 1)
    if not (w > 0).any():
        return tex.copy()
    levels = []
    c, a = tex * w[..., None], w
    while True:
        levels.append((c, a))
        h, wd = a.shape
        if h <= 1 and wd <= 1:
            break
        ph, pw = h % 2, wd % 2
        c2 = np.pad(c, ((0, ph), (0, pw), (0, 0)))
        a2 = np.pad(a, ((0, ph), (0, pw)))
        c = c2.reshape(c2.shape[0] // 2, 2, c2.shape[1] // 2, 2, -1).sum((1, 3))
        a = a2.reshape(a2.shape[0] // 2, 2, a2.shape[1] // 2, 2).sum((1, 3))
    # pull: from the coarsest level up, fill where the finer level lacks weight
    c, a = levels[-1]
    colour = c / np.maximum(a, 1e-12)[..., None]
    for level, (c, a) in reversed(list(enumerate(levels[:-1]))):
        if level == 0:  # the finest level: only unknown texels need the coarser colour
            up = np.repeat(np.repeat(colour, 2, axis=0), 2, axis=1)[: a.shape[0], : a.shape[1]]
            known = a > 0
            out = up.copy()
            out[known] = c[known] / a[known][:, None]
            partial = known & (a < 1)
            out[partial] = out[partial] * a[partial][:, None] + up[partial] * (1 - a[partial][:, None])
            return out
        up = _upsample2(colour)[: a.shape[0], : a.shape[1]]
        alpha = np.clip(a, 0, 1)[..., None]
        colour = c / np.maximum(a, 1e-12)[..., None] * alpha + up * (1 - alpha)
    return colour


def _upsample2(x: np.ndarray) -> np.ndarray:
    """Bilinear upsampling by two along the first two axes (edge-clamped): each output texel
    takes 3/4 of its parent and 1/4 of the parent's neighbour on its side."""
    for axis in (0, 1):
        n = x.shape[axis]
        prev = np.take(x, np.maximum(np.arange(n) - 1, 0), axis=axis)
        nxt = np.take(x, np.minimum(np.arange(n) + 1, n - 1), axis=axis)
        even = 0.75 * x + 0.25 * prev
        odd = 0.75 * x + 0.25 * nxt
        x = np.stack([even, odd], axis=axis + 1).reshape(*x.shape[:axis], 2 * n, *x.shape[axis + 1 :])
    return x


GRAZING_COS = 0.2  # bake_views ignores views that see a texel at more than ~78 degrees


@dataclass
class BakeResult:
    """A baked texture and what went into it.

    :param texture: (size, size, 3) uint8.
    :param coverage: (size, size) float32 summed blend weight (0 where no photo saw the texel).
    :param gains: (K, 3) colour gains applied to each photo.
    :param view_coverage: per photo, the fraction of the atlas's texels it contributed to.
    :param resolution: the size the photos were baked at before resizing to the texture's.
    """

    texture: np.ndarray
    coverage: np.ndarray
    gains: np.ndarray
    view_coverage: list[float] = field(default_factory=list)
    resolution: int = 0


def bake_views(
    uvs: np.ndarray,
    faces: np.ndarray,
    vertices: list[np.ndarray],
    images: list[np.ndarray],
    cameras: list[Camera],
    size: int = 2048,
    view_weights: list[float] | None = None,
    angle_power: float = 2.0,
    edge_ramp: float = 0.08,
    equalise: bool = True,
    depth_tolerance: float = 0.01,
    zbuffer_size: int = 512,
    oversample: float = 1.0,
) -> BakeResult:
    """Bake photos of a possibly deforming mesh into one UV layout.

    :param vertices: per photo, the (V, 3) mesh as that photo shows it (same faces and UVs).
    :param view_weights: per photo, a weight (lower for a photo trusted less).
    :param angle_power: weight ``cos(angle)^p`` between the surface normal and the view ray.
    :param edge_ramp: the weight rises from 0 at a silhouette or depth edge of the view to 1 at
        this fraction of the mesh's projected size (:func:`edge_distance`).
    :param equalise: apply :func:`colour_gains` (from a 256-texel pre-bake).
    :param zbuffer_size: visibility and edge distances are computed on a z-buffer in which the
        mesh's projection is at most this many pixels across (colours are sampled at full
        resolution).
    :param oversample: texels per photo pixel worth baking: the bake runs at the smallest power
        of two (at least 256, at most ``size``) giving the largest view of the mesh this many
        texels per pixel across the layout, and is resized (bilinear) to ``size``; finer
        sampling would only interpolate the photos.
    """
    from PIL import Image

    K = len(images)
    view_weights = [1.0] * K if view_weights is None else list(view_weights)
    internal = bake_resolution(uvs, vertices, cameras, size, oversample)
    full = atlas(uvs, faces, internal)
    with ThreadPoolExecutor(max(1, min(K, os.cpu_count() or 1))) as pool:  # NumPy lets go of the GIL in the rasterizer and the EDT
        views = list(pool.map(lambda k: _view_geometry(faces, vertices[k], cameras[k], zbuffer_size, edge_ramp > 0), range(K)))
    gains = np.ones((K, 3))
    if equalise and K > 1:
        low = atlas(uvs, faces, min(256, internal))
        samples = [_view_samples(low, views[k], images[k], view_weights[k], angle_power, edge_ramp, depth_tolerance) for k in range(K)]
        gains = colour_gains(samples, len(low.rows))
    acc = np.zeros((len(full.rows), 3), dtype=np.float32)
    wsum = np.zeros(len(full.rows), dtype=np.float32)
    view_coverage = []
    for k in range(K):
        idx, col, w = _view_samples(full, views[k], images[k], view_weights[k], angle_power, edge_ramp, depth_tolerance)
        if not np.allclose(gains[k], 1.0):
            col = np.clip(col * gains[k].astype(np.float32), 0, 255)
        acc[idx] += w[:, None] * col  # indices are unique within a view
        wsum[idx] += w
        view_coverage.append(round(float(len(idx) / max(len(full.rows), 1)), 4))
    texture = np.zeros((internal, internal, 3), dtype=np.float32)
    coverage = np.zeros((internal, internal), dtype=np.float32)
    seen = wsum > 1e-6
    texture[full.rows[seen], full.cols[seen]] = acc[seen] / wsum[seen, None]
    coverage[full.rows, full.cols] = wsum
    filled = np.clip(fill_push_pull(texture, (coverage > 1e-6).astype(np.float32)) + 0.5, 0, 255).astype(np.uint8)
    if internal != size:
        filled = np.asarray(Image.fromarray(filled).resize((size, size), Image.Resampling.BILINEAR))
        coverage = np.asarray(Image.fromarray(coverage, mode="F").resize((size, size), Image.Resampling.NEAREST))
    return BakeResult(filled, coverage, gains, view_coverage, internal)


def bake_resolution(uvs: np.ndarray, vertices: list[np.ndarray], cameras: list[Camera], size: int, oversample: float = 1.0) -> int:
    """The power of two (256 to ``size``) at which baking these views loses no photo detail:
    ``oversample`` texels per photo pixel where the photos see the mesh largest."""
    uvs = np.asarray(uvs, dtype=np.float64)
    uv_extent = float(np.max(np.ptp(uvs, axis=0))) or 1.0
    need = 256.0
    for verts, cam in zip(vertices, cameras):
        with np.errstate(divide="ignore", invalid="ignore"):
            proj = cam.project(np.asarray(verts, dtype=np.float64))
        proj = proj[np.isfinite(proj).all(1)]
        if len(proj):
            px = float(np.max(np.ptp(proj, axis=0)))
            need = max(need, oversample * px / uv_extent)
    internal = 256
    while internal < need and internal < size:
        internal *= 2
    return min(internal, size)


@dataclass
class _ViewGeometry:
    """What one photo's view of the mesh is, whatever the atlas: per vertex its pixel position,
    depth and viewing cosine, the faces turned to the camera, and the reduced z-buffer with its
    edge distances (see :func:`_view_geometry`)."""

    per_vertex: np.ndarray  # (V, 4) float32: u, v, z, cos
    front_face: np.ndarray  # (F,) bool
    scale: float  # the z-buffer's size relative to the photo's
    extent: float  # the front faces' projected size, photo pixels
    depth: np.ndarray  # (h, w) the reduced z-buffer's depth (0 where nothing is)
    edges: np.ndarray | None  # (h, w) distance to a silhouette or depth edge, z-buffer pixels


def _view_geometry(faces: np.ndarray, vertices: np.ndarray, camera: Camera, zbuffer_size: int, edges: bool) -> _ViewGeometry:
    """The per-view work of :func:`_view_samples` that does not depend on the atlas (the bake's
    pre-pass and its full pass share it)."""
    from recon.cameras import scale_camera
    from recon.raster import rasterize_view

    verts = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    normals = vertex_normals(verts, faces)
    cam_v = camera.world_to_camera(verts)
    z_v = cam_v[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv_v = cam_v[:, :2] / z_v[:, None] * [camera.K[0, 0], camera.K[1, 1]] + camera.K[:2, 2]
    to_cam = camera.center - verts
    cos_v = (normals * to_cam).sum(1) / np.maximum(np.linalg.norm(to_cam, axis=1), 1e-12)
    front_face = (cos_v[faces] > 0).any(1) & (z_v[faces] > 1e-9).all(1)
    per_vertex = np.column_stack([np.nan_to_num(uv_v), z_v, cos_v]).astype(np.float32)
    # visibility and edge distance on a reduced z-buffer
    visible_v = front_face.any() and np.isfinite(uv_v).all()
    extent = float(np.max(np.ptp(uv_v[np.unique(faces[front_face])], axis=0))) if visible_v else 1.0
    scale = min(1.0, zbuffer_size / max(extent, 1.0))
    raster = rasterize_view(verts, faces, scale_camera(camera, scale))
    return _ViewGeometry(per_vertex, front_face, scale, extent, raster.depth, edge_distance(raster) if edges else None)


def _view_samples(
    at: Atlas,
    view: _ViewGeometry,
    image: np.ndarray,
    view_weight: float,
    angle_power: float,
    edge_ramp: float,
    depth_tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The texels of ``at`` one photo sees: (texel indices, colours (M, 3) float32, weights).

    Pixel position, depth and viewing angle are computed per vertex and interpolated to the
    texels (within a triangle a few millimetres across the difference from projecting each texel's
    3-D point is far below a pixel); only texels of triangles facing the camera are visited.
    """
    sel = np.nonzero(view.front_face[at.face])[0]
    c, b = at.corners[sel], at.bary[sel]
    per_vertex = view.per_vertex
    vals = per_vertex[c[:, 0]] * b[:, 0:1] + per_vertex[c[:, 1]] * b[:, 1:2] + per_vertex[c[:, 2]] * b[:, 2:3]
    u, v, z, cos = vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3]
    h, w = image.shape[:2]
    keep = (cos > GRAZING_COS) & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    sel, u, v, z, cos = sel[keep], u[keep], v[keep], z[keep], cos[keep]
    scale = view.scale
    zh, zw = view.depth.shape
    su = np.clip(np.rint((u + 0.5) * scale - 0.5).astype(np.int64), 0, zw - 1)
    sv = np.clip(np.rint((v + 0.5) * scale - 0.5).astype(np.int64), 0, zh - 1)
    zb = view.depth[sv, su]
    visible = (zb > 0) & (np.abs(z - zb) <= depth_tolerance * zb)
    sel, u, v, cos, su, sv = sel[visible], u[visible], v[visible], cos[visible], su[visible], sv[visible]
    # cos^p, and a ramp from 0 at GRAZING_COS (a photo that sees the surface edge-on smears one
    # pixel over many texels; unseen texels are filled from their neighbours instead)
    graze = np.clip((cos - GRAZING_COS) / GRAZING_COS, 0, 1)
    weight = view_weight * np.clip(cos, 0, 1) ** angle_power * graze * graze * (3 - 2 * graze)
    if edge_ramp > 0:
        dist = view.edges[sv, su]
        ramp = max(edge_ramp * view.extent * scale, 1.0)
        t = np.clip(dist / ramp, 0, 1)
        weight = weight * np.maximum(t * t * (3 - 2 * t), 0.02)
    colours = _bilinear32(image, u, v)
    return sel, colours, weight.astype(np.float32)


def _bilinear32(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of (H, W, 3) ``image`` at pixel positions, float32 (M, 3)."""
    h, w = image.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(x.astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(y.astype(np.int64), max(h - 2, 0))
    fx = (x - x0).astype(np.float32)[:, None]
    fy = (y - y0).astype(np.float32)[:, None]
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    flat = image.reshape(-1, image.shape[2])
    i00, i01 = y0 * w + x0, y0 * w + x1
    i10, i11 = y1 * w + x0, y1 * w + x1
    top = flat[i00].astype(np.float32) * (1 - fx) + flat[i01].astype(np.float32) * fx
    bottom = flat[i10].astype(np.float32) * (1 - fx) + flat[i11].astype(np.float32) * fx
    return top * (1 - fy) + bottom * fy
