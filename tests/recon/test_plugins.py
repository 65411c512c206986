"""PluginHost in process: registration with owners, isolation of failing plugins, unknown hooks,
duplicates, and guarded entry-point loading (with fake distributions)."""

from __future__ import annotations

import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import recon.plugins
from recon.testing.plugins import FakeDistribution
from recon import hookimpl
from recon.errors import PluginError
from recon.plugins import PluginHost
from recon.registry import Method, Reader, Writer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("RECON_LOAD_PLUGINS", raising=False)


def _method(name: str, priority: int = 0) -> Method:
    return Method(name, f"{name} (test)", accepts=lambda inputs: False, run=lambda i, o, s: None, priority=priority)


def _reader(name: str, ext: str) -> Reader:
    return Reader(name, (ext,), read=lambda path, options: None)


def _writer(fmt: str) -> Writer:
    return Writer(fmt, f"mesh.{fmt}", write=lambda rec, path: [])


class GoodPlugin:
    @hookimpl
    def recon_register_methods(self, register: Any) -> None:
        register(_method("good-method"))

    @hookimpl
    def recon_register_readers(self, register: Any) -> None:
        register(_reader("good-reader", ".good"))

    @hookimpl
    def recon_register_writers(self, register: Any) -> None:
        register(_writer("good"))


class RaisingPlugin:
    @hookimpl
    def recon_register_methods(self, register: Any) -> None:
        raise RuntimeError("boom in register")


class MisspelledPlugin:
    @hookimpl
    def recon_register_method(self, register: Any) -> None:  # no such hook: the spec is plural
        register(_method("never"))


class AnotherGood:
    @hookimpl
    def recon_register_methods(self, register: Any) -> None:
        register(_method("other-method"))


# -- in-process registration --------------------------------------------------------------------


def test_fresh_host_without_entrypoints_is_empty() -> None:
    host = PluginHost()
    assert host.infos() == []
    assert host.registry.methods == {}


def test_registered_plugin_appears_in_registry_with_owners() -> None:
    host = PluginHost()
    host.register(GoodPlugin(), name="good", version="1.2.3")
    reg = host.registry
    assert list(reg.methods) == ["good-method"]
    assert [r.name for r in reg.readers] == ["good-reader"]
    assert list(reg.writers) == ["good"]
    assert reg.owners[("method", "good-method")] == "good"
    assert reg.owners[("reader", "good-reader")] == "good"
    assert reg.owners[("writer", "good")] == "good"
    (info,) = host.infos()
    assert info.as_dict() == {
        "name": "good",
        "version": "1.2.3",
        "source": "inprocess",
        "hooks": ["recon_register_methods", "recon_register_readers", "recon_register_writers"],
        "methods": ["good-method"],
        "readers": ["good-reader"],
        "writers": ["good"],
        "commands": [],
        "status": None,
        "error": None,
    }
    assert host.versions() == {"good": "1.2.3"}


def test_raising_register_hook_is_reported_and_others_still_register(capsys: pytest.CaptureFixture[str]) -> None:
    host = PluginHost()
    host.register(GoodPlugin(), name="good")
    host.register(RaisingPlugin(), name="raiser")
    host.register(AnotherGood(), name="another")
    reg = host.registry
    assert set(reg.methods) == {"good-method", "other-method"}
    infos = {i.name: i for i in host.infos()}
    assert infos["raiser"].error is not None
    assert "recon_register_methods" in infos["raiser"].error and "boom in register" in infos["raiser"].error
    assert infos["good"].error is None and infos["another"].error is None
    assert "raiser" not in host.versions()
    err = capsys.readouterr().err
    assert "plugin 'raiser' failed" in err and "Traceback" not in err


def test_raising_register_hook_with_strict_raises_plugin_error() -> None:
    host = PluginHost(strict=True)
    host.register(RaisingPlugin(), name="raiser")
    with pytest.raises(PluginError, match="raiser"):
        _ = host.registry


def test_strict_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_STRICT_PLUGINS", "1")
    assert PluginHost().strict
    monkeypatch.setenv("RECON_STRICT_PLUGINS", "0")
    assert not PluginHost().strict


def test_misspelled_hookimpl_is_reported_via_check_pending(capsys: pytest.CaptureFixture[str]) -> None:
    host = PluginHost()
    host.register(MisspelledPlugin(), name="typo")
    host.register(GoodPlugin(), name="good")
    infos = {i.name: i for i in host.infos()}
    assert "recon_register_method" in (infos["typo"].error or "")
    assert infos["typo"].source == "inprocess"
    assert "never" not in host.registry.methods
    assert "good-method" in host.registry.methods
    assert host.pm.get_plugin("typo") is None  # unregistered, not half-loaded
    assert "plugin 'typo' failed" in capsys.readouterr().err


def test_misspelled_hookimpl_strict_raises() -> None:
    host = PluginHost(strict=True)
    with pytest.raises(PluginError, match="typo"):
        host.register(MisspelledPlugin(), name="typo")


