"""What a batch runs: one :class:`Capture` per subfolder or file of CAPTURES, or per manifest row.

A capture is one ``recon reconstruct`` run: its inputs, method, ``-O`` options, seed and formats,
written into ``OUT/<name>/``. Its :attr:`Capture.key` fingerprints all of that plus each input
file's size and modification time, so a rerun can tell a finished capture from one whose inputs
or options changed.

Manifests (``--manifest FILE``):

- CSV with a header row: ``name`` (optional), ``inputs`` (required; several paths separated by
  ``;``), ``method`` (optional), ``options`` (optional; ``key=value`` pairs separated by ``;``),
  ``seed`` (optional).
- JSON: a list of rows (or ``{"captures": [...]}``), each ``{"name": ..., "inputs": [...] or "...",
  "method": ..., "options": {...}, "seed": ...}``; only ``inputs`` is required.

Relative paths in a manifest are resolved against CAPTURES when it is given, else against the
manifest's folder. A row's options are added to (and override) the command line's ``-O``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon.errors import UsageError
from recon.registry import Registry

LEDGER = "batch.json"
"""The batch's own file in OUT (the capture folders sit beside it)."""

_MANIFEST_COLUMNS = {"name", "inputs", "method", "options", "seed"}


@dataclass
class Capture:
    """One reconstruction of a batch, written to ``OUT/<name>/``."""

    name: str
    inputs: list[str]
    """Absolute input paths, as ``report.json`` lists them (the same strings a single run given
    these paths writes)."""
    method: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    """None until :func:`complete` fills in the command line's ``--seed``."""
    formats: tuple[str, ...] = ("glb", "obj")
    key: str = ""

    def fingerprint(self) -> str:
        """A short hash of the inputs (paths, sizes, modification times), method, options, seed
        and formats; sets and returns :attr:`key`."""
        doc = {
            "inputs": [_stamp(Path(p)) for p in self.inputs],
            "method": self.method,
            "options": {k: v for k, v in sorted(self.options.items()) if v is not None},
            "seed": self.seed,
            "formats": list(self.formats),
        }
        self.key = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:20]
        return self.key

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": self.inputs,
            "method": self.method,
            "options": {k: v for k, v in self.options.items() if v is not None},
            "seed": self.seed,
            "formats": list(self.formats),
            "key": self.key,
        }


def _stamp(path: Path) -> list[Any]:
    """``[path, size, mtime_ns]`` for a file; for a folder, one such row per file inside (sorted,
    hidden names left out, as the folder readers skip them)."""
    try:
        if path.is_dir():
            rows: list[Any] = [str(path)]
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    st = os.stat(os.path.join(root, name))
                    rows.append([os.path.relpath(os.path.join(root, name), path), st.st_size, st.st_mtime_ns])
            return rows
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), None, None]


def _absolute(path: Path, base: Path | None = None) -> str:
    """An absolute path without resolving symbolic links (so reports name the path given)."""
    if not path.is_absolute() and base is not None:
        path = base / path
    return os.path.abspath(path)


def check_name(name: str, where: str) -> str:
    """:raises UsageError: ``name`` cannot be a folder name inside OUT."""
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name or name == LEDGER:
        raise UsageError(f"{where}: capture name {name!r} cannot be a folder in OUT; use a plain name without '/' or a leading '.'")
    return name


def discover(root: Path, registry: Registry) -> tuple[list[Capture], list[dict[str, str]]]:
    """Every subfolder and file of ``root`` that a reader claims becomes a capture named after it
    (a file without its suffix); hidden names are left out.

    :returns: the captures, sorted by name, and the entries left out with the reason.
    :raises UsageError: two entries would write the same ``OUT/<name>``.
    """
    captures: dict[str, Capture] = {}
    ignored: list[dict[str, str]] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        try:
            reader = registry.reader_for(entry)
        except Exception as exc:  # a reader's accepts() that raises: leave the entry out, say why
            reader = None
            ignored.append({"path": str(entry), "reason": f"reader check raised {type(exc).__name__}: {exc}"})
            continue
        if reader is None:
            ignored.append({"path": str(entry), "reason": "no reader claims it"})
            continue
        name = entry.name if entry.is_dir() else entry.stem
        if name in captures:
            other = Path(captures[name].inputs[0]).name
            raise UsageError(
                f"{root}: {other} and {entry.name} would both be written to OUT/{name}; rename one, or list them in a --manifest with names"
            )
        captures[name] = Capture(check_name(name, str(entry)), [_absolute(entry)])
    return [captures[n] for n in sorted(captures)], ignored


