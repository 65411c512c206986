"""OBJ (+ MTL + PNG texture) and PLY writers, through trimesh.

OBJ keeps recon's UV convention (origin bottom-left), so UVs go out unchanged. Files are named
after the output path: ``mesh.obj`` gets ``mesh.mtl`` and ``mesh.png`` beside it (a second mesh
gets ``mesh_1.png``...). Untextured meshes carry vertex colours on their ``v`` lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recon.structures import Mesh, Reconstruction

_WHITE = np.array([255, 255, 255, 255], dtype=np.uint8)
_BLACK = np.array([0, 0, 0, 255], dtype=np.uint8)


def _to_trimesh(mesh: Mesh, material_name: str):  # -> trimesh.Trimesh
    """``mesh`` as a trimesh whose material (if any) is called ``material_name`` and is white,
    so viewers that multiply ``Kd`` by ``map_Kd`` show the texture unchanged."""
    tm = mesh.to_trimesh()
    tm.metadata["name"] = mesh.name
    if mesh.textured:
        material = tm.visual.material
        material.name = material_name
        material.diffuse = _WHITE
        material.ambient = _WHITE
        material.specular = _BLACK
    return tm


def write_obj(reconstruction: Reconstruction, path: Path) -> list[Path]:
    """Write every mesh into one OBJ (one ``o`` object each), with its MTL and PNG textures.

    :returns: the OBJ, then the MTL and textures when there are any.
    :raises ValueError: when the reconstruction has no mesh.
    """
    from trimesh.exchange.obj import export_obj

    path = Path(path)
    meshes = reconstruction.meshes
    if not meshes:
        raise ValueError(f"method {reconstruction.method!r} produced no mesh to write as OBJ")
    stem = path.stem
    tms = [_to_trimesh(m, stem if i == 0 else f"{stem}_{i}") for i, m in enumerate(meshes)]
    if len(tms) == 1:
        geometry = tms[0]
    else:
        import trimesh

        geometry = trimesh.Scene()
        for tm in tms:
            geometry.add_geometry(tm, geom_name=tm.metadata["name"])  # trimesh makes names unique
    text, files = export_obj(
        geometry, include_normals=False, include_texture=True, return_texture=True, mtl_name=f"{stem}.mtl", header="recon"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    written = [path]
    for name, data in files.items():
        out = path.with_name(name)
        out.write_bytes(data)
        written.append(out)
    return written


def write_ply(reconstruction: Reconstruction, path: Path) -> list[Path]:
    """Write the first mesh as binary PLY (with vertex colours when it has them), or, when there
    is no mesh, the point cloud (with its colours when present; trimesh's point clouds carry no
    normals, so those are not written).

    :raises ValueError: when there is neither.
    """
    import trimesh
    from trimesh.exchange.ply import export_ply

    path = Path(path)
    if reconstruction.meshes:
        mesh = reconstruction.meshes[0]
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        if mesh.vertex_colors is not None:
            tm.visual = trimesh.visual.ColorVisuals(tm, vertex_colors=mesh.vertex_colors)
        data = export_ply(tm, encoding="binary", include_attributes=False)
    elif reconstruction.point_cloud is not None:
        pc = reconstruction.point_cloud
        data = export_ply(trimesh.PointCloud(pc.points, colors=pc.colors), encoding="binary")
    else:
        raise ValueError(f"method {reconstruction.method!r} produced neither a mesh nor a point cloud to write as PLY")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return [path]
