"""Count how many objects a function made are alive at once (tests of peak memory)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any


class LiveObjects:
    """Wrap a function so that every object it returns is counted while it is alive.

    ``counter.wrap(f)`` returns a function that calls ``f``; ``counter.peak`` is the most of its
    results alive at the same moment (weak references: the object must support them, as NumPy
    arrays do).
    """

    def __init__(self) -> None:
        self.live = self.peak = 0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            self.live += 1
            self.peak = max(self.peak, self.live)
            weakref.finalize(result, self._release)
            return result

        return counted

    def _release(self) -> None:
        self.live -= 1