def _parse_pairs(text: str, where: str) -> dict[str, Any]:
    from recon.cli.reconstruct_cmd import parse_options

    import click

    pairs = tuple(p.strip() for p in text.replace("\n", ";").split(";") if p.strip())
    try:
        return parse_options(pairs)
    except click.BadParameter as exc:
        raise UsageError(f"{where}: options: {exc.message}; write key=value pairs separated by ';'") from None


def _rows(manifest: Path) -> list[dict[str, Any]]:
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--manifest {manifest}: cannot read it ({getattr(exc, 'strerror', None) or exc}); check the path") from None
    if manifest.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--manifest {manifest}: not valid JSON ({exc}); fix the file") from None
        rows = doc.get("captures") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UsageError(f"--manifest {manifest}: give a list of objects (or {{\"captures\": [...]}}) with at least \"inputs\"")
        return rows
    if manifest.suffix.lower() != ".csv":
        raise UsageError(f"--manifest {manifest}: give a .csv or .json file")
    reader = csv.DictReader(text.splitlines())
    columns = {c.strip() for c in reader.fieldnames or []}
    if "inputs" not in columns or not columns <= _MANIFEST_COLUMNS:
        raise UsageError(
            f"--manifest {manifest}: the header must hold 'inputs' and only {', '.join(sorted(_MANIFEST_COLUMNS))} (found: {', '.join(sorted(columns)) or 'none'})"
        )
    rows = []
    for row in reader:
        rows.append({k.strip(): (v or "").strip() for k, v in row.items() if k is not None})
    return rows


def read_manifest(manifest: Path, base: Path | None) -> list[Capture]:
    """The manifest's rows as captures (options not yet merged with the command line's).

    :raises UsageError: unreadable file, a row without inputs, a bad name, option or seed, or two
        rows with the same name.
    """
    rows = _rows(manifest)
    base = base if base is not None else Path(os.path.abspath(manifest)).parent
    captures: list[Capture] = []
    seen: set[str] = set()
    is_csv = manifest.suffix.lower() == ".csv"
    for number, row in enumerate(rows, start=2 if is_csv else 1):
        where = f"--manifest {manifest}, {'line' if is_csv else 'row'} {number}"
        unknown = set(row) - _MANIFEST_COLUMNS
        if unknown:
            raise UsageError(f"{where}: unknown field {', '.join(sorted(unknown))}; use {', '.join(sorted(_MANIFEST_COLUMNS))}")
        raw_inputs = row.get("inputs")
        if isinstance(raw_inputs, str):
            raw_inputs = [p.strip() for p in raw_inputs.split(";") if p.strip()]
        if not raw_inputs or not isinstance(raw_inputs, list) or not all(isinstance(p, str) and p for p in raw_inputs):
            raise UsageError(f"{where}: no inputs; give one path or several separated by ';'")
        inputs = [_absolute(Path(p), base) for p in raw_inputs]
        first = Path(inputs[0])
        name = row.get("name") or (first.name if first.is_dir() else first.stem)
        check_name(str(name), where)
        if name in seen:
            raise UsageError(f"{where}: the name {name!r} is used twice; give each row its own name")
        seen.add(name)
        options = row.get("options") or {}
        if isinstance(options, str):
            options = _parse_pairs(options, where)
        if not isinstance(options, dict):
            raise UsageError(f"{where}: options must be an object of key: value")
        seed = row.get("seed")
        if seed in (None, ""):
            seed = None
        else:
            try:
                seed = int(seed)
            except (TypeError, ValueError):
                raise UsageError(f"{where}: seed {seed!r} is not an integer") from None
        options = {k.replace("-", "_"): v for k, v in options.items()}
        captures.append(Capture(str(name), inputs, method=row.get("method") or None, options=options, seed=seed))
    if not captures:
        raise UsageError(f"--manifest {manifest}: no rows; add one row per capture")
    return captures


def complete(
    captures: list[Capture], method: str | None, options: dict[str, Any], seed: int, formats: tuple[str, ...]
) -> list[Capture]:
    """Fill in the command line's method, ``-O`` options (a capture's own win), seed and formats,
    and fingerprint each capture."""
    for capture in captures:
        capture.method = capture.method or method
        capture.options = {**options, **capture.options}
        capture.seed = seed if capture.seed is None else capture.seed
        capture.formats = formats
        capture.fingerprint()
    return captures
