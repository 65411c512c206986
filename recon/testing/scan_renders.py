"""Ground truth that is not recon's own model: real head scans rendered from known cameras, and
the errors of a face reconstruction from those renders.

The scans (``meshes/igea.ply`` and ``meshes/nefertiti.obj`` of ``../shared/data``, see
:data:`SCANS`) are statues, so they are given a skin-like albedo here: a skin palette varied by
seeded low-frequency noise (wavelengths 6-80 mm), with darker lips and brows painted where
MediaPipe finds them on a frontal render (plain albedo, key light from above). Each scan is turned to recon's axes (Y up, the face
looking +Z, X the subject's left) and scaled so that its **eye centres** (the midpoints of
MediaPipe's eye-corner landmarks 33/133 and 362/263, located on the scan through a frontal
render) are **63 mm apart**, the adult mean recon's own template assumes; the scale used is
written to ``truth.json``. The origin is the mean of the 478 landmarks on the scan (near the
nose bridge), which every camera looks at.

Renders (:func:`render_set`) are PyTorch3D Phong shading (``HardPhongShader``) of the scan with a
point key light and ambient light fixed in the world (the light does not move with the camera),
rasterized by :mod:`recon.raster` (PyTorch3D's CPU rasterizer is far too slow for 270k
triangles), 2x supersampled, with a little seeded sensor noise. Cameras (:func:`cameras`): yaw
evenly spread over +-``yaw_deg``; pitch (within +-``pitch_deg``) and the 35 mm-equivalent lens
(in ``lens_35mm``) evenly spread too and paired with the yaws by a seeded shuffle; seeded roll
within +-``roll_deg``; a distance in ``distance_m`` that grows with the lens (so the face fills 40-70 % of the frame), square pixels, centred
principal point. The photos are plain RGB PNGs without EXIF: the method has to estimate the
cameras. ``truth.json`` beside them holds K, R, t per view (OpenCV convention), the scale and the
scan; ``scan.npz`` the rendered (metric) scan, its landmarks and its face region. A set is cached
under the temporary folder, keyed by its parameters, and every view is checked to have a face
MediaPipe finds (:func:`recon_face.detect.detect`) before the set is kept.

Scoring (:func:`score`, :func:`reconstruct_and_score`):

- **rotation**: the estimated cameras are aligned to the true ones by a similarity fitted to
  their orientations and centres (the rotation is the chordal mean of ``R_est_i^T R_true_i``;
  scale and translation then by least squares on the centres); per view the angle of
  ``R_est_i R R_true_i^T``. Also the gauge-free angle between estimated and true relative
  rotations ``R_i R_j^T`` over all pairs.
- **focal**: ``|f_est - f_true| / f_true`` per view, percent.
- **surface** (non-metric): the reconstructed mesh is mapped into the scan's frame by a
  similarity from the cameras (:func:`initial_alignment`: the rotation above, the point the
  optical axes meet and the face's image size; the camera centres alone would carry the focal
  errors into the scale), then refined by ICP with scale (point to closest surface point,
  Umeyama, trimmed at the 90th percentile) on its face-area vertices; the figure is the median
  distance, in mm at the scan's metric scale, from those vertices to the scan surface. The
  **face area**: reconstructed vertices that at least one input view sees (z-buffer of the
  reconstructed mesh through its own estimated camera, so the inside of the mouth and the backs
  of eyeballs are left out) and whose closest scan point lies in the scan's face region, the
  part of the scan inside MediaPipe's face oval (``FACEMESH_FACE_OVAL``: forehead to chin,
  cheek to cheek, in front of the ears) and visible on the frontal render. Scalp, ears, neck,
  Nefertiti's crown and a head model's back of head are left out.

Needs PyTorch3D and, to check detections and to locate the landmarks, the ``recon_face`` plugin.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.bundle import similarity
from recon.cameras import rotation_angle
from recon.structures import Camera, Mesh

CACHE_VERSION = 3  # bump when the renders change for the same parameters
EYE_DISTANCE_M = 0.063

# MediaPipe Face Mesh landmark loops (mediapipe.solutions.face_mesh_connections, ordered)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)  # the subject's right: upper line, then lower back
BROW_LEFT = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
EYE_RIGHT_CORNERS = (33, 133)
EYE_LEFT_CORNERS = (362, 263)

SKIN = np.array([0.80, 0.58, 0.47])  # linear-ish RGB in [0, 1]
LIPS = np.array([0.62, 0.33, 0.31])
BROWS = np.array([0.25, 0.17, 0.12])
BACKGROUND = (0.52, 0.55, 0.58)


@dataclass(frozen=True)
class ScanSpec:
    """A scan in ``../shared/data`` and how to turn it to recon's axes.

    :param to_canonical: 3x3 rotation (rows) from the file's axes to Y up, the face looking +Z,
        X the subject's left.
    :param source: provenance and licence, from ``meshes/SOURCES.md``.
    """

    name: str
    file: str
    to_canonical: tuple[tuple[float, float, float], ...]
    units: str
    source: str


SCANS: dict[str, ScanSpec] = {
    "igea": ScanSpec(
        "igea",
        "meshes/igea.ply",
        ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
        "normalised (about 0.1 units tall), Y up, the face looking +Z",
        "Cyberware sample scan of the Igea statue head, via alecjacobson/common-3d-test-models "
        "@ 8a4f8642 (no LICENSE file; Cyberware sample terms). Binary PLY with triangle strips, "
        "134,345 vertices.",
    ),
    "nefertiti": ScanSpec(
        "nefertiti",
        "meshes/nefertiti.obj",
        ((1, 0, 0), (0, 0, 1), (0, -1, 0)),
        "millimetres (the bust is about 0.49 m tall with its crown), Z up, the face looking -Y",
        "Nefertiti Hack scan of the Nefertiti bust (thingiverse:3974391, released CC0/public "
        "domain), via alecjacobson/common-3d-test-models @ 8a4f8642. 49,971 vertices.",
    ),
}


@dataclass(frozen=True)
class RenderSettings:
    """How a set is rendered; every field is part of the cache key."""

    views: int = 10
    size: int = 1000
    yaw_deg: float = 40.0
    pitch_deg: float = 15.0
    roll_deg: float = 3.0
    lens_35mm: tuple[float, float] = (35.0, 85.0)
    distance_m: tuple[float, float] = (0.5, 0.7)
    supersample: int = 2
    noise: float = 1.0  # sensor noise, grey levels (s.d.)
    seed: int = 0


@dataclass
class Truth:
    """A rendered set: the photos' folder, the true cameras by file name, the metric scan with its
    face region (per vertex) and landmarks, and ``truth.json`` as read."""

    folder: Path
    cameras: dict[str, Camera]
    scan: Mesh
    face_region: np.ndarray
    landmarks: np.ndarray
    info: dict[str, Any]

    @property
    def photos(self) -> Path:
        return self.folder / "photos"


# -- loading ---------------------------------------------------------------------------------------
def read_ply_tristrips(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a binary little-endian PLY whose faces are one ``tristrips``
    element (``igea.ply``; trimesh reads no faces from it): strips split at -1, alternate
    triangles flipped so all keep the strip's winding, degenerate triangles dropped."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header or not any(h.startswith("element tristrips") for h in header):
        raise ValueError(f"{path}: not a binary little-endian PLY with a tristrips element")
    n_vertex = int(next(h for h in header if h.startswith("element vertex")).split()[2])
    i = header.index(next(h for h in header if h.startswith("element vertex")))
    props = []
    for h in header[i + 1 :]:
        if not h.startswith("property"):
            break
        props.append(h.split())
    if any(p[1] != "float" for p in props):
        raise ValueError(f"{path}: only float vertex properties are read")
    verts = np.frombuffer(data, "<f4", n_vertex * len(props), end).reshape(n_vertex, len(props))[:, :3]
    at = end + verts.nbytes // 3 * len(props)
    count = int(np.frombuffer(data, "<i4", 1, at)[0])
    strip = np.frombuffer(data, "<i4", count, at + 4).astype(np.int64)
    # position of each index within its strip (restarting after every -1)
    breaks = np.flatnonzero(strip < 0)
    start = np.zeros(len(strip), np.int64)
    start[breaks[breaks + 1 < len(strip)] + 1] = breaks[breaks + 1 < len(strip)] + 1
    start = np.maximum.accumulate(start)
    pos = np.arange(len(strip)) - start
    a, b, c = strip[:-2], strip[1:-1], strip[2:]
    ok = (a >= 0) & (b >= 0) & (c >= 0) & (a != b) & (b != c) & (a != c)
    odd = (pos[:-2] % 2) == 1
    tri = np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1)[ok]
    return verts.astype(np.float64), tri


def load_scan(spec: ScanSpec, data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The scan's vertices (in its own units, turned to recon's axes) and triangles."""
    import trimesh

    path = data / spec.file
    if path.suffix == ".ply" and b"element tristrips" in path.open("rb").read(512):
        verts, faces = read_ply_tristrips(path)
    else:
        tm = trimesh.load(path, force="mesh", process=False)
        verts, faces = np.asarray(tm.vertices, np.float64), np.asarray(tm.faces, np.int64)
    return verts @ np.asarray(spec.to_canonical, np.float64).T, faces


