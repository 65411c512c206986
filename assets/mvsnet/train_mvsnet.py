"""Train recon's MVSNet (:mod:`recon_mvs.mvsnet`) on synthetic rooms (:mod:`recon_mvs.synthetic`)
and write its weights to ``plugins/recon_mvs/data/mvsnet.pt`` (float16) with ``mvsnet.json``.

Run with the project's interpreter: ``.venv/bin/python assets/mvsnet/train_mvsnet.py
[--iterations N] [--checkpoint FILE]``. Every sample is a new random room seen from three or four
views (a random width of 160-320 pixels, 3:2, so that the network works at the sizes it is run at;
depth 0.3-6 m); about half its surfaces wear photographs from ``--photos`` (by
default the instant-ngp fox images and the Middlebury motorcycle pair in ``../shared/data``, none
of them a scene the benchmark scores); the loss is the smooth-L1 error of the predicted inverse depth,
upsampled to the image, against the rendered one, in units of the plane spacing. The training state
is saved to ``--checkpoint`` (default ``assets/mvsnet/checkpoint.pt``, kept in version control so
a later session goes on from it)
every minute and resumed from there, so a long training can be stopped and continued; with
``--weights-only`` the script only writes the weights of the checkpoint it has. ``--workers N``
renders the rooms in N worker processes (what keeps a GPU busy: a sample takes 0.2-0.5 s on one
core) and ``--minutes M`` stops, saves and writes the weights after M minutes. The learning rate
halves every 10,000 steps; ``--anneal-from S --iterations N`` makes it fall from step S along a
half cosine to 1 % of its value at N, the last phase of a training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "plugins" / "recon_mvs" / "data"
SCENES = ROOT.parent / "shared" / "data" / "multiview_scene"
PHOTOS = [SCENES / "instant_ngp_fox" / "images", SCENES / "middlebury_stereo_motorcycle"]
NEAR, FAR = 0.3, 6.0
WIDTHS = (160, 192, 224, 256, 288, 320)
MULTISCALE_FROM = 800  # the two-stage network's first 800 steps saw 192x128 only; then a random width a step


def log(text: str) -> None:
    print(f"[train mvsnet] {text}", file=sys.stderr, flush=True)


def step_loss(net, sample, device) -> tuple[torch.Tensor, float]:  # noqa: ANN001
    """The loss of both stages (each in units of its own hypothesis spacing) and the fine stage's
    median relative depth error."""
    images = torch.as_tensor(sample.images, device=device).permute(0, 3, 1, 2).float() / 255.0
    stages = net.stages(images, sample.cameras, NEAR, FAR)
    truth = torch.as_tensor(sample.depth, device=device)
    valid = (truth > NEAR) & (truth < FAR)
    if int(valid.sum()) < 100:
        return torch.tensor(float("nan"), device=device), float("nan")
    spacing = (1.0 / NEAR - 1.0 / FAR) / (net.planes - 1)
    spacings = (spacing, spacing * net.FINE_SPAN / (net.FINE_PLANES - 1))
    loss = torch.zeros((), device=device)
    for (depth, _), unit in zip(stages, spacings):
        full = F.interpolate((1.0 / depth)[None, None], size=sample.depth.shape, mode="bilinear", align_corners=False)[0, 0]
        loss = loss + F.smooth_l1_loss(full[valid] / unit, (1.0 / truth[valid]) / unit)
    with torch.no_grad():
        rel = ((1.0 / full[valid] - truth[valid]).abs() / truth[valid]).median().item()
    return loss, rel


class Rooms(torch.utils.data.IterableDataset):
    """Endless random samples, each worker with its own generator (seeded by the seed, the step
    the run starts at and the worker's number); a worker counts the training's step as its own
    samples times the number of workers, which is what the loader's round robin makes it."""

    def __init__(self, photos: list[np.ndarray], seed: int, step: int) -> None:
        self.photos, self.seed, self.step = photos, seed, step

    def __iter__(self):  # noqa: ANN204
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = np.random.default_rng([self.seed, self.step, 1 + worker])
        made = 0
        while True:
            yield next_sample(rng, self.step + made * workers + worker, self.photos)
            made += 1


def next_sample(rng: np.random.Generator, step: int, photos: list[np.ndarray]):  # noqa: ANN201
    from recon_mvs.synthetic import random_sample

    width = int(rng.choice(WIDTHS)) if step >= MULTISCALE_FROM else 192
    return random_sample(rng, views=int(rng.integers(3, 5)), width=width, height=8 * round(width * 2 / 3 / 8), photos=photos)


def learning_rate(step: int, base: float, anneal_from: int | None, iterations: int) -> float:
    """Halved every 10,000 steps; from ``anneal_from`` on, a half cosine down to 1 % at ``iterations``."""
    if anneal_from is None or step < anneal_from:
        return base * 0.5 ** (step / 10000)
    t = min(1.0, (step - anneal_from) / max(1, iterations - anneal_from))
    return base * 0.5 ** (anneal_from / 10000) * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * t)))


