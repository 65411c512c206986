"""``recon batch``: many captures at once, one ``reconstruct`` run each, on Ray."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from recon.cli.app import error_line, get_host, stop_signal, stopped
from recon.cli.reconstruct_cmd import parse_options
from recon.errors import BadInputError, UsageError


@click.command("batch")
@click.argument("captures", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Batch folder: OUT/<capture>/ per capture and OUT/batch.json.")
@click.option("--method", default=None, help="Reconstruction method for every capture; chosen from each capture's inputs when absent.")
@click.option("-O", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE", help="Method option for every capture (repeatable; a manifest row's own win).")
@click.option("--manifest", type=click.Path(path_type=Path), default=None, help="CSV or JSON: one row per capture with its inputs (and name, method, options, seed).")
@click.option("--address", default=None, metavar="HOST:PORT", help="Join this running Ray cluster (default: start a local Ray).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Captures at once (default: from the CPUs and memory).")
@click.option("--cpus-per-task", type=click.IntRange(min=1), default=None, help="CPUs each capture declares and computes with (default: CPUs / workers, or 1).")
@click.option("--format", "formats", default="glb,obj", show_default=True, help="Comma-separated output formats (glb, obj, ply).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of every capture (same seed, same result).")
@click.option("--overwrite", is_flag=True, help="Redo captures whose folder holds recon output for other inputs or options.")
@click.option("--json", "as_json", is_flag=True, help="Print batch.json on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def batch(
    ctx: click.Context, captures: Path | None, out: Path, method: str | None, option_pairs: tuple[str, ...],
    manifest: Path | None, address: str | None, workers: int | None, cpus_per_task: int | None, formats: str,
    seed: int, overwrite: bool, as_json: bool, quiet: bool,
) -> None:
    """Reconstruct every subfolder or file of CAPTURES (or every row of a --manifest) into
    OUT/<capture>/, one `recon reconstruct` run each, on Ray.

    A local Ray by default; --address joins a cluster. Finished captures are skipped on a rerun,
    so a stopped batch picks up where it was. OUT/batch.json lists every capture with its status,
    time and error. Exit 0 when every capture succeeded, 1 when some failed.

    \b
    Example:
      recon batch captures/ -o out/batch
      recon batch scans/ -o out/scans --method occupancy -O mode=prior --workers 4
      recon batch --manifest shoot.csv -o out/shoot --address 10.0.0.5:6379 --json
    """
    from recon_batch.engine import MISSING_RAY, ray_installed

    if not ray_installed():  # before any other check: say how to get it
        raise UsageError(MISSING_RAY)
    from recon_batch.captures import complete, discover, read_manifest
    from recon_batch.runner import run_batch

    if captures is not None and not captures.exists():
        raise BadInputError(f"{captures}: no such folder; give the folder that holds the captures")
    if manifest is None:
        if captures is None:
            raise UsageError("give CAPTURES (a folder with one subfolder or file per capture) or --manifest FILE")
        if not captures.is_dir():
            raise UsageError(f"{captures}: is a file; give the folder that holds the captures (one subfolder or file each), or --manifest")
    elif not manifest.is_file():
        raise BadInputError(f"--manifest {manifest}: no such file; check the path")
    if captures is not None and manifest is not None and not captures.is_dir():
        raise UsageError(f"{captures}: with --manifest, CAPTURES is the folder the manifest's relative paths start from; give a folder")

    host = get_host(ctx)
    fmt = tuple(f.strip() for f in formats.split(",") if f.strip())
    options = parse_options(option_pairs)
    if manifest is not None:
        rows, ignored = read_manifest(manifest, Path(os.path.abspath(captures)) if captures else None), []
    else:
        assert captures is not None
        rows, ignored = discover(Path(os.path.abspath(captures)), host.registry)
    complete(rows, method, options, seed, fmt)
    for entry in ignored:
        click.echo(f"recon: note: {entry['path']}: left out ({entry['reason']})", err=True)
    header = {
        "captures_folder": os.path.abspath(captures) if captures is not None else None,
        "manifest": os.path.abspath(manifest) if manifest is not None else None,
    }
    try:
        document = run_batch(
            host, rows, out, address=address, workers=workers, cpus_per_task=cpus_per_task, overwrite=overwrite,
            quiet=quiet, strict=host.strict, header=header, ignored=ignored,
            sources=[Path(os.path.abspath(captures))] if captures is not None else [],
        )
    except KeyboardInterrupt as exc:
        signum = stop_signal(exc)
        error_line(
            f"{stopped(signum)}; finished captures stay in {out}/ (see {out}/batch.json), the running ones left nothing behind; "
            "run the same command again to finish the rest"
        )
        ctx.exit(128 + signum)
    summary = document["summary"]
    if as_json:
        click.echo(json.dumps(document, indent=2, default=str))
    elif not quiet:
        parts = [f"{summary[s]} {s}" for s in ("done", "skipped", "failed") if summary[s] or s == "done"]
        click.echo(f"batch: {summary['total']} captures, {', '.join(parts)} in {document['time_s']:.1f} s -> {out}/ ({out}/batch.json)")
    if summary["failed"]:
        ctx.exit(1)