# -- rendering ---------------------------------------------------------------------------------------
def cameras(settings: RenderSettings) -> list[Camera]:
    """The set's cameras looking at the origin (see the module docstring)."""
    from recon.cameras import look_at

    n, size = settings.views, settings.size
    rng = np.random.default_rng(settings.seed)
    yaws = np.linspace(-settings.yaw_deg, settings.yaw_deg, n) if n > 1 else np.zeros(1)
    spread = lambda a, b: rng.permutation(np.linspace(a, b, n)) if n > 1 else np.full(1, (a + b) / 2)  # noqa: E731
    pitch = spread(-settings.pitch_deg, settings.pitch_deg)
    lo, hi = settings.lens_35mm
    lens = spread(lo, hi)
    roll = rng.uniform(-settings.roll_deg, settings.roll_deg, n)
    d0, d1 = settings.distance_m
    dist = d0 + (d1 - d0) * (lens - lo) / max(hi - lo, 1e-9)
    cams = []
    for i in range(n):
        a, b, r = np.radians(yaws[i]), np.radians(pitch[i]), np.radians(roll[i])
        eye = dist[i] * np.array([np.sin(a) * np.cos(b), np.sin(b), np.cos(a) * np.cos(b)])
        cam = look_at(eye, np.zeros(3), lens[i] / 36.0 * size, size, size, name=f"view{i:02d}.png")
        roll_m = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        cams.append(Camera(cam.K, roll_m @ cam.R, roll_m @ cam.t, size, size, cam.name))
    return cams


