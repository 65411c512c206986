"""Exit codes and the exceptions that map onto them.

A :class:`ReconError` is a user-facing failure: the CLI prints its message on one line and exits
with its code, never with a traceback. Anything else is an internal error (exit 1).
"""

from __future__ import annotations

from enum import IntEnum


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
    """SIGTERM (or SIGHUP) arrived: unwound like Ctrl-C, so partial outputs are removed; exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def terminate_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` in the main thread (the CLI calls this)."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
