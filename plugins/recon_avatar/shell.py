"""The thin shell around the posed head where the radiance field lives, and the mesh-anchored map
from a ray's samples to the canonical (neutral, unposed) head.

For one frame the head is posed with the frame's expression; its skin pushed out along the
normals by the shell's thickness is rasterized (where rays enter the shell), and so is the head
itself (where they reach its surface). A ray's samples run from the entry to a little past the
surface. Each sample maps to the canonical head by undoing the head pose (the camera is given
in the head's frame) and the expression: the expression's displacement is interpolated on the
mesh at the entry and at the surface hit (barycentric, the triangles the ray crosses) and
blended along the ray between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from recon.structures import Camera

if TYPE_CHECKING:
    from recon_avatar.clip import HeadParts

THICKNESS_M = 0.03  # how far the shell reaches out of the skin: hair, ears' rims, the silhouette
INNER_M = 0.008  # how far samples go past the mesh's surface (the field may put the surface deeper)
MAX_SPAN = 5.0  # a grazing ray's samples span at most this many thicknesses


@dataclass
class ShellRays:
    """Rays of one or more frames that cross the shell, in the head's frame (float32): the flat
    pixel index in their frame, origin, unit direction, the sampled span [``near``, ``far``],
    the distance ``core`` where they meet the mesh (``near`` when they miss it), and the
    expression's displacement at the entry and at the mesh."""

    pixel: np.ndarray
    origin: np.ndarray
    direction: np.ndarray
    near: np.ndarray
    far: np.ndarray
    core: np.ndarray
    disp_near: np.ndarray
    disp_core: np.ndarray

    def __len__(self) -> int:
        return len(self.pixel)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def concatenate(cls, parts: list[ShellRays]) -> ShellRays:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def shell_rays(
    vertices: np.ndarray,
    faces: np.ndarray,
    skin_faces: np.ndarray,
    displacement: np.ndarray,
    camera: Camera,
    thickness: float = THICKNESS_M,
) -> ShellRays:
    """The rays of ``camera`` (head frame) that cross the shell around the posed head
    (``vertices``, all parts' ``faces``; the shell is built on ``skin_faces``); ``displacement``
    (V, 3) is what the expression moved each vertex."""
    from recon.raster import rasterize_view
    from recon.texture import vertex_normals

    normals = vertex_normals(vertices, skin_faces)
    outer = rasterize_view(vertices + thickness * normals, skin_faces, camera)
    core = rasterize_view(vertices, faces, camera)
    hit_outer = outer.face_index >= 0
    hit_core = core.face_index >= 0
    rows, cols = np.nonzero(hit_outer | hit_core)
    pixels = np.stack([cols, rows], axis=1).astype(np.float64)
    origin, direction = camera.rays(pixels)
    # camera z -> distance along the unit ray
    per_z = 1.0 / (direction @ camera.R[2])
    z_out = outer.depth[rows, cols] * per_z
    z_core = core.depth[rows, cols] * per_z
    ho, hc = hit_outer[rows, cols], hit_core[rows, cols]
    near = np.where(ho, z_out, z_core - thickness)
    near = np.where(hc, np.minimum(near, z_core - INNER_M), near)  # a part (eyelashes) out of the shell
    far = np.where(hc, z_core + INNER_M, near + 2.0 * thickness)
    far = np.clip(far, near + INNER_M, near + MAX_SPAN * thickness)
    at_core = np.where(hc, np.clip(z_core, near, far), near)

    def interpolate(raster, hit: np.ndarray, face_table: np.ndarray) -> np.ndarray:
        f = np.where(hit, raster.face_index[rows, cols], 0)
        b = raster.bary[rows, cols]
        corners = displacement[face_table[f]]  # (N, 3, 3)
        return np.where(hit[:, None], np.einsum("nk,nkd->nd", b, corners), 0.0)

    d_outer = interpolate(outer, ho, skin_faces)
    d_core = interpolate(core, hc, faces)
    d_near = np.where(ho[:, None], d_outer, d_core)
    d_core = np.where(hc[:, None], d_core, d_near)
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return ShellRays(
        pixel=(rows * camera.width + cols).astype(np.int64),
        origin=f32(origin), direction=f32(direction), near=f32(near), far=f32(far), core=f32(at_core),
        disp_near=f32(d_near), disp_core=f32(d_core),
    )


def head_shell(head: HeadParts, weights: np.ndarray, camera: Camera, thickness: float = THICKNESS_M) -> ShellRays:
    """The shell rays of ``camera`` with the tracked ``head`` posed by expression ``weights``."""
    displacement = head.displacement(weights)
    return shell_rays(head.vertices + displacement, head.faces, head.skin_faces, displacement, camera, thickness)


def canonical_bounds(vertices: np.ndarray, thickness: float = THICKNESS_M) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of a box around the neutral head and its shell, where samples map to
    (a grazing ray's last samples may fall outside: the field clamps them to the box)."""
    pad = 1.5 * thickness
    return (vertices.min(0) - pad).astype(np.float32), (vertices.max(0) + pad).astype(np.float32)
