"""Shape and dtype checks shared by the data model (one helper, not inline checks)."""

from __future__ import annotations

import numpy as np


def check_array(name: str, array: np.ndarray, shape: tuple[int | None, ...], dtype: type | None = None) -> np.ndarray:
    """Return ``array`` as an ndarray after checking its shape (``None`` = any size) and dtype kind.

    :raises ValueError: naming ``name``, the expected and the actual shape.
    """
    array = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    if array.ndim != len(shape) or any(e is not None and e != a for e, a in zip(shape, array.shape)):
        expected = "(" + ", ".join("N" if e is None else str(e) for e in shape) + ")"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(array.shape)}")
    return array
