"""Start-up time of the ``recon`` console script, against the bare interpreter's start-up.

Run with the project's interpreter: ``.venv/bin/python benchmarks/cli_startup.py [--runs 5]``.
Prints JSON: per command the median wall time over N subprocess runs, its ratio to the
``python -c pass`` median measured in the same process, the target and whether it is met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS_S = {"help": 0.5, "plugins": 1.0, "plugins_json": 1.0}


def _time(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="subprocess runs per command (median taken)")
    args = parser.parse_args()

    script = Path(sys.executable).parent / ("recon.exe" if os.name == "nt" else "recon")
    if not script.exists():
        raise SystemExit(f"no recon console script beside {sys.executable}; install the project first")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}

    _time([str(script), "--help"], 1, env)  # warm the file-system cache and .pyc files
    baseline = statistics.median(_time([sys.executable, "-c", "pass"], args.runs, env))
    commands = {
        "help": [str(script), "--help"],
        "plugins": [str(script), "plugins"],
        "plugins_json": [str(script), "plugins", "--json"],
    }
    results = {}
    for key, cmd in commands.items():
        times = _time(cmd, args.runs, env)
        median = statistics.median(times)
        results[key] = {
            "command": "recon " + " ".join(cmd[1:]),
            "median_s": round(median, 4),
            "min_s": round(min(times), 4),
            "ratio_to_python": round(median / baseline, 2),
            "target_s": TARGETS_S[key],
            "pass": median <= TARGETS_S[key],
        }
    print(
        json.dumps(
            {
                "runs": args.runs,
                "python": sys.executable,
                "python_version": platform.python_version(),
                "baseline_python_c_pass_median_s": round(baseline, 4),
                "commands": results,
                "all_pass": all(r["pass"] for r in results.values()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
