"""Ray for ``recon batch``: a local Ray by default, a running cluster with ``--address``.

- Local (no address): ``ray.init()`` on 127.0.0.1, no dashboard, a small object store (results
  are small dicts), sized to ``workers x cpus_per_task`` CPUs; the defaults come from this
  machine's cores and available memory (:data:`MEMORY_PER_TASK` per worker). Its workers run at
  niceness 0, as a single run does (Ray's default is 15), and it collects no metrics.
- ``--address HOST:PORT``: joins the cluster (``ray.init(address=...)``); inputs and OUT must be
  reachable at the same paths on every node (shared storage), and every node needs recon
  installed with the same Ray version.
- A process that already called ``ray.init()`` (a script, a test) keeps its connection.

Each capture is one Ray task declaring ``num_cpus=cpus_per_task`` (its compute threads are
limited to that), so heavy methods do not oversubscribe a node.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from recon.errors import UsageError

MISSING_RAY = (
    "recon batch needs Ray, an optional extra: pip install 'recon[batch]' "
    "(in a checkout: pip install -e '.[batch]')"
)
MEMORY_PER_TASK = 2 * 1024**3
"""Memory one worker is allowed for when the default number of workers is chosen (bytes)."""
OBJECT_STORE = 128 * 1024**2
"""The local Ray's object store (bytes): results are small dicts."""
ADDRESS_TIMEOUT_S = 10.0
"""How long ``--address`` may take to answer a TCP connection."""


def ray_installed() -> bool:
    """Whether Ray can be imported (without importing it: that takes a second)."""
    import importlib.util
    import sys

    if "ray" in sys.modules:
        return sys.modules["ray"] is not None
    return importlib.util.find_spec("ray") is not None


def import_ray() -> Any:
    """:raises UsageError: Ray is not installed (exit 2, saying how to get it)."""
    try:
        import ray
    except ImportError:
        raise UsageError(MISSING_RAY) from None
    return ray


def machine() -> tuple[int, int]:
    """This machine's usable cores and available memory in bytes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    memory = 0
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if not memory:
        try:
            memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            memory = MEMORY_PER_TASK * cores
    return max(1, cores), memory


def size(cpus: int, memory: float, workers: int | None, cpus_per_task: int | None) -> tuple[int, int]:
    """``(workers, cpus_per_task)`` for ``cpus`` CPUs and ``memory`` bytes: by default every CPU
    works, one per task, within :data:`MEMORY_PER_TASK` per worker; ``--workers N`` alone splits
    the CPUs between N tasks."""
    cpus = max(1, int(cpus))
    if cpus_per_task is None:
        cpus_per_task = max(1, cpus // workers) if workers else 1
    if workers is None:
        workers = max(1, min(cpus // cpus_per_task, int(memory // MEMORY_PER_TASK)))
    return workers, cpus_per_task


def check_address(address: str) -> None:
    """Something must answer at ``HOST:PORT`` (Ray itself retries a wrong address for minutes).

    :raises UsageError: not ``HOST:PORT``, a Ray Client address, or nothing answers there.
    """
    import socket

    if address == "auto":  # the cluster `ray start` runs on this machine; Ray finds it
        return
    if address.startswith("ray://"):
        raise UsageError(f"--address {address}: Ray Client addresses are not supported; give the head's GCS address HOST:PORT (default port 6379)")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--address {address}: give the head's HOST:PORT, e.g. 10.0.0.5:6379 (`ray status` on the head prints it)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=ADDRESS_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"--address {address}: nothing answers there ({reason}); check the head's address and port (`ray status` on the head prints it)"
        ) from None


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the block (unless already set), then restore them."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _keep_sigterm() -> Iterator[None]:
    """``ray.init`` replaces the SIGTERM handler with one that exits at once; keep recon's, which
    stops the batch cleanly (exit 143) like Ctrl-C."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and callable(before):  # a handler the program installed (recon's CLI does)
            signal.signal(signal.SIGTERM, before)


