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


def bfloat16_inference(device: torch.device | str) -> bool:
    """Whether :func:`fast_inference` runs ``device``'s inference in bfloat16: on a CPU that computes
    it natively (AVX512-BF16 or AMX), unless ``RECON_BF16=0``."""
    import torch

    if torch.device(device).type != "cpu" or os.environ.get("RECON_BF16", "1") == "0":
        return False
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def fast_inference(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Inference in bfloat16 where :func:`bfloat16_inference` says so (measured on PointNet here:
    3.4x faster than float32 with the same validation accuracy), otherwise a no-op (float32;
    emulated bfloat16 would be slower)."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16_inference(device) else contextlib.nullcontext()


@contextlib.contextmanager
def float32_inference() -> Iterator[None]:
    """Inside the block :func:`fast_inference` keeps float32 (``RECON_BF16=0``, restored after):
    the baseline that a bfloat16 time is compared with."""
    old = os.environ.get("RECON_BF16")
    os.environ["RECON_BF16"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["RECON_BF16"]
        else:
            os.environ["RECON_BF16"] = old
