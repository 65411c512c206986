"""One batch: check what can be checked, skip finished captures, run the rest on Ray, keep
``OUT/batch.json`` current.

Before any work (and before Ray starts): the inputs exist, the formats and every named method
and its options are known, OUT may be written, and no capture folder holds something recon did
not write (or, without ``--overwrite``, recon's output for other inputs or options).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from pathlib import Path
from typing import Any

from recon.errors import UsageError, stop_point
from recon.output import pid_alive
from recon.pipeline import check_formats, check_options, named_method, require_existing
from recon.plugins import PluginHost

from recon_batch.captures import LEDGER, Capture
from recon_batch.engine import RayCluster
from recon_batch.ledger import Ledger, is_finished, read_ledger, remove_stale_tmp
from recon_batch.progress import BatchProgress

STOP_GRACE_S = 30.0
"""How long an interrupted batch waits for its running captures to clean up."""
STOP_FILE = ".recon-batch.stop"
"""Created in OUT while an interrupted batch stops its captures (see :func:`_stop`)."""
ORPHAN_WAIT_S = 30.0
"""How long a local batch waits for workers of a killed batch that still write a capture (Ray
stops them a few seconds after their driver died)."""


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(out: Path, sources: list[Path]) -> None:
    """Refuse an OUT that a batch must not write into (the output contract's rules, for a folder
    that holds many capture folders and ``batch.json``).

    :param sources: CAPTURES (when given) and every capture's inputs.
    :raises UsageError: one line naming OUT and the fix.
    """
    fix = "give a new folder name, e.g. -o out/batch1"
    text = str(out)
    if text in ("", "."):
        raise UsageError(f"-o {text!r}: that is the current folder; {fix}")
    absolute = Path(os.path.abspath(out))
    if _within(Path.cwd(), absolute) or absolute == Path.home():
        raise UsageError(f"-o {text}: that is the current folder, one above it or your home folder; {fix}")
    if out.is_symlink():
        raise UsageError(f"-o {text}: is a symbolic link; give the folder it points to or a new folder name")
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {text}: is a file, not a folder; {fix}")
    real = Path(os.path.realpath(out))
    for source in sources:
        source_real = Path(os.path.realpath(source))
        if _within(real, source_real) or _within(source_real, real):
            raise UsageError(f"-o {text}: overlaps the input {source}; write the batch outside its inputs")
    if out.is_dir() and any(out.iterdir()) and read_ledger(out) is None:
        raise UsageError(f"-o {text}: holds files recon batch did not write (no {LEDGER}); {fix}")


def check_captures(host: PluginHost, captures: list[Capture]) -> None:
    """The checks a single run makes before any work, for every capture.

    :raises BadInputError: an input does not exist (exit 3).
    :raises UsageError: an unknown format, method or ``-O`` key of a named method (exit 2).
    """
    registry = host.registry
    if not captures:
        raise UsageError("no captures: CAPTURES holds no folder or file that recon can read; check the folder or give --manifest")
    check_formats(captures[0].formats, registry)
    for capture in captures:
        require_existing([Path(p) for p in capture.inputs])
        if capture.method is not None:
            try:
                check_options(named_method(registry, capture.method), {**capture.options, "seed": capture.seed}, registry)
            except UsageError as exc:
                raise UsageError(f"capture {capture.name}: {exc}") from None


def sort_out(captures: list[Capture], out: Path, ledger: Ledger, overwrite: bool) -> tuple[list[Capture], list[Capture]]:
    """``(to_run, finished)``: captures whose ``OUT/<name>`` holds their finished output are skipped.

    :raises UsageError: a capture folder holds files recon did not write, or (without
        ``--overwrite``) recon's output for other inputs or options.
    """
    from recon.output import foreign_entries

    todo, done, foreign, stale = [], [], [], []
    for capture in captures:
        folder = out / capture.name
        if is_finished(capture, folder, ledger.previous.get(capture.name)):
            done.append(capture)
            continue
        todo.append(capture)
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            foreign.append(capture.name)
        elif folder.is_dir() and any(folder.iterdir()):
            (foreign if foreign_entries(folder) else stale).append(capture.name)
    shown = lambda names: ", ".join(f"{out}/{n}" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    if foreign:
        raise UsageError(f"{shown(foreign)}: not a folder recon wrote; move it away or choose another -o")
    if stale and not overwrite:
        raise UsageError(
            f"{shown(stale)}: recon output for other inputs or options (or from a run outside this batch); "
            "pass --overwrite to redo them, or choose another -o"
        )
    return todo, done


def _partials(out: Path, name: str, live: bool) -> list[Path]:
    """Temporary folders of ``OUT/<name>`` (``.<name>.<pid>.*.partial``) whose process does
    (``live``) or does not run on this machine."""
    found = []
    for partial in out.glob(f".{name}.*.partial"):
        pid = partial.name[len(name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and partial.is_dir() and not partial.is_symlink() and pid_alive(int(pid)) == live:
            found.append(partial)
    return found


def sweep_partials(out: Path, captures: list[Capture]) -> None:
    """Remove the temporary folders of these captures whose process is gone (a killed batch's)."""
    for capture in captures:
        for partial in _partials(out, capture.name, live=False):
            shutil.rmtree(partial, ignore_errors=True)


def wait_for_orphans(out: Path, captures: list[Capture], timeout: float = ORPHAN_WAIT_S) -> None:
    """Wait (up to ``timeout``) until no process of this machine still writes one of ``captures``:
    after a SIGKILL, the killed batch's workers finish or stop within seconds, and a rerun that
    started the same capture meanwhile would lose the race for ``OUT/<name>``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_partials(out, c.name, live=True) for c in captures):
        time.sleep(0.5)


def _spec(capture: Capture, out: Path, cluster: RayCluster, strict: bool) -> dict[str, Any]:
    folder = out / capture.name
    options = {**capture.options}
    options.setdefault("fps", None)  # as `recon reconstruct` passes them, so the run is the same
    options.setdefault("max_frames", None)
    return {
        "name": capture.name,
        "inputs": capture.inputs,
        "out": str(folder),
        "method": capture.method,
        "options": options,
        "formats": list(capture.formats),
        "seed": capture.seed,
        "overwrite": folder.is_dir() and any(folder.iterdir()),
        "cpus": cluster.cpus_per_task,
        "strict": strict,
        "env": {k: v for k, v in os.environ.items() if k.startswith("RECON_")},
        "stop_file": str(out / STOP_FILE),
    }


def run_batch(
    host: PluginHost,
    captures: list[Capture],
    out: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_task: int | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    strict: bool = False,
    header: dict[str, Any] | None = None,
    ignored: list[dict[str, str]] | None = None,
    sources: list[Path] | None = None,
) -> dict[str, Any]:
    """Run every capture (fingerprinted, see :func:`recon_batch.captures.complete`) into
    ``out/<name>/``; returns the final ``batch.json`` document.

    KeyboardInterrupt (and :class:`recon.errors.Terminated`) stop the running captures, which
    remove their temporary folders; ``batch.json`` is written with them ``interrupted`` and the
    exception is raised again.
    """
    from recon import __version__ as recon_version
    from recon_batch import __version__

    out = Path(os.path.abspath(out))
    check_out(out, [*(sources or []), *(Path(p) for c in captures for p in c.inputs)])
    check_captures(host, captures)
    previous = read_ledger(out) if out.is_dir() else None
    ledger = Ledger(
        out, {"recon_batch": __version__, "recon_version": recon_version, **(header or {}), "out": str(out)}, captures, previous
    )
    ledger.ignored = list(ignored or [])
    todo, finished = sort_out(captures, out, ledger, overwrite)
    for capture in finished:
        ledger.skip(capture)

    if not todo:  # a rerun of a finished batch: nothing for Ray to do, so it is not started (3-5 s)
        ledger.header["ray"] = {"where": "not started: every capture was finished", "address": address, "workers": 0, "cpus_per_task": None}
        ledger.close("finished")
        return ledger.document()
    cluster = RayCluster(address, workers, cpus_per_task).connect()
    ledger.header["ray"] = {"where": cluster.where, "address": address, "workers": cluster.workers, "cpus_per_task": cluster.cpus_per_task}
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out)
    (out / STOP_FILE).unlink(missing_ok=True)  # left by a batch killed while it was stopping
    if address is None:  # leftovers of a killed local batch (on a cluster, pids are other nodes')
        wait_for_orphans(out, todo)
        sweep_partials(out, captures)
    ledger.save()
    inflight: dict[Any, Capture] = {}
    queue = deque(todo)
    try:
        with BatchProgress(len(todo), len(finished), quiet) as bar:
            try:
                while queue or inflight:
                    starting = [queue.popleft() for _ in range(min(len(queue), cluster.workers - len(inflight)))]
                    if starting:
                        for capture in starting:
                            ledger.start(capture)
                        ledger.save()  # before the tasks exist: a capture can finish only once it says "running"
                        for capture in starting:
                            inflight[cluster.submit(_spec(capture, out, cluster, strict))] = capture
                        bar.update(ledger.count("done"), ledger.count("failed"), len(inflight))
                    ready = cluster.wait(list(inflight), timeout=0.5)
                    stop_point()  # where recon's CLI stops a batch on a signal (Ctrl-C included)
                    for ref in ready:
                        capture = inflight.pop(ref)
                        result = cluster.result(ref)
                        ledger.finish(capture, result)
                        for line in result.get("warnings", []):
                            bar.note(f"{capture.name}: {line}")
                        if result["status"] == "failed":
                            bar.note(f"recon: warning: capture {capture.name} failed: {result['error']}")
                    if ready:
                        ledger.save()
                        bar.update(ledger.count("done"), ledger.count("failed"), len(inflight))
            except BaseException:
                _stop(cluster, inflight, ledger, out)
                ledger.close("interrupted")
                raise
            ledger.close("finished")
    finally:
        cluster.close()
        if address is None:  # a local Ray is gone now, and with it any stopped worker
            sweep_partials(out, captures)
    return ledger.document()


def _stop(cluster: RayCluster, inflight: dict[Any, Capture], ledger: Ledger, out: Path) -> None:
    """Stop the running captures and wait (a while) for them to remove their temporary folders;
    a capture that finished meanwhile is recorded as done.

    The captures are told through :data:`STOP_FILE` in OUT (which every worker writes into, so
    every worker sees it): each one's watcher interrupts its run, as Ctrl-C stops a single run.
    ``ray.cancel`` is kept for a capture still running after the grace period only, since
    cancelling a task whose reply is already on its way can crash Ray's core worker (Ray 2.60,
    task_manager.cc "Tried to complete task that was not pending")."""
    stop = out / STOP_FILE
    try:
        stop.touch()
        deadline = time.monotonic() + STOP_GRACE_S
        while inflight and time.monotonic() < deadline:
            for ref in cluster.wait(list(inflight), timeout=0.5):
                capture = inflight.pop(ref)
                result = cluster.result(ref)
                if result.get("status") == "done":
                    ledger.finish(capture, result)
                else:
                    ledger.interrupt(capture)
        if inflight:
            cluster.cancel(list(inflight))
    except BaseException:  # a second Ctrl-C, or Ray going down: record what is known
        pass
    finally:
        stop.unlink(missing_ok=True)
    ledger.interrupt_running()
