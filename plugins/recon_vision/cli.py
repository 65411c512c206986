"""``recon detect``: faces (MediaPipe) and COCO objects (torchvision, local weights) in photos."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import numpy as np

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
    from recon_vision.objects import INSTALL_HINT, WEIGHTS_HINT, available, cached_weights, load_detector

    registry = get_host(ctx).registry
    source = weights or cached_weights()
    detector = load_detector(source, arch) if source is not None else None
    if detector is None and not as_json:
        why = f"no COCO weights on this machine; {WEIGHTS_HINT}" if available() else INSTALL_HINT
        click.echo(f"recon: warning: objects not detected: {why}", err=True)
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




def _images(ctx: click.Context, inputs: tuple[Path, ...]) -> list[tuple[str, Any]]:
    """(source, RGB image) for every photo of ``inputs`` (files or folders), read by recon's readers."""
    from recon.pipeline import read_inputs

    registry = get_host(ctx).registry
    found = []
    for path in inputs:
        frames = read_inputs([path], registry, {}).frames
        if frames and frames[0].index is not None:
            raise click.UsageError(f"{path} is a video; give photos or a folder of images")
        found += [(f.source, f.image) for f in frames]
    return found


MODEL_HELP = "A Hugging Face model folder (config.json, weights, tokenizer, preprocessor); default: ${} or {} in the local cache."


