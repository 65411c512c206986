"""Stopping a run by a signal (:func:`recon.errors.terminate_on_signals`): the run unwinds at its
next stop point; one that reaches none in time, or gets a second signal, ends at once. Each case
runs in a child process, since the handlers are the whole process's."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = """
import sys, time
from pathlib import Path
from recon.cli.app import hard_stop
from recon.errors import Terminated, stop_point, terminate_on_signals
from recon.output import OutputFolder

terminate_on_signals(hard_stop, grace_s=float(sys.argv[2]))
try:
    with OutputFolder(Path(sys.argv[1]) / "out").written():
        print("ready", flush=True)
        for _ in range(3000):
            if sys.argv[3] == "steps":
                stop_point()
                time.sleep(0.01)
            else:
                time.sleep(0.01)  # no stop point: native work
except Terminated as exc:
    print(f"unwound {exc.signum}", flush=True)
    sys.exit(128 + exc.signum)
"""


def _start(tmp_path: Path, grace_s: float, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(grace_s), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a suite run in the background ignores SIGINT
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()
    assert len(list(tmp_path.glob(".out.*.partial"))) == 1
    return proc


def test_a_signal_unwinds_at_the_next_stop_point(tmp_path: Path) -> None:
    proc = _start(tmp_path, 60.0, "steps")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stdout.strip()) == (143, "unwound 15"), stderr
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_stop_points_ends_at_once_after_the_grace(tmp_path: Path) -> None:
    proc = _start(tmp_path, 0.5, "native")
    start = time.monotonic()
    proc.send_signal(signal.SIGHUP)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGHUP and stdout == "", (stdout, stderr)
    assert 0.4 < time.monotonic() - start < 20
    assert stderr.startswith("recon: error: stopped by signal 1 (no safe stop point within") and len(stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # its temporary folder removed without unwinding


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_ends_at_once(tmp_path: Path, second: int) -> None:
    proc = _start(tmp_path, 60.0, "native")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(second)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted (no safe stop point" in stderr, (stdout, stderr)  # the first signal names the stop
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_signal_stays_ignored(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "60", "steps"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as nohup starts it
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    assert (proc.returncode, stdout.strip()) == (143, "unwound 15")


def test_ending_at_once_gives_a_terminal_its_cursor_back(tmp_path: Path) -> None:
    """On a terminal the progress bars hide the cursor; a run that ends without unwinding shows
    it again before its one line."""
    import os
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "0.3", "native"], stdout=subprocess.PIPE, stderr=child, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(child)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child's side closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.returncode == 143
    assert b"\x1b[?25h" in seen and b"recon: error: stopped by signal 15" in seen, seen