def shade(vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray, camera: Camera, supersample: int = 2, light: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1]: PyTorch3D Phong shading of the mesh with per-vertex
    ``albedo`` and a point light at ``light`` (world, metres; default :func:`key_light`) plus
    ambient, rasterized by :mod:`recon.raster` at ``supersample`` times the size and box-filtered."""
    import torch
    from pytorch3d.renderer import BlendParams, HardPhongShader, Materials, PointLights, TexturesVertex
    from pytorch3d.renderer.mesh.rasterizer import Fragments
    from pytorch3d.structures import Meshes

    from recon.cameras import scale_camera, to_pytorch3d
    from recon.raster import rasterize_view

    cam = scale_camera(camera, supersample)
    r = rasterize_view(vertices, faces, cam)
    as_t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt)  # noqa: E731
    face = as_t(r.face_index, torch.int64)[None, :, :, None]
    fragments = Fragments(
        pix_to_face=face,
        zbuf=torch.where(face >= 0, as_t(r.depth, torch.float32)[None, :, :, None], torch.tensor(-1.0)),
        bary_coords=as_t(r.bary, torch.float32)[None, :, :, None, :],
        dists=torch.zeros_like(face, dtype=torch.float32),
    )
    meshes = Meshes([as_t(vertices, torch.float32)], [as_t(faces, torch.int64)], textures=TexturesVertex([as_t(albedo, torch.float32)]))
    lights = PointLights(
        location=[list(key_light() if light is None else light)],
        ambient_color=[[0.42] * 3],
        diffuse_color=[[0.62] * 3],
        specular_color=[[0.08] * 3],
    )
    shader = HardPhongShader(
        cameras=to_pytorch3d(cam), lights=lights, materials=Materials(shininess=16.0), blend_params=BlendParams(background_color=BACKGROUND)
    )
    with torch.no_grad():
        rgb = shader(fragments, meshes)[0, ..., :3].clamp(0, 1).numpy().astype(np.float64)
    s = supersample
    return rgb.reshape(camera.height, s, camera.width, s, 3).mean(axis=(1, 3))


def key_light() -> np.ndarray:
    """The key light's position in the world (metres): above, in front and to the subject's left."""
    return np.array([0.45, 0.55, 0.9])


def _noise_field(points: np.ndarray, rng: np.random.Generator, wavelengths: tuple[float, float], n: int = 24) -> np.ndarray:
    """Sum of ``n`` random plane waves with wavelengths in ``wavelengths`` (metres), about unit s.d."""
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    lam = np.exp(rng.uniform(np.log(wavelengths[0]), np.log(wavelengths[1]), n))
    phase = rng.uniform(0, 2 * np.pi, n)
    amp = lam / lam.max()  # more weight on the broad variations
    out = (np.cos(points @ (dirs / lam[:, None]).T * 2 * np.pi + phase) * amp).sum(axis=1)
    return out / np.sqrt((amp**2).sum() / 2)


def skin_albedo(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 3) skin-like albedo at metric ``points``: the palette varied in brightness and
    flushed by low-frequency noise (wavelengths 20-80 mm), plus a fainter mottling (6-15 mm)."""
    rng = np.random.default_rng(seed)
    bright = 0.05 * _noise_field(points, rng, (0.02, 0.08)) + 0.025 * _noise_field(points, rng, (0.006, 0.015))
    red = 0.04 * np.clip(0.5 + 0.5 * _noise_field(points, rng, (0.02, 0.08)), 0, 1)  # flushed patches, never greyer
    albedo = SKIN * (1 + bright[:, None]) * (1 + red[:, None] * [1.0, -0.5, -0.6])
    return albedo.clip(0.05, 0.95)


