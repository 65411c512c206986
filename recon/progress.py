"""Timed stages with rich progress bars on stderr (stdout stays free for ``--json``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from recon.errors import stop_point


class StageTask:
    """Handle for one running stage: advance its bar or set its total."""

    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._task_id = task_id

    def advance(self, steps: float = 1) -> None:
        """Count ``steps`` done; a stop point (:func:`recon.errors.stop_point`)."""
        stop_point()
        if self._progress is not None:
            self._progress.advance(self._task_id, steps)

    def set_total(self, total: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task_id, total=total)

    def describe(self, text: str) -> None:
        """Replace the bar's label (a running figure: ``train 24.1 dB``)."""
        if self._progress is not None:
            self._progress.update(self._task_id, description=text)


def _RateColumn() -> Any:
    """A rich column: items per second of a stage with more than one step (frames per second);
    once the stage ends, its steps over its whole time (rich's own speed spans only the first to
    the last step, so a stage whose two steps end together showed thousands a second)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.completed / task.finished_time if task.finished_time else task.speed
            return Text(f"{speed:6.1f}/s" if speed and (task.total or 0) > 1 else " " * 8, style="progress.data.speed")

    return RateColumn()


class Stages:
    """Times named stages of a run and shows each as a progress bar on stderr unless ``quiet``
    or stderr is not a terminal (a pipe or a log file gets only the result or one error line).

    Use as a context manager around the run, then ``with stages.stage("carve", total=n) as task:``.
    ``timings`` maps stage name to seconds (a repeated name accumulates).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.timings: dict[str, float] = {}
        self._progress: Any = None

    def __enter__(self) -> Stages:
        if not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if not console.is_terminal:  # a log file or a pipe gets no bars: only the result or one error line
                return self
            self._progress = Progress(
                TextColumn("{task.description:<14}"),
                BarColumn(),
                TextColumn("{task.completed:>5.0f}/{task.total:<5.0f}"),
                _RateColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
            self._progress = None

    @contextmanager
    def stage(self, name: str, total: float | None = 1) -> Iterator[StageTask]:
        """Time a stage; its bar completes when the block ends. Entering and leaving it are stop
        points (:func:`recon.errors.stop_point`)."""
        stop_point()
        task_id = self._progress.add_task(name, total=total) if self._progress is not None else None
        start = time.perf_counter()
        try:
            yield StageTask(self._progress, task_id)
            stop_point()
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
            if self._progress is not None:
                total_now = self._progress.tasks[task_id].total if task_id is not None else None
                self._progress.update(task_id, completed=total_now or 1, total=total_now or 1)
