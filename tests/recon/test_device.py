"""recon.device: the compute device, seeding, and BLAS threads for small linear algebra."""

from __future__ import annotations

import os

import numpy as np
import torch
from threadpoolctl import threadpool_info

from recon.device import bfloat16_inference, fast_inference, float32_inference, one_blas_thread, pick_device, seed_everything


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_old_count_after() -> None:
    before = _blas_threads()
    with one_blas_thread():
        inside = _blas_threads()
        x = np.linalg.solve(np.eye(3) * 2.0, np.ones(3))
    assert inside and all(n == 1 for n in inside)  # NumPy's and SciPy's BLAS, loaded first
    np.testing.assert_allclose(x, 0.5)
    assert _blas_threads()[: len(before)] == before


def test_seeding_repeats_and_the_device_follows_the_environment(monkeypatch) -> None:  # noqa: ANN001
    a = seed_everything(3).random(2), torch.rand(2)
    b = seed_everything(3).random(2), torch.rand(2)
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    monkeypatch.setenv("RECON_DEVICE", "cpu")
    assert pick_device().type == "cpu"


def test_fast_inference_is_bfloat16_only_where_the_cpu_has_it(monkeypatch) -> None:  # noqa: ANN001
    with fast_inference("cpu"):
        y = torch.ones(4, 4) @ torch.ones(4, 4)
    assert y.dtype == (torch.bfloat16 if bfloat16_inference("cpu") else torch.float32)
    with float32_inference(), fast_inference("cpu"):
        assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.float32
    monkeypatch.setenv("RECON_BF16", "0")
    with float32_inference():
        pass
    assert os.environ["RECON_BF16"] == "0"  # restored as it was
    assert not bfloat16_inference("cpu") and not bfloat16_inference("cuda")