def _frontal_camera(size: int, lens: float, distance: float, target: np.ndarray) -> Camera:
    from recon.cameras import look_at

    return look_at(target + [0, 0, distance], target, lens / 36.0 * size, size, size, name="frontal.png")


def _landmarks_3d(vertices: np.ndarray, faces: np.ndarray, camera: Camera, light: np.ndarray) -> np.ndarray:
    """MediaPipe's 478 landmarks found on a frontal render, lifted onto the mesh through the
    z-buffer. The render has a plain skin albedo and a key light from above: MediaPipe puts the
    mouth and chin of a statue up to 4 % of the face too high on a render lit from the camera
    (no shading cues), and on the noise albedo lit from the camera too."""
    from scipy.ndimage import distance_transform_edt

    from recon.raster import rasterize_view
    from recon.structures import Frame
    from recon_face.detect import detect

    rgb = shade(vertices, faces, np.tile(SKIN, (len(vertices), 1)), camera, supersample=1, light=light)
    image = (rgb * 255 + 0.5).astype(np.uint8)
    found = detect(Frame(image=image, source="frontal.png"))
    if found is None:
        raise RuntimeError("MediaPipe found no face on the frontal render of the scan")
    r = rasterize_view(vertices, faces, camera)
    px = np.clip(np.rint(found.landmarks.points[:, :2]).astype(np.int64), 0, [camera.width - 1, camera.height - 1])
    # MediaPipe may put jaw-contour points just beyond a statue's silhouette: take the nearest
    # pixel that shows the scan
    _, (rows, cols) = distance_transform_edt(r.face_index < 0, return_indices=True)
    v, u = rows[px[:, 1], px[:, 0]], cols[px[:, 1], px[:, 0]]
    f = r.face_index[v, u]
    bary = r.bary[v, u]
    return (vertices[faces[f]] * bary[:, :, None]).sum(axis=1)


def _eye_distance(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[list(EYE_RIGHT_CORNERS)].mean(0) - lm[list(EYE_LEFT_CORNERS)].mean(0)))


def _sample_visible(vertices: np.ndarray, camera: Camera, depth: np.ndarray, image: np.ndarray, tol: float = 0.002) -> np.ndarray:
    """``image`` at each vertex's pixel on ``camera``; 0 where the vertex is hidden (deeper than the
    depth buffer by more than ``tol`` metres) or outside the image."""
    xy = camera.project(vertices)
    z = camera.world_to_camera(vertices)[:, 2]
    px = np.rint(xy).astype(np.int64)
    inside = (px[:, 0] >= 0) & (px[:, 0] < camera.width) & (px[:, 1] >= 0) & (px[:, 1] < camera.height) & (z > 0)
    out = np.zeros(len(vertices))
    u, v = px[inside, 0], px[inside, 1]
    d = depth[v, u]
    seen = (d > 0) & (z[inside] <= d + tol)
    out[np.flatnonzero(inside)[seen]] = image[v[seen], u[seen]]
    return out


