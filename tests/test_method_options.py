"""Each built-in method declares the ``-O`` keys it reads (so the pipeline can refuse the others):
the declaration and the method's DEFAULTS must name the same keys."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("plugin", ["recon_face", "recon_visualhull", "recon_occupancy", "recon_mvs"])
def test_declared_options_are_the_defaults(plugin: str) -> None:
    declared = importlib.import_module(plugin).OPTIONS
    defaults = importlib.import_module(f"{plugin}.method").DEFAULTS
    assert sorted(declared) == sorted(defaults)
