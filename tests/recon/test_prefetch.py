"""recon.prefetch: items in order, a bounded number ahead, errors where they happened, and the
thread gone when the caller leaves early."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from recon.prefetch import prefetched


def _threads() -> int:
    return sum(t.name == "recon-prefetch" for t in threading.enumerate())


def test_items_come_in_order_and_at_most_depth_ahead() -> None:
    made: list[int] = []

    def source() -> Iterator[int]:
        for i in range(20):
            made.append(i)
            yield i

    seen = []
    for item in prefetched(source(), depth=2):
        time.sleep(0.01)  # the producer fills the queue meanwhile
        assert len(made) - item <= 2 + 2  # the queue's 2, the one being put and the one handed out
        seen.append(item)
    assert seen == list(range(20))


def test_an_error_reaches_the_caller_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("frame 3 is damaged")

    seen = []
    with pytest.raises(ValueError, match="frame 3"):
        for item in prefetched(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.set()

    before = _threads()
    items = prefetched(source(), depth=3)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # what a `break` out of a for loop does to the generator
    assert closed.wait(5.0)
    deadline = time.monotonic() + 5.0
    while _threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads() == before


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(prefetched([1], depth=0))
