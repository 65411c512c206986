"""``recon golden check|update``: compare a mesh file with a golden mesh, or (re)write one."""

from __future__ import annotations

from pathlib import Path

import click

from recon.errors import BadInputError, UsageError


def _bound(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A tolerance: a finite number, 0 or more (exit 2 otherwise)."""
    import math

    if not (math.isfinite(value) and value >= 0):
        flag = "--" + (param.name or "").replace("_", "-")
        raise UsageError(f"{flag} {value}: give a finite number, 0 or more")
    return value


def _load(path: Path):  # noqa: ANN202 - returns recon.structures.Mesh
    from recon.structures import Mesh

    try:
        mesh = Mesh.load(path)
    except Exception as exc:
        raise BadInputError(f"{path}: cannot read mesh ({exc}); give an obj, ply, glb or off file") from None
    if len(mesh.faces) == 0:
        raise BadInputError(f"{path}: no triangles in this mesh file; give an obj, ply, glb or off file")
    return mesh


@click.group()
def golden() -> None:
    """Compare meshes with golden references, or regenerate them on purpose.

    \b
    Example:
      recon golden update out/demo/mesh.glb tests/golden/demo.npz
      recon golden check out/demo/mesh.glb tests/golden/demo.npz --chamfer 1e-4
    """


@golden.command("check")
@click.argument("mesh", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("golden_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vertex-atol", type=float, callback=_bound, default=1e-5, show_default=True, help="Max distance of a vertex from its golden position (model units).")
@click.option("--chamfer", type=float, callback=_bound, default=1e-5, show_default=True, help="Max Chamfer distance (model units).")
@click.option("--hausdorff", type=float, callback=_bound, default=1e-4, show_default=True, help="Max Hausdorff distance (model units).")
@click.option("--psnr", type=float, callback=_bound, default=40.0, show_default=True, help="Min texture PSNR (dB).")
@click.option("--uv-atol", type=float, callback=_bound, default=1e-4, show_default=True, help="Max per-coordinate UV error.")
@click.option("--any-topology", is_flag=True, help="Compare surfaces only; faces may differ.")
@click.option(
    "--metric/--no-metric", default=True, show_default=True, help="Model units are metres: print lengths in mm too."
)
def check_cmd(
    mesh: Path,
    golden_file: Path,
    vertex_atol: float,
    chamfer: float,
    hausdorff: float,
    psnr: float,
    uv_atol: float,
    any_topology: bool,
    metric: bool,
) -> None:
    """Compare MESH with GOLDEN_FILE (.npz); exit 5 with the numbers when they differ.

    \b
    Example:
      recon golden check out/demo/mesh.glb tests/golden/demo.npz
    """
    from recon.golden import Tolerance, check

    tol = Tolerance(vertex_atol, chamfer, hausdorff, psnr, topology=not any_topology, uv_atol=uv_atol)
    click.echo(check(_load(mesh), golden_file, tol, metric=metric).summary())


@golden.command("update")
@click.argument("mesh", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("golden_file", type=click.Path(dir_okay=False, path_type=Path))
def update_cmd(mesh: Path, golden_file: Path) -> None:
    """Write MESH as the golden reference GOLDEN_FILE (.npz), on purpose.

    \b
    Example:
      recon golden update out/demo/mesh.glb tests/golden/demo.npz
    """
    from recon.golden import save_golden

    save_golden(_load(mesh), golden_file)
    click.echo(f"wrote {golden_file}")