def save_checkpoint(path: Path, net, optimizer, step: int, history: list, seconds: float) -> None:  # noqa: ANN001
    tmp = path.with_suffix(".tmp")
    torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "history": history, "seconds": seconds}, tmp)
    os.replace(tmp, path)


def main() -> None:
    from recon.weights import save_weights
    from recon_mvs.mvsnet import FORMAT, MVSNet
    from recon_mvs.synthetic import photo_bank

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--checkpoint", type=Path, default=Path(__file__).with_name("checkpoint.pt"))
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--anneal-from", type=int, default=None, help="From this step on, the learning rate falls along a half cosine to 1 %% of its value there at --iterations.")
    parser.add_argument("--photos", type=Path, nargs="*", default=PHOTOS, help="Folders of photographs for the rooms' surfaces.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-only", action="store_true")
    parser.add_argument("--workers", type=int, default=0, help="Processes rendering the samples (0: in the training loop, reproducible from --seed).")
    parser.add_argument("--minutes", type=float, default=None, help="Stop (saving the checkpoint and the weights) after this many minutes.")
    parser.add_argument("--init", type=Path, help="Start a new training from this checkpoint's weights (those that fit; the rest start fresh).")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    net = MVSNet().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    step, history, seconds = 0, [], 0.0
    if args.checkpoint.exists():
        state = torch.load(args.checkpoint, map_location=device, weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        step, history, seconds = state["step"], state["history"], state["seconds"]
        log(f"resumed at step {step}")
    elif args.init is not None:
        state = torch.load(args.init, map_location=device, weights_only=False)
        missing, _ = net.load_state_dict(state["net"], strict=False)
        history = [["init", str(args.init), state["step"]]]
        log(f"initialised from {args.init} (step {state['step']}); fresh: {len(missing)} tensors")
    if not args.weights_only:
        missing = [str(f) for f in args.photos if not f.is_dir()]
        if missing:
            sys.exit(f"train mvsnet: missing photo folders {missing}: put ../shared/data beside the checkout or pass --photos")
        photos = photo_bank(args.photos)
        rng = np.random.default_rng([args.seed, step])
        loader = iter(torch.utils.data.DataLoader(Rooms(photos, args.seed, step), batch_size=None, num_workers=args.workers, prefetch_factor=4)) if args.workers else None
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        began = last = time.perf_counter()
        window: list[tuple[float, float]] = []
        net.train()
        while step < args.iterations and (args.minutes is None or time.perf_counter() - began < 60 * args.minutes):
            start = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, args.lr, args.anneal_from, args.iterations)
            sample = next(loader) if loader is not None else next_sample(rng, step, photos)
            loss, rel = step_loss(net, sample, device)
            if not torch.isfinite(loss):  # a view with no depth in range: nothing to learn from it
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            step += 1
            seconds += time.perf_counter() - start
            window.append((loss.item(), rel))
            if step % 50 == 0:
                history.append([step, round(float(np.mean([w[0] for w in window])), 4), round(float(np.median([w[1] for w in window])), 4), round(seconds, 1)])
                log(f"step {step}: loss {history[-1][1]}, median abs rel {history[-1][2]}, {seconds / step:.2f} s a step")
                window = []
            if time.perf_counter() - last > 60 or step == args.iterations:
                save_checkpoint(args.checkpoint, net, optimizer, step, history, seconds)
                last = time.perf_counter()
        save_checkpoint(args.checkpoint, net, optimizer, step, history, seconds)
    OUT.mkdir(parents=True, exist_ok=True)
    save_weights(OUT / "mvsnet.pt", FORMAT, net.state_dict(), trained_steps=step)
    (OUT / "mvsnet.json").write_text(json.dumps({
        "trained_steps": step, "training_seconds": round(seconds, 1), "device": str(device), "near_m": NEAR, "far_m": FAR,
        "data": "recon_mvs.synthetic random rooms; the single-stage network it started from: 3 views of 192x128 for 6036 steps, then 3-4 views with photographs on about half the surfaces to step 7618; the two-stage network: 3-4 views with photographs, 192x128 for 800 steps, then widths of 160-320 px; steps 5701-16480 ran on an NVIDIA H200 with --workers 14; steps 16480-18161 ran on this project's 2 CPU cores (--workers 0, about 1.5 s a step)", "history_tail": history[-5:],
    }, indent=2) + "\n")
    log(f"wrote {OUT / 'mvsnet.pt'} after {step} steps")


if __name__ == "__main__":
    main()
