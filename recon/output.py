"""The output folder of a run: checked before any work, filled under a temporary name beside it,
swapped in at the end, and never a folder that recon did not write.

Rules (each one a line of the README's output contract):

- OUT is refused (exit 2) when it is empty or ``.``, the current folder or one above it, the home
  folder, a symbolic link, a file, an input or a folder holding an input.
- An existing OUT is replaced only with ``--overwrite`` and only when recon wrote it: it holds
  recon's ``report.json`` and nothing the report does not list (or it is empty).
- The run writes into ``.OUT.<pid>.<random>.partial`` beside OUT, created before any work (so an
  unwritable OUT is found at once). Partial folders of earlier runs that were killed are removed.
- The swap checks OUT again just before the rename: a run that finds OUT changed since it started
  (another run finished first) fails and leaves the other's result alone. The old OUT is moved
  aside, the new one renamed in, then the old one removed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recon.errors import BadInputError, UsageError

REPORT = "report.json"
PARTIAL_SUFFIX = ".partial"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_OPEN: set[Path] = set()  # temporary folders of this process's runs, until committed or discarded


class OutputError(BadInputError):
    """Writing the outputs failed for a reason outside recon (full disk, read-only disk): exit 3."""


_FIX = "give a new folder name, e.g. -o out/run1"


def recon_report(folder: Path) -> dict | None:
    """The folder's ``report.json`` when recon wrote it (it has ``recon_version``), else None."""
    try:
        report = json.loads((folder / REPORT).read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "recon_version" in report else None


def foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` that recon's report there does not list (everything, without a report)."""
    names = sorted(p.name for p in folder.iterdir())
    report = recon_report(folder)
    if report is None:
        return names
    outputs = [str(o) for o in report.get("outputs") or []]
    listed = {o.split("/")[0] for o in outputs} | {REPORT}  # "depth/0001.png" lists the folder "depth"
    return [n for n in names if n not in listed]


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _fingerprint(out: Path) -> tuple[int, int, int] | None:
    """What OUT is now: None when absent, else (folder inode, report inode, report mtime)."""
    try:
        st = out.stat()
    except OSError:
        return None
    try:
        rst = (out / REPORT).stat()
        return (st.st_ino, rst.st_ino, rst.st_mtime_ns)
    except OSError:
        return (st.st_ino, 0, 0)


def check_target(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an OUT that recon must not write or replace (see the module docstring).

    :raises UsageError: one line naming OUT and the fix.
    """
    text = str(out)
    if text in ("", "."):
        raise UsageError(f"-o {text!r}: that is the current folder, which recon would replace as a whole; {_FIX}")
    absolute = Path(os.path.abspath(out))
    cwd = Path.cwd()
    if _is_within(cwd, absolute):
        raise UsageError(f"-o {text}: that is the current folder or one above it, which recon would replace as a whole; {_FIX}")
    if absolute == Path.home():
        raise UsageError(f"-o {text}: that is your home folder, which recon would replace as a whole; {_FIX}")
    if out.is_symlink():
        raise UsageError(f"-o {text}: is a symbolic link; give the folder it points to or a new folder name")
    real = Path(os.path.realpath(out))
    for path in inputs:
        if _is_within(Path(os.path.realpath(path)), real):
            raise UsageError(f"-o {text}: holds the input {path}; write the output to another folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {text}: is a file, not a folder; {_FIX}")
    if out.is_dir():
        try:
            entries = list(out.iterdir())
        except OSError as exc:
            raise UsageError(f"-o {text}: cannot read the folder ({exc.strerror}); choose another -o") from None
        if entries and not overwrite:
            raise UsageError(f"{text} already exists; pass --overwrite to replace it or choose another -o")
        if entries:
            foreign = foreign_entries(out)
            if foreign:
                shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
                raise UsageError(
                    f"-o {text}: holds files recon did not write ({shown}); --overwrite replaces only recon "
                    "output folders: move those files away or choose another -o"
                )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_open_partials() -> None:
    """Remove the temporary folders of this process's unfinished runs (a process that must end
    at once, without unwinding: :func:`recon.errors.terminate_on_signals`)."""
    for folder in list(_OPEN):
        shutil.rmtree(folder, ignore_errors=True)
        _OPEN.discard(folder)


def remove_stale_partials(out: Path) -> list[Path]:
    """Remove ``.OUT.<pid>.*.partial`` folders beside OUT whose process is gone; returns them."""
    removed = []
    for candidate in out.parent.glob(f".{out.name}.*{PARTIAL_SUFFIX}"):
        pid_text = candidate.name[len(out.name) + 2 :].split(".", 1)[0]
        if candidate.is_dir() and not candidate.is_symlink() and pid_text.isdigit() and not pid_alive(int(pid_text)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass
class OutputFolder:
    """OUT for one run: :meth:`open` before the work, :meth:`commit` or :meth:`discard` after
    (both in one ``with out.written() as folder:``).

    :param out: the folder the user named with ``-o``.
    :param inputs: the run's inputs (OUT may not hold any of them).
    :param overwrite: ``--overwrite`` was given.
    """

    out: Path
    inputs: list[Path] = field(default_factory=list)
    overwrite: bool = False
    tmp: Path | None = None
    _start: tuple[int, int, int] | None = None
    _created: list[Path] = field(default_factory=list)

    def open(self) -> Path:
        """Check OUT, create its parents and the temporary folder; returns the temporary folder.

        :raises UsageError: OUT is refused, or its folder cannot be written (exit 2).
        """
        check_target(self.out, self.inputs, self.overwrite)
        self._start = _fingerprint(self.out)
        parent = Path(os.path.abspath(self.out)).parent
        missing = [p for p in [parent, *parent.parents] if not p.exists()]
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            remove_stale_partials(self.out)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX, dir=parent))
            _OPEN.add(self.tmp)
            os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp makes it owner-only; OUT follows the umask
        except OSError as exc:
            self._remove_created()
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"-o {self.out}: cannot write there ({reason}); choose a folder you can write to") from None
        return self.tmp

    def commit(self) -> None:
        """Swap the finished temporary folder in as OUT.

        :raises UsageError: OUT changed since :meth:`open` (another run wrote it); nothing is replaced.
        """
        assert self.tmp is not None, "open() first"
        out = self.out
        lost = UsageError(
            f"{out} was written by another recon run while this one worked; its result is kept "
            "(rerun with another -o, or with --overwrite to replace it)"
        )
        if _fingerprint(out) != self._start:
            raise lost
        aside = None
        if out.exists():
            aside = out.with_name(f".{out.name}.{os.getpid()}.old{PARTIAL_SUFFIX}")
            os.rename(out, aside)
        try:
            os.rename(self.tmp, out)  # fails when another run renamed its folder in meanwhile
        except OSError as exc:
            if aside is not None:
                os.rename(aside, out)
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise lost from None
            raise
        _OPEN.discard(self.tmp)
        self.tmp = None
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

    @contextmanager
    def written(self) -> Iterator[Path]:
        """:meth:`open`, then the block fills the temporary folder it yields: :meth:`commit` when
        the block ends, :meth:`discard` when it (or the commit) raises."""
        folder = self.open()
        try:
            yield folder
            self.commit()
        except BaseException:
            self.discard()
            raise

    @contextmanager
    def disk_errors(self) -> Iterator[None]:
        """An OSError raised in the block that is the disk's fault (full, read-only, not allowed)
        becomes the one-line :class:`recon.errors.OutputError` (:func:`write_failure`)."""
        try:
            yield
        except OSError as exc:
            failure = write_failure(exc, self.out)
            if failure is None:
                raise
            raise failure from None

    def discard(self) -> None:
        """Remove the temporary folder and the parents :meth:`open` created (when still empty)."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            _OPEN.discard(self.tmp)
            self.tmp = None
        self._remove_created()

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []


def write_failure(exc: OSError, out: Path) -> OutputError | None:
    """The one-line error for an OSError raised while writing OUT, when it is the disk's fault."""
    if exc.errno in _NO_SPACE:
        return OutputError(f"{out}: no space left on the disk while writing; free some space or choose another -o")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return OutputError(f"{out}: cannot write there ({exc.strerror}); choose a folder you can write to with -o")
    return None


def write_file(path: Path, content: bytes) -> None:
    """Write one file whole: into a temporary file beside it, then renamed into place, so a
    reader (or a killed run) never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def safe_names(sources: list[str], keep_suffix: bool = True, fallback: str = "view") -> list[str]:
    """One file-name-safe label per source path (its name, or its stem without ``keep_suffix``):
    characters other than letters, digits, ``_.-`` become ``_``, no leading dot, and a repeated
    label gets ``_2``, ``_3`` ... (photos of the same name from two folders)."""
    import re

    names: list[str] = []
    for source in sources:
        path = Path(source)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name if keep_suffix else path.stem).lstrip(".") or fallback
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names
