"""Built-in plugin ``recon_pointnet``: PointNet classification and part segmentation.

Commands: ``recon classify FILES [--json]`` and ``recon train pointnet DATA_DIR``. The network
(:mod:`recon.pointnet`, whose encoder the occupancy prior of ``recon_occupancy`` shares) and the
procedural shapes that train both (:mod:`recon.shapes`) are in the core.
Shipped weights: ``recon_pointnet/data/pointnet.pt``, the default, 40 ModelNet40 classes with
calibrated probabilities and an "unknown" threshold (the checkout's
``assets/pointnet/train_modelnet40.py``), and ``recon_pointnet/data/pointnet_procedural.pt``, the
ten procedural shapes with a part head (``assets/pointnet/train_default.py``; ``--weights procedural``).

Nothing heavy is imported here: torch loads only when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recon import hookimpl

if TYPE_CHECKING:
    import click

__version__ = "0.1.0"


def critical_points(points: Any, weights: str | None = None, up: str = "y", seed: int = 0, source: str = "points") -> dict[str, Any]:
    """The points of a cloud that win PointNet's max-pool (:mod:`recon_pointnet.explain`), with
    the shipped ModelNet40 weights or ``weights``. Part of this plugin's public API."""
    from recon_pointnet.checkpoint import load_checkpoint
    from recon_pointnet.explain import critical_points as find

    return find(load_checkpoint(weights), points, up=up, seed=seed, source=source)


def clouds_from_inputs(inputs: Any, n: int = 4096, seed: int = 0) -> list[Any]:
    """Every point cloud and mesh of recon ``Inputs`` as ``(source, points, kind)`` (a mesh
    sampled with ``n`` points uniformly by area, seeded). Part of this plugin's public API."""
    from recon_pointnet.data import clouds_from_inputs as clouds

    return clouds(inputs, n, seed)


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_pointnet.cli import register

    register(cli)
