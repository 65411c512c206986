"""What a Ray worker runs for one capture: :func:`recon.pipeline.reconstruct`, the single-run code
path, into ``OUT/<capture>/`` (atomic, as every run: a temporary folder renamed at the end).

A worker process keeps one :class:`recon.plugins.PluginHost` for every capture it runs, so the
plugins load, heavy libraries (torch, PyTorch3D, MediaPipe) import and the plugins' own model
caches (MediaPipe's face models, ...) fill once per worker, not once per capture.

Importable without Ray: the driver wraps :func:`run_capture` with ``ray.remote``.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from recon.plugins import PluginHost

_HOSTS: dict[tuple[Any, ...], PluginHost] = {}
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cached_host(strict: bool) -> PluginHost:
    """This process's plugin host for the current ``RECON_*`` environment (loaded once)."""
    key = (strict, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("RECON_"))))
    host = _HOSTS.get(key)
    if host is None:
        host = _HOSTS[key] = PluginHost(strict=strict).load_entrypoints()
    return host


def _apply_env(env: dict[str, str]) -> None:
    """The driver's ``RECON_*`` variables, so a worker on another node behaves like a local run."""
    for name in [n for n in os.environ if n.startswith("RECON_") and n not in env]:
        del os.environ[name]
    os.environ.update(env)


def limit_threads(cpus: int) -> None:
    """As many compute threads as CPUs the task declared (torch now, OpenMP/BLAS when loaded)."""
    for name in _THREAD_VARS:
        os.environ[name] = str(cpus)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != cpus:
        torch.set_num_threads(cpus)


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line and exit code the command line gives for ``exc`` in a single run."""
    from recon.errors import ExitCode, ReconError

    if isinstance(exc, ReconError):
        text = str(exc).strip()
        return (text.splitlines()[0] if text else type(exc).__name__), int(exc.exit_code)
    where = "".join(f" {note}" for note in getattr(exc, "__notes__", [])[:1])
    message = str(exc).splitlines()[0] if str(exc).strip() else ""
    return f"internal error{where}: {type(exc).__name__}: {message}", int(ExitCode.INTERNAL_ERROR)


@contextlib.contextmanager
def _watch_stop_file(path: str | None, every_s: float = 0.2, grace_s: float = 5.0) -> Iterator[None]:
    """While the block runs, a thread looks for the batch's stop file every ``every_s`` seconds;
    once it is there, the run stops at its next stop point (:func:`recon.errors.request_stop`),
    or, reaching none within ``grace_s`` seconds, is interrupted wherever it is, as Ctrl-C would.
    The thread is stopped and joined, and a stop not acted on forgotten, before the block is
    left, so a later task of this worker is never interrupted."""
    if not path:
        yield
        return
    import _thread
    import signal
    import threading

    from recon.errors import clear_stop, request_stop

    done = threading.Event()

    def watch() -> None:
        while not done.wait(every_s):
            if os.path.exists(path):
                request_stop(signal.SIGINT)
                if not done.wait(grace_s):
                    _thread.interrupt_main()
                return

    watcher = threading.Thread(target=watch, name="recon-batch-stop", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        clear_stop()


def run_capture(spec: dict[str, Any]) -> dict[str, Any]:
    """Reconstruct one capture; never raises for a failed capture (the result says why).

    :param spec: ``name``, ``inputs``, ``out``, ``method``, ``options``, ``formats``, ``seed``,
        ``overwrite``, ``cpus``, ``strict``, ``env`` (the driver's ``RECON_*`` variables),
        ``stop_file`` (its appearance interrupts the run: the batch is stopping).
    :returns: ``status`` (``done``, ``failed`` or ``interrupted``), ``time_s``, ``node``, ``pid``; when done
        ``method_used`` and ``mesh``; when failed ``error``, ``exit_code`` (and ``traceback`` for
        internal errors); ``warnings`` (stderr lines of the run), if any.
    """
    from threadpoolctl import threadpool_limits

    from recon.pipeline import reconstruct

    start = time.perf_counter()
    _apply_env(spec.get("env", {}))
    cpus = int(spec.get("cpus", 1))
    limit_threads(cpus)
    result: dict[str, Any] = {"name": spec["name"], "node": platform.node(), "pid": os.getpid()}
    stderr = io.StringIO()
    stopping = _watch_stop_file(spec.get("stop_file"))
    try:
        with stopping, contextlib.redirect_stderr(stderr), threadpool_limits(cpus):
            report = reconstruct(
                cached_host(bool(spec.get("strict"))),
                [Path(p) for p in spec["inputs"]],
                Path(spec["out"]),
                method=spec.get("method"),
                options=dict(spec.get("options") or {}),
                formats=tuple(spec.get("formats") or ("glb", "obj")),
                seed=int(spec.get("seed", 0)),
                quiet=True,
                overwrite=bool(spec.get("overwrite")),
            )
        result.update(status="done", method_used=report["method"], mesh=report["mesh"])
    except KeyboardInterrupt:  # the batch is stopping (its stop file): the run removed its temporary folder
        result.update(status="interrupted", error="interrupted: the batch was stopped", exit_code=130)
    except Exception as exc:  # a failed capture is a result
        from recon.errors import ReconError

        line, code = error_line(exc)
        result.update(status="failed", error=line, exit_code=code)
        if not isinstance(exc, ReconError):
            result["traceback"] = "".join(traceback.format_exception(exc)[-12:])
    finally:
        limit_threads(cpus)  # torch imported during the run reads the variables; keep it so
    result["time_s"] = round(time.perf_counter() - start, 3)
    warnings = [line for line in stderr.getvalue().splitlines() if line.strip()]
    if warnings:
        result["warnings"] = warnings[:20]
    return result