@click.command("caption")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None, help=MODEL_HELP.format("RECON_CAPTION_MODEL", "Salesforce/blip-image-captioning-base"))
@click.option("--max-words", type=click.IntRange(1, 200), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: a list of {input, caption, model}.")
@click.pass_context
def caption(ctx: click.Context, inputs: tuple[Path, ...], model: Path | None, max_words: int, as_json: bool) -> None:
    """Describe photos in a sentence (BLIP or another image-to-text model, local files only).

    \b
    Example:
      recon caption photos/ --model ~/models/blip-image-captioning-base
    """
    from recon_vision.language import load_captioner

    captioner = load_captioner(model)
    results = [{"input": source, "caption": captioner.caption(image, max_words), "model": captioner.name} for source, image in _images(ctx, inputs)]
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            click.echo(f"{r['input']}: {r['caption']}")


@click.command("tag")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--labels", required=True, help='Comma-separated labels to choose from, e.g. "a face,a chair,a statue".')
@click.option("--model", type=click.Path(path_type=Path), default=None, help=MODEL_HELP.format("RECON_CLIP_MODEL", "openai/clip-vit-base-patch32"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: a list of {input, label, probabilities}.")
@click.pass_context
def tag(ctx: click.Context, inputs: tuple[Path, ...], labels: str, model: Path | None, as_json: bool) -> None:
    """Label photos zero-shot with CLIP: the most likely of --labels, with every probability.

    \b
    Example:
      recon tag photos/ --labels "a face,a statue,a chair" --model ~/models/clip-vit-base-patch32
    """
    from recon_vision.language import load_clip, zero_shot

    names = [label.strip() for label in labels.split(",") if label.strip()]
    if len(names) < 2:
        raise click.UsageError(f'--labels {labels!r}: give two or more comma-separated labels, e.g. --labels "a face,a chair"')
    clip = load_clip(model)
    photos = _images(ctx, inputs)
    probabilities = zero_shot(clip, [image for _, image in photos], names)
    results = [
        {"input": source, "label": names[int(np.argmax(p))], "probabilities": {n: round(float(x), 4) for n, x in zip(names, p)}, "model": clip.name}
        for (source, _), p in zip(photos, probabilities)
    ]
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            click.echo(f"{r['input']}: {r['label']} ({r['probabilities'][r['label']]:.2f})")


@click.command("search")
@click.argument("text")
@click.argument("library", type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None, help=MODEL_HELP.format("RECON_CLIP_MODEL", "openai/clip-vit-base-patch32"))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: a list of {folder, score, picture, method}.")
def search(text: str, library: Path, model: Path | None, top: int, as_json: bool) -> None:
    """Rank earlier reconstructions under LIBRARY by CLIP similarity of their previews to TEXT.

    Embeddings are cached in each reconstruction folder (search_embeddings.npz, listed in its
    report.json), so a second search reads no picture again.

    \b
    Example:
      recon search "a bearded man" out/ --model ~/models/clip-vit-base-patch32
    """
    from recon_vision.language import load_clip
    from recon_vision.search import search as rank

    hits = rank(text, library, load_clip(model))[:top]
    if as_json:
        click.echo(json.dumps([{"folder": str(h.folder), "score": h.score, "picture": h.picture, "method": h.method} for h in hits], indent=2))
    else:
        for h in hits:
            click.echo(f"{h.score:.3f}  {h.folder}  ({h.method or '?'})")


@click.command("explain")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder (the same rules as recon reconstruct's).")
@click.option("--labels", default=None, help='Photos: the CLIP labels to explain among, e.g. "a face,a chair,a statue".')
@click.option("--label", default=None, help="Photos: the label whose evidence to show (default: CLIP's top label).")
@click.option("--model", type=click.Path(path_type=Path), default=None, help=MODEL_HELP.format("RECON_CLIP_MODEL", "openai/clip-vit-base-patch32"))
@click.option("--weights", default=None, help="Point clouds: PointNet weights (default: the shipped ModelNet40 ones).")
@click.option("--up", type=click.Choice(["y", "z"]), default="y", show_default=True, help="Point clouds: the up axis (ModelNet files: z).")
@click.option("--overwrite", is_flag=True, help="Replace OUT when recon wrote it.")
@click.pass_context
def explain(
    ctx: click.Context, inputs: tuple[Path, ...], out: Path, labels: str | None, label: str | None, model: Path | None,
    weights: str | None, up: str, overwrite: bool,
) -> None:
    """Show what a model looked at: occlusion and gradient saliency of CLIP for photos, PointNet's
    critical points for point clouds and meshes.

    Writes into OUT: NAME_occlusion.png and NAME_saliency.png per photo, NAME_critical_points.ply
    per cloud, and report.json with the labels, probabilities and counts.

    \b
    Example:
      recon explain portrait.jpg --labels "a face,a statue" --model ~/models/clip-vit-base-patch32 -o out/why
      recon explain chair.off --up z -o out/why-chair
    """
    from PIL import Image

    from recon.output import OutputFolder
    from recon.pipeline import read_inputs
    from recon_vision.explain import clip_maps, critical_ply, heat_overlay

    registry = get_host(ctx).registry
    names = [x.strip() for x in labels.split(",") if x.strip()] if labels else []
    if label is not None and label not in names:
        raise click.UsageError(f"--label {label!r} is not one of --labels")
    read = [(path, read_inputs([path], registry, {})) for path in inputs]
    photos = [(f.source, f.image) for _, i in read for f in i.frames]
    clouds = [(path, i) for path, i in read if i.point_clouds or i.meshes]
    if photos and len(names) < 2:
        raise click.UsageError('explaining a photo needs --labels with two or more labels, e.g. --labels "a face,a chair"')
    clip = None
    if photos:
        from recon_vision.language import load_clip

        clip = load_clip(model)
    entries: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    for source, image in photos:
        maps = clip_maps(clip, image, names, label)
        stem = Path(source).stem
        for kind in ("occlusion", "saliency"):
            buf = io.BytesIO()
            Image.fromarray(heat_overlay(maps["seen"], maps[kind])).save(buf, format="PNG")
            files[f"{stem}_{kind}.png"] = buf.getvalue()
        entries.append({"input": source, "model": clip.name, **{k: maps[k] for k in ("label", "probability", "probabilities", "occlusion_max_drop")}})
    for path, found in clouds:
        import recon_pointnet

        for cloud in recon_pointnet.clouds_from_inputs(found, 4096):
            result = recon_pointnet.critical_points(cloud.points, weights=weights, up=up, source=cloud.source)
            files[f"{Path(cloud.source).stem}_critical_points.ply"] = critical_ply(result["points"], result["critical"])
            entries.append({k: result[k] for k in ("input", "label", "probability", "sampling")} | {"points": len(result["points"]), "critical_points": len(result["critical"])})
    target = OutputFolder(out, list(inputs), overwrite)
    with target.written() as folder, target.disk_errors():
        for name, content in files.items():
            (folder / name).write_bytes(content)
        report = {"command": "explain", "inputs": [str(p) for p in inputs], "explanations": entries, "outputs": sorted([*files, "report.json"])}
        (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for e in entries:
        click.echo(f"{e['input']}: {e['label']} ({e['probability']:.2f})")
    click.echo(f"outputs: {out}/ ({', '.join(sorted(files))}, report.json)")


def register(cli: click.Group) -> None:
    for command in (detect, caption, tag, search, explain):
        cli.add_command(command)

