"""``recon batch`` on Ray against the same captures run one after another in one Python process.

Run with the project's interpreter (Ray installed: ``pip install -e ".[batch]"``):
``.venv/bin/python benchmarks/batch.py [--kinds faces,clouds] [--captures 20] [--repeats 2]``.
Prints JSON.

Two kinds of small capture (``../shared/data``), each a set of ``--captures`` files:

- ``faces``: the photos of ``face_multiview/single`` (20, one face photo each, 0.2-4 MP), each
  reconstructed by the default method (the head, textured): about 1-3 s a capture, the smallest
  capture a user of the face pipeline has.
- ``clouds``: the first test shape of each of the first N classes of ``pointclouds/modelnet40_1024``
  (1,024 points each), meshed by ``occupancy`` with quick options (the shipped prior, MISE
  16^3 -> 32^3, no Newton refinement): 0.25 s a capture, so that Ray's fixed cost shows.

Per kind:

- ``loop``: one ``python`` process that builds a plugin host and calls
  ``recon.pipeline.reconstruct`` for every capture in turn (the baseline); wall time of the
  whole process, interpreter start-up and imports included. torch's default threads (one per
  core), as a user's script runs.
- ``loop_1_thread``: the same with ``OMP_NUM_THREADS=1`` (torch, OpenMP and BLAS on one thread).
- ``batch_1``, ``batch_2``: ``recon batch CAPTURES -o OUT --workers 1|2 -q``; wall time of the
  whole command, Ray's start and stop included. One worker gets every core (as the loop does);
  two workers get one core each.
- ``batch_1_1cpu``: ``--workers 1 --cpus-per-task 1``: the same threads as ``loop_1_thread``, so
  the difference is Ray's own cost (start, stop, scheduling).
- ``recovery`` (clouds): a two-worker batch killed with SIGKILL once half the captures are done,
  then run again: how many captures the rerun redid, against how many were running or not started.

Targets (issue 14): ``batch_1`` <= 1.15 x ``loop``; ``batch_1 / batch_2`` >= 1.6; the rerun
redoes no finished capture. Each configuration runs ``--repeats`` times, interleaved, and the
fastest counts; the machine's load average is reported before and after (it is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FACES = SHARED / "face_multiview" / "single"
CLOUDS = SHARED / "pointclouds" / "modelnet40_1024" / "modelnet40_1024.npz"
RECON = Path(sys.executable).with_name("recon")

LOOP = """
import json, sys, time
from pathlib import Path
from recon.pipeline import reconstruct
from recon.plugins import PluginHost
captures, out, method, options = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] or None, json.loads(sys.argv[4])
host = PluginHost().load_entrypoints()
times = {}
for path in sorted(captures.iterdir()):
    start = time.perf_counter()
    reconstruct(host, [path], out / path.stem, method=method, options={**options, "fps": None, "max_frames": None})
    times[path.stem] = round(time.perf_counter() - start, 3)