def test_duplicates_are_reported_as_conflicts(capsys: pytest.CaptureFixture[str]) -> None:
    class Dup:
        @hookimpl
        def recon_register_methods(self, register: Any) -> None:
            register(_method("good-method", priority=99))

        @hookimpl
        def recon_register_writers(self, register: Any) -> None:
            register(_writer("good"))

    host = PluginHost()
    host.register(GoodPlugin(), name="good")
    host.register(Dup(), name="dup")
    reg = host.registry
    # one of them wins (pluggy order: the later-registered plugin is called first); the other is reported
    winner = reg.owners[("method", "good-method")]
    loser = {"good", "dup"} - {winner}
    assert len(loser) == 1
    (loser_name,) = loser
    assert reg.methods["good-method"].priority == (99 if winner == "dup" else 0)
    assert reg.owners[("writer", "good")] == winner
    assert reg.conflicts == [
        f"method 'good-method' from {loser_name} ignored: already registered by {winner}",
        f"writer 'good' from {loser_name} ignored: already registered by {winner}",
    ]
    err = capsys.readouterr().err
    assert f"recon: warning: method 'good-method' from {loser_name} ignored" in err
    infos = {i.name: i for i in host.infos()}
    assert infos[loser_name].registers["methods"] == [] and infos[loser_name].error is None
    assert infos[winner].registers["methods"] == ["good-method"]


def test_registry_rebuilt_after_register() -> None:
    host = PluginHost()
    host.register(GoodPlugin(), name="good")
    assert set(host.registry.methods) == {"good-method"}
    host.register(AnotherGood(), name="another")
    assert set(host.registry.methods) == {"good-method", "other-method"}


# -- entry points (fake distributions) -----------------------------------------------------------


@pytest.fixture
def fake_dists(monkeypatch: pytest.MonkeyPatch):
    """Add fake distributions to what ``recon.plugins`` sees, after the real ones."""
    extra: list[FakeDistribution] = []
    real = metadata.distributions

    def distributions(**kwargs: Any):
        return [*real(**kwargs), *extra]

    monkeypatch.setattr(recon.plugins.metadata, "distributions", distributions)
    return extra


@pytest.fixture
def ok_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable plugin module ``recon_fake_ok`` (in sys.modules only)."""
    module = types.ModuleType("recon_fake_ok")

    @hookimpl
    def recon_register_methods(register: Any) -> None:
        register(_method("fake-ok"))

    module.recon_register_methods = recon_register_methods  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recon_fake_ok", module)
    return "recon_fake_ok"


def test_builtin_entry_points_load() -> None:
    host = PluginHost().load_entrypoints()
    infos = {i.name: i for i in host.infos()}
    assert {"recon_io", "recon_visualhull"} <= set(infos)
    for name in ("recon_io", "recon_visualhull"):
        assert infos[name].source == "builtin" and infos[name].error is None and infos[name].version
    assert host.registry.owners[("method", "visual-hull")] == "recon_visualhull"
    assert host.registry.owners[("writer", "glb")] == "recon_io"


def test_load_plugins_env_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_LOAD_PLUGINS", "recon_io")
    assert [i.name for i in PluginHost().load_entrypoints().infos()] == ["recon_io"]
    monkeypatch.setenv("RECON_LOAD_PLUGINS", "")
    assert PluginHost().load_entrypoints().infos() == []


def test_broken_entry_point_is_reported_and_non_fatal(
    fake_dists: list[FakeDistribution], ok_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dists.append(FakeDistribution("fake-broken", "6.6.6", {"broken": "does_not_exist_pkg"}))
    fake_dists.append(FakeDistribution("fake-ok", "1.0.1", {"fakeok": ok_module}))
    host = PluginHost().load_entrypoints()
    infos = {i.name: i for i in host.infos()}
    broken = infos["broken"]
    assert broken.error is not None and "does_not_exist_pkg" in broken.error
    assert broken.source == "entrypoint" and broken.version == "6.6.6"
    assert broken.hooks == []
    assert infos["fakeok"].error is None and infos["fakeok"].source == "entrypoint" and infos["fakeok"].version == "1.0.1"
    assert host.registry.owners[("method", "fake-ok")] == "fakeok"
    assert infos["recon_io"].error is None  # the others still load
    assert "visual-hull" in host.registry.methods
    err = capsys.readouterr().err
    assert "recon: warning: plugin 'broken' failed" in err and "Traceback" not in err


def test_broken_entry_point_strict_raises(fake_dists: list[FakeDistribution]) -> None:
    fake_dists.append(FakeDistribution("fake-broken", "6.6.6", {"broken": "does_not_exist_pkg"}))
    with pytest.raises(PluginError, match="broken.*does_not_exist_pkg"):
        PluginHost(strict=True).load_entrypoints()


def test_entry_point_raising_at_import_is_reported(
    fake_dists: list[FakeDistribution], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "recon_fake_raises.py").write_text("raise ImportError('needs a missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_dists.append(FakeDistribution("fake-raises", "0.0.1", {"raises": "recon_fake_raises"}))
    infos = {i.name: i for i in PluginHost().load_entrypoints().infos()}
    assert "needs a missing dependency" in (infos["raises"].error or "")
    sys.modules.pop("recon_fake_raises", None)


def test_entry_point_with_unknown_hook_is_reported(fake_dists: list[FakeDistribution], monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("recon_fake_typo")

    @hookimpl
    def recon_register_writer(register: Any) -> None:  # singular: no such hook
        pass

    module.recon_register_writer = recon_register_writer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recon_fake_typo", module)
    fake_dists.append(FakeDistribution("fake-typo", "0.3", {"typo": "recon_fake_typo"}))
    infos = {i.name: i for i in PluginHost().load_entrypoints().infos()}
    assert infos["typo"].source == "entrypoint" and infos["typo"].version == "0.3"
    assert "recon_register_writer" in (infos["typo"].error or "")