def prepare_scan(spec: ScanSpec, data: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The scan in metres (recon's axes, eye centres 63 mm apart, origin at the landmarks' mean),
    with its albedo, landmarks and face region; see the module docstring."""
    raw, faces = load_scan(spec, data)
    lo, hi = raw.min(0), raw.max(0)
    extent = float((hi - lo).max())
    # pass 1: the whole scan in view, to find the face and its size
    unit = (raw - (lo + hi) / 2) / extent
    lm = _landmarks_3d(unit, faces, _frontal_camera(1000, 50.0, 1.7, np.zeros(3)), key_light() * 2)
    centre = lm.mean(0)
    scale = EYE_DISTANCE_M / _eye_distance(lm)
    verts = (unit - centre) * scale
    # pass 2: the face filling the frame, in metres; then the scale again
    from recon.raster import rasterize_view

    cam = _frontal_camera(1000, 50.0, 0.6, np.zeros(3))
    lm = _landmarks_3d(verts, faces, cam, key_light())
    fix = EYE_DISTANCE_M / _eye_distance(lm)
    verts, lm, scale = verts * fix, lm * fix, scale * fix
    cam = _frontal_camera(1000, 50.0, 0.6 * fix, np.zeros(3))  # the same picture of the rescaled scan
    depth = rasterize_view(verts, faces, cam).depth
    xy = cam.project(lm)
    px_per_m = float(cam.K[0, 0] / (0.6 * fix))
    albedo = skin_albedo(verts, seed)
    lips = _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(LIPS_OUTER)], 0.0015 * px_per_m))
    brows = np.maximum(
        _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(BROW_RIGHT)], 0.002 * px_per_m)),
        _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(BROW_LEFT)], 0.002 * px_per_m)),
    )
    albedo = albedo * (1 - lips[:, None]) + LIPS * lips[:, None] * (albedo / SKIN)
    albedo = albedo * (1 - 0.85 * brows[:, None]) + BROWS * 0.85 * brows[:, None]
    region = _sample_visible(verts, cam, depth, _soft_polygon(cam, xy[list(FACE_OVAL)], 0.0)) > 0.5
    return {
        "vertices": verts.astype(np.float32),
        "faces": faces.astype(np.int32),
        "albedo": albedo.astype(np.float32),
        "landmarks": lm.astype(np.float32),
        "face_region": region,
        "scale": np.float64(scale / extent),  # metres per scan unit
        "offset": (-(lo + hi) / 2 / extent - centre) * scale,  # metres, added after scaling
    }


def _soft_polygon(camera: Camera, polygon: np.ndarray, blur_px: float) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    mask = Image.new("L", (camera.width, camera.height), 0)
    ImageDraw.Draw(mask).polygon([tuple(map(float, p)) for p in polygon], fill=255)
    if blur_px > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(blur_px))
    return np.asarray(mask, np.float64) / 255.0


def cache_root() -> Path:
    """Where sets are cached: ``$RECON_SCAN_RENDERS`` or ``<tmp>/recon_scan_renders``."""
    return Path(os.environ.get("RECON_SCAN_RENDERS") or Path(tempfile.gettempdir()) / "recon_scan_renders")


def render_set(scan: str, data: Path, settings: RenderSettings = RenderSettings(), cache: Path | None = None) -> Truth:
    """Render ``scan`` (a key of :data:`SCANS`) from :func:`cameras`, or reuse the cached set.

    :param data: the shared data folder (``../shared/data``).
    :raises RuntimeError: when MediaPipe finds no face in some view (the set is not kept).
    """
    spec = SCANS[scan]
    path = data / spec.file
    key = json.dumps(
        {"version": CACHE_VERSION, "spec": asdict(spec), "settings": asdict(settings), "bytes": path.stat().st_size}, sort_keys=True
    )
    folder = (cache or cache_root()) / f"{scan}-{settings.views}v-{settings.size}px-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
    if (folder / "truth.json").is_file():
        return load_truth(folder)
    from PIL import Image

    from recon.structures import Frame
    from recon_face.detect import detect

    def build(work: Path) -> None:
        (work / "photos").mkdir()
        prepared = prepare_scan(spec, data, settings.seed)
        rng = np.random.default_rng(settings.seed + 1)
        views = []
        for cam in cameras(settings):
            rgb = shade(prepared["vertices"], prepared["faces"], prepared["albedo"], cam, settings.supersample)
            image = (rgb * 255 + rng.normal(0, settings.noise, rgb.shape) + 0.5).clip(0, 255).astype(np.uint8)
            found = detect(Frame(image=image, source=cam.name))
            if found is None:
                raise RuntimeError(f"{scan}: MediaPipe finds no face in {cam.name}; change the appearance or the cameras")
            Image.fromarray(image).save(work / "photos" / cam.name)
            views.append(
                {
                    "file": cam.name,
                    "K": cam.K.tolist(),
                    "R": cam.R.tolist(),
                    "t": cam.t.tolist(),
                    "width": cam.width,
                    "height": cam.height,
                    "focal_px": float(cam.K[0, 0]),
                    "focal_35mm": float(cam.K[0, 0] * 36.0 / cam.width),
                    "distance_m": float(np.linalg.norm(cam.center)),
                    "mediapipe_score": None if found.score is None else round(float(found.score), 3),
                }
            )
        np.savez_compressed(work / "scan.npz", **prepared)
        info = {
            "scan": str(path),
            "scan_name": scan,
            "source": spec.source,
            "scan_units": spec.units,
            "to_canonical": [list(r) for r in spec.to_canonical],
            "scale_m_per_unit": float(prepared["scale"]),
            "offset_m": np.asarray(prepared["offset"]).tolist(),
            "normalisation": "x_metres = to_canonical @ x_file * scale_m_per_unit + offset_m: recon's axes (Y up, face +Z, X the subject's left), eye centres (midpoints of MediaPipe landmarks 33/133 and 362/263 on the scan) 63 mm apart, origin at the mean of the 478 landmarks",
            "eye_distance_m": EYE_DISTANCE_M,
            "camera_convention": "OpenCV: x_cam = R X + t, x right, y down, z forward; pixel centres on integers",
            "light": {"key_position_m": key_light().tolist(), "ambient": 0.42, "diffuse": 0.62, "specular": 0.08, "shininess": 16, "fixed_in": "world"},
            "settings": asdict(settings),
            "views": views,
        }
        (work / "truth.json").write_text(json.dumps(info, indent=1))

    build_cached(folder, build)
    return load_truth(folder)


def build_cached(folder: Path, build: Callable[[Path], None]) -> None:
    """Make a cache entry atomically: ``build`` fills a scratch folder beside ``folder``, which is
    then renamed to it (a process that cached the same entry first wins; a failure leaves nothing)."""
    work = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        build(work)
        try:
            work.rename(folder)
        except OSError:  # another process cached the same entry first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def load_truth(folder: Path) -> Truth:
    """A set written by :func:`render_set`."""
    info = json.loads((folder / "truth.json").read_text())
    cams = {
        v["file"]: Camera(np.array(v["K"]), np.array(v["R"]), np.array(v["t"]), v["width"], v["height"], v["file"]) for v in info["views"]
    }
    with np.load(folder / "scan.npz") as z:
        scan = Mesh(z["vertices"], z["faces"].astype(np.int64), vertex_colors=(z["albedo"] * 255).astype(np.uint8), name=info["scan_name"])
        return Truth(folder, cams, scan, z["face_region"].astype(bool), z["landmarks"].astype(np.float64), info)


# -- scoring ---------------------------------------------------------------------------------------
def align_cameras(est: list[Camera], true: list[Camera]) -> tuple[float, np.ndarray, np.ndarray]:
    """The similarity ``X_est = s R X_true + T`` that best maps the true cameras onto the estimated
    ones: ``R`` the chordal mean of ``R_est_i^T R_true_i`` (orientations), then ``s`` and ``T`` by
    least squares on the camera centres."""
    M = sum(e.R.T @ t.R for e, t in zip(est, true))
    U, _, Vt = np.linalg.svd(M)
    R = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
    ce = np.array([c.center for c in est])
    ct = np.array([c.center for c in true]) @ R.T
    a, b = ct - ct.mean(0), ce - ce.mean(0)
    s = float((a * b).sum() / (a**2).sum())
    return s, R, ce.mean(0) - s * ct.mean(0)


def camera_errors(est: list[Camera], true: list[Camera]) -> dict[str, Any]:
    """Per view: rotation error (degrees) after :func:`align_cameras`, focal error (%); the
    median relative-rotation error over all pairs (gauge-free)."""
    s, R, _ = align_cameras(est, true)
    rot = [rotation_angle(e.R @ R @ t.R.T) for e, t in zip(est, true)]
    focal = [abs(e.K[0, 0] - t.K[0, 0]) / t.K[0, 0] * 100 for e, t in zip(est, true)]
    pairs = [
        rotation_angle((est[i].R @ est[j].R.T) @ (true[i].R @ true[j].R.T).T) for i in range(len(est)) for j in range(i + 1, len(est))
    ]
    return {
        "rotation_deg": [round(r, 3) for r in rot],
        "rotation_deg_median": round(float(np.median(rot)), 3),
        "relative_rotation_deg_median": round(float(np.median(pairs)), 3) if pairs else None,
        "focal_pct": [round(f, 2) for f in focal],
        "focal_pct_median": round(float(np.median(focal)), 2),
        "focal_signed_pct_median": round(float(np.median([(e.K[0, 0] / t.K[0, 0] - 1) * 100 for e, t in zip(est, true)])), 2),
    }


class SurfaceQuery:
    """Closest points on a triangle mesh: exact point-triangle distances to the triangles around
    the ``k`` nearest vertices (a KD-tree), which is the closest triangle on a scan's even
    triangulation for points near its surface."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, k: int = 8) -> None:
        from scipy.spatial import cKDTree

        self.vertices = np.asarray(vertices, np.float64)
        self.faces = np.asarray(faces, np.int64)
        self.k = k
        self.tree = cKDTree(self.vertices)
        flat = self.faces.ravel()
        order = np.argsort(flat, kind="stable")
        counts = np.bincount(flat, minlength=len(self.vertices))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.ring = np.full((len(self.vertices), max(int(counts.max()), 1)), -1, np.int64)
        col = np.arange(len(flat)) - np.repeat(starts, counts)
        self.ring[flat[order], col] = order // 3

    def closest(self, points: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(closest points, distances, triangle index) for (N, 3) ``points``."""
        points = np.asarray(points, np.float64)
        out_p, out_d, out_f = np.empty_like(points), np.empty(len(points)), np.empty(len(points), np.int64)
        for a in range(0, len(points), chunk):
            p = points[a : a + chunk]
            _, near = self.tree.query(p, self.k)
            cand = self.ring[near].reshape(len(p), -1)  # (n, k * ring)
            tri = self.vertices[self.faces[np.maximum(cand, 0)]]  # (n, C, 3, 3)
            q = _closest_on_triangles(p[:, None, :], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :])
            d = np.linalg.norm(q - p[:, None, :], axis=-1)
            d[cand < 0] = np.inf
            best = d.argmin(1)
            rows = np.arange(len(p))
            out_p[a : a + chunk], out_d[a : a + chunk], out_f[a : a + chunk] = q[rows, best], d[rows, best], cand[rows, best]
        return out_p, out_d, out_f


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point to ``p`` on triangles ``abc`` (broadcast), Ericson's *Real-Time Collision
    Detection* 5.1.5, vectorised: the Voronoi region of a vertex, an edge or the face."""
    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c
    dot = lambda x, y: (x * y).sum(-1)  # noqa: E731
    d1, d2, d3, d4, d5, d6 = dot(ab, ap), dot(ac, ap), dot(ab, bp), dot(ac, bp), dot(ab, cp), dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    tiny = 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        res = a + ab * (vb / np.where(denom == 0, tiny, denom))[..., None] + ac * (vc / np.where(denom == 0, tiny, denom))[..., None]
        e = (d4 - d3) + (d5 - d6)
        w = (d4 - d3) / np.where(e == 0, tiny, e)
        res = np.where(((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0))[..., None], b + (c - b) * w[..., None], res)
        w = d2 / np.where(d2 - d6 == 0, tiny, d2 - d6)
        res = np.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[..., None], a + ac * w[..., None], res)
        res = np.where(((d6 >= 0) & (d5 <= d6))[..., None], c, res)
        v = d1 / np.where(d1 - d3 == 0, tiny, d1 - d3)
        res = np.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[..., None], a + ab * v[..., None], res)
        res = np.where(((d3 >= 0) & (d4 <= d3))[..., None], b, res)
        res = np.where(((d1 <= 0) & (d2 <= 0))[..., None], a, res)
    return np.where(np.isfinite(res), res, a)


