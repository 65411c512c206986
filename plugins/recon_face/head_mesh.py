"""The fitted head as recon meshes: each part with its own texture, the 51 ARKit shapes as morph
targets (every part they move), the skin baked from the photos.

Skin texels no photo saw (the back of the head, behind the ears) get the seen skin's median
colour, blended into the baked skin over a few texels so there is no seam; eyes, teeth, gums
and eyelashes get plain painted textures (sclera, an iris of the colour the photos show at the
iris landmarks, a dark pupil; off-white teeth; pink gums and tongue).
"""

from __future__ import annotations

import numpy as np

from recon.structures import Camera, Mesh
from recon_face.head_fit import HeadFit
from recon_face.head_model import HeadModel, HeadPart

# ICT-FaceKit vertex ranges (inclusive), from its README: what each part's vertices are.
_ICT_RANGES = {
    "mouth_socket": (11248, 13293),
    "gums_tongue": (14062, 17038),
    "teeth": (17039, 21450),
    "eye_left": (21451, 23020),
    "eye_right": (23021, 24590),
}
FACE_AREA_LAST = 9408  # ICT's face area (forehead to chin, ear to ear); beyond it the head and neck
CHIN = 152  # MediaPipe's chin landmark
_SCLERA_VERTICES = 770  # each ICT eyeball: 770 sclera vertices, then 800 iris vertices
PAINT = {
    "sclera": (232, 226, 220),
    "pupil": (12, 10, 10),
    "teeth": (226, 218, 196),
    "gums_tongue": (178, 84, 92),
    "mouth_socket": (96, 36, 40),
    "eyelashes": (34, 26, 22),
}
MORPH_EPS = 1e-5  # metres: a shape that moves no vertex of a part more than this is left off it
PAINT_SIZE = 256


def _in(index: np.ndarray, name: str) -> np.ndarray:
    lo, hi = _ICT_RANGES[name]
    return (index >= lo) & (index <= hi)


def vertex_texture(part: HeadPart, colours: np.ndarray, size: int = PAINT_SIZE) -> np.ndarray:
    """(size * uv_tiles... ) a texture painting per-vertex ``colours`` (n, 3) over the part's UVs,
    unpainted texels filled from the painted ones."""
    from recon.texture import atlas, fill_push_pull

    at = atlas(part.uvs, part.faces, size)
    image = np.zeros((size, size, 3), np.float32)
    weight = np.zeros((size, size), np.float32)
    image[at.rows, at.cols] = at.interpolate(colours)
    weight[at.rows, at.cols] = 1.0
    return np.clip(fill_push_pull(image, weight) + 0.5, 0, 255).astype(np.uint8)


def part_colours(part: HeadPart, model: HeadModel, iris: np.ndarray, skin: np.ndarray | None = None) -> np.ndarray:
    """(n, 3) painted colours of a non-skin part's vertices (eyelashes: the skin's colour darkened,
    since without transparency ICT's eyelash cards would draw a black ring)."""
    ict = model.ict_index[part.vertex_index]
    colours = np.zeros((len(ict), 3), np.float32)
    if part.material == "eye":
        lo = _ICT_RANGES[part.name][0]
        is_iris = ict - lo >= _SCLERA_VERTICES
        colours[:] = PAINT["sclera"]
        head = model.neutral[part.vertex_index]
        iris_points = head[is_iris]
        centre = iris_points.mean(0) if len(iris_points) else head.mean(0)
        radius = np.linalg.norm(iris_points - centre, axis=1).max() if len(iris_points) else 1.0
        r = np.linalg.norm(head - centre, axis=1) / max(radius, 1e-9)
        colours[is_iris] = iris
        colours[is_iris & (r < 0.42)] = PAINT["pupil"]
    elif part.material == "mouth":
        colours[:] = PAINT["mouth_socket"]
        colours[_in(ict, "gums_tongue")] = PAINT["gums_tongue"]
        colours[_in(ict, "teeth")] = PAINT["teeth"]
    else:
        colours[:] = PAINT["eyelashes"] if skin is None else 0.8 * np.asarray(skin, np.float32)
    return colours


