"""Run whybox's standard benchmark workloads (listed in benchmarks/README.md).

Usage::

    python benchmarks/run.py W1b --quick
    python benchmarks/run.py W1a W1b W1c --threads 2
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# workload id -> module in this folder that implements it (a run(workload, quick, threads))
WORKLOADS = {
    "W1a": "w1_treeshap",
    "W1b": "w1_treeshap",
    "W1c": "w1_treeshap",
    "W1f": "w1_treeshap",
    "W1d": "w1d_interventional",
    "W1e": "w1e_interactions",
    "W2": "w2_kernelshap",
    "W3": "w3_lime",
    "W3b": "w3b_lime_image",
    "W4": "w4_gradients",
    "W5": "w5_permutation_importance",
    "W6": "w6_partial_dependence",
    "W7": "w7_fairness",
    "W8": "w8_counterfactuals",
    "W9": "w9_audit",
    "W10": "w10_scale",
    "W11": "anchors",
    "W12": "w12_pipeline",
    "W13": "w13_scale_out",
    "W13b": "w13b_ten_million",
    "W14": "w14_glassbox",
    "W15a": "w15a_sae",
    "W15b": "w15b_induction",
    "W15c": "w15c_multi_input",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="+", help=f"workload ids: {', '.join(WORKLOADS)}")
    parser.add_argument("--quick", action="store_true", help="shrink sizes to run in a minute")
    parser.add_argument("--threads", type=int, default=None, help="'all threads' (default: all)")
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {sorted(WORKLOADS)}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for workload in args.workloads:
        module = importlib.import_module(WORKLOADS[workload])
        module.run(workload, quick=args.quick, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