def visible_vertices(mesh: Mesh, cams: list[Camera], tol: float = 0.002) -> np.ndarray:
    """(V,) bool: vertices of ``mesh`` that some camera sees (not behind the mesh's own surface by
    more than ``tol`` metres of the mesh's units)."""
    from recon.raster import rasterize_view

    seen = np.zeros(len(mesh.vertices), bool)
    for cam in cams:
        depth = rasterize_view(mesh.vertices, mesh.faces, cam).depth
        seen |= _sample_visible(mesh.vertices, cam, depth, np.ones((cam.height, cam.width)), tol) > 0
    return seen


def _axes_meet(cams: list[Camera]) -> np.ndarray:
    """The point nearest (least squares) to all the cameras' optical axes."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for c in cams:
        P = np.eye(3) - np.outer(c.R[2], c.R[2])
        A += P
        b += P @ c.center
    return np.linalg.solve(A, b)


def initial_alignment(est: list[Camera], true: list[Camera]) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, T)`` with ``X_true ~ s R X_est + T``, from the cameras alone, robust to errors in
    the estimated focal lengths (which move the estimated cameras along their axes and so spoil
    a similarity fitted to the camera centres): ``R`` from :func:`align_cameras`; the point the
    optical axes meet at, in each world, as a corresponding pair; ``s`` the median over views of
    ``(f_est z_true) / (f_true z_est)`` (the same image size of the face at depth ``z``)."""
    _, R, _ = align_cameras(est, true)
    pe, pt = _axes_meet(est), _axes_meet(true)
    ratios = [(e.K[0, 0] * t.world_to_camera(pt[None])[0, 2]) / (t.K[0, 0] * e.world_to_camera(pe[None])[0, 2]) for e, t in zip(est, true)]
    s = float(np.median(ratios))
    return s, R.T, pt - s * R.T @ pe


