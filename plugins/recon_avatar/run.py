"""``recon avatar train`` end to end: track the clip (the face_video method, or a given tracking),
prepare the frames, train (resuming from ``avatar.pt`` when it holds an unfinished training with
the same settings), score the held-out frames against the mesh baseline, export the mesh.

``AVATAR/`` holds: ``tracking/`` (the face_video run) or ``tracking.npz`` (a given one),
``avatar.pt`` (the avatar and its training state), ``heldout.png``, ``mesh.glb`` and
``report.json``. Each file is written whole (a temporary file renamed into place).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError, UsageError
from recon.output import write_file
from recon.progress import Stages
from recon_avatar.checkpoint import FILENAME, load, save
from recon_avatar.clip import Tracking
from recon_avatar.train import TrainSettings, TrainingData, prepare, train

HELDOUT_ROWS = 4  # held-out frames shown in heldout.png
MESH_CELLS = 80  # the mesh's grid: at most this many cells along the head's longest side (the training size's at small sizes)
OURS = {"tracking", "tracking.npz", FILENAME, "heldout.png", "mesh.glb", "report.json"}


def check_folder(out: Path) -> None:
    """Refuse an ``-o`` that is a file or a folder holding anything but an avatar's files."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: is a file; give a folder for the avatar")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OURS and not p.name.startswith("."))
        if foreign:
            raise UsageError(f"-o {out}: holds files that are not an avatar's ({', '.join(foreign[:3])}); choose another -o")


def tracked(host: Any, clip: Path, out: Path, tracking: Path | None, read_options: dict[str, Any], quiet: bool) -> str:
    """The tracking file's path relative to ``out``: a given folder's ``tracking.npz`` copied in,
    or the face_video method run into ``out/tracking`` (kept from an earlier run)."""
    from recon.pipeline import reconstruct

    if tracking is not None:
        source = tracking / "tracking.npz" if tracking.is_dir() else tracking
        if not source.is_file():
            raise BadInputError(f"--tracking {tracking}: no tracking.npz there; give a face_video output folder (recon reconstruct CLIP -o FOLDER)")
        Tracking.load(source)
        write_file(out / "tracking.npz", source.read_bytes())
        return "tracking.npz"
    folder = out / "tracking"
    if not (folder / "tracking.npz").is_file():
        reconstruct(host, [clip], folder, method="face_video", options={**read_options, "preview_video": False}, quiet=quiet, overwrite=folder.exists())
    return "tracking/tracking.npz"


def resume_state(out: Path, settings: TrainSettings, restart: bool, clip: Path) -> dict[str, Any] | None:
    """The saved training to go on from (``None``: start afresh); one of another clip or with
    other settings is refused."""
    path = out / FILENAME
    if restart or not path.exists():
        return None
    state = load(path)
    if Path(state.get("clip", "")).resolve() != clip.resolve():
        raise UsageError(f"{path}: an avatar of {state.get('clip')}, not of {clip}; choose another -o, or --restart")
    saved = state.get("settings", {})
    same = {k: v for k, v in asdict(settings).items() if k != "iterations"}
    differ = sorted(k for k, v in same.items() if saved.get(k) != v)
    if differ:
        shown = ", ".join(f"{k}={saved.get(k)}" for k in differ)
        raise UsageError(f"{path}: trained with {shown}; give the same settings to resume, or --restart")
    if int(state["step"]) > settings.iterations:
        raise UsageError(f"{path}: already {state['step']} iterations, more than --iterations {settings.iterations}; give at least that many, or --restart")
    return state


def heldout(data: TrainingData, avatar: Any, task: Any = None) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Per held-out frame the avatar's and the mesh baseline's scores, and ``heldout.png``'s image."""
    from recon_avatar.evaluate import face_region, mesh_baseline, score, side_by_side

    tr = data.tracking
    per_frame, rows = [], []
    shown = set(np.linspace(0, len(data.heldout) - 1, min(HELDOUT_ROWS, len(data.heldout))).round().astype(int).tolist())
    for i, p in enumerate(data.heldout):
        start = time.perf_counter()
        image, mask = avatar.render(tr.R[p], tr.t[p], tr.weights[p])
        seconds = time.perf_counter() - start
        base = mesh_baseline(tr.head, tr.weights[p], avatar.camera(tr.R[p], tr.t[p]), data.plate)
        truth = data.images[int(p)]
        face = face_region(data.crop.points(tr.landmarks[p]), data.crop.size)
        per_frame.append({
            "frame": int(tr.frame_index[p]), "render_s": round(seconds, 4),
            "avatar": score(truth, image, mask, face), "mesh": score(truth, base, mask, face),
        })
        if i in shown:
            rows.append((truth, image, base))
        if task is not None:
            task.advance()
    return per_frame, side_by_side(rows)


