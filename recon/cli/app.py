"""The root click group: lazy plugin loading and the mapping of errors to exit codes."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn

import click

from recon.errors import GRACE_S, ExitCode, ReconError, Terminated
from recon.plugins import PluginHost

_HOST_KEY = "recon.host"


def error_line(message: str) -> None:
    """Print one error line on stderr."""
    click.echo(f"recon: error: {message}", err=True)


def stopped(signum: int) -> str:
    """How a run stopped by ``signum`` says so: ``interrupted`` (Ctrl-C) or ``stopped by signal N``."""
    return "interrupted" if signum == signal.SIGINT else f"stopped by signal {signum}"


def stop_signal(exc: KeyboardInterrupt) -> int:
    """The signal that stopped a run: :class:`recon.errors.Terminated`'s, else SIGINT (a plain
    KeyboardInterrupt is Ctrl-C)."""
    return exc.signum if isinstance(exc, Terminated) else signal.SIGINT


def hard_stop(signum: int) -> NoReturn:
    """End the process at once after a stop signal that the run did not act on in time (or a
    second one): remove its temporary folders, say so, exit 128 + signal without unwinding."""
    from recon.output import remove_open_partials

    remove_open_partials()
    if sys.stderr.isatty():  # a progress display hid the cursor and holds its line: give both back
        sys.stderr.write("\x1b[?25h\n")
    error_line(f"{stopped(signum)} (no safe stop point within {GRACE_S:g} s, or a second signal: ended at once); its unfinished outputs were removed")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def get_host(ctx: click.Context) -> PluginHost:
    """The run's plugin host, created and loaded on first use (one per run)."""
    root = ctx.find_root()
    host = root.meta.get(_HOST_KEY)
    if host is None:
        host = PluginHost(strict=bool(root.params.get("strict_plugins"))).load_entrypoints()
        root.meta[_HOST_KEY] = host
    return host


class ReconGroup(click.Group):
    """Loads plugins (and their subcommands) only when a command is listed or resolved, and turns
    :class:`recon.errors.ReconError` into one line and its exit code."""

    def _with_plugins(self, ctx: click.Context) -> None:
        try:
            get_host(ctx).add_commands(self)
        except ReconError as exc:  # strict plugin failure while listing commands (--help): no traceback
            error_line(str(exc))
            ctx.exit(int(exc.exit_code))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._with_plugins(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._with_plugins(ctx)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if ctx.params.get("strict_plugins"):
                self._with_plugins(ctx)  # strict: report plugin failures before any command runs
            return super().invoke(ctx)
        except ReconError as exc:
            error_line(str(exc))
            ctx.exit(int(exc.exit_code))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C or a stop signal (Terminated)
            signum = stop_signal(exc)
            error_line(f"{stopped(signum)}; nothing was written")
            ctx.exit(128 + signum)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            where = "".join(f" {note}" for note in getattr(exc, "__notes__", [])[:1])
            message = str(exc).splitlines()[0] if str(exc).strip() else ""
            error_line(f"internal error{where}: {type(exc).__name__}: {message} (run with --debug for the traceback)")
            ctx.exit(int(ExitCode.INTERNAL_ERROR))
