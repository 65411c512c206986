"""``OUT/batch.json``: every capture of the batch with its status, time and error.

Written atomically (a temporary file beside it, fsynced, renamed over it) when the batch starts,
whenever a capture starts or finishes, and at the end, so a batch killed at any moment leaves a
whole ``batch.json`` that says which captures had finished.

Statuses: ``pending`` (not started yet), ``running``, ``done`` (reconstructed by this run),
``skipped`` (finished by an earlier run with the same inputs and options), ``failed`` (with its
one-line ``error`` and the ``exit_code`` a single run would have given), ``interrupted`` (the
batch was stopped while it ran).

A capture counts as finished, and is skipped by a rerun, when ``OUT/<name>/`` holds recon's
complete output (``report.json`` and every file it lists, the capture's seed) and
the ledger shows that this output was written for the capture's current :attr:`Capture.key`
(inputs with their sizes and times, method, options, seed, formats): either the entry is
``done``/``skipped`` and ``report.json`` is the one it recorded, or the capture was started with
this key and ``report.json`` changed since (the batch was killed between the capture's atomic
swap and the ledger's update).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recon.output import REPORT, pid_alive, recon_report

from recon_batch.captures import LEDGER, Capture

FINAL = ("done", "skipped", "failed")


def now() -> str:
    """The time as ISO 8601 UTC, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_stamp(folder: Path) -> list[int] | None:
    """What ``folder/report.json`` is now (inode, modification time, size), or None when absent."""
    try:
        st = (folder / REPORT).stat()
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def complete_report(folder: Path, capture: Capture) -> dict[str, Any] | None:
    """recon's report in ``folder`` when the folder is a complete output (the report and every
    file it lists) with ``capture``'s seed (and method, when named), else None. The inputs and
    options are proven by the ledger's key (a reader may list its inputs its own way)."""
    report = recon_report(folder)
    if report is None:
        return None
    outputs = report.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(n, str) and (folder / n).is_file() for n in outputs):
        return None
    if report.get("seed") != capture.seed:
        return None
    if capture.method is not None and report.get("method") != capture.method:
        return None
    return report


def is_finished(capture: Capture, folder: Path, entry: dict[str, Any] | None) -> bool:
    """Whether ``folder`` holds this capture's finished output (see the module docstring)."""
    if entry is None or entry.get("key") != capture.key or complete_report(folder, capture) is None:
        return False
    stamp = report_stamp(folder)
    if entry.get("status") in ("done", "skipped"):
        return stamp == entry.get("report_stamp")
    if "stamp_before" in entry:  # started with this key: finished when report.json changed since
        return stamp != entry["stamp_before"]
    return False


def _plain(value: Any) -> Any:
    """NumPy scalars and paths in options, as JSON holds them."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def remove_stale_tmp(out: Path) -> None:
    """Remove ``.batch.json.<pid>.tmp`` files of batches that were killed while writing."""
    for tmp in out.glob(f".{LEDGER}.*.tmp"):
        pid = tmp.name[len(LEDGER) + 2 : -4]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def read_ledger(out: Path) -> dict[str, Any] | None:
    """``OUT/batch.json`` when recon batch wrote it, else None."""
    try:
        doc = json.loads((out / LEDGER).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "recon_batch" in doc else None


class Ledger:
    """This run's ``batch.json``: one entry per capture, in the order given.

    :param out: the batch's OUT folder.
    :param header: fields written at the top (version, folders, Ray settings).
    :param previous: the ``batch.json`` an earlier run left (entries of captures not in this run
        are kept under ``earlier``).
    """

    def __init__(self, out: Path, header: dict[str, Any], captures: list[Capture], previous: dict[str, Any] | None) -> None:
        self.out = out
        self.path = out / LEDGER
        self.header = header
        self.started = now()
        self._t0 = time.monotonic()
        self.finished: str | None = None
        self.time_s: float | None = None
        self.state = "running"
        old = {e.get("name"): e for e in (previous or {}).get("captures", []) + (previous or {}).get("earlier", []) if isinstance(e, dict)}
        names = {c.name for c in captures}
        self.earlier = [e for n, e in old.items() if n not in names]
        self.previous = {n: e for n, e in old.items() if n in names}
        self.entries: dict[str, dict[str, Any]] = {
            c.name: {**c.as_dict(), "status": "pending", "time_s": None, "error": None} for c in captures
        }
        self.ignored: list[dict[str, str]] = []

    # -- transitions ---------------------------------------------------------------------------
    def skip(self, capture: Capture) -> None:
        """Mark a capture finished by an earlier run (its times and figures are kept)."""
        before = self.previous.get(capture.name, {})
        entry = self.entries[capture.name]
        for key in ("time_s", "started", "finished", "node", "method_used", "mesh", "warnings"):
            if key in before:
                entry[key] = before[key]
        entry.update(status="skipped", report_stamp=report_stamp(self.out / capture.name))

    def start(self, capture: Capture) -> None:
        self.entries[capture.name].update(
            status="running", started=now(), stamp_before=report_stamp(self.out / capture.name)
        )

    def finish(self, capture: Capture, result: dict[str, Any]) -> None:
        """Record a worker's result (``status`` ``done`` or ``failed``, time, error, figures)."""
        entry = self.entries[capture.name]
        entry.update({k: v for k, v in result.items() if k != "name"}, finished=now())
        if entry["status"] == "done":
            entry["report_stamp"] = report_stamp(self.out / capture.name)
            entry.pop("stamp_before", None)

    def interrupt(self, capture: Capture) -> None:
        self.entries[capture.name].update(status="interrupted", finished=now())

    def interrupt_running(self) -> None:
        """Every capture still ``running`` becomes ``interrupted`` (the batch is stopping)."""
        for entry in self.entries.values():
            if entry["status"] == "running":
                entry.update(status="interrupted", finished=now())

    # -- reading -------------------------------------------------------------------------------
    def count(self, status: str) -> int:
        return sum(e["status"] == status for e in self.entries.values())

    def summary(self) -> dict[str, int]:
        statuses = ("done", "skipped", "failed", "running", "pending", "interrupted")
        return {"total": len(self.entries), **{s: self.count(s) for s in statuses}}

    def document(self) -> dict[str, Any]:
        return {
            **self.header,
            "status": self.state,
            "started": self.started,
            "finished": self.finished,
            "time_s": self.time_s if self.time_s is not None else round(time.monotonic() - self._t0, 3),
            "summary": self.summary(),
            "captures": list(self.entries.values()),
            "ignored": self.ignored,
            "earlier": self.earlier,
        }

    # -- writing -------------------------------------------------------------------------------
    def save(self) -> None:
        """Write ``batch.json`` atomically (temporary file, fsync, rename)."""
        tmp = self.out / f".{LEDGER}.{os.getpid()}.tmp"
        with open(tmp, "w") as handle:
            handle.write(json.dumps(self.document(), indent=2, default=_plain) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def close(self, state: str) -> None:
        """Final write: ``state`` is ``finished`` or ``interrupted``."""
        self.state = state
        self.finished = now()
        self.time_s = round(time.monotonic() - self._t0, 3)
        self.save()
