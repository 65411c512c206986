"""Running the ``recon`` command from the avatar tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RECON = Path(sys.executable).parent / "recon"
TINY = ["--size", "24", "--iterations", "30", "--checkpoint-every", "10", "--seed", "3"]
"""A training small enough for the test suite: 24 pixels, 30 steps, a checkpoint every 10."""


def recon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RECON), *args], capture_output=True, text=True, timeout=900)
