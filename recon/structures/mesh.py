"""A triangle mesh with optional UVs, texture, vertex colours and named morph targets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from recon.structures.checks import check_array

if TYPE_CHECKING:
    import pytorch3d.structures
    import torch
    import trimesh


def _is_stand_in(image: np.ndarray) -> bool:
    """Whether ``image`` (H, W, C) is trimesh's stand-in for a missing texture.

    trimesh gives every ``TextureVisuals`` without an image a one-colour placeholder
    (``trimesh.visual.material.color_image``: 2x2 RGBA, grey 100 unless a colour is given; 1x1 is
    accepted too, as its comments still describe it). It is written into exported OBJ/GLB files and read back as an ordinary
    image, so it cannot be told apart by ``material.image is None`` or by the image object: what
    identifies it is its content, at most 2x2 pixels of one colour, which holds no texture detail.
    """
    return image.shape[0] <= 2 and image.shape[1] <= 2 and bool((image == image[:1, :1]).all())


def _material_image(material: object) -> np.ndarray | None:
    """The (H, W, 3) uint8 base-colour image of a trimesh material, ``None`` for none or a stand-in.

    ``SimpleMaterial`` keeps it in ``image``, ``PBRMaterial`` (glTF) in ``baseColorTexture``.
    """
    image = getattr(material, "image", None)
    if image is None:
        image = getattr(material, "baseColorTexture", None)
    if image is None:
        return None
    array = np.asarray(image)
    if array.ndim < 2 or _is_stand_in(array.reshape(array.shape[0], array.shape[1], -1)):
        return None
    return np.asarray(image.convert("RGB"))


@dataclass
class Mesh:
    """Vertices (V, 3) float32 in metres, Y up; faces (F, 3) int64, counter-clockwise = outward.

    :param uvs: (V, 2) per-vertex texture coordinates, origin bottom-left (glTF flips on export).
    :param texture: (H, W, 3) uint8 base-colour image for ``uvs``.
    :param vertex_colors: (V, 3) uint8.
    :param morph_targets: name -> (V, 3) float32 vertex offsets (glTF morph targets, Blender
        shape keys), in insertion order.
    :param name: node and mesh name in exported files.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    texture: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    morph_targets: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "mesh"

    def __post_init__(self) -> None:
        self.vertices = check_array("Mesh.vertices", self.vertices, (None, 3), np.float32)
        self.faces = check_array("Mesh.faces", self.faces, (None, 3), np.int64)
        n = len(self.vertices)
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= n):
            raise ValueError(f"Mesh.faces index vertices outside [0, {n})")
        if self.uvs is not None:
            self.uvs = check_array("Mesh.uvs", self.uvs, (n, 2), np.float32)
        if self.texture is not None:
            self.texture = check_array("Mesh.texture", self.texture, (None, None, 3), np.uint8)
        if self.vertex_colors is not None:
            self.vertex_colors = check_array("Mesh.vertex_colors", self.vertex_colors, (n, None))[:, :3].astype(np.uint8)
        self.morph_targets = {
            k: check_array(f"Mesh.morph_targets[{k!r}]", v, (n, 3), np.float32) for k, v in self.morph_targets.items()
        }

    @property
    def textured(self) -> bool:
        return self.uvs is not None and self.texture is not None

    def to_trimesh(self) -> trimesh.Trimesh:
        """A ``trimesh.Trimesh`` with the texture (or vertex colours) as its visual; UVs are kept
        even without a texture."""
        import trimesh
        from PIL import Image

        visual = None
        if self.textured:
            material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(self.texture))
            visual = trimesh.visual.TextureVisuals(uv=self.uvs, material=material)
        elif self.uvs is not None and self.vertex_colors is None:
            visual = trimesh.visual.TextureVisuals(uv=self.uvs)
        elif self.vertex_colors is not None:
            visual = trimesh.visual.ColorVisuals(vertex_colors=self.vertex_colors)
        return trimesh.Trimesh(self.vertices, self.faces, visual=visual, process=False)

    @classmethod
    def from_trimesh(cls, tm: trimesh.Trimesh, name: str = "mesh") -> Mesh:
        """Copy geometry, UVs, texture and vertex colours out of a ``trimesh.Trimesh``.

        UVs without an image keep ``texture=None``: trimesh's one-colour placeholder image (at most
        2x2 pixels of one colour, see :func:`_is_stand_in`) is not taken for a texture.
        """
        uvs = texture = colors = None
        visual = tm.visual
        if getattr(visual, "kind", None) == "texture" and getattr(visual, "uv", None) is not None:
            uvs = np.asarray(visual.uv, dtype=np.float32)
            image = _material_image(visual.material)
            if image is not None:
                texture = image
        elif getattr(visual, "kind", None) == "vertex":
            colors = np.asarray(visual.vertex_colors)[:, :3]
        return cls(np.asarray(tm.vertices), np.asarray(tm.faces), uvs=uvs, texture=texture, vertex_colors=colors, name=name)

    @classmethod
    def load(cls, path: str | os.PathLike[str], name: str = "mesh") -> Mesh:
        """Read a mesh file (obj, ply, glb, off, stl) as written: trimesh's loader, no merging or
        reordering of vertices, then :meth:`from_trimesh`."""
        import trimesh

        return cls.from_trimesh(trimesh.load(path, force="mesh", process=False), name=name)

    def to_pytorch3d(self, device: torch.device | str = "cpu") -> pytorch3d.structures.Meshes:
        """A one-mesh ``pytorch3d.structures.Meshes`` with UV, vertex-colour or grey textures."""
        import torch
        from pytorch3d.renderer import TexturesUV, TexturesVertex
        from pytorch3d.structures import Meshes

        verts = torch.tensor(self.vertices, device=device)[None]
        faces = torch.tensor(self.faces, device=device)[None]
        if self.textured:
            tex = torch.tensor(self.texture, device=device).float()[None] / 255.0
            uvs = torch.tensor(self.uvs, device=device)[None]
            textures = TexturesUV(maps=tex, faces_uvs=faces, verts_uvs=uvs)
        else:
            colors = self.vertex_colors if self.vertex_colors is not None else np.full_like(self.vertices, 180, dtype=np.uint8)
            textures = TexturesVertex(torch.tensor(colors, device=device).float()[None] / 255.0)
        return Meshes(verts=verts, faces=faces, textures=textures)

    def bounds(self) -> np.ndarray:
        """(2, 3) axis-aligned bounding box."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])
