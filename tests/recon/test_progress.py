"""``recon.progress``: the per-stage rate shown beside each bar."""

from __future__ import annotations

import time

from rich.progress import Progress

from recon.progress import _RateColumn


def test_a_finished_stage_shows_its_steps_over_its_whole_time() -> None:
    """Two steps that end together after 0.2 s read about 10/s, not rich's first-to-last-step
    speed (thousands a second)."""
    progress = Progress(auto_refresh=False, disable=True)
    task_id = progress.add_task("fit", total=2)
    time.sleep(0.2)
    progress.advance(task_id)
    progress.advance(task_id)
    task = progress.tasks[task_id]
    rate = float(_RateColumn().render(task).plain.strip().removesuffix("/s"))
    assert 2.0 < rate <= 10.0


def test_a_one_step_stage_shows_no_rate() -> None:
    progress = Progress(auto_refresh=False, disable=True)
    task_id = progress.add_task("surface", total=1)
    progress.advance(task_id)
    assert _RateColumn().render(progress.tasks[task_id]).plain.strip() == ""
