"""One reconstruction run: read inputs, choose a method, run it, write outputs atomically.

The output folder is written under a temporary name beside ``out`` and renamed at the end, so a
failed run leaves no ``out`` behind (:mod:`recon.output` holds the rules for OUT).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recon.errors import BadInputError, ReconError, UsageError
from recon.output import REPORT, OutputFolder
from recon.plugins import PluginHost
from recon.progress import Stages
from recon.registry import Method, Registry, method_names
from recon.structures import Inputs, Reconstruction

DEFAULT_FORMATS = ("glb", "obj")


def require_existing(paths: list[Path]) -> None:
    """:raises BadInputError: naming the first path that does not exist."""
    for path in paths:
        if not path.exists():
            raise BadInputError(f"{path}: no such file or folder; check the path")


@contextmanager
def blamed(registry: Registry, kind: str, name: str) -> Iterator[None]:
    """Name the plugin behind a ``kind`` (method, reader, writer) in any error it raises that is not
    a :class:`recon.errors.ReconError` (a note the CLI prints on the error line)."""
    try:
        yield
    except ReconError:
        raise
    except Exception as exc:
        exc.add_note(f"in {kind} {name!r} of plugin {registry.owners.get((kind, name), '?')!r}")
        raise


def read_inputs(paths: list[Path], registry: Registry, options: dict[str, Any]) -> Inputs:
    """Read every path with the reader that claims it.

    :raises BadInputError: a path is missing or no reader claims it.
    """
    require_existing(paths)
    inputs = Inputs()
    for path in paths:
        reader = registry.reader_for(path)
        if reader is None:
            raise BadInputError(
                f"{path}: unsupported input; give images, a folder, a video, a point cloud or a mesh "
                f"({' '.join(registry.extensions())})"
            )
        with blamed(registry, "reader", reader.name):
            inputs.extend(reader.read(path, options))
    return inputs


def choose_method(registry: Registry, inputs: Inputs, name: str | None) -> Method:
    """The named method, or the highest-priority method that accepts the inputs.

    A method whose ``accepts`` raises is skipped with a warning naming its plugin.

    :raises UsageError: the named method does not exist.
    :raises BadInputError: no method accepts these inputs (the message lists them all).
    """
    if name is not None:
        return named_method(registry, name)
    for method in registry.methods_by_priority():
        try:
            accepted = method.accepts(inputs)
        except Exception as exc:
            owner = registry.owners.get(("method", method.name), "?")
            print(f"recon: warning: plugin {owner!r}: method {method.name!r} accepts() raised "
                  f"{type(exc).__name__}: {exc}; skipped", file=sys.stderr)
            continue
        if accepted:
            return method
    raise BadInputError(
        f"no method can reconstruct {inputs.describe()} from {', '.join(inputs.paths) or 'these inputs'}; "
        f"available methods: {method_names(registry.methods_by_priority())} (pick one with --method)"
    )


def named_method(registry: Registry, name: str) -> Method:
    """:raises UsageError: no method has this name (the message lists them)."""
    if name not in registry.methods:
        raise UsageError(f"unknown method {name!r}; available methods: {method_names(registry.methods_by_priority())}")
    return registry.methods[name]


def check_options(method: Method, options: dict[str, Any], registry: Registry) -> None:
    """Refuse ``-O`` keys that neither the method nor a reader reads (when the method lists its own).

    :raises UsageError: naming the unknown keys and the method's own.
    """
    if method.options is None:
        return
    known = set(method.options) | registry.reader_options() | {"seed"}
    unknown = sorted(k for k, v in options.items() if k not in known and v is not None)
    if unknown:
        takes = ", ".join(sorted(method.options)) or "none"
        raise UsageError(
            f"unknown option {', '.join('-O ' + k for k in unknown)} for method {method.name!r}; it takes: {takes}"
        )


def check_formats(formats: tuple[str, ...], registry: Registry) -> None:
    """:raises UsageError: no format given, or one that no writer writes."""
    available = ", ".join(sorted(registry.writers))
    if not formats:
        raise UsageError(f"--format names no format; give one or more of {available} (comma-separated)")
    missing = [f for f in formats if f not in registry.writers]
    if missing:
        raise UsageError(f"unknown output format {', '.join(missing)}; available: {available}")


def build_report(
    reconstruction: Reconstruction,
    inputs: Inputs,
    host: PluginHost,
    timings: dict[str, float],
    seed: int,
    outputs: list[str],
) -> dict[str, Any]:
    """The ``report.json`` contract shared by every method."""
    mesh = reconstruction.meshes[0] if reconstruction.meshes else None
    from recon import __version__

    return {
        "recon_version": __version__,
        "method": reconstruction.method,
        "inputs": inputs.paths,
        "notes": inputs.notes,
        "views": reconstruction.views,
        "mesh": {"vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces))} if mesh is not None else None,
        "timings_s": {**{k: round(v, 4) for k, v in timings.items()}},
        "plugins": host.versions(),
        "seed": seed,
        "metadata": reconstruction.metadata,
        "annotations": reconstruction.annotations,
        "outputs": outputs,
    }


def write_outputs(
    reconstruction: Reconstruction,
    folder: Path,
    registry: Registry,
    formats: tuple[str, ...],
    report_for: Any,
) -> dict[str, Any]:
    """Write every format, the preview, the method's other files and ``report.json`` into ``folder`` (the run's temporary
    output folder; :class:`recon.output.OutputFolder` swaps it in).

    :param report_for: ``report_for(outputs) -> dict`` builds the report once files are known.
    """
    from PIL import Image

    written: list[Path] = []
    for fmt in formats:
        writer = registry.writers[fmt]
        with blamed(registry, "writer", fmt):
            written += writer.write(reconstruction, folder / writer.filename)
    if reconstruction.preview is not None:
        Image.fromarray(reconstruction.preview).save(folder / "preview.png")
        written.append(folder / "preview.png")
    if reconstruction.point_cloud is not None:
        (folder / "points.ply").write_bytes(reconstruction.point_cloud.to_ply())
        written.append(folder / "points.ply")
    for name, content in reconstruction.files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(content)
        written.append(folder / name)
    names = sorted({p.relative_to(folder).as_posix() for p in written} | {REPORT})
    report = report_for(names)
    (folder / REPORT).write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    return report


def _serialisable(annotations: dict[str, Any]) -> dict[str, Any]:
    """The plugins' annotations that JSON can hold; each other one is dropped with a warning."""
    kept = {}
    for plugin, value in annotations.items():
        try:
            json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as exc:
            print(f"recon: warning: plugin {plugin!r}: its annotation cannot be written to report.json ({exc}); left out", file=sys.stderr)
            continue
        kept[plugin] = value
    return kept


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def reconstruct(
    host: PluginHost,
    paths: list[Path],
    out: Path,
    method: str | None = None,
    options: dict[str, Any] | None = None,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    seed: int = 0,
    quiet: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run one reconstruction end to end and return its report (also written to ``out/report.json``).

    Everything the command line can check is checked before any work: the inputs exist, OUT may
    be written (see :mod:`recon.output`), the formats and, for a named method, its options.
    """
    from recon.device import seed_everything

    require_existing(paths)
    options = {**(options or {}), "seed": seed}
    registry = host.registry
    check_formats(formats, registry)
    if method is not None:
        check_options(named_method(registry, method), options, registry)
    target = OutputFolder(out, list(paths), overwrite)
    with target.written() as folder:
        start = time.perf_counter()
        with Stages(quiet=quiet) as stages:
            with stages.stage("read inputs", total=len(paths)) as task:
                inputs = Inputs()
                for path in paths:
                    inputs.extend(read_inputs([path], registry, options))
                    task.advance()
            chosen = choose_method(registry, inputs, method)
            check_options(chosen, options, registry)
            seed_everything(seed)
            with blamed(registry, "method", chosen.name):
                reconstruction = chosen.run(inputs, options, stages)
            if not reconstruction.meshes:
                raise BadInputError(f"method {chosen.name!r} produced no mesh from {', '.join(inputs.paths)}")
            with stages.stage("annotate"):
                reconstruction.annotations = _serialisable(host.annotate(reconstruction))
            with stages.stage("write outputs"), target.disk_errors():
                timings = stages.timings
                report = write_outputs(
                    reconstruction,
                    folder,
                    registry,
                    formats,
                    lambda names: build_report(
                        reconstruction, inputs, host, {**timings, "total": time.perf_counter() - start}, seed, names
                    ),
                )
    return report
