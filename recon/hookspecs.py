"""Every hook a recon plugin can implement, in one module.

Plugins mark implementations with :data:`hookimpl` (``from recon import hookimpl``). Most hooks
hand the plugin a ``register`` callback, so the host owns the registry (it can list everything,
detect duplicates and name who registered what). Types used only in annotations are imported under
``TYPE_CHECKING`` so this module imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    import click

    from recon.registry import Method, Reader, Writer
    from recon.structures import Reconstruction

PROJECT_NAME = "recon"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def recon_register_methods(register: Callable[[Method], None]) -> None:
    """Register reconstruction methods.

    :param register: call ``register(Method(...))`` once per method. A :class:`recon.registry.Method`
        has a unique ``name``, a one-line ``description``, an ``accepts(inputs) -> bool`` predicate
        used when ``--method`` is absent, and ``run(inputs, options, stages) -> Reconstruction``.
    """


@hookspec
def recon_register_readers(register: Callable[[Reader], None]) -> None:
    """Register input readers (images, videos, point clouds, meshes, scene folders).

    :param register: call ``register(Reader(...))``. A :class:`recon.registry.Reader` names the
        file ``extensions`` it claims (lower case, with the dot) or gives an ``accepts(path)``
        predicate (for folders), and ``read(path, options) -> Inputs``.
    """


@hookspec
def recon_register_writers(register: Callable[[Writer], None]) -> None:
    """Register output writers (glb, obj, ply, ...).

    :param register: call ``register(Writer(...))``. A :class:`recon.registry.Writer` has a
        format name ``fmt`` (``"glb"``), the ``filename`` it writes inside the output folder and
        ``write(reconstruction, path) -> list[Path]`` returning every file it wrote.
    """


@hookspec
def recon_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``recon`` command line.

    :param cli: the root click group; decorate functions with ``@cli.command()`` or call
        ``cli.add_command(...)``. Keep module-level imports light: ``recon --help`` loads every
        plugin.
    """


@hookspec
def recon_annotate(reconstruction: Reconstruction) -> dict[str, Any] | None:
    """Add metadata (detections, captions, CLIP scores, ...) to a finished reconstruction.

    Called after the method ran and before outputs are written.

    :param reconstruction: the finished result; read it, do not modify its geometry.
    :returns: a JSON-serialisable dict merged into ``report.json`` under ``annotations`` keyed by
        plugin name, or ``None`` to add nothing.
    """


@hookspec
def recon_plugin_status() -> dict[str, Any] | None:
    """Say what optional pieces this plugin finds on this machine (for ``recon plugins``).

    Keep it cheap: look for packages with ``importlib.util.find_spec`` and for model files on
    disk; import nothing heavy, load no model.

    :returns: a JSON-serialisable dict, e.g. ``{"dependencies": {"torchvision": True},
        "models": {"clip": "/path or null"}}``, or ``None``.
    """
