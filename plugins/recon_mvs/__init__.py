"""Built-in method ``mvs``: multi-view stereo from photos of a static scene to a textured mesh.

Cameras come with the inputs (a scene folder: ``cameras.json``, Middlebury ``*_par.txt``, MVSNet
``cams/``, a ``K.txt`` + ``poses.txt`` sequence) or from pycolmap for plain photos
(:mod:`recon_mvs.sfm`); each view gets source views (:mod:`recon_mvs.views`) and a depth map, by a
plane sweep (:mod:`recon_mvs.planesweep`, the default) or recon's MVSNet (:mod:`recon_mvs.mvsnet`,
trained on synthetic rooms by ``assets/mvsnet/train_mvsnet.py``); the depths are fused into a
coloured cloud with normals (:mod:`recon_mvs.fusion`), meshed by screened Poisson and cleaned
(:mod:`recon_mvs.meshing`), and textured from the photos (:mod:`recon.texture`).

Chosen automatically for calibrated views of a walk through a scene (no masks, no bounds, optical
axes that do not meet on one object: a ``poses.txt`` sequence); ``--method mvs`` for plain photos
(which would otherwise go to the face method) and for a ring of calibrated views (which would go
to ``visual-hull``). Options (``-O``): see
:data:`recon_mvs.method.DEFAULTS` and the README.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from recon import hookimpl
from recon.registry import Method, lazy
from recon.structures import Inputs

if TYPE_CHECKING:
    import torch

    from recon_mvs.mvsnet import MVSNet

__version__ = "0.1.0"

OPTIONS = (
    "depth", "size", "sources", "planes", "window", "near", "far", "confidence", "min_agree",
    "poisson_depth", "trim", "closed", "max_faces", "texture_size", "save_depth", "refine",
)
"""The ``-O`` keys of method ``mvs`` (the keys of :data:`recon_mvs.method.DEFAULTS`)."""

WEIGHTS = "mvsnet.pt"


def shipped_mvsnet(device: torch.device | str = "cpu") -> MVSNet:
    """recon's trained MVSNet (package data made by ``assets/mvsnet/train_mvsnet.py``) on ``device``."""
    from recon.package_data import package_file
    from recon_mvs.mvsnet import load_mvsnet

    return load_mvsnet(package_file("recon_mvs", WEIGHTS), device)


def _accepts(inputs: Inputs) -> bool:
    """Calibrated views of a walk through a scene: no masks, no object bounds, and optical axes
    that do not meet on one object (a ring of views goes to ``visual-hull`` unless ``--method mvs``)."""
    from recon_mvs.views import converging_focus

    frames = inputs.frames
    if len(frames) < 3 or not inputs.calibrated or any(f.mask is not None or f.meta.get("bounds") is not None for f in frames):
        return False
    return converging_focus([f.camera for f in frames]) is None


@hookimpl
def recon_register_methods(register: Callable[[Method], None]) -> None:
    register(
        Method(
            name="mvs",
            description="multi-view stereo: depth per view (plane sweep or MVSNet), fused, meshed (screened Poisson), textured; cameras from pycolmap for plain photos",
            accepts=_accepts,
            run=lazy("recon_mvs.method:run"),
            priority=15,
            options=OPTIONS,
        )
    )
