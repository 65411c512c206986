"""One reconstruction run: read inputs, choose a method, run it, write outputs atomically.

The output folder is written under a temporary name beside ``out`` and renamed at the end, so a
failed run leaves no ``out`` behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from recon.errors import BadInputError, UsageError
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
        inputs.extend(reader.read(path, options))
    return inputs


def choose_method(registry: Registry, inputs: Inputs, name: str | None) -> Method:
    """The named method, or the highest-priority method that accepts the inputs.

    :raises UsageError: the named method does not exist.
    :raises BadInputError: no method accepts these inputs (the message lists them all).
    """
    if name is not None:
        if name not in registry.methods:
            raise UsageError(f"unknown method {name!r}; available methods: {method_names(registry.methods_by_priority())}")
        return registry.methods[name]
    for method in registry.methods_by_priority():
        if method.accepts(inputs):
            return method
    raise BadInputError(
        f"no method can reconstruct {inputs.describe()} from {', '.join(inputs.paths) or 'these inputs'}; "
        f"available methods: {method_names(registry.methods_by_priority())} (pick one with --method)"
    )


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
        "annotations": host.annotate(reconstruction),
        "outputs": outputs,
    }


def write_outputs(
    reconstruction: Reconstruction,
    out: Path,
    registry: Registry,
    formats: tuple[str, ...],
    report_for: Any,
) -> dict[str, Any]:
    """Write every format, the preview and ``report.json`` into a temporary folder, then rename.

    :param report_for: ``report_for(outputs) -> dict`` builds the report once files are known.
    """
    from PIL import Image

    missing = [f for f in formats if f not in registry.writers]
    if missing:
        raise UsageError(f"unknown output format {', '.join(missing)}; available: {', '.join(sorted(registry.writers))}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        written: list[Path] = []
        for fmt in formats:
            writer = registry.writers[fmt]
            written += writer.write(reconstruction, tmp / writer.filename)
        if reconstruction.preview is not None:
            Image.fromarray(reconstruction.preview).save(tmp / "preview.png")
            written.append(tmp / "preview.png")
        names = sorted({p.name for p in written} | {"report.json"})
        report = report_for(names)
        (tmp / "report.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return report
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    """Run one reconstruction end to end and return its report (also written to ``out/report.json``)."""
    from recon.device import seed_everything

    if out.exists() and not overwrite and (out.is_file() or any(out.iterdir())):
        raise UsageError(f"{out} already exists; pass --overwrite to replace it or choose another -o")
    require_existing(paths)
    options = {**(options or {}), "seed": seed}
    start = time.perf_counter()
    registry = host.registry
    with Stages(quiet=quiet) as stages:
        with stages.stage("read inputs", total=len(paths)) as task:
            inputs = Inputs()
            for path in paths:
                inputs.extend(read_inputs([path], registry, options))
                task.advance()
        chosen = choose_method(registry, inputs, method)
        seed_everything(seed)
        reconstruction = chosen.run(inputs, options, stages)
        if not reconstruction.meshes:
            raise BadInputError(f"method {chosen.name!r} produced no mesh from {', '.join(inputs.paths)}")
        with stages.stage("write outputs"):
            timings = stages.timings
            report = write_outputs(
                reconstruction,
                out,
                registry,
                formats,
                lambda names: build_report(
                    reconstruction, inputs, host, {**timings, "total": time.perf_counter() - start}, seed, names
                ),
            )
    return report
