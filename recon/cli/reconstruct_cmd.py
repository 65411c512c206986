"""``recon reconstruct``: inputs in, a mesh folder out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from recon.cli.app import get_host


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("voxels=96", "name=x")`` -> ``{"voxels": 96, "name": "x"}`` (numbers and booleans parsed)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="-O/--option")
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        options[key.replace("-", "_")] = value
    return options


F = TypeVar("F", bound=Callable[..., Any])


def method_options(default_formats: str, extra: Callable[[F], F] = lambda f: f) -> Callable[[F], F]:
    """The arguments and options of every command that runs a method through the pipeline:
    INPUTS, -o, the method's own (``extra``), -O, --format, --seed, --overwrite, --json, -q."""

    def decorate(f: F) -> F:
        for option in reversed(
            [
                click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path)),
                click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Output folder (created)."),
                extra,
                click.option("-O", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable)."),
                click.option("--format", "formats", default=default_formats, show_default=True, help="Comma-separated output formats (glb, obj, ply)."),
                click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same result)."),
                click.option("--overwrite", is_flag=True, help="Replace OUT if it exists."),
                click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout."),
                click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
                click.pass_context,
            ]
        ):
            f = option(f)
        return f

    return decorate


def run_method(
    ctx: click.Context, inputs: tuple[Path, ...], out: Path, method: str | None, options: dict[str, Any],
    formats: str, seed: int, overwrite: bool, as_json: bool, quiet: bool,
) -> dict[str, Any] | None:
    """Run the pipeline; with ``as_json`` print the report (as report.json holds it). Returns the
    report when the command should print its summary line (neither --json nor -q)."""
    from recon.pipeline import _json_default
    from recon.pipeline import reconstruct as run

    fmt = tuple(f.strip() for f in formats.split(",") if f.strip())
    report = run(get_host(ctx), list(inputs), out, method=method, options=options, formats=fmt, seed=seed, quiet=quiet, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=_json_default))  # numpy values as in report.json
    return None if as_json or quiet else report


def _reconstruct_options(f: F) -> F:
    for option in reversed(
        [
            click.option("--method", "method", default=None, help="Reconstruction method; chosen from the inputs when absent."),
            click.option("--fps", type=float, default=None, help="Video: sample frames at this rate."),
            click.option("--max-frames", type=int, default=None, help="Video: keep at most this many frames."),
            click.option("--face-index", type=int, default=None, help="Faces: which face when a photo holds several (0 = largest)."),
        ]
    ):
        f = option(f)
    return f


@click.command()
@method_options("glb,obj", _reconstruct_options)
def reconstruct(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    out: Path,
    method: str | None,
    option_pairs: tuple[str, ...],
    formats: str,
    fps: float | None,
    max_frames: int | None,
    face_index: int | None,
    seed: int,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Reconstruct a mesh from INPUTS (images, folders, videos, point clouds, meshes) into OUT.

    OUT gets mesh.glb, mesh.obj (+ .mtl, texture PNG), report.json and, where the method draws
    one, preview.png. Nothing is left behind when the run fails.

    \b
    Example:
      recon reconstruct assets/demo_face/astronaut.jpg -o out/demo
      recon reconstruct photos/ -o out/face --face-index 1
      recon reconstruct scene/ -o out/ --method visual-hull -O voxels=128 --json
    """
    options = parse_options(option_pairs)
    options.update({"fps": fps, "max_frames": max_frames})
    if face_index is not None:
        options["face_index"] = face_index
    report = run_method(ctx, inputs, out, method, options, formats, seed, overwrite, as_json, quiet)
    if report is not None:
        mesh = report["mesh"]
        click.echo(
            f"{report['method']}: {mesh['vertices']} vertices, {mesh['faces']} faces in "
            f"{report['timings_s']['total']:.2f} s -> {out}/ ({', '.join(report['outputs'])})"
        )
