"""``recon avatar render``: a trained avatar driven by another clip, a turntable or a Live Link Face
CSV, written as an H.264 MP4 (:class:`recon.mp4.Mp4Writer`), whole or not at all."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.output import write_file
from recon.progress import Stages
from recon_avatar.avatar import load_avatar
from recon_avatar.clip import Tracking
from recon_avatar.render import Drive, Rest, from_csv, reenact, render_frames
from recon_avatar.render import turntable as turning


def driver_tracking(host: Any, drive: Path, quiet: bool) -> Tracking:
    """The driving clip's tracking: its face_video folder's, or the clip tracked now (in a
    temporary folder)."""
    from recon.pipeline import reconstruct

    if drive.is_dir() and (drive / "tracking.npz").is_file():
        return Tracking.load(drive / "tracking.npz")
    with tempfile.TemporaryDirectory(prefix="recon-drive-") as tmp:
        reconstruct(host, [drive], Path(tmp) / "track", method="face_video", options={"preview_video": False}, quiet=quiet)
        return Tracking.load(Path(tmp) / "track" / "tracking.npz")


def render_video(
    host: Any, folder: Path, out: Path, drive: Path | None = None, turntable: bool = False, expressions: Path | None = None,
    fps: float | None = None, device: str = "cpu", quiet: bool = True,
) -> dict[str, Any]:
    """Render the avatar in ``folder`` to ``out`` (MP4) and say what was rendered."""
    from recon.mp4 import Mp4Writer
    from recon_face import read_livelink_csv

    avatar, tracking, _ = load_avatar(folder, device)
    rest = Rest.of(tracking)
    names = avatar.weight_names
    if drive is not None:
        plan: Drive = reenact(rest, driver_tracking(host, drive, quiet))
        if fps:
            plan.fps = fps
        source = str(drive)
    else:
        weights, head = (read_livelink_csv(expressions, names) if expressions is not None else (np.zeros((1, len(names)), np.float32), None))
        if turntable:
            plan = turning(rest, weights[0], fps=fps or 24.0)
            source = "turntable"
        else:
            plan = from_csv(rest, weights, head, fps or 30.0)
            source = str(expressions)
    if len(plan) == 0:
        raise BadInputError(f"{drive}: no frame with a tracked face to drive the avatar with")
    writer = Mp4Writer(plan.fps, (avatar.size, avatar.size), crf=18)
    start = time.perf_counter()
    with Stages(quiet=quiet) as stages, stages.stage("render", total=len(plan)) as task:
        for image in render_frames(avatar, plan, task.advance):
            writer.add(image)
    seconds = time.perf_counter() - start
    write_file(out, writer.finish())
    return {"output": str(out), "source": source, "frames": len(plan), "size": avatar.size, "fps": plan.fps, "seconds": round(seconds, 3), "render_fps": round(len(plan) / max(seconds, 1e-9), 2)}

