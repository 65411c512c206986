"""Run the ``recon`` command from a checkout: ``python cli.py --help``.

The implementation lives in :mod:`recon.cli` (installed as the ``recon`` console script).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    root = Path(__file__).resolve().parent
    sys.path[:0] = [str(root), str(root / "plugins")]
    from recon.cli import main

    main()
