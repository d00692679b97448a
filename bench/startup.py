"""Benchmark: `svcbench --help` start-up time, median of 10 runs (target < 0.3 s)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

SVCBENCH = Path(sys.executable).with_name("svcbench")


def main(runs: int = 10) -> None:
    subprocess.run([str(SVCBENCH), "--help"], capture_output=True, check=True)  # warm caches
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(SVCBENCH), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(f"svcbench --help: median {median * 1000:.0f} ms over {runs} runs "
          f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms); "
          f"target < 300 ms -> {'OK' if median < 0.3 else 'SLOW'}")
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, svcbench.cli; "
         "print(' '.join(m for m in ('pandas', 'numpy', 'jinja2', 'playwright', 'duckdb', "
         "'sqlite_utils') if m in sys.modules))"], capture_output=True, text=True)
    print(f"heavy modules imported by the CLI at start-up: {heavy.stdout.strip() or 'none'}")


if __name__ == "__main__":
    main()
