"""What plugins register (methods, readers, writers) and the host-side registry that holds them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recon.progress import Stages
    from recon.structures import Inputs, Reconstruction


@dataclass(frozen=True)
class Method:
    """A reconstruction method.

    :param name: what ``--method`` takes.
    :param description: one line for ``recon plugins`` and error messages.
    :param accepts: ``accepts(inputs)`` is True when this method can run on the inputs; used to
        pick a method when ``--method`` is absent (the first accepting method in priority order).
    :param run: ``run(inputs, options, stages)`` returns a :class:`recon.structures.Reconstruction`;
        ``options`` holds ``-O key=value`` pairs and ``seed``; ``stages`` times and shows progress.
    :param priority: higher runs first when several methods accept the inputs.
    :param options: the ``-O`` keys the method reads. When given, any other key (besides
        ``seed`` and the readers' options) is refused with exit 2 before the run; ``None`` (the
        default, for methods that do not say) accepts every key.
    """

    name: str
    description: str
    accepts: Callable[[Inputs], bool]
    run: Callable[[Inputs, dict[str, Any], Stages], Reconstruction]
    priority: int = 0
    options: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Reader:
    """Reads one input path into :class:`recon.structures.Inputs`.

    :param name: shown by ``recon plugins``.
    :param extensions: lower-case suffixes with the dot (``(".jpg", ".png")``) claimed by this reader.
    :param read: ``read(path, options)``; raise :class:`recon.errors.BadInputError` for a bad file.
    :param accepts: optional ``accepts(path)`` predicate for inputs not told apart by suffix
        (folders). Checked before extensions, highest ``priority`` first.
    :param options: the ``-O`` keys the reader reads (``("fps", "max_frames")``); every method
        accepts them.
    """

    name: str
    extensions: tuple[str, ...]
    read: Callable[[Path, dict[str, Any]], Inputs]
    accepts: Callable[[Path], bool] | None = None
    priority: int = 0
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Writer:
    """Writes a reconstruction into the output folder.

    :param fmt: format name (``"glb"``).
    :param filename: file name inside the output folder (``"mesh.glb"``).
    :param write: ``write(reconstruction, path)`` returns every file written (textures included).
    """

    fmt: str
    filename: str
    write: Callable[[Reconstruction, Path], list[Path]]


@dataclass
class Registry:
    """Everything registered by the plugins of one run, with who registered it."""

    methods: dict[str, Method] = field(default_factory=dict)
    readers: list[Reader] = field(default_factory=list)
    writers: dict[str, Writer] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def _claim(self, kind: str, name: str, plugin: str) -> bool:
        key = (kind, name)
        if key in self.owners:
            self.conflicts.append(f"{kind} {name!r} from {plugin} ignored: already registered by {self.owners[key]}")
            return False
        self.owners[key] = plugin
        return True

    def add_method(self, method: Method, plugin: str) -> None:
        if self._claim("method", method.name, plugin):
            self.methods[method.name] = method

    def add_reader(self, reader: Reader, plugin: str) -> None:
        if self._claim("reader", reader.name, plugin):
            self.readers.append(reader)

    def add_writer(self, writer: Writer, plugin: str) -> None:
        if self._claim("writer", writer.fmt, plugin):
            self.writers[writer.fmt] = writer

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        """{'methods': [...], 'readers': [...], 'writers': [...], 'commands': [...]} of one plugin."""
        out: dict[str, list[str]] = {"methods": [], "readers": [], "writers": [], "commands": []}
        for (kind, name), owner in self.owners.items():
            if owner == plugin:
                out[kind + "s"].append(name)
        return out

    def methods_by_priority(self) -> list[Method]:
        return sorted(self.methods.values(), key=lambda m: -m.priority)

    def reader_for(self, path: Path) -> Reader | None:
        """The reader that claims ``path``: predicates first, then the file suffix."""
        ordered = sorted(self.readers, key=lambda r: -r.priority)
        for reader in ordered:
            if reader.accepts is not None and reader.accepts(path):
                return reader
        suffix = path.suffix.lower()
        if path.is_file():
            for reader in ordered:
                if suffix in reader.extensions:
                    return reader
        return None

    def extensions(self) -> list[str]:
        return sorted({e for r in self.readers for e in r.extensions})

    def reader_options(self) -> set[str]:
        """The ``-O`` keys that some reader reads."""
        return {o for r in self.readers for o in r.options}


def lazy(target: str) -> Callable[..., Any]:
    """A function that imports ``"package.module:function"`` on its first call and forwards to it.

    Plugins register ``lazy("my_plugin.method:run")`` so that loading the plugin (which every
    ``recon`` command does) imports nothing heavy.
    """
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"lazy() needs 'module:function', got {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        from importlib import import_module

        return getattr(import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"lazy({target})"
    return call


def method_names(methods: Iterable[Method]) -> str:
    return ", ".join(m.name for m in methods) or "(none)"
