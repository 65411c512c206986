"""Fixtures shared by the PointNet tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped weights and every plugin, whatever the calling shell sets."""
    monkeypatch.delenv("RECON_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("RECON_POINTNET_WEIGHTS", raising=False)
