"""``recon mesh``: a point cloud to a watertight mesh folder (mesh.ply, mesh.glb, mesh.obj, report.json)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from recon.cli.reconstruct_cmd import method_options, parse_options, run_method


def _mesh_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--reference", type=click.Path(path_type=Path), default=None, help="Score against this mesh: Chamfer-L1, normal consistency, F-score at 1 %, IoU.")(f)
    return click.option("--method", default="occupancy", show_default=True, help="Reconstruction method for the points.")(f)


@click.command("mesh")
@method_options("ply,glb,obj", _mesh_options)
def mesh(
    ctx: click.Context, inputs: tuple[Path, ...], out: Path, method: str, reference: Path | None,
    option_pairs: tuple[str, ...], formats: str, seed: int, overwrite: bool, as_json: bool, quiet: bool,
) -> None:
    """Mesh point clouds (ply, xyz, npz; with or without normals) into a watertight surface.

    OUT gets mesh.ply, mesh.glb, mesh.obj and report.json (timings; with --reference also
    Chamfer-L1, normal consistency, F-score at 1 % and IoU). Nothing is left behind on failure.

    \b
    Example:
      recon mesh scan.ply -o out/
      recon mesh scan.xyz -o out/ --reference scan_truth.obj --json
      recon mesh sparse.npz -o out/ -O mode=prior
    """
    options = parse_options(option_pairs)
    if reference is not None:
        options["reference"] = str(reference)
    report = run_method(ctx, inputs, out, method, options, formats, seed, overwrite, as_json, quiet)
    if report is None:
        return
    surface = report["metadata"].get("surface", {})
    line = (
        f"{report['method']}: {report['mesh']['vertices']} vertices, {report['mesh']['faces']} faces, "
        f"watertight={surface.get('watertight')}, manifold={surface.get('manifold')} in {report['timings_s']['total']:.2f} s -> {out}/"
    )
    metrics = report["metadata"].get("metrics")
    if metrics:
        line += (
            f"\n  vs reference: Chamfer-L1 {metrics['chamfer_l1']:.4g} ({metrics['chamfer_l1_relative'] * 100:.3f} % of the diagonal), "
            f"normal consistency {metrics['normal_consistency']:.4f}, F-score@1% {metrics['fscore_1pct']:.4f}, IoU {metrics['iou']:.4f}"
        )
    click.echo(line)
