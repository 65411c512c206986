"""Files shipped inside a package (its ``data/`` folder: face template, network weights), found
with :mod:`importlib.resources` so they are there in a wheel install as in a checkout.

Generated from the checkout's ``assets/`` scripts, which write into ``plugins/<package>/data/``;
``pyproject.toml`` (``[tool.setuptools.package-data]``) puts them in the wheel.
"""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

_files = ExitStack()  # keeps files extracted from a zipped install alive until exit
atexit.register(_files.close)


@functools.cache
def package_file(package: str, name: str) -> Path:
    """A real path to ``<package>/data/<name>``: the file itself when the package lies on disk
    (a wheel, an editable install; it need not exist, callers report a missing file), else a
    temporary copy kept until the process exits."""
    return _files.enter_context(as_file(files(package) / "data" / name))
