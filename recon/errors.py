"""Exit codes and the exceptions that map onto them.

A :class:`ReconError` is a user-facing failure: the CLI prints its message on one line and exits
with its code, never with a traceback. Anything else is an internal error (exit 1).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import NoReturn


class ExitCode(IntEnum):
    """Documented exit codes of the ``recon`` command."""

    OK = 0
    INTERNAL_ERROR = 1
    USAGE_ERROR = 2
    BAD_INPUT = 3
    PLUGIN_ERROR = 4
    GOLDEN_MISMATCH = 5


class ReconError(Exception):
    """A failure the user can act on; ``str(error)`` is the one-line message."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class UsageError(ReconError):
    """The command line asks for something that cannot work (unknown method, bad option)."""

    exit_code = ExitCode.USAGE_ERROR


class BadInputError(ReconError):
    """An input is unreadable, unsupported, or holds nothing to reconstruct."""

    exit_code = ExitCode.BAD_INPUT


class PluginError(ReconError):
    """A plugin failed to load or to register (fatal only with ``--strict-plugins``)."""

    exit_code = ExitCode.PLUGIN_ERROR


class GoldenMismatch(ReconError):
    """A mesh differs from its golden reference beyond the tolerances."""

    exit_code = ExitCode.GOLDEN_MISMATCH


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived: the run unwinds, removing its partial
    outputs, and exits 128 + signal (130 for Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


_stop_signal: int | None = None  # a stop signal that arrived and was not acted on yet
GRACE_S = 10.0  # how long a stop waits for the run to reach a stop point before it ends the process


def terminate_on_signals(hard_stop: Callable[[int], NoReturn], grace_s: float = GRACE_S) -> None:
    """Make Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the run cleanly (the CLI calls this once).

    The handler only notes the signal; the run raises :class:`Terminated` at its next stop point
    (:func:`stop_point`: every stage and progress step is one), where unwinding is safe and
    removes the run's temporary outputs. An exception raised from the handler itself can land
    inside Python code that native code called (``import torch`` runs some through pybind11),
    which cannot pass it on: the process aborted there, leaving its temporary folder behind. A
    run that reaches no stop point within ``grace_s`` seconds (a long native call), or a second
    signal, ends by ``hard_stop(signum)``, which must clean up and leave the process at once.
    """
    import signal

    def on_stop(signum: int, frame: object) -> None:
        global _stop_signal
        if _stop_signal is not None:
            hard_stop(_stop_signal)
        _stop_signal = signum
        signal.setitimer(signal.ITIMER_REAL, grace_s)

    def on_deadline(signum: int, frame: object) -> None:
        if _stop_signal is not None:
            hard_stop(_stop_signal)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # ignored stays ignored (nohup, a background job)
            signal.signal(sig, on_stop)
    signal.signal(signal.SIGALRM, on_deadline)


def request_stop(signum: int) -> None:
    """Ask the run in the main thread to stop at its next stop point, as if ``signum`` had
    arrived (from any thread: a watcher that learns the run must stop)."""
    global _stop_signal
    _stop_signal = signum


def clear_stop() -> None:
    """Forget a stop that was requested and not acted on (the run ended first)."""
    global _stop_signal
    _stop_signal = None


def stop_point() -> None:
    """Raise :class:`Terminated` here when a stop signal has arrived (main thread only).

    Long loops call it between steps (:class:`recon.progress.Stages` does on every stage and
    step): the place where a stopped run unwinds and removes its temporary outputs.
    """
    global _stop_signal
    if _stop_signal is None:
        return
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    signum, _stop_signal = _stop_signal, None
    signal.setitimer(signal.ITIMER_REAL, 0)
    raise Terminated(signum)
