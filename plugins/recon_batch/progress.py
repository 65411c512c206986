"""The batch's progress bar on stderr: captures done, failed and running, elapsed time and ETA.

The bar counts the captures this run reconstructs (skipped ones are shown apart, so they do not
make the ETA look faster than the work); failure lines print above it as captures fail.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any


class BatchProgress:
    """A rich progress bar over captures, or nothing when ``quiet``.

    :param total: captures to reconstruct in this run.
    :param skipped: captures already finished by an earlier run.
    """

    def __init__(self, total: int, skipped: int, quiet: bool = False) -> None:
        self.quiet = quiet
        self.total = total
        self.skipped = skipped
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> BatchProgress:
        if self.quiet:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("captures"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[done]} done[/] · [red]{task.fields[failed]} failed[/] · {task.fields[running]} running"
                       "{task.fields[skipped_text]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.__enter__()
        skipped_text = f" · {self.skipped} skipped" if self.skipped else ""
        self._task = self._progress.add_task("captures", total=self.total, done=0, failed=0, running=0, skipped_text=skipped_text)
        return self

    def update(self, done: int, failed: int, running: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done + failed, done=done, failed=failed, running=running)

    def note(self, line: str) -> None:
        """Print a line on stderr above the bar (a failed capture, a plugin warning)."""
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:  # -q hides the bar, not the failures
            import sys

            print(line, file=sys.stderr)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
            self._progress = None
