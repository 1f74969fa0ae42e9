"""Workload W9: ``whybox audit --demo`` end to end: wall time and peak memory.

See /work/shared/BENCHMARKS.md. Each run is a fresh process (imports included, as a
user runs it); the figure is the median of ``repeats`` runs. There is no reference
library for the whole audit.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one_run(out: Path) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB of one ``whybox audit --demo``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "whybox", "audit", "--demo", "--out", str(out), "--quiet"],
        check=True,
    )
    wall = time.perf_counter() - t0
    # ru_maxrss of the children is the largest child so far (KiB on Linux)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return wall, peak


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as folder:
        runs = [_one_run(Path(folder) / f"report{i}.html") for i in range(repeats)]
        size = (Path(folder) / "report0.html").stat().st_size / 1024
    walls = [w for w, _ in runs]
    print(f"\n== W9 whybox audit --demo ({repeats} fresh processes)")
    print(f"   wall time median {statistics.median(walls):.2f} s (runs: "
          f"{', '.join(f'{w:.2f}' for w in walls)}); target < 60 s on 2 cores")  # fmt: skip
    print(f"   peak RSS {max(p for _, p in runs):.0f} MiB; report.html {size:.0f} KiB")
