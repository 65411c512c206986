"""Built-in plugin ``recon_pointnet``: PointNet classification and part segmentation.

Commands: ``recon classify FILES [--json]`` and ``recon train pointnet DATA_DIR``. The encoder
(:class:`recon_pointnet.model.PointNetEncoder`) is shared with the occupancy prior of
``recon_occupancy``; the procedural shapes (:mod:`recon_pointnet.shapes`) train both.
Shipped weights: ``recon_pointnet/data/pointnet.pt``, the default, 40 ModelNet40 classes with
calibrated probabilities and an "unknown" threshold (the checkout's
``assets/pointnet/train_modelnet40.py``), and ``recon_pointnet/data/pointnet_procedural.pt``, the
ten procedural shapes with a part head (``assets/pointnet/train_default.py``; ``--weights procedural``).

Nothing heavy is imported here: torch loads only when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import hookimpl

if TYPE_CHECKING:
    import click

__version__ = "0.1.0"


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_pointnet.cli import register

    register(cli)
