"""Pretend a package with ``recon.plugins`` entry points is installed (for plugin-loading tests)."""

from __future__ import annotations

from importlib import metadata

from recon.plugins import ENTRY_POINT_GROUP


class FakeDistribution:
    """Just what :meth:`recon.plugins.PluginHost.load_entrypoints` reads from a distribution."""

    def __init__(self, name: str, version: str, entry_points: dict[str, str]) -> None:
        self.metadata = {"Name": name}
        self.version = version
        self.entry_points = [metadata.EntryPoint(name=n, value=v, group=ENTRY_POINT_GROUP) for n, v in entry_points.items()]