def surface_error(
    truth: Truth, mesh: Mesh, est: list[Camera], true: list[Camera], iterations: int = 40
) -> dict[str, Any]:
    """Distance (mm) from the reconstructed face-area vertices to the scan after a similarity
    alignment: the inverse of :func:`align_cameras`, refined by ICP with scale (see the module
    docstring)."""
    s, R, T = initial_alignment(est, true)
    seen = visible_vertices(mesh, est)
    points = mesh.vertices.astype(np.float64)[seen]
    surface = SurfaceQuery(truth.scan.vertices, truth.scan.faces)
    region = truth.face_region[truth.scan.faces].all(axis=1)
    init_scale = s
    for _ in range(iterations):
        closest, d, f = surface.closest(s * points @ R.T + T)
        use = region[f]
        if use.sum() < 10:
            raise RuntimeError("the reconstruction does not land on the scan's face after the camera alignment")
        keep = use & (d <= np.percentile(d[use], 90))
        s2, R2, T2 = similarity(points[keep], closest[keep])
        moved = np.abs(s2 * points @ R2.T + T2 - (s * points @ R.T + T)).max()
        s, R, T = s2, R2, T2
        if moved < 1e-6:
            break
    _, d, f = surface.closest(s * points @ R.T + T)
    use = region[f]
    mm = d[use] * 1000
    return {
        "surface_mm_median": round(float(np.median(mm)), 3),
        "surface_mm_p90": round(float(np.percentile(mm, 90)), 3),
        "face_vertices": int(use.sum()),
        "mesh_vertices": len(mesh.vertices),
        "visible_vertices": int(seen.sum()),
        "scale_to_scan": round(float(s), 4),
        "icp_scale_change_pct": round(float((s / init_scale - 1) * 100), 2),
    }


