"""The ``recon`` console script as the tests run it: a real subprocess (exit codes, stderr, nothing
of the test's process shared), the script beside the interpreter running the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

RECON = Path(sys.executable).with_name("recon")


def run_recon(*args: object, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``recon ARGS...`` and capture its output as text; ``env`` replaces the environment
    (``None``: this process's)."""
    return subprocess.run([str(RECON), *map(str, args)], cwd=cwd, env=None if env is None else dict(env), capture_output=True, text=True, timeout=timeout)


def clean_env(drop: tuple[str, ...] = ("RECON_",), **extra: str) -> dict[str, str]:
    """This process's environment without the settings whose names start with ``drop`` (recon's
    own, by default), plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(drop)}, **extra}
