"""Workload W13 "scale-out" (overhead part): TreeSHAP on a dask array against the in-process call.

The data: W1a's generator (20 features, a nonlinear target with interactions), ``n_train``
training rows and ``n_explain`` rows to explain; the model: ``XGBRegressor`` with
``n_trees`` trees of depth 6. Timed, each the median of ``repeats`` runs after one
warm-up run (numba compiles once per process, in each worker too):

- ``TreeExplainer(model, n_jobs=w)(X)`` in this process, w = 1 and 2 threads;
- ``TreeExplainer(model, n_jobs=1)(dX).compute()`` on a ``distributed.LocalCluster`` of
  w worker processes with one thread each, ``dX = da.from_array(X, chunks=chunk_rows)``:
  end to end, the explainer sent once and the values gathered back; once with the rows
  sent from this process in the graph, once with them persisted on the workers first
  (as when the workers read them from Parquet). Each cluster's runs are interleaved with
  the in-process call with w threads, so all see the same load; the ratio to it is the
  overhead of dask (target: within 1.3x with one worker);
- ``.to_parquet(folder)`` on 2 workers: the values written by the workers, not gathered.

Checked: the values from the cluster equal the in-process ones bit for bit.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import numpy as np
from w1_treeshap import N_FEATURES, make_data, median_time

Config = namedtuple("Config", "n_train n_explain n_trees chunk_rows repeats")

FULL = Config(10_000, 100_000, 100, 25_000, 3)
QUICK = Config(2_000, 10_000, 20, 2_500, 2)


def interleaved_median_times(
    sides: list[Callable[[], object]], repeats: int
) -> tuple[list[float], list[object]]:
    """Median times of functions run in turn, so all see the same machine load (one
    warm-up call each first); their last outputs."""
    outs = [fn() for fn in sides]
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(repeats):
        for i, fn in enumerate(sides):
            start = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], outs


def run(workload: str = "W13", quick: bool = False, threads: int | None = None) -> list[dict]:
    import dask.array as da
    import xgboost as xgb
    from distributed import Client, LocalCluster, wait

    from whybox.shapley import TreeExplainer

    cfg = QUICK if quick else FULL
    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    model = xgb.XGBRegressor(n_estimators=cfg.n_trees, max_depth=6, n_jobs=2).fit(X_train, y)
    rows: list[dict] = []

    def add(side: str, seconds: float, **extra: object) -> None:
        row = {"workload": workload, "side": side, "median_s": round(seconds, 3)}
        row["rows_per_s"] = round(cfg.n_explain / seconds)
        row.update(extra)
        rows.append(row)
        print(json.dumps(row), flush=True)

    dX = da.from_array(X, chunks=(cfg.chunk_rows, N_FEATURES))
    ex = TreeExplainer(model, n_jobs=1, progress=False)  # one thread per worker
    for workers in (1, 2):
        ours = TreeExplainer(model, n_jobs=workers, progress=False)
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            ) as cluster,
            Client(cluster),
        ):
            held = dX.persist()  # the rows already on the workers, as when read there
            wait(held)
            sides = {
                f"in process, n_jobs={workers}": lambda e=ours: e(X),
                f"dask {workers} worker(s), rows sent from here": lambda: ex(dX).compute(),
                f"dask {workers} worker(s), rows on the workers": lambda h=held: ex(h).compute(),
            }
            times, outs = interleaved_median_times(list(sides.values()), cfg.repeats)
            base = times[0]
            for (side, t), out in zip(zip(sides, times, strict=True), outs, strict=True):
                add(
                    side,
                    t,
                    ratio_to_in_process=round(t / base, 3),
                    bit_equal=bool(np.array_equal(out.values, outs[0].values)),
                )
            if workers == 2:
                with tempfile.TemporaryDirectory() as tmp:
                    counter = iter(range(10**6))
                    seconds, _ = median_time(
                        lambda f=Path(tmp), c=counter, h=held: ex(h).to_parquet(f / f"v{next(c)}"),
                        cfg.repeats,
                    )
                    add("dask to_parquet, 2 workers, rows on the workers", seconds)
    return rows


if __name__ == "__main__":
    run("W13", quick="--quick" in sys.argv)