def score(truth: Truth, out: Path, report: dict[str, Any] | None = None) -> dict[str, Any]:
    """Errors of the reconstruction in ``out`` (``report.json``, ``mesh.glb``) against ``truth``.

    Views the method skipped are listed in ``views_missing`` and left out of the figures.
    """
    report = report if report is not None else json.loads((out / "report.json").read_text())
    est, true, missing, status = [], [], [], {}
    by_name = {Path(v["input"]).name: v for v in report["views"]}
    for name, cam in truth.cameras.items():
        v = by_name.get(name)
        status[name] = None if v is None else v["status"]
        if v is None or "camera" not in v:
            missing.append(name)
            continue
        c = v["camera"]
        est.append(Camera(np.array(c["K"]), np.array(c["R"]), np.array(c["t"]), cam.width, cam.height, name))
        true.append(cam)
    if len(est) < 2:
        raise RuntimeError(f"the method reported cameras for {len(est)} of {len(truth.cameras)} views")
    mesh = Mesh.load(out / "mesh.glb")
    return {
        "views": len(truth.cameras),
        "views_missing": missing,
        "status": status,
        **camera_errors(est, true),
        **surface_error(truth, mesh, est, true),
    }


def reconstruct_and_score(truth: Truth, out: Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run method ``face`` on the set's photos in-process (plugins from the entry points) into
    ``out`` and :func:`score` it; adds the run's time."""
    import time

    from recon.pipeline import reconstruct
    from recon.plugins import PluginHost

    start = time.perf_counter()
    report = reconstruct(
        PluginHost().load_entrypoints(), [truth.photos], out, method="face", options=options or {}, formats=("glb",), quiet=True, overwrite=True
    )
    elapsed = time.perf_counter() - start
    return {**score(truth, out, report), "options": options or {}, "seconds": round(elapsed, 2)}