print(json.dumps(times))
"""


def log(text: str) -> None:
    print(f"[batch bench] {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Kind:
    """A set of captures and how each is reconstructed."""

    name: str
    description: str
    method: str | None
    options: dict[str, Any]
    make: Callable[[Path, int], list[str]]

    @property
    def option_args(self) -> list[str]:
        return [a for k, v in self.options.items() for a in ("-O", f"{k}={str(v).lower()}")]

    @property
    def method_args(self) -> list[str]:
        return ["--method", self.method] if self.method else []


def make_clouds(folder: Path, count: int) -> list[str]:
    """The first test shape of ``count`` classes of ModelNet40, one ``.npz`` cloud each."""
    data = np.load(CLOUDS)
    labels, names, classes = data["test_labels"], data["test_names"], data["classes"]
    folder.mkdir(parents=True)
    made = []
    for label in range(count):
        index = int(np.flatnonzero(labels == label % len(classes))[label // len(classes)])
        name = f"{label:02d}_{Path(str(names[index])).stem}"
        np.savez(folder / f"{name}.npz", points=data["test_points"][index].astype(np.float32))
        made.append(name)
    return made


def make_faces(folder: Path, count: int) -> list[str]:
    """The first ``count`` photos of ``face_multiview/single``, linked into ``folder``."""
    photos = sorted(p for p in FACES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    folder.mkdir(parents=True)
    for photo in photos:
        (folder / photo.name).symlink_to(photo)
    return [p.stem for p in photos]


KINDS = {
    "faces": Kind("faces", "face_multiview/single photos, one face each, the default method (textured head)", None, {}, make_faces),
    "clouds": Kind(
        "clouds",
        "ModelNet40 test clouds, 1,024 points, occupancy prior mode, MISE 16->32, no refinement",
        "occupancy",
        {"mode": "prior", "mise_start": 16, "mise_steps": 1, "refine": False},
        make_clouds,
    ),
}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall, proc


def run_loop(kind: Kind, captures: Path, out: Path, threads: int | None = None) -> dict:
    env = dict(os.environ)
    if threads is not None:
        env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    wall, proc = timed([sys.executable, "-c", LOOP, str(captures), str(out), kind.method or "", json.dumps(kind.options)], env)
    per = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": round(wall, 2), "captures_s": round(sum(per.values()), 2), "first_s": next(iter(per.values()))}


def run_batch(kind: Kind, captures: Path, out: Path, workers: int, cpus_per_task: int | None = None) -> dict:
    extra = ["--cpus-per-task", str(cpus_per_task)] if cpus_per_task else []
    wall, _ = timed([str(RECON), "batch", str(captures), "-o", str(out), *kind.method_args, *kind.option_args, "--workers", str(workers), *extra, "-q"])
    doc = json.loads((out / "batch.json").read_text())
    assert doc["summary"]["done"] == doc["summary"]["total"], doc["summary"]
    per = [c["time_s"] for c in doc["captures"]]
    return {"wall_s": round(wall, 2), "captures_s": round(sum(per), 2), "batch_json_time_s": doc["time_s"], "cpus_per_task": doc["ray"]["cpus_per_task"]}


def recovery(kind: Kind, captures: Path, out: Path, count: int) -> dict:
    cmd = [str(RECON), "batch", str(captures), "-o", str(out), *kind.method_args, *kind.option_args, "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    statuses: dict[str, str] = {}
    while proc.poll() is None:
        try:
            statuses = {c["name"]: c["status"] for c in json.loads((out / "batch.json").read_text())["captures"]}
        except (OSError, ValueError, KeyError):
            statuses = {}
        if sum(s == "done" for s in statuses.values()) >= count // 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    at_kill = {s: sorted(n for n, v in statuses.items() if v == s) for s in ("done", "running", "pending")}
    partials = sorted(p.name for p in out.iterdir() if p.name.endswith(".partial"))
    wall, _ = timed(cmd)
    after = {c["name"]: c["status"] for c in json.loads((out / "batch.json").read_text())["captures"]}
    redone = sorted(n for n, s in after.items() if s == "done")
    left = sorted(p.name for p in out.iterdir() if p.name.endswith(".partial"))
    return {
        "done_at_kill": len(at_kill["done"]),
        "running_at_kill": len(at_kill["running"]),
        "pending_at_kill": len(at_kill["pending"]),
        "partial_folders_after_kill": len(partials),
        "redone": len(redone),
        "redone_that_had_finished": len(set(redone) & set(at_kill["done"])),
        "redone_that_were_running": len(set(redone) & set(at_kill["running"])),
        "partial_folders_after_rerun": len(left),
        "rerun_wall_s": round(wall, 2),
        "ok": not (set(redone) & set(at_kill["done"])) and not left and sorted(after.values()) == sorted(["done"] * len(redone) + ["skipped"] * (len(after) - len(redone))),
    }


def measure(kind: Kind, work: Path, count: int, repeats: int) -> dict:
    """Every configuration on ``count`` captures of ``kind``, ``repeats`` times interleaved."""
    captures = work / kind.name
    names = kind.make(captures, count)
    configs = {
        "loop": lambda out: run_loop(kind, captures, out),
        "loop_1_thread": lambda out: run_loop(kind, captures, out, threads=1),
        "batch_1": lambda out: run_batch(kind, captures, out, 1),
        "batch_1_1cpu": lambda out: run_batch(kind, captures, out, 1, cpus_per_task=1),
        "batch_2": lambda out: run_batch(kind, captures, out, 2),
    }
    runs: dict[str, list[dict]] = {key: [] for key in configs}
    for repeat in range(repeats):
        for key, config in configs.items():
            out = work / f"{kind.name}_{key}_{repeat}"
            log(f"{kind.name}: {key}, run {repeat + 1} of {repeats}")
            runs[key].append(config(out))
            shutil.rmtree(out, ignore_errors=True)
            log(f"  {runs[key][-1]}")
    best = {key: min(r["wall_s"] for r in rs) for key, rs in runs.items()}
    result = {
        "captures": len(names),
        "capture_kind": kind.description,
        "runs": runs,
        "best_wall_s": best,
        "batch_1_over_loop": round(best["batch_1"] / best["loop"], 3),
        "batch_1_1cpu_over_loop_1_thread": round(best["batch_1_1cpu"] / best["loop_1_thread"], 3),
        "ray_overhead_s": round(best["batch_1_1cpu"] - best["loop_1_thread"], 2),
        "batch_1_over_batch_2": round(best["batch_1"] / best["batch_2"], 3),
        "batch_1_1cpu_over_batch_2": round(best["batch_1_1cpu"] / best["batch_2"], 3),
    }
    result["met"] = {
        "batch_1_over_loop": result["batch_1_over_loop"] <= 1.15,
        "batch_1_1cpu_over_loop_1_thread": result["batch_1_1cpu_over_loop_1_thread"] <= 1.15,
        "batch_1_over_batch_2": result["batch_1_over_batch_2"] >= 1.6,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="faces,clouds", help="comma-separated: faces, clouds")
    parser.add_argument("--captures", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2, help="runs per configuration, interleaved; the fastest counts")
    parser.add_argument("--skip-recovery", action="store_true")
    args = parser.parse_args()
    kinds = [KINDS[k.strip()] for k in args.kinds.split(",") if k.strip()]
    for path in (FACES, CLOUDS):
        if not path.exists():
            raise SystemExit(f"{path} is absent; this benchmark needs ../shared/data")
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="recon-batch-bench-"))
    try:
        result: dict[str, Any] = {
            "benchmark": "batch",
            "machine": {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(), "python": platform.python_version()},
            "load_average_before": [round(x, 2) for x in load_before],
            "targets": {"batch_1_over_loop": "<= 1.15", "batch_1_over_batch_2": ">= 1.6", "recovery": "no finished capture redone"},
        }
        for kind in kinds:
            result[kind.name] = measure(kind, work, args.captures, args.repeats)
        if not args.skip_recovery:
            log("recovery: SIGKILL at half, then rerun")
            clouds = KINDS["clouds"]
            captures = work / "recovery_captures"
            names = clouds.make(captures, args.captures)
            result["recovery"] = recovery(clouds, captures, work / "recovery", len(names))
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        import ray

        result["ray_version"] = ray.__version__
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