def fill_unseen_skin(texture: np.ndarray, coverage: np.ndarray, covered: np.ndarray, blend: float = 6.0) -> np.ndarray:
    """Texels of the layout (``covered``) that no photo saw get the seen skin's median colour,
    blended into the seen skin over about ``blend`` texels (a Gaussian ramp of the seen mask,
    computed at an eighth of the size: the ramp is smooth, the texture is large); ``texture`` is
    (size, size, 3) uint8. The blend is OpenCV's (4x NumPy's float arithmetic on a 2048² texture)."""
    import cv2
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    seen = (coverage > 1e-6) & covered
    if not seen.any():
        return texture
    where = np.flatnonzero(seen)
    picked = texture.reshape(-1, texture.shape[-1])[where[:: max(1, len(where) // 20000)]]
    median = np.median(picked.astype(np.float32), axis=0)
    size = texture.shape[0]
    small = max(8, size // 8)
    low = np.asarray(Image.fromarray(seen.astype(np.float32), mode="F").resize((small, small), Image.Resampling.BOX))
    ramp = np.clip(gaussian_filter(low, blend * small / size) * 2.0, 0.0, 1.0)
    alpha = np.asarray(Image.fromarray(ramp.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BILINEAR))
    alpha = np.where(seen, np.float32(1.0), alpha).astype(np.float32)
    fill = np.empty_like(texture)
    fill[:] = np.clip(np.round(median), 0, 255).astype(np.uint8)
    return cv2.blendLinear(np.ascontiguousarray(texture), fill, alpha, np.float32(1.0) - alpha)


def iris_colour(images: list[np.ndarray], landmarks: list[np.ndarray]) -> np.ndarray:
    """(3,) the median colour of the photos at MediaPipe's iris landmarks (468-477), a little
    darkened (the iris shows through the cornea's highlight)."""
    samples = []
    for image, points in zip(images, landmarks):
        h, w = image.shape[:2]
        xy = np.round(points[468:478, :2]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        samples.append(image[xy[inside, 1], xy[inside, 0]].astype(np.float32))
    found = np.concatenate(samples) if samples else np.zeros((0, 3))
    return (np.median(found, axis=0) * 0.85) if len(found) else np.array([80.0, 60.0, 45.0])


def head_meshes(
    model: HeadModel,
    head: HeadFit,
    images: list[np.ndarray],
    cameras: list[Camera],
    landmarks: list[np.ndarray],
    view_weights: list[float],
    texture_size: int,
    shapes: bool = True,
) -> tuple[list[Mesh], dict]:
    """The head's parts as meshes (neutral, head frame) and the skin bake's figures.

    :param cameras: per photo, its camera in the head's frame (:meth:`HeadFit.camera`).
    :param landmarks: per photo, (478, 2+) the detected landmarks (pixels), for the iris colour.
    :param shapes: add the 51 ARKit shapes as morph targets.
    """
    from recon.texture import atlas, bake_views

    neutral = head.neutral(model)
    posed = [head.posed(model, k) for k in range(len(images))]
    offsets = {name: model.expression[j] for j, name in enumerate(model.expression_names)} if shapes else {}
    iris = iris_colour(images, landmarks)
    meshes, figures = [], {}
    skin_colour = None
    for part in sorted(model.parts, key=lambda p: p.material != "skin"):  # skin first: the others use its colour
        morphs = {}
        for name, offset in offsets.items():
            moved = offset[part.vertex_index]
            if part.material == "skin" or np.abs(moved).max() > MORPH_EPS:
                morphs[name] = moved.astype(np.float32)
        if part.material == "skin":
            chin = model.landmark_points(neutral)[CHIN, 1]
            # photos show skin here; below the chin they often show a collar
            face_area = (model.ict_index[part.vertex_index] <= FACE_AREA_LAST) & (part.vertices(neutral)[:, 1] >= chin - 0.01)
            baked_faces = part.faces[face_area[part.faces].all(axis=1)]
            baked = bake_views(
                part.uvs, baked_faces, [part.vertices(p) for p in posed], images, cameras, size=texture_size, view_weights=view_weights
            )
            covered = np.zeros(baked.coverage.shape, bool)
            at = atlas(part.uvs, part.faces, texture_size)
            covered[at.rows, at.cols] = True
            texture = fill_unseen_skin(baked.texture, baked.coverage, covered)
            skin_colour = np.median(texture[covered & (baked.coverage > 1e-6)].astype(np.float32), axis=0) if covered.any() else None
            seen = float(((baked.coverage > 1e-6) & covered).sum() / max(covered.sum(), 1))
            figures = {"skin_texture_seen": round(seen, 4), "view_coverage": baked.view_coverage, "gains": baked.gains, "resolution": baked.resolution}
        else:
            texture = vertex_texture(part, part_colours(part, model, iris, skin_colour))
        meshes.append(
            Mesh(part.vertices(neutral), part.faces, uvs=part.uvs, texture=texture, morph_targets=morphs, name=f"head_{part.name}")
        )
    return meshes, figures
