"""Ground truth for tests and benchmarks: a textured face with a simple head behind it, rendered
with PyTorch3D (:func:`recon.render.render`) from known cameras, and the errors of a
reconstruction from those renders (camera rotation, focal length, shape after similarity
alignment).

The head matters: MediaPipe reads a bare face mask floating on a background worse than a head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recon.structures import Camera, Mesh

VIEWS = [(0, 0), (45, 0), (-45, 0), (0, 20), (0, -20), (30, 15), (-30, -15)]  # (yaw, pitch) degrees


def head_proxy(face: Mesh, outer: np.ndarray) -> Mesh:
    """A head for a face mask: an ellipsoid (skin below the brows, hair above and at the back)
    and a neck, placed just behind the mask, so a render of the face has a head's silhouette."""
    import numpy as np
    import trimesh

    from recon.structures import Mesh

    v = face.vertices.astype(np.float64)
    rim = v[outer]
    ax = np.abs(rim[:, 0]).max() * 1.04
    top, chin = v[:, 1].max(), v[:, 1].min()
    ay = (top - chin) * 0.78
    cy = chin + ay * 0.92
    az = 0.1
    cz = np.inf
    for p in rim:
        q = 1 - (p[0] / ax) ** 2 - ((p[1] - cy) / ay) ** 2
        if q > 0:
            cz = min(cz, p[2] - 0.003 - az * np.sqrt(q))
    sphere = trimesh.creation.icosphere(subdivisions=4)
    pts = np.asarray(sphere.vertices) * [ax, ay, az] + [0, cy, cz]
    brow = top - 0.25 * (top - chin)
    hair = (pts[:, 1] > brow) | (pts[:, 2] < cz - 0.3 * az)
    skin = np.median(face.texture.reshape(-1, 3), axis=0) if face.texture is not None else np.array([200.0, 160.0, 140.0])
    colours = np.where(hair[:, None], [60, 40, 30], skin).astype(np.uint8)
    neck = trimesh.creation.cylinder(radius=0.055, height=0.16, sections=48)
    npts = np.asarray(neck.vertices)[:, [0, 2, 1]] + [0, chin - 0.04, cz + 0.01]
    verts = np.concatenate([pts, npts])
    faces = np.concatenate([np.asarray(sphere.faces), np.asarray(neck.faces)[:, ::-1] + len(pts)])
    colours = np.concatenate([colours, np.tile((skin * 0.9).astype(np.uint8), (len(npts), 1))])
    return Mesh(verts, faces, vertex_colors=colours, name="head")


def render_with_head(face: Mesh, head: Mesh, camera: Camera, background: tuple[int, int, int] = (128, 128, 128)) -> np.ndarray:
    """PyTorch3D renders (recon.render) of the textured face and the head, composited by depth."""
    import numpy as np

    from recon.render import render

    a = render(face, camera, device="cpu", background=background)
    h = render(head, camera, device="cpu", background=background)
    use_head = h.mask & (~a.mask | (h.depth < a.depth))
    return np.where(use_head[..., None], h.rgb, a.rgb)


def render_views(truth: Mesh, folder: Path, lenses: list[float], size: int = 512, views: list[tuple[float, float]] = VIEWS) -> dict[str, Camera]:
    """Render ``truth`` (with a head) into ``folder`` from each (yaw, pitch), cycling through
    the 35 mm-equivalent ``lenses``, the head filling about half the picture; returns the
    cameras by file name."""
    from PIL import Image

    from recon_face.template import template_path

    outer = np.load(template_path())["outer_loop"]
    head = head_proxy(truth, outer)
    folder.mkdir(parents=True, exist_ok=True)
    centre = truth.vertices.mean(0)
    cams = {}
    for i, (yaw, pitch) in enumerate(views):
        from recon.cameras import look_at

        f = lenses[i % len(lenses)] / 36 * size
        dist = f * 0.2 / (0.5 * size)
        a, b = np.radians(yaw), np.radians(pitch)
        eye = centre + dist * np.array([np.sin(a) * np.cos(b), np.sin(b), np.cos(a) * np.cos(b)])
        cam = look_at(eye, centre, f, size, size, name=f"view{i}.png")
        Image.fromarray(render_with_head(truth, head, cam)).save(folder / cam.name)
        cams[cam.name] = cam
    return cams


def errors(truth: Mesh, result: Mesh, fitted: list[Camera], cams: dict[str, Camera], skin: np.ndarray | None = None) -> dict:
    """Rotation (degrees) and focal (%) error per camera in ``cams`` (by name), after aligning
    ``result`` to ``truth`` by a similarity (on corresponding vertices). Shape error after that
    alignment, two ways: per vertex (``shape_mm``: the distance between corresponding vertices,
    which also counts vertices that slid along the surface) and per surface point
    (``shape_surface_mm``: from 20,000 points on the true ``skin`` triangles to the reconstructed
    surface, the scan-to-mesh reading of the NoW benchmark, Sanyal et al. 2019)."""
    from scipy.spatial.transform import Rotation

    from recon_face.fit import similarity

    s, R, t = similarity(result.vertices.astype(np.float64), truth.vertices.astype(np.float64))
    aligned = s * result.vertices @ R.T + t
    shape = np.linalg.norm(aligned - truth.vertices, axis=1) * 1000
    surface = _surface_distance(truth.vertices, aligned, truth.faces if skin is None else skin) * 1000
    by_name = {c.name: c for c in fitted}
    rot, focal = [], []
    for name, cam in cams.items():
        c = by_name[name]
        rot.append(float(np.degrees(Rotation.from_matrix(c.R @ R.T @ cam.R.T).magnitude())))
        focal.append(float(abs(c.K[0, 0] / cam.K[0, 0] - 1) * 100))
    return {
        "rotation_deg": [round(r, 3) for r in rot],
        "focal_pct": [round(f, 2) for f in focal],
        "rotation_deg_median": round(float(np.median(rot)), 3),
        "focal_pct_median": round(float(np.median(focal)), 2),
        "shape_mm_median": round(float(np.median(shape)), 3),
        "shape_mm_p90": round(float(np.percentile(shape, 90)), 3),
        "shape_surface_mm_median": round(float(np.median(surface)), 3),
        "shape_surface_mm_p90": round(float(np.percentile(surface, 90)), 3),
    }


def _surface_distance(truth: np.ndarray, result: np.ndarray, faces: np.ndarray, n: int = 20_000) -> np.ndarray:
    """Distances from ``n`` area-uniform points on the true surface (seeded) to the result's
    surface (PyTorch3D's exact point-to-triangle distance), in the meshes' units."""
    import torch
    from pytorch3d.loss.point_mesh_distance import point_face_distance
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    scale = 1000.0  # millimetres, so no triangle is small enough for PyTorch3D to treat as a point
    as_t = lambda v: torch.as_tensor(np.asarray(v, dtype=np.float32) * scale)  # noqa: E731
    tri = torch.as_tensor(np.asarray(faces, dtype=np.int64))
    torch.manual_seed(0)
    points = sample_points_from_meshes(Meshes([as_t(truth)], [tri]), n)[0]
    first = torch.zeros(1, dtype=torch.int64)
    d2 = point_face_distance(points, first, as_t(result)[tri], first, n, 1e-9)
    return d2.sqrt().numpy().astype(np.float64) / scale