def train_avatar(
    host: Any, clip: Path, out: Path, settings: TrainSettings, device: str = "cpu", tracking: Path | None = None,
    read_options: dict[str, Any] | None = None, restart: bool = False, quiet: bool = True, export: bool = True, checkpoint_every: int = 0,
) -> dict[str, Any]:
    """Train (or resume) the avatar of ``clip`` into ``out`` and return its report. A run that
    created ``out`` and fails before its first checkpoint removes it again."""
    check_folder(out)
    created = not out.exists()
    try:
        return _train_avatar(host, clip, out, settings, device, tracking, read_options or {}, restart, quiet, export, checkpoint_every)
    except BaseException:
        if created and not (out / FILENAME).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise


def _train_avatar(
    host: Any, clip: Path, out: Path, settings: TrainSettings, device: str, tracking: Path | None,
    read_options: dict[str, Any], restart: bool, quiet: bool, export: bool, checkpoint_every: int,
) -> dict[str, Any]:
    from PIL import Image

    from recon.device import pick_device
    from recon_avatar.evaluate import summary

    torch_device = pick_device(device)
    out.mkdir(parents=True, exist_ok=True)
    state = resume_state(out, settings, restart, clip)
    start = time.perf_counter()
    rel = tracked(host, clip, out, tracking, read_options, quiet)
    tracking_data = Tracking.load(out / rel)
    with Stages(quiet=quiet) as stages:
        data = prepare(host, clip, tracking_data, settings.size, read_options, stages)
        resumed_at = int(state["step"]) if state is not None else 0

        def checkpoint(training: dict[str, Any]) -> None:
            save(out / FILENAME, {**training, "tracking": rel, "clip": str(clip.resolve()), "crop": data.crop.as_dict(), "device": str(torch_device)})

        with stages.stage("train", total=settings.iterations) as task:
            avatar, figures = train(data, settings, torch_device, checkpoint, state, task, checkpoint_every)
        with stages.stage("held-out", total=len(data.heldout)) as task:
            per_frame, picture = heldout(data, avatar, task)
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        write_file(out / "heldout.png", buffer.getvalue())
        mesh_figures = None
        if export:
            with stages.stage("mesh"):
                mesh_figures = write_mesh(host, avatar, out / "mesh.glb")
    render_fps = len(per_frame) / max(sum(f["render_s"] for f in per_frame), 1e-9)
    report = {
        "clip": str(clip),
        "tracking": rel,
        "settings": asdict(settings),
        "device": str(torch_device),
        "frames": {"training": len(data.train), "heldout": len(data.heldout), "tracked": int(tracking_data.found.sum()), "clip": len(tracking_data.found)},
        "crop": data.crop.as_dict(),
        "training": {**figures, "resumed_at": resumed_at},
        "heldout": summary(per_frame),
        "heldout_frames": per_frame,
        "render_fps": round(render_fps, 2),
        "mesh": mesh_figures,
        "timings_s": {**{k: round(v, 3) for k, v in stages.timings.items()}, "total": round(time.perf_counter() - start, 3)},
        "outputs": sorted(p.name for p in out.iterdir() if p.name in OURS),
    }
    if "report.json" not in report["outputs"]:
        report["outputs"] = sorted([*report["outputs"], "report.json"])
    write_file(out / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    return report


def write_mesh(host: Any, avatar: Any, path: Path) -> dict[str, Any]:
    """Extract the avatar's mesh (:mod:`recon_avatar.export`; the grid and texture scale with the
    training size) and write it as GLB through recon's writer."""
    import tempfile

    from recon.structures import Reconstruction
    from recon_avatar.export import extract_mesh

    mesh, figures = extract_mesh(avatar, cells=int(np.clip(avatar.size, 32, MESH_CELLS)), texture_size=int(np.clip(8 * avatar.size, 128, 1024)))
    writer = host.registry.writers["glb"]
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".mesh-") as tmp:
        written = writer.write(Reconstruction(method="avatar", meshes=[mesh]), Path(tmp) / path.name)
        os.replace(written[0], path)
    return figures

