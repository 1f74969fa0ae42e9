"""Workload W10: path-dependent TreeSHAP at scale, whybox against XGBoost's pred_contribs.

Workload list: benchmarks/README.md. The W1a XGBoost regressor (500 trees, depth 6) explains
1,000,000 rows (``--quick``: 100 trees, 100,000 rows); XGBoost's pred_contribs, about 15x
slower per row, explains the first 100,000 of them (``--quick``: 20,000) and the two are
compared in rows per second, which does not depend on the row count once it is large.
Each side runs in a fresh process
so that its peak memory (``ru_maxrss``) is its own; both use all threads. The input
matrix alone is n x 20 float64 (160 MB at 1,000,000 rows) and the SHAP values as much
again, so peak memory is reported next to that floor, with the part added by the call itself
(the peak minus the process's size after imports and data, before the call).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from w1_treeshap import N_FEATURES, make_data

FULL = {"n_train": 10_000, "n_trees": 500, "n_rows": 1_000_000, "ref_rows": 100_000}
QUICK = {"n_train": 2_000, "n_trees": 100, "n_rows": 100_000, "ref_rows": 20_000}


def _rows(n_rows: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n_rows, N_FEATURES))


def _side(name: str, model_path: str, n_rows: int, threads: int, queue) -> None:
    import xgboost as xgb

    booster = xgb.Booster(model_file=model_path)
    X = _rows(n_rows)
    if name == "whybox":
        from whybox.shapley import TreeExplainer
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if name == "whybox":
        values = TreeExplainer(booster, n_jobs=threads, progress=False)(X).values[:, :, 0]
    else:
        booster.set_param({"nthread": threads})
        values = booster.predict(xgb.DMatrix(X, nthread=threads), pred_contribs=True)[:, :-1]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, peak, peak - before, np.asarray(values[:2000], np.float64)))


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import numba
    import xgboost as xgb

    cfg = QUICK if quick else FULL
    n_all = threads or numba.config.NUMBA_NUM_THREADS
    X_train, y, _ = make_data(cfg["n_train"], 1)
    model = xgb.XGBRegressor(n_estimators=cfg["n_trees"], max_depth=6, n_jobs=n_all)
    model.fit(X_train, y)
    ctx = mp.get_context("spawn")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "model.json")
        model.save_model(path)
        # warm numba's cache in a small run first, so compilation is not timed
        rows = {"whybox": cfg["n_rows"], "xgboost": cfg["ref_rows"]}
        for name in ("whybox", "xgboost"):
            for n in (1_000, rows[name]):
                queue = ctx.Queue()
                proc = ctx.Process(target=_side, args=(name, path, n, n_all, queue))
                proc.start()
                results[name] = queue.get()
                proc.join()
    floor = 2 * cfg["n_rows"] * N_FEATURES * 8 / 2**20
    print(f"\n== W10 TreeSHAP at scale: XGBoost {cfg['n_trees']} trees depth 6, "
          f"{cfg['n_rows']:,} rows, {n_all} threads, one fresh process per side")  # fmt: skip
    print(
        f"   {'side':<12}{'rows':>11}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}"
        f"{'added by the call':>19}"
    )
    speed = {}
    for name, (seconds, peak, added, _) in results.items():
        speed[name] = rows[name] / seconds
        print(
            f"   {name:<12}{rows[name]:>11,}{seconds:>10.2f}{speed[name]:>12,.0f}{peak:>10.0f}"
            f"{added:>19.0f}"
        )
    ratio = speed["whybox"] / speed["xgboost"]
    diff = np.max(np.abs(results["whybox"][3] - results["xgboost"][3]))
    print(f"   whybox / xgboost rows per second: {ratio:.2f}x; max|diff| on 2,000 rows {diff:.1e} "
          f"(xgboost sums in float32); floor (input + values, float64) {floor:.0f} MiB")  # fmt: skip
