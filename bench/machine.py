"""What machine a benchmark ran on, for the figures in docs/benchmarks.md."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


_LOOP = """
import time
best = None
for _ in range({runs}):
    started = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i
    spent = time.process_time() - started
    best = spent if best is None else min(best, spent)
print(best)
"""


def core_seconds(cpu: int | None = None, runs: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop (5 million additions, the fastest of `runs`), in a
    fresh interpreter pinned to `cpu` when given (taskset): how fast the host lets that core
    run Python at this moment. On a shared host it moves by a third within an hour, and the
    benchmarks' CPU-bound figures move with it: compare figures taken at similar values."""
    command = [sys.executable, "-c", _LOOP.format(runs=runs)]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return float(result.stdout.strip())
