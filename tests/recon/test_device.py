"""recon.device: the compute device, seeding, and BLAS threads for small linear algebra."""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_info

from recon.device import one_blas_thread, pick_device, seed_everything


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
