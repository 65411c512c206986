"""``recon classify`` and ``recon train pointnet``: thin click commands (torch is imported when they run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from recon.cli.app import get_host


def _progress():  # noqa: ANN202 - rich.progress.Progress on stderr
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@click.command("classify")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--weights", default=None, metavar="PATH|NAME",
              help="PointNet checkpoint, or shipped weights by name: 'modelnet40' (the default, 40 ModelNet classes) or 'procedural' (ten procedural shapes, with a part head).")
@click.option("--up", type=click.Choice(["y", "z"]), default="y", show_default=True, help="Up axis of the input (ModelNet and most CAD files: z).")
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True, help="Labels listed with their probabilities.")
@click.option("--sampling", type=click.Choice(["random", "fps"]), default="random", show_default=True,
              help="How a cloud larger than the model's 1,024 points is cut down: random subset or farthest-point sampling.")
@click.option("--votes", type=click.IntRange(min=1), default=None, help="Average over this many turns about the up axis (default: the weights' own).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Answer 'unknown' below this top probability (default: the weights' own, chosen on validation data; 0: never).")
@click.option("--parts", is_flag=True, help="Also label every point with a part (the procedural weights' part head when the classifier has none).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout (one object per cloud; a list when there are several).")
@click.pass_context
def classify(
    ctx: click.Context, inputs: tuple[Path, ...], weights: str | None, up: str, top_k: int, sampling: str, votes: int | None,
    threshold: float | None, parts: bool, seed: int, as_json: bool,
) -> None:
    """Classify point clouds or meshes (ply, xyz, npz, off, obj) with PointNet.

    The default weights know the 40 ModelNet40 classes; below a probability threshold the answer
    is 'unknown'. Meshes are sampled uniformly by area; clouds of any size, scale, position and
    turn about the up axis are normalised as in training. Prints the label and the top
    probabilities per cloud; --json gives every class probability and how the cloud was sampled.

    \b
    Example:
      recon classify points.ply
      recon classify chair.off --up z --json
      recon classify scan.ply --sampling fps --top-k 3
      recon classify shape.ply --weights procedural --parts --json
    """
    from recon.device import pick_device, seed_everything
    from recon_pointnet.checkpoint import load_checkpoint, procedural_weights_path
    from recon_pointnet.classify import classify_points
    from recon_pointnet.data import read_clouds

    registry = get_host(ctx).registry
    device = pick_device()
    ckpt = load_checkpoint(weights, device=device)
    clouds = []
    for path in inputs:
        clouds += read_clouds(path, registry, ckpt.num_points, seed)
    seed_everything(seed)
    part_ckpt = None
    if parts and ckpt.model.seg is None:
        part_ckpt = load_checkpoint(procedural_weights_path(), device=device)
    results = [
        classify_points(ckpt, c.points, up=up, votes=votes, seed=seed, parts=parts, source=c.source, sampling=sampling,
                        top_k=top_k, threshold=threshold, kind=c.kind, part_ckpt=part_ckpt)
        for c in clouds
    ]
    for r in results:
        r["weights"] = str(ckpt.path)
    if as_json:
        click.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    for r in results:
        top = r["top_k"]
        others = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in (top[1:] if r["label"] != "unknown" else top))
        line = f"{r['input']}: {r['label']} ({r['probability']:.2f})" + (f"  [{others}]" if others else "")
        if parts and r.get("parts"):
            line += "  parts: " + ", ".join(f"{k} {v:.0%}" for k, v in r["parts"].items())
        click.echo(line)


@click.command("pointnet")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("pointnet.pt"), show_default=True, help="Checkpoint to write.")
@click.option("--weights", type=click.Path(path_type=Path), default=None, help="Start from this checkpoint (its encoder; its head too when the classes match).")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--points", type=int, default=1024, show_default=True, help="Points per cloud while training.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate (one-cycle schedule).")
@click.option("--up", type=click.Choice(["y", "z"]), default="z", show_default=True, help="Up axis of the files (ModelNet: z).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the training summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def train_pointnet(
    ctx: click.Context, data_dir: Path, out: Path, weights: Path | None, epochs: int, batch_size: int, points: int,
    lr: float, up: str, seed: int, as_json: bool, quiet: bool,
) -> None:
    """Train a PointNet classifier on a ModelNet-style folder and save a checkpoint.

    DATA_DIR holds one folder per class with train/ and test/ sub-folders of meshes or clouds
    (.off, .ply, .obj, .xyz, .npz); a class folder without them trains on all its files.
    Reports held-out accuracy on the test files.

    \b
    Example:
      recon train pointnet ModelNet10/ -o modelnet10.pt --epochs 30
      recon classify chair.off --up z --weights modelnet10.pt
    """
    from recon.errors import BadInputError, UsageError
    from recon_pointnet.run import train_on_folder

    if epochs < 1 or batch_size < 2 or points < 16:
        raise UsageError("--epochs must be >= 1, --batch-size >= 2 and --points >= 16")
    if not data_dir.exists():
        raise BadInputError(f"{data_dir}: no such folder")
    registry = get_host(ctx).registry
    options: dict[str, Any] = dict(epochs=epochs, batch_size=batch_size, points=points, lr=lr, up=up, seed=seed)
    if quiet:
        summary = train_on_folder(data_dir, out, registry, weights=weights, **options)
    else:
        with _progress() as progress:
            read = progress.add_task("read", total=None, info="")
            fit = progress.add_task("train", total=None, info="", visible=False)

            def on_read(done: int, total: int) -> None:
                progress.update(read, completed=done, total=total)

            def on_step(step: int, total: int, loss: float, acc: float) -> None:
                progress.update(fit, completed=step, total=total, visible=True, info=f"loss {loss:.3f} acc {acc:.2f}")

            summary = train_on_folder(data_dir, out, registry, weights=weights, on_read=on_read, on_step=on_step, **options)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        acc = summary["test_accuracy"]
        acc_text = "no test files" if acc is None else f"test accuracy {acc:.3f} on {summary['test_clouds']} clouds"
        click.echo(f"trained on {summary['train_clouds']} clouds of {len(summary['classes'])} classes; {acc_text} -> {out}")


def register(cli: click.Group) -> None:
    """Add ``classify`` and ``train pointnet`` (creating the ``train`` group when no plugin has; if
    another plugin took ``train`` for a plain command, ``train-pointnet`` instead)."""
    cli.add_command(classify)
    train = cli.commands.get("train")
    if train is not None and not isinstance(train, click.Group):  # another plugin's plain command
        cli.add_command(train_pointnet, "train-pointnet")
        return
    if train is None:

        @click.group("train")
        def train() -> None:
            """Train models on your own data.

            \b
            Example:
              recon train pointnet ModelNet10/ -o modelnet10.pt
            """

        cli.add_command(train)
    train.add_command(train_pointnet)
