"""Reading ``-O KEY=VALUE`` method options that came from Python rather than the command line
(which already turns ``true``/``false`` and numbers into values)."""

from __future__ import annotations

from typing import Any


def flag(value: Any, name: str) -> bool:
    """``value`` as a boolean: a bool, or one of 1/0, true/false, yes/no, on/off (any case).

    :raises ValueError: anything else, naming the option ``name``.
    """
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"{name} must be true or false (on or off), got {value!r}")
    return text in ("1", "true", "yes", "on")
