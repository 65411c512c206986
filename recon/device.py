"""The one place that chooses the compute device and seeds randomness."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or ``prefer``/``RECON_DEVICE`` says so), otherwise the CPU."""
    import torch

    name = prefer or os.environ.get("RECON_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (when loaded); returns a NumPy generator for local use."""
    import sys

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's and SciPy's BLAS on one thread inside the block (torch keeps its own threads).

    For code made of many small solves and products, such as the face fits and the video's
    per-frame head tracking: there a BLAS thread pool only adds overhead, and beside another busy
    process its waiting threads spin (measured: the video's head tracking of a 400-frame clip took
    6-7 s on one thread, 77-115 s on two with a training running beside it)."""
    import scipy.linalg  # noqa: F401  (loaded first: threadpoolctl limits only the libraries already loaded)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield
