"""Built-in method ``visual-hull``: silhouette carving from calibrated views, with a baked texture.

Inputs: frames that all carry cameras (a scene folder: ``cameras.json``, Middlebury ``*_par.txt``
or an MVSNet layout) and either masks (image alpha) or a plain background. Options (``-O``):
``voxels`` (grid resolution along the longest side, default 128), ``threshold`` (background
distance in grey levels for images without alpha, default 40), ``texture_size`` (default 1024).
"""

from __future__ import annotations

from collections.abc import Callable

from recon import hookimpl
from recon.registry import Method, lazy
from recon.structures import Inputs

__version__ = "0.1.0"

OPTIONS = ("voxels", "threshold", "texture_size", "smooth")
"""The ``-O`` keys of method ``visual-hull`` (the keys of :data:`recon_visualhull.method.DEFAULTS`)."""


def _accepts(inputs: Inputs) -> bool:
    return len(inputs.frames) >= 2 and inputs.calibrated


@hookimpl
def recon_register_methods(register: Callable[[Method], None]) -> None:
    register(
        Method(
            name="visual-hull",
            description="silhouette carving from calibrated views (masks or plain background), textured from the photos",
            accepts=_accepts,
            run=lazy("recon_visualhull.method:run"),
            priority=10,
            options=OPTIONS,
        )
    )
