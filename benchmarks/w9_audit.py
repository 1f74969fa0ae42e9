"""Workload W9: ``whybox audit --demo`` end to end: wall time and peak memory.

Workload list: benchmarks/README.md. Each run is a fresh process (imports included, as a
user runs it); the figure is the median of ``repeats`` runs. There is no reference
library for the whole audit. The report's own clock gives the time of the explanation
quality checks (issue 8's target: they add at most 20% to the rest of the audit).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one_run(out: Path) -> tuple[float, float, float]:
    """Wall seconds, the child's peak RSS in MiB and the share of the audit's own time
    spent on the explanation quality checks, for one ``whybox audit --demo``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "whybox", "audit", "--demo", "--out", str(out), "--quiet"],
        check=True,
    )
    wall = time.perf_counter() - t0
    # ru_maxrss of the children is the largest child so far (KiB on Linux)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    meta = json.loads(out.with_suffix(".json").read_text())["meta"]
    checks = float(meta["explanation quality checks (s)"])
    return wall, peak, checks / (float(meta["audit time (s)"]) - checks)


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as folder:
        runs = [_one_run(Path(folder) / f"report{i}.html") for i in range(repeats)]
        size = (Path(folder) / "report0.html").stat().st_size / 1024
    walls = [w for w, _, _ in runs]
    added = [a for _, _, a in runs]
    print(f"\n== W9 whybox audit --demo ({repeats} fresh processes)")
    print(f"   wall time median {statistics.median(walls):.2f} s (runs: "
          f"{', '.join(f'{w:.2f}' for w in walls)}); target < 60 s on 2 cores")  # fmt: skip
    print(f"   peak RSS {max(p for _, p, _ in runs):.0f} MiB; report.html {size:.0f} KiB")
    print(f"   the explanation quality checks add {statistics.median(added):.1%} to the rest of "
          "the audit (median; target <= 20%)")  # fmt: skip
