"""Loading plugins: one pluggy manager per run, each entry point guarded, every failure reported.

Built-in and third-party plugins load the same way, from the entry-point group ``recon.plugins``.
Environment switches: ``RECON_LOAD_PLUGINS=a,b`` loads only the named entry points (empty: none);
``RECON_STRICT_PLUGINS=1`` is ``--strict-plugins``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from recon import hookspecs
from recon.errors import PluginError
from recon.registry import Registry

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "recon.plugins"
BUILTIN_DISTRIBUTION = "recon"


@dataclass
class PluginInfo:
    """One row of ``recon plugins``."""

    name: str
    version: str | None
    source: str  # "builtin", "entrypoint" or "inprocess"
    hooks: list[str] = field(default_factory=list)
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    status: dict[str, Any] | None = None  # what the plugin's recon_plugin_status says it finds

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "hooks": self.hooks,
            **self.registers,
            "status": self.status,
            "error": self.error,
        }


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PluginHost:
    """A plugin manager and what its plugins registered, for one run.

    :param strict: raise :class:`recon.errors.PluginError` on the first plugin failure instead of
        reporting it and carrying on.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict or os.environ.get("RECON_STRICT_PLUGINS", "") not in ("", "0")
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.errors: dict[str, str] = {}
        self.sources: dict[str, tuple[str, str | None]] = {}
        self._registry: Registry | None = None
        self._commands_added: set[int] = set()

    # -- loading -----------------------------------------------------------------------------
    def _fail(self, name: str, message: str, version: str | None = None, source: str = "entrypoint") -> None:
        self.errors[name] = message
        self.sources.setdefault(name, (source, version))
        if self.strict:  # the caller prints the error once; no warning line before it
            raise PluginError(f"plugin {name!r} failed: {message}")
        print(f"recon: warning: plugin {name!r} failed: {message}", file=sys.stderr)

    def load_entrypoints(self) -> PluginHost:
        """Load every ``recon.plugins`` entry point, each in its own try/except."""
        wanted = os.environ.get("RECON_LOAD_PLUGINS")
        allowed = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for dist in metadata.distributions():
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or (allowed is not None and ep.name not in allowed):
                    continue
                if self.pm.get_plugin(ep.name) is not None or ep.name in self.errors:
                    continue
                dist_name = dist.metadata["Name"] or ""
                source = "builtin" if dist_name.lower() == BUILTIN_DISTRIBUTION else "entrypoint"
                self.sources[ep.name] = (source, dist.version)
                try:
                    self.pm.register(ep.load(), name=ep.name)
                except (Exception, SystemExit) as exc:  # a broken plugin must not take the tool down
                    if self.pm.get_plugin(ep.name) is not None:
                        self.pm.unregister(name=ep.name)
                    self._fail(ep.name, _one_line(exc), dist.version, source)
        self._check_pending()
        return self

    def register(self, plugin: object, name: str, version: str | None = None) -> None:
        """Register an in-process plugin (tests, scripts); it is listed with source ``inprocess``."""
        self.sources[name] = ("inprocess", version)
        self.pm.register(plugin, name=name)
        self._registry = None
        self._check_pending()

    def _check_pending(self) -> None:
        """Report (and unregister) plugins whose hook implementations match no hook spec."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or str(exc.plugin)
                self.pm.unregister(exc.plugin)
                source, version = self.sources.get(name, ("entrypoint", None))
                self._fail(name, f"unknown hook: {exc}", version, source)

    # -- registration ------------------------------------------------------------------------
    def _call_each(
        self,
        hook_name: str,
        kwargs_for: Callable[[str], dict[str, Any]],
        after: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Call one hook implementation at a time, so a plugin that raises is isolated.

        :param kwargs_for: builds the call's keyword arguments for a plugin name.
        :param after: called with the plugin name after each successful call.
        :returns: {plugin name: its non-None result}.
        """
        results: dict[str, Any] = {}
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if impl.plugin_name in self.errors:
                continue
            try:
                result = impl.function(**kwargs_for(impl.plugin_name))
            except PluginError:
                raise
            except (Exception, SystemExit) as exc:
                self._fail(impl.plugin_name, f"{hook_name} raised {_one_line(exc)}", *self._version_source(impl.plugin_name))
                continue
            if after is not None:
                after(impl.plugin_name)
            if result is not None:
                results[impl.plugin_name] = result
        return results

    def _version_source(self, name: str) -> tuple[str | None, str]:
        source, version = self.sources.get(name, ("entrypoint", None))
        return version, source

    @property
    def registry(self) -> Registry:
        """Methods, readers and writers registered by the loaded plugins (built once)."""
        if self._registry is None:
            reg = Registry()
            self._call_each("recon_register_methods", lambda p: {"register": lambda m: reg.add_method(m, p)})
            self._call_each("recon_register_readers", lambda p: {"register": lambda r: reg.add_reader(r, p)})
            self._call_each("recon_register_writers", lambda p: {"register": lambda w: reg.add_writer(w, p)})
            for conflict in reg.conflicts:
                print(f"recon: warning: {conflict}", file=sys.stderr)
            self._registry = reg
        return self._registry

    def add_commands(self, cli: click.Group) -> None:
        """Let each plugin add subcommands to ``cli`` (once per group), recording who added what."""
        if id(cli) in self._commands_added:
            return
        self._commands_added.add(id(cli))
        registry = self.registry
        before = set(cli.commands)

        def record(plugin: str) -> None:
            nonlocal before
            for name in sorted(set(cli.commands) - before):
                registry.owners[("command", name)] = plugin
            before = set(cli.commands)

        self._call_each("recon_register_commands", lambda _: {"cli": cli}, after=record)

    def annotate(self, reconstruction: Any) -> dict[str, Any]:
        """Collect ``recon_annotate`` results keyed by plugin name."""
        return self._call_each("recon_annotate", lambda _: {"reconstruction": reconstruction})

    # -- listing -----------------------------------------------------------------------------
    def versions(self) -> dict[str, str | None]:
        """{plugin name: version} of every plugin that loaded."""
        return {name: self.sources.get(name, ("", None))[1] for name, _ in self.pm.list_name_plugin() if name not in self.errors}

    def infos(self) -> list[PluginInfo]:
        """One :class:`PluginInfo` per plugin, loaded or failed, sorted by name."""
        registry = self.registry
        rows = []
        names = {name for name, _ in self.pm.list_name_plugin()} | set(self.errors)
        for name in sorted(names):
            source, version = self.sources.get(name, ("inprocess", None))
            plugin = self.pm.get_plugin(name)
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or []) if plugin is not None else []
            status = self._status(name, plugin) if "recon_plugin_status" in hooks else None
            rows.append(PluginInfo(name, version, source, hooks, registry.registered_by(name), self.errors.get(name), status))
        return rows

    def _status(self, name: str, plugin: Any) -> dict[str, Any] | None:
        """One plugin's ``recon_plugin_status``; a failure becomes ``{"error": ...}``."""
        try:
            return plugin.recon_plugin_status()
        except Exception as exc:
            return {"error": _one_line(exc)}
