"""``recon detect``: faces (MediaPipe) and COCO objects (torchvision, local weights) in photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from recon.cli.app import get_host


@click.command("detect")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="A torchvision COCO detection checkpoint for objects (default: one found in torch's local cache; without any, faces only).")
@click.option("--arch", default=None, help="The detector of --weights when its file name does not say (e.g. fasterrcnn_mobilenet_v3_large_fpn).")
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Objects scored lower are left out.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: one object per image, in a list.")
@click.pass_context
def detect(ctx: click.Context, inputs: tuple[Path, ...], weights: Path | None, arch: str | None, min_score: float, as_json: bool) -> None:
    """Find faces and objects in photos (files or folders of images).

    Faces come from MediaPipe's face detectors (inside the mediapipe wheel): a box, a score and six
    keypoints each. Objects come from a torchvision COCO detector whose weights are on this
    machine (--weights, or torch's cache); nothing is downloaded.

    \b
    Example:
      recon detect photos/
      recon detect group.jpg --weights fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth --json
    """
    from recon.pipeline import read_inputs
    from recon_vision.annotate import detect_frame
    from recon_vision.objects import WEIGHTS_HINT, cached_weights, load_detector

    registry = get_host(ctx).registry
    source = weights or cached_weights()
    detector = load_detector(source, arch) if source is not None else None
    if detector is None and not as_json:
        click.echo(f"recon: warning: objects not detected: no COCO weights on this machine; {WEIGHTS_HINT}", err=True)
    results: list[dict[str, Any]] = []
    for path in inputs:
        frames = read_inputs([path], registry, {}).frames
        if frames and frames[0].index is not None:
            raise click.UsageError(f"{path} is a video; give photos or a folder of images")
        for frame in frames:
            results.append(detect_frame(frame.image, detector, min_score) | {"input": frame.source})
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for r in results:
        objects = ", ".join(f"{o['label']} {o['score']:.2f}" for o in r["objects"]) if r["objects"] is not None else "not detected"
        click.echo(f"{r['input']}: {len(r['faces'])} face{'s' if len(r['faces']) != 1 else ''}; objects: {objects or 'none'}")


def register(cli: click.Group) -> None:
    cli.add_command(detect)
