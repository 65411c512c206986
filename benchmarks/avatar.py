"""The avatar's figures: held-out quality against the tracked textured mesh, training time and
rendering speed, on the shared real clips.

Run with the project's interpreter: ``.venv/bin/python benchmarks/avatar.py [--clips wojtek]
[--device cuda] [--work DIR] [--size N --iterations N] [--picture docs/avatar_heldout.png]``. Prints JSON on stdout, progress on stderr. Needs ``../shared/data``.

For each clip (``../shared/data/face_video``: ``metrical_tracker/{wojtek,justin}/video.mp4``,
``face_recognition/short_hamilton_clip.mp4``) ``recon avatar train`` runs in-process with the
command's defaults for the device (CPU: 128x128, 3000 steps of 4096 rays; GPU: 512x512, 12000
steps of 16384 rays) into ``--work`` (a rerun resumes an unfinished training there). Reported:

- **Quality** on the held-out frames (every 10th): PSNR and SSIM (kornia) of the avatar and of
  the tracked, textured head mesh (``mesh.glb``'s head posed per frame, rendered antialiased), both
  over the same background plate, in the head's pixels (the shell around the head: hair, ears,
  neck) and in the face's (inside the tracked landmarks). Target: avatar >= mesh + 2 dB.
- **Training time**: seconds and milliseconds per step (target on a CPU: <= 15 minutes at
  128x128; on a GPU: <= 10 minutes at 512x512), with the clip's length for scale.
- **Rendering**: the avatar's frames per second on the held-out frames, and as the baseline in
  the same process the textured mesh's rendering rate (PyTorch3D texture sampling) at the same
  size; the ratio. Target: >= 5 frames per second at 128x128 on a CPU.

The machine's load average is reported before and after, since other jobs share its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "face_video"
CLIPS = {
    "wojtek": VIDEOS / "metrical_tracker" / "wojtek" / "video.mp4",
    "justin": VIDEOS / "metrical_tracker" / "justin" / "video.mp4",
    "hamilton": VIDEOS / "face_recognition" / "short_hamilton_clip.mp4",
}
TARGETS = {"psnr_gain_db": 2.0, "cpu_train_s": 900.0, "gpu_train_s": 600.0, "render_fps": 5.0}


def log(text: str) -> None:
    print(f"[avatar bench] {text}", file=sys.stderr, flush=True)


def mesh_rate(folder: Path, frames: int = 10) -> float:
    """Frames per second of the tracked textured mesh rendered for the avatar's held-out frames."""
    import numpy as np

    from recon_avatar.avatar import load_avatar
    from recon_avatar.evaluate import mesh_baseline

    avatar, tracking, _ = load_avatar(folder)
    picks = np.flatnonzero(tracking.found)[:frames]
    start = time.perf_counter()
    for k in picks:
        mesh_baseline(tracking.head, tracking.weights[k], avatar.camera(tracking.R[k], tracking.t[k]), avatar.plate)
    return len(picks) / (time.perf_counter() - start)


def bench_clip(name: str, clip: Path, work: Path, device: str, size: int | None = None, iterations: int | None = None) -> dict[str, Any]:
    import torch

    from recon.plugins import PluginHost
    from recon_avatar.run import train_avatar
    from recon_avatar.train import default_settings

    gpu = device == "cuda"
    settings = default_settings(gpu, size=size, iterations=iterations)
    log(f"{name}: training at {settings.size}px, {settings.iterations} steps on {device}")
    report = train_avatar(PluginHost().load_entrypoints(), clip, work / name, settings, device=device, quiet=True)
    render_fps = report["render_fps"]
    baseline = mesh_rate(work / name)
    held = report["heldout"]
    seconds = report["training"]["seconds"]
    result = {
        "frames": report["frames"],
        "crop": report["crop"],
        "heldout": held,
        "training_s": seconds,
        "ms_per_step": report["training"]["ms_per_iteration"],
        "resumed_at": report["training"]["resumed_at"],
        "train_psnr_db": report["training"]["train_psnr_db"],
        "render_fps": render_fps,
        "mesh_render_fps": round(baseline, 2),
        "render_vs_mesh": round(render_fps / baseline, 3),
        "mesh_extraction": report["mesh"],
        "timings_s": report["timings_s"],
        "meets": {
            "psnr_gain": held["psnr_gain_db"] >= TARGETS["psnr_gain_db"],
            "face_psnr_gain": held["face_psnr_gain_db"] >= TARGETS["psnr_gain_db"],
            "training_time": seconds <= TARGETS["gpu_train_s" if gpu else "cpu_train_s"],
            "render_fps": render_fps >= TARGETS["render_fps"] or gpu,
        },
        "device_name": torch.cuda.get_device_name(0) if gpu else platform.processor() or platform.machine(),
    }
    log(f"{name}: avatar {held['avatar']['psnr_db']} dB, mesh {held['mesh']['psnr_db']} dB, {seconds:.0f} s training, {render_fps} fps")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--work", type=Path, default=None, help="Where the avatars go (kept; a rerun resumes). Default: a temporary folder.")
    parser.add_argument("--size", type=int, default=None, help="Training size (default: the command's for the device; a dry run can go small).")
    parser.add_argument("--iterations", type=int, default=None, help="Training steps (default: the command's for the device).")
    parser.add_argument("--picture", type=Path, default=None, help="Copy the first clip's heldout.png here (the README's is docs/avatar_heldout.png).")
    args = parser.parse_args()
    missing = [str(CLIPS[c]) for c in args.clips if not CLIPS[c].is_file()]
    if missing:
        sys.exit(f"avatar bench: missing shared data: {', '.join(missing)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="recon-avatar-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    results = {name: bench_clip(name, CLIPS[name], work, args.device, args.size, args.iterations) for name in args.clips}
    if args.picture is not None:
        args.picture.write_bytes((work / args.clips[0] / "heldout.png").read_bytes())
    print(json.dumps({
        "benchmark": "avatar",
        "device": args.device,
        "defaults": args.size is None and args.iterations is None,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "targets": TARGETS,
        "clips": results,
        "work": str(work),
    }, indent=2))


if __name__ == "__main__":
    main()
