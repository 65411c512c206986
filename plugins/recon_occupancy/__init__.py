"""Built-in plugin ``recon_occupancy``: watertight meshes from point clouds with occupancy networks.

Method ``occupancy`` (``recon reconstruct points.ply --method occupancy`` or ``recon mesh
points.ply -o out/``). Two modes (``-O mode=fit|prior``):

- ``fit`` (default): optimise an occupancy network on this one cloud; inside/outside supervision
  from estimated, oriented and jet-denoised normals (IMLS near the surface, generalised winding
  numbers away from it); no pretrained weights needed.
- ``prior``: a PointNet encoder (``recon.pointnet``, shared with ``recon_pointnet``) + occupancy
  decoder trained on procedural shapes (``recon_occupancy/data/prior.pt``), for fast completion
  of sparse or partial clouds.

Extraction: MISE from 32^3 with 2 upsampling steps, PyTorch3D marching cubes, Newton refinement of
the vertices; the mesh is watertight and manifold. Options: see :data:`recon_occupancy.method.DEFAULTS`.
Nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from recon import hookimpl
from recon.registry import Method
from recon.structures import Inputs

if TYPE_CHECKING:
    import click

__version__ = "0.1.0"

OPTIONS = (
    "mode", "init", "mise_start", "mise_steps", "mise_dilate", "iterations", "tau", "lr", "mlp_lr", "levels",
    "max_points", "k_normals", "k_jet", "jet_passes", "bandwidth", "refine", "min_component", "reference",
    "metric_samples", "device",
)
"""The ``-O`` keys of method ``occupancy`` (the keys of :data:`recon_occupancy.method.DEFAULTS`)."""


def _accepts(inputs: Inputs) -> bool:
    return bool(inputs.point_clouds) and not inputs.frames


def _run(inputs: Inputs, options: dict[str, Any], stages: Any) -> Any:
    from recon_occupancy.method import run

    return run(inputs, options, stages)


@hookimpl
def recon_register_methods(register: Callable[[Method], None]) -> None:
    register(
        Method(
            name="occupancy",
            description="watertight mesh from a point cloud: occupancy network fitted to the cloud (or a trained prior), MISE + marching cubes",
            accepts=_accepts,
            run=_run,
            priority=-10,
            options=OPTIONS,
        )
    )


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_occupancy.cli import mesh

    cli.add_command(mesh)
