"""Running the ``recon`` command from the avatar tests."""

from __future__ import annotations

import subprocess

from recon.testing.cli import run_recon

TINY = ["--size", "24", "--iterations", "30", "--checkpoint-every", "10", "--seed", "3"]
"""A training small enough for the test suite: 24 pixels, 30 steps, a checkpoint every 10."""


def recon(*args: str) -> subprocess.CompletedProcess[str]:
    return run_recon(*args, timeout=900)
