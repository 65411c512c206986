"""recon.registry: lazy plugin callables and reader dispatch."""

import sys

import pytest

from recon.registry import lazy


def test_lazy_imports_on_first_call_only() -> None:
    sys.modules.pop("colorsys", None)
    fn = lazy("colorsys:rgb_to_hsv")
    assert "colorsys" not in sys.modules
    assert fn(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "colorsys" in sys.modules


def test_lazy_needs_module_and_function() -> None:
    with pytest.raises(ValueError, match="module:function"):
        lazy("colorsys.rgb_to_hsv")
