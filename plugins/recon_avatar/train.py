"""Training the avatar: the clip's frames and shell rays prepared once, then random batches of rays
from the training frames, their colour rendered through the field over the background plate
(:func:`recon_avatar.field.render_rays`) and compared with the frames; coarse-to-fine planes,
a decaying learning rate, checkpoints that resume exactly (the sampler's state included).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_avatar.avatar import Avatar, ray_tensors
from recon_avatar.clip import Crop, Tracking, head_crop, read_frames, split
from recon_avatar.field import AvatarField, FieldSettings, render_rays
from recon_avatar.shell import THICKNESS_M, ShellRays, canonical_bounds, head_shell

CHECKPOINT_EVERY_S = 30.0
WORKERS = min(8, os.cpu_count() or 1)  # threads that cast the frames' shell rays and take the plate's median


@dataclass(frozen=True)
class TrainSettings:
    """``size``: the training crop's side in pixels; ``iterations`` of ``batch`` rays with
    ``samples`` points each; the planes' final ``resolution`` (reached coarse to fine)."""

    size: int = 128
    iterations: int = 3000
    batch: int = 4096
    samples: int = 24
    resolution: int = 128
    lr: float = 5e-3
    tv: float = 1e-3
    seed: int = 0

    def resolution_at(self, step: int) -> int:
        """The planes' size at ``step``: a quarter, then half (from 15 %), then full (from 40 %)."""
        if step < 0.15 * self.iterations:
            return max(8, self.resolution // 4)
        if step < 0.4 * self.iterations:
            return max(8, self.resolution // 2)
        return self.resolution

    def learning_rate(self, step: int) -> float:
        return self.lr * 0.1 ** (step / max(1, self.iterations))


def default_settings(gpu: bool, size: int | None = None, iterations: int | None = None, batch: int | None = None, seed: int = 0) -> TrainSettings:
    """``recon avatar train``'s settings: on a CPU 128 pixels, 3000 steps of 4096 rays and planes
    of 128; on a GPU 512 pixels, 12000 steps of 16384 rays and planes of 256; any of them given."""
    size = size or (512 if gpu else 128)
    return TrainSettings(
        size=size,
        iterations=iterations or (12000 if gpu else 3000),
        batch=batch or (16384 if gpu else 4096),
        resolution=min(256 if gpu else 128, size),
        seed=seed,
    )


@dataclass
class TrainingData:
    """The frames the avatar learns from (``positions`` in the tracking) and those held out."""

    tracking: Tracking
    crop: Crop
    K: np.ndarray
    train: np.ndarray
    heldout: np.ndarray
    images: dict[int, np.ndarray]  # position -> (size, size, 3) uint8
    rays: dict[int, ShellRays]  # training position -> its shell rays
    plate: np.ndarray


def prepare(host: Any, clip: Path, tracking: Tracking, size: int, read_options: dict[str, Any], stages: Any) -> TrainingData:
    """Split the tracked frames, choose the crop, decode the frames, cast the shell rays of the
    training frames and estimate the background plate."""
    train, heldout = split(tracking)
    positions = np.sort(np.concatenate([train, heldout]))
    crop = head_crop(tracking, positions, size, THICKNESS_M)
    with stages.stage("frames", total=len(positions)) as task:
        images = read_frames(host, clip, tracking, positions, crop, read_options, task.advance)
    by_position = {int(p): images[i] for i, p in enumerate(positions)}
    K = crop.intrinsics(tracking.K)
    rays = {}

    def cast(p: int) -> ShellRays:
        return head_shell(tracking.head, tracking.weights[p], tracking.camera(p, K, (size, size)))

    with stages.stage("shell rays", total=len(train)) as task, ThreadPoolExecutor(WORKERS) as pool:
        # NumPy lets go of the GIL in the rasterizer's array work: the frames share the cores
        for p, shell in zip(train, pool.map(cast, [int(p) for p in train])):
            rays[int(p)] = shell
            task.advance()
    plate = estimate_plate(np.stack([by_position[int(p)] for p in train]), [rays[int(p)].pixel for p in train])
    return TrainingData(tracking, crop, K, train, heldout, by_position, rays, plate)


def estimate_plate(images: np.ndarray, shell_pixels: list[np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8: per pixel, the median of the frames where the head's shell is not over
    it (the median of all frames where it always is)."""
    t, h, w, _ = images.shape
    flat = images.reshape(t, h * w, 3).astype(np.float32)
    masked = flat.copy()
    for k, pix in enumerate(shell_pixels):
        masked[k, pix] = np.nan

    def median(columns: slice) -> np.ndarray:
        return np.nanmedian(masked[:, columns], axis=0)

    bounds = np.linspace(0, h * w, WORKERS * 4 + 1).astype(int)
    # the filter is process-wide, so it is set here, around the threads ("All-NaN slice": pixels the head always covers)
    with warnings.catch_warnings(), ThreadPoolExecutor(WORKERS) as pool:
        warnings.simplefilter("ignore", RuntimeWarning)
        plate = np.concatenate(list(pool.map(median, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])])))
    plate = np.where(np.isnan(plate), np.median(flat, axis=0), plate)
    return np.clip(plate + 0.5, 0, 255).astype(np.uint8).reshape(h, w, 3)


def new_field(data: TrainingData, settings: TrainSettings, resolution: int, device: torch.device) -> AvatarField:
    low, high = canonical_bounds(data.tracking.head.vertices)
    return AvatarField(torch.as_tensor(low), torch.as_tensor(high), resolution, FieldSettings(weights=data.tracking.weights.shape[1])).to(device)


def train(
    data: TrainingData,
    settings: TrainSettings,
    device: torch.device,
    save: Callable[[dict[str, Any]], None],
    resume: dict[str, Any] | None = None,
    task: Any = None,
    checkpoint_every: int = 0,
) -> tuple[Avatar, dict[str, Any]]:
    """Train (or go on training from ``resume``, a saved state) and return the avatar and the
    training's figures. ``save(state)`` gets everything needed to resume: every
    ``checkpoint_every`` iterations (0: every :data:`CHECKPOINT_EVERY_S` seconds) and at the
    end, so an interrupted training loses at most that much."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    order = [int(p) for p in data.train]
    all_rays = ShellRays.concatenate([data.rays[p] for p in order])
    frame_of_ray = np.concatenate([np.full(len(data.rays[p]), i) for i, p in enumerate(order)])
    pixels = np.stack([data.images[p].reshape(-1, 3) for p in order])  # (T, HW, 3)
    target = torch.as_tensor(pixels[frame_of_ray, all_rays.pixel], device=device).float() / 255.0
    plate = torch.as_tensor(data.plate.reshape(-1, 3)[all_rays.pixel], device=device).float() / 255.0
    weights = torch.as_tensor(data.tracking.weights[order], device=device)
    frame_of_ray_t = torch.as_tensor(frame_of_ray, device=device)
    rays = ray_tensors(all_rays, device)

    step, elapsed, history = 0, 0.0, []
    field = new_field(data, settings, int(resume["avatar"]["resolution"]) if resume else settings.resolution_at(0), device)
    optimizer = torch.optim.Adam(field.parameters(), lr=settings.lr)
    if resume is not None:
        step, elapsed, history = int(resume["step"]), float(resume["elapsed_s"]), list(resume["history"])
        field.load_state_dict(resume["avatar"]["field"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])

    def avatar() -> Avatar:
        return Avatar(field, data.plate, data.K, settings.size, data.tracking.head, settings.samples, data.tracking.weight_names)

    def state() -> dict[str, Any]:
        return {
            "settings": asdict(settings), "step": step, "elapsed_s": elapsed, "history": history,
            "avatar": avatar().state(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
        }

    if task is not None:
        task.set_total(settings.iterations)
        task.advance(step)
    field.train()
    last_save = time.perf_counter()
    window: list[float] = []
    while step < settings.iterations:
        start = time.perf_counter()
        if field.resolution != settings.resolution_at(step):
            field.upsample(settings.resolution_at(step))
            optimizer = torch.optim.Adam(field.parameters(), lr=settings.lr)
        for group in optimizer.param_groups:
            group["lr"] = settings.learning_rate(step)
        idx = torch.randint(len(target), (settings.batch,), generator=generator, device=device)
        batch = {k: v[idx] for k, v in rays.items()}
        rgb, acc = render_rays(field, batch, weights[frame_of_ray_t[idx]], settings.samples, generator)
        pred = rgb + (1.0 - acc[:, None]) * plate[idx]
        mse = torch.mean((pred - target[idx]) ** 2)
        loss = mse + settings.tv * field.total_variation()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        elapsed += time.perf_counter() - start
        window.append(float(mse.detach()))
        if step % 50 == 0 or step == settings.iterations:
            history.append([step, round(-10 * float(np.log10(np.mean(window))), 3)])
            window = []
            if task is not None:
                task.describe(f"train {history[-1][1]:4.1f} dB")
        if task is not None:
            task.advance()
        due = step % checkpoint_every == 0 if checkpoint_every else time.perf_counter() - last_save > CHECKPOINT_EVERY_S
        if due or step == settings.iterations:
            save(state())
            last_save = time.perf_counter()
    field.eval()
    figures = {
        "iterations": step,
        "seconds": round(elapsed, 2),
        "ms_per_iteration": round(1000 * elapsed / max(step, 1), 2),
        "train_psnr_db": history[-1][1] if history else None,
        "rays": len(target),
        "planes": field.resolution,
    }
    return avatar(), figures
