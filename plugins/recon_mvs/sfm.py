"""Cameras for plain photos of a static scene, by pycolmap: SIFT features, exhaustive matching,
incremental mapping (COLMAP's structure from motion), on the CPU.

One pinhole camera is shared by all the photos (``SIMPLE_PINHOLE``: one focal length, principal
point at the centre), which is what a set of photos from one camera at one zoom has; the depth
and texture stages use the photos as they are, so the model has no distortion terms.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon.errors import BadInputError
from recon.structures import Camera, Frame

MIN_REGISTERED = 3
"""Fewer registered photos than this cannot give multi-view depth."""


@dataclass
class SparseScene:
    """What structure from motion found: a camera for each registered frame (``None`` for the
    others), the sparse points (N, 3) with colours (N, 3) uint8, and the mean reprojection error."""

    cameras: list[Camera | None]
    points: np.ndarray
    colors: np.ndarray
    reprojection_error_px: float
    seconds: float

    @property
    def registered(self) -> list[int]:
        """Indices of the frames that got a camera."""
        return [i for i, c in enumerate(self.cameras) if c is not None]


def solve_cameras(frames: list[Frame], max_features: int = 8192) -> SparseScene:
    """Cameras of ``frames`` (all the same size) by structure from motion.

    :raises BadInputError: when fewer than :data:`MIN_REGISTERED` photos are registered, naming
        the ones left out and why that happens.
    """
    import pycolmap
    from PIL import Image

    pycolmap.logging.minloglevel = 3  # COLMAP's log lines would bury recon's progress; its failures become recon's own one-line errors
    start = time.perf_counter()
    sizes = {f.image.shape[:2] for f in frames}
    if len(sizes) > 1:
        raise BadInputError(f"the photos differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(sizes))}); cameras are solved for photos from one camera: resize them alike")
    with tempfile.TemporaryDirectory(prefix="recon-sfm-") as tmp:
        work = Path(tmp)
        images = work / "images"
        images.mkdir()
        names = [f"{i:05d}.png" for i in range(len(frames))]
        for name, frame in zip(names, frames):
            Image.fromarray(frame.image).save(images / name)
        database = work / "database.db"
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_PINHOLE"
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.sift.max_num_features = max_features
        device = pycolmap.Device.cpu
        pycolmap.extract_features(database, images, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE, reader_options=reader, extraction_options=extraction, device=device)
        pycolmap.match_exhaustive(database, device=device)
        options = pycolmap.IncrementalPipelineOptions()
        options.random_seed = 0
        models = pycolmap.incremental_mapping(database, images, work, options)
    if not models:
        raise BadInputError(
            f"no two of the {len(frames)} photos share enough matched features to start structure from motion: "
            "photograph one static, textured scene with 60-80% overlap between neighbouring photos"
        )
    model = max(models.values(), key=lambda m: m.num_reg_images())
    cameras: list[Camera | None] = [None] * len(frames)
    for image in model.images.values():
        if not image.has_pose:
            continue
        i = names.index(image.name)
        pose = image.cam_from_world()
        colmap_camera = model.cameras[image.camera_id]
        cameras[i] = Camera(
            K=np.asarray(colmap_camera.calibration_matrix(), dtype=np.float64),
            R=np.asarray(pose.rotation.matrix(), dtype=np.float64),
            t=np.asarray(pose.translation, dtype=np.float64),
            width=int(colmap_camera.width),
            height=int(colmap_camera.height),
            name=frames[i].name,
        )
    scene = SparseScene(
        cameras=cameras,
        points=np.array([p.xyz for p in model.points3D.values()], dtype=np.float64).reshape(-1, 3),
        colors=np.array([p.color for p in model.points3D.values()], dtype=np.uint8).reshape(-1, 3),
        reprojection_error_px=float(model.compute_mean_reprojection_error()),
        seconds=time.perf_counter() - start,
    )
    if len(scene.registered) < MIN_REGISTERED:
        left = [f.name for f, c in zip(frames, cameras) if c is None]
        raise BadInputError(
            f"structure from motion placed only {len(scene.registered)} of {len(frames)} photos (left out: {', '.join(left[:6])}{' ...' if len(left) > 6 else ''}); "
            f"dense reconstruction needs {MIN_REGISTERED}: photograph one static, textured scene with 60-80% overlap between neighbouring photos"
        )
    return scene
