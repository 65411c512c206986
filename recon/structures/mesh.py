"""A triangle mesh with optional UVs, texture, vertex colours and named morph targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from recon.structures.checks import check_array

if TYPE_CHECKING:
    import pytorch3d.structures
    import torch
    import trimesh


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
        """A ``trimesh.Trimesh`` with the texture (or vertex colours) as its visual."""
        import trimesh
        from PIL import Image

        visual = None
        if self.textured:
            material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(self.texture))
            visual = trimesh.visual.TextureVisuals(uv=self.uvs, material=material)
        elif self.vertex_colors is not None:
            visual = trimesh.visual.ColorVisuals(vertex_colors=self.vertex_colors)
        return trimesh.Trimesh(self.vertices, self.faces, visual=visual, process=False)

    @classmethod
    def from_trimesh(cls, tm: trimesh.Trimesh, name: str = "mesh") -> Mesh:
        """Copy geometry, UVs, texture and vertex colours out of a ``trimesh.Trimesh``."""
        uvs = texture = colors = None
        visual = tm.visual
        if getattr(visual, "kind", None) == "texture" and getattr(visual, "uv", None) is not None:
            uvs = np.asarray(visual.uv, dtype=np.float32)
            material = visual.material
            image = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
            if image is not None:
                texture = np.asarray(image.convert("RGB"))
        elif getattr(visual, "kind", None) == "vertex":
            colors = np.asarray(visual.vertex_colors)[:, :3]
        return cls(np.asarray(tm.vertices), np.asarray(tm.faces), uvs=uvs, texture=texture, vertex_colors=colors, name=name)

    def to_pytorch3d(self, device: torch.device | str = "cpu") -> pytorch3d.structures.Meshes:
        """A one-mesh ``pytorch3d.structures.Meshes`` with UV, vertex-colour or grey textures."""
        import torch
        from pytorch3d.renderer import TexturesUV, TexturesVertex
        from pytorch3d.structures import Meshes

        verts = torch.as_tensor(self.vertices, device=device)[None]
        faces = torch.as_tensor(self.faces, device=device)[None]
        if self.textured:
            tex = torch.as_tensor(self.texture, device=device).float()[None] / 255.0
            uvs = torch.as_tensor(self.uvs, device=device)[None]
            textures = TexturesUV(maps=tex, faces_uvs=faces, verts_uvs=uvs)
        else:
            colors = self.vertex_colors if self.vertex_colors is not None else np.full_like(self.vertices, 180, dtype=np.uint8)
            textures = TexturesVertex(torch.as_tensor(colors, device=device).float()[None] / 255.0)
        return Meshes(verts=verts, faces=faces, textures=textures)

    def bounds(self) -> np.ndarray:
        """(2, 3) axis-aligned bounding box."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])
