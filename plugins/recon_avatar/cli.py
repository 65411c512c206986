"""``recon avatar train`` and ``recon avatar render``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from recon.cli.app import error_line, get_host, stop_signal, stopped


def _device_name(device: str) -> str:
    """``cpu`` or ``cuda`` for ``--device`` (``auto``: CUDA when there is a GPU)."""
    import torch

    from recon.device import pick_device
    from recon.errors import UsageError

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: PyTorch sees no CUDA GPU on this machine; use --device cpu (or auto)")
    return pick_device(None if device == "auto" else device).type


def _checkpoint_step(out: Path) -> int | None:
    """The step of the checkpoint in ``out`` (``None``: there is none, or it cannot be read)."""
    from recon.errors import ReconError
    from recon_avatar.checkpoint import FILENAME, load

    try:
        return int(load(out / FILENAME)["step"])
    except (ReconError, KeyError, TypeError, ValueError):
        return None


@click.group("avatar")
def avatar() -> None:
    """Dynamic neural head avatars: learn a person's head from one video, then render it under
    new expressions and head poses.

    \b
    Example:
      recon avatar train clip.mp4 -o avatar/
      recon avatar render avatar/ --turntable -o turntable.mp4
    """


@avatar.command("train")
@click.argument("clip", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="The avatar's folder (created; an unfinished training there resumes).")
@click.option("--tracking", type=click.Path(path_type=Path), default=None, help="A face_video output folder of CLIP to use instead of tracking it again.")
@click.option("--size", type=click.IntRange(16, 1024), default=None, help="Training resolution in pixels (default 128 on a CPU, 512 on a GPU).")
@click.option("--iterations", type=click.IntRange(1, 10_000_000), default=None, help="Training steps (default 3000 on a CPU, 12000 on a GPU).")
@click.option("--batch", type=click.IntRange(64, 1 << 20), default=None, help="Rays per step (default 4096 on a CPU, 16384 on a GPU).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to train: the same code on either.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the field's initial values and the ray sampler: the same seed, the same avatar (on a CPU).")
@click.option("--fps", type=float, default=None, help="Video: sample frames at this rate.")
@click.option("--max-frames", type=click.IntRange(1), default=None, help="Video: use at most this many frames.")
@click.option("--restart", is_flag=True, help="Start training afresh instead of resuming the avatar in -o.")
@click.option("--no-mesh", is_flag=True, help="Skip extracting mesh.glb.")
@click.option("--checkpoint-every", type=click.IntRange(0), default=0, help="Save every N steps (default: every 30 seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def train_cmd(
    ctx: click.Context, clip: Path, out: Path, tracking: Path | None, size: int | None, iterations: int | None, batch: int | None, device: str,
    seed: int, fps: float | None, max_frames: int | None, restart: bool, no_mesh: bool, checkpoint_every: int, as_json: bool,
) -> None:
    """Learn the avatar of the face in CLIP (a video, or a folder of frames).

    CLIP is tracked with the face_video method (or --tracking gives that run's folder); every
    10th tracked frame is held out. A radiance field anchored to the tracked head is trained on
    the rest, scored on the held-out frames against the tracked textured mesh (heldout.png,
    report.json) and exported as mesh.glb with the head's ARKit shape keys.

    \b
    Example:
      recon avatar train clip.mp4 -o avatar/
      recon avatar train clip.mp4 -o avatar/ --size 64 --iterations 500   # a quick look
    """
    from recon.pipeline import require_existing
    from recon_avatar.run import train_avatar
    from recon_avatar.train import default_settings

    require_existing([clip])
    gpu = _device_name(device) == "cuda"
    settings = default_settings(gpu, size, iterations, batch, seed)
    try:
        report = train_avatar(
            get_host(ctx), clip, out, settings, device="cuda" if gpu else "cpu", tracking=tracking,
            read_options={"fps": fps, "max_frames": max_frames}, restart=restart, quiet=as_json, export=not no_mesh, checkpoint_every=checkpoint_every,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or a stop signal: say what stays, when a checkpoint does
        kept = _checkpoint_step(out)
        if kept is None:
            raise  # the run removed the folder it created: "nothing was written" holds
        signum = stop_signal(exc)
        error_line(f"{stopped(signum)}; {out}/ keeps the training at step {kept}: run the same command again to resume")
        ctx.exit(128 + signum)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    h = report["heldout"]
    click.echo(
        f"avatar: {report['frames']['training']} frames at {settings.size}px, {report['training']['iterations']} steps in "
        f"{report['training']['seconds']:.0f} s; held-out PSNR {h['avatar']['psnr_db']:.2f} dB "
        f"(mesh {h['mesh']['psnr_db']:.2f} dB) -> {out}/ ({', '.join(report['outputs'])})"
    )


@avatar.command("render")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="The video to write (.mp4).")
@click.option("--drive", type=click.Path(path_type=Path), default=None, help="Another clip (video, or its face_video output folder) whose expressions and head motion drive the avatar.")
@click.option("--turntable", is_flag=True, help="The head turning left and right under a fixed expression (the first row of --expressions, or neutral).")
@click.option("--expressions", type=click.Path(path_type=Path), default=None, help="A Live Link Face CSV: one frame per row.")
@click.option("--fps", type=float, default=None, help="Frames per second of the video (default: the driving clip's, else 30).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace the output video when it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print what was rendered as JSON on stdout.")
@click.pass_context
def render_cmd(
    ctx: click.Context, folder: Path, out: Path, drive: Path | None, turntable: bool, expressions: Path | None,
    fps: float | None, device: str, overwrite: bool, as_json: bool,
) -> None:
    """Render the avatar in FOLDER to a video: re-enacting another clip, a turntable, or the
    expressions of a Live Link Face CSV.

    \b
    Example:
      recon avatar render avatar/ --drive other.mp4 -o reenacted.mp4
      recon avatar render avatar/ --turntable -o turntable.mp4
      recon avatar render avatar/ --expressions take.csv -o take.mp4
    """
    from recon.errors import UsageError
    from recon.pipeline import require_existing
    from recon_avatar.video import render_video

    if sum([drive is not None, turntable, expressions is not None and not turntable]) != 1:
        raise UsageError("give one of --drive CLIP, --turntable or --expressions FILE.csv")
    require_existing([p for p in (folder, drive, expressions) if p is not None])
    if out.suffix.lower() != ".mp4":
        raise UsageError(f"-o {out}: the video is written as MP4; name it .mp4")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} already exists; pass --overwrite to replace it or choose another -o")
    result: dict[str, Any] = render_video(
        get_host(ctx), folder, out, drive=drive, turntable=turntable, expressions=expressions, fps=fps,
        device="cuda" if _device_name(device) == "cuda" else "cpu", quiet=as_json,
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"avatar: {result['frames']} frames at {result['size']}px, {result['render_fps']:.1f} frames/s -> {out}")


def register(cli: click.Group) -> None:
    cli.add_command(avatar)