@dataclass
class RayCluster:
    """The Ray this batch runs on; :meth:`close` disconnects (and stops a Ray it started).

    :param address: ``--address`` or None for a local Ray.
    :param workers: captures run at once (default: see :func:`size`).
    :param cpus_per_task: CPUs each capture's task declares.
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_task: int | None = None
    where: str = ""
    owned: bool = False
    ray: Any = field(default=None, repr=False)
    _remote: Any = field(default=None, repr=False)

    def connect(self) -> RayCluster:
        """:raises UsageError: Ray missing, or the cluster at ``address`` cannot be joined."""
        ray = self.ray = import_ray()
        if ray.is_initialized():
            if self.address:
                raise UsageError(f"--address {self.address}: this process is already connected to a Ray cluster; leave --address out to use it")
            self.where = "the Ray cluster this process is connected to"
        elif self.address:
            check_address(self.address)
            try:
                with _keep_sigterm():
                    ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False)
            except Exception as exc:  # ConnectionError, ValueError, RuntimeError: all mean "cannot join"
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UsageError(
                    f"--address {self.address}: cannot join the Ray cluster ({reason}); give the head's HOST:PORT "
                    "(`ray status` on the head prints it; a cluster with token authentication also needs RAY_AUTH_MODE=token)"
                ) from None
            self.owned = True
            self.where = f"the Ray cluster at {self.address}"
        else:
            cores, memory = machine()
            self.workers, self.cpus_per_task = size(cores, memory, self.workers, self.cpus_per_task)
            # Ray runs its workers at niceness 15 to keep its own processes responsive; a local
            # batch is the user's foreground work, as a single run is: niceness 0 (the raylet
            # reads the variable when it starts and passes it to the workers it spawns). Metrics
            # need ray[default]'s agent, which the batch extra does not install; without them
            # the raylet does not wait for it, and Ray starts 1.1 s sooner here.
            with _keep_sigterm(), _environ(RAY_worker_niceness="0", RAY_enable_metrics_collection="0"):
                ray.init(
                    address="local",  # a new Ray of our own, never one that `ray start` left on this machine
                    num_cpus=self.workers * self.cpus_per_task,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    object_store_memory=OBJECT_STORE,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                )
            self.owned = True
            self.where = "a local Ray"
        resources = ray.cluster_resources()
        self.workers, self.cpus_per_task = size(
            resources.get("CPU", 1), resources.get("memory", MEMORY_PER_TASK), self.workers, self.cpus_per_task
        )
        if self.cpus_per_task > resources.get("CPU", 1):
            raise UsageError(
                f"--cpus-per-task {self.cpus_per_task}: {self.where} has {resources.get('CPU', 0):g} CPUs; ask for fewer"
            )
        from recon_batch.worker import run_capture

        # a worker that dies (out of memory, a crash) is retried once; a failed capture is a result
        self._remote = ray.remote(num_cpus=self.cpus_per_task, max_retries=1, retry_exceptions=False)(run_capture)
        return self

    def submit(self, spec: dict[str, Any]) -> Any:
        """Start one capture's task; returns its object ref."""
        return self._remote.options(name=f"recon batch {spec['name']}").remote(spec)

    def wait(self, refs: list[Any], timeout: float) -> list[Any]:
        """The refs among ``refs`` whose tasks have finished (waits up to ``timeout`` s for one)."""
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:  # collect every other one that is ready too, without waiting
            more, _ = self.ray.wait([r for r in refs if r not in ready], num_returns=len(refs) - len(ready), timeout=0)
            ready += more
        return ready

    def result(self, ref: Any) -> dict[str, Any]:
        """A finished task's result; a task that Ray could not run (its worker died, it was
        cancelled) becomes a failed result with Ray's reason."""
        try:
            return self.ray.get(ref)
        except Exception as exc:
            text = str(exc).strip()
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            return {"status": "failed", "error": f"Ray could not run it: {type(exc).__name__}: {first}", "exit_code": 1}

    def cancel(self, refs: list[Any]) -> None:
        """Interrupt running tasks (KeyboardInterrupt in the worker: the capture's temporary
        folder is removed, as in a single run stopped with Ctrl-C)."""
        for ref in refs:
            try:
                self.ray.cancel(ref, force=False)
            except Exception:  # already finished, or Ray is going down
                pass

    def close(self) -> None:
        """Disconnect; a Ray this batch started stops with it."""
        if self.owned and self.ray is not None:
            if self.address is None:
                stop_autoscaler_monitor()
            self.ray.shutdown()
        self.owned = False


MONITOR_SCRIPT = "autoscaler/_private/monitor.py"
"""How Ray's autoscaler monitor process shows in its command line."""


def _children() -> list[tuple[int, list[str]]]:
    """``(pid, command line)`` of this process's children (Linux ``/proc``; empty elsewhere)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # after "pid (name) state"
            if ppid == me:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")))
        except (OSError, ValueError, IndexError):
            continue
    return found


def autoscaler_monitors() -> list[int]:
    """The live autoscaler monitors among this process's children (their pids; a killed child is
    a zombie, not alive, until Ray's ``Popen`` reaps it)."""
    from recon.output import pid_alive

    return [pid for pid, command in _children() if any(part.endswith(MONITOR_SCRIPT) for part in command) and pid_alive(pid)]


def stop_autoscaler_monitor(wait_s: float = 1.0) -> bool:
    """Kill the autoscaler monitor of the local Ray this process started; True if one was found.

    ``ray.shutdown`` stops the GCS first, then sends the monitor SIGTERM, on which the monitor
    tries to report its end to the (gone) GCS and is killed after Ray's one-second grace: a second
    of every local batch (Ray 2.60). A local Ray has no autoscaling to report on, so its monitor
    is killed first; the other processes stop as before."""
    import signal
    import time

    from recon.output import pid_alive

    pids = autoscaler_monitors()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        deadline = time.monotonic() + wait_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    return bool(pids)
