"""An example recon plugin: copy this package to start your own.

It adds a reconstruction method (``convex-hull``: the convex hull of a point cloud) and a CLI
subcommand (``recon mesh-stats FILE``). Heavy imports happen inside functions, so ``recon --help``
stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from recon import hookimpl
from recon.registry import Method
from recon.structures import Inputs, Mesh, Reconstruction


def _accepts(inputs: Inputs) -> bool:
    return bool(inputs.point_clouds) and not inputs.frames


def convex_hull(inputs: Inputs, options: dict[str, Any], stages: Any) -> Reconstruction:
    """The convex hull of all input points (a watertight mesh)."""
    import numpy as np
    import trimesh

    from recon.errors import BadInputError

    with stages.stage("hull"):
        points = np.concatenate([pc.points for pc in inputs.point_clouds])
        if len(points) < 4:
            raise BadInputError(f"convex-hull needs at least 4 points, got {len(points)}")
        hull = trimesh.PointCloud(points).convex_hull
    mesh = Mesh(np.asarray(hull.vertices), np.asarray(hull.faces), name="convex_hull")
    views = [{"input": pc.source, "points": len(pc)} for pc in inputs.point_clouds]
    return Reconstruction(method="convex-hull", meshes=[mesh], views=views, metadata={"volume": float(hull.volume)})


@hookimpl
def recon_register_methods(register: Callable[[Method], None]) -> None:
    register(Method("convex-hull", "convex hull of a point cloud (example plugin)", _accepts, convex_hull))


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    @cli.command("mesh-stats")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def mesh_stats(path: str) -> None:
        """Print vertex and face counts, watertightness and size of a mesh file.

        \b
        Example:
          recon mesh-stats out/demo/mesh.glb
        """
        import trimesh

        mesh = trimesh.load(path, force="mesh")
        size = mesh.extents
        click.echo(
            f"{path}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, "
            f"watertight={mesh.is_watertight}, size={size[0]:.4g} x {size[1]:.4g} x {size[2]:.4g}"
        )
