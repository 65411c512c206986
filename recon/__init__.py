"""recon: a plugin-based 3D and face reconstruction toolkit.

Importing ``recon`` is cheap: heavy libraries (torch, PyTorch3D, MediaPipe) load only when a
method runs. Plugins write ``from recon import hookimpl``.
"""

from recon.hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "hookspec"]
