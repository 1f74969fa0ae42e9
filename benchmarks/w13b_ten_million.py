"""Workload W13b "scale-out" (the 10-million-row part): whybox against ``xgboost.dask``.

The data: ``n_rows`` rows x 20 features drawn as W1a's (standard normal), written as
Parquet files of ``file_rows`` rows each (one dask partition per file); the model: W1a's
``XGBRegressor`` (``n_trees`` trees of depth 6, fitted on W1a's training rows). Each side
runs on a fresh ``distributed.LocalCluster`` of worker processes with one thread each, so
that a worker's peak memory (``ru_maxrss``, read on the worker at the end) is the side's:

- whybox: ``explain_dask(TreeExplainer(model), dd.read_parquet(files)).to_parquet(out)``
  over every row, on 2 workers: end to end (reading, explaining, writing the values to
  disk, never gathered); the written files are read back to check that every row is there
  exactly once;
- ``xgboost.dask.predict(client, booster, frame, pred_contribs=True)`` on the same
  cluster (after a warm-up call on 200 rows): it is about 20x slower per row, so it explains the first ``ref_rows`` rows of
  each of the first two files (one per worker) and the two are compared in rows per
  second, which does not depend on the row count once it is large; its values stay on the
  workers (persisted, not written), which favours it;
- strong scaling: whybox on the first ``scale_files`` files with 1 and then 2 workers;
- the scheduler's cost of one task, from ``n_noop`` empty tasks, and each explain task's
  time from the task stream of the 10-million-row run: the inputs of the projection to
  64 workers written in benchmarks/README.md.

Checked: whybox's values for the first ``ref_rows`` rows equal the in-process
TreeExplainer's bit for bit, and XGBoost's ``pred_contribs`` to its float32 rounding.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
from w1_treeshap import N_FEATURES, N_TRAIN, make_data

Config = namedtuple("Config", "n_rows file_rows n_trees ref_rows scale_files n_noop")

FULL = Config(10_000_000, 100_000, 500, 10_000, 4, 2_000)
QUICK = Config(400_000, 50_000, 100, 2_000, 4, 500)
COLUMNS = [f"x{j}" for j in range(N_FEATURES)]


def _write_files(folder: Path, cfg: Config) -> list[str]:
    """The rows to explain, one Parquet file of ``file_rows`` rows per seed."""
    import pandas as pd

    files = []
    for i in range(cfg.n_rows // cfg.file_rows):
        rows = np.random.default_rng(1000 + i).normal(size=(cfg.file_rows, N_FEATURES))
        path = folder / f"part-{i:05d}.parquet"
        pd.DataFrame(rows, columns=COLUMNS).to_parquet(path, index=False)
        files.append(str(path))
    return files


def _peak_mib() -> float:
    """This process's peak resident memory in MiB (run on each worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cluster(workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    return cluster, Client(cluster)


def _warm(client, model) -> None:
    """Compile numba's kernels and load the libraries on every worker (not timed)."""
    from whybox.shapley import TreeExplainer

    def warm() -> None:
        import pandas as pd

        TreeExplainer(model, n_jobs=1, progress=False)(
            pd.DataFrame(np.zeros((4, N_FEATURES)), columns=COLUMNS)
        )

    client.run(warm)


def _whybox(client, model, files: list[str], out: Path) -> dict:
    """Explain every row of ``files`` into Parquet under ``out``; seconds, per-task times."""
    import dask.dataframe as dd
    from distributed import get_task_stream

    from whybox.distributed import explain_dask
    from whybox.shapley import TreeExplainer

    ex = TreeExplainer(model, n_jobs=1, progress=False)
    start = time.perf_counter()
    with get_task_stream(client) as stream:
        explain_dask(ex, dd.read_parquet(files)).to_parquet(out)
    seconds = time.perf_counter() - start
    explain = [
        t["startstops"][-1]["stop"] - t["startstops"][-1]["start"]
        for t in stream.data
        if _key_name(t["key"]).startswith("_explain_chunk")
    ]
    return {
        "seconds": seconds,
        "tasks": len(stream.data),
        "explain_task_s": statistics.median(explain),
        "busy_s": sum(
            s["stop"] - s["start"] for t in stream.data for s in t["startstops"]
            if s["action"] == "compute"
        ),
    }  # fmt: skip


def _key_name(key) -> str:
    return str(key[0] if isinstance(key, tuple) else key)


def _written_rows(out: Path) -> np.ndarray:
    import pyarrow.parquet as pq

    return np.concatenate(
        [
            pq.read_table(f, columns=["row"]).column(0).to_numpy()
            for f in sorted(out.glob("*.parquet"))
        ]
    )


def run(workload: str = "W13b", quick: bool = False, threads: int | None = None) -> list[dict]:
    import dask.dataframe as dd
    import pandas as pd
    import xgboost as xgb
    import xgboost.dask  # noqa: F401  (xgb.dask)
    from distributed import wait

    from whybox.shapley import TreeExplainer

    cfg = QUICK if quick else FULL
    X_train, y, _ = make_data(N_TRAIN if not quick else 2_000, 1)
    model = xgb.XGBRegressor(n_estimators=cfg.n_trees, max_depth=6, n_jobs=2)
    model.fit(pd.DataFrame(X_train, columns=COLUMNS), y)
    results: list[dict] = []

    def add(side: str, **fields: object) -> None:
        row = {"workload": workload, "side": side, **fields}
        results.append(row)
        print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        start = time.perf_counter()
        files = _write_files(folder / "data", cfg)
        add("data written", seconds=round(time.perf_counter() - start, 1), files=len(files))

        # the reference rows: the first ref_rows of each of the first two files
        ref = pd.concat([pd.read_parquet(f).iloc[: cfg.ref_rows] for f in files[:2]])
        in_process = TreeExplainer(model, n_jobs=1, progress=False)(ref).values[:, :, 0]

        cluster, client = _cluster(2)
        with cluster, client:
            _warm(client, model)
            base = max(client.run(_peak_mib).values())
            out = folder / "values"
            ours = _whybox(client, model, files, out)
            peaks = client.run(_peak_mib)
            rows = _written_rows(out)
            every_row_once = bool(np.array_equal(np.sort(rows), np.arange(cfg.n_rows)))
            written = pd.read_parquet(out / "part.0.parquet").iloc[: cfg.ref_rows]
            first = written[[f"shap:{c}" for c in COLUMNS]].to_numpy()
            add(
                "whybox, 2 workers, Parquet to Parquet",
                rows=cfg.n_rows,
                seconds=round(ours["seconds"], 1),
                rows_per_s=round(cfg.n_rows / ours["seconds"]),
                peak_worker_mib=round(max(peaks.values())),
                worker_mib_before=round(base),
                tasks=ours["tasks"],
                explain_task_median_s=round(ours["explain_task_s"], 3),
                busy_share=round(ours["busy_s"] / (2 * ours["seconds"]), 3),
                every_row_once=every_row_once,
                bit_equal_in_process=bool(np.array_equal(first, in_process[: cfg.ref_rows])),
            )

            # xgboost.dask on the same cluster: the reference rows, one partition per worker
            frame = dd.from_pandas(ref, npartitions=2, sort=False)
            booster = model.get_booster()
            held = frame.persist()
            wait(held)

            warm = dd.from_pandas(ref.iloc[:200], npartitions=2, sort=False)
            wait(xgb.dask.predict(client, booster, warm, pred_contribs=True).persist())
            start = time.perf_counter()
            contribs = xgb.dask.predict(client, booster, held, pred_contribs=True).persist()
            wait(contribs)
            seconds = time.perf_counter() - start
            values = np.asarray(contribs.compute())[:, :-1]
            add(
                "xgboost.dask.predict(pred_contribs=True), 2 workers, persisted",
                rows=len(ref),
                seconds=round(seconds, 1),
                rows_per_s=round(len(ref) / seconds),
                ratio=round((cfg.n_rows / ours["seconds"]) / (len(ref) / seconds), 1),
                max_abs_diff=float(np.max(np.abs(values - in_process))),
            )

            # the scheduler's cost per task: empty tasks, submitted and gathered
            start = time.perf_counter()
            wait(client.map(lambda i: i, range(cfg.n_noop), pure=False))
            add("empty tasks, 2 workers", tasks=cfg.n_noop,
                per_task_ms=round(1000 * (time.perf_counter() - start) / cfg.n_noop, 3))  # fmt: skip

        # strong scaling on the first scale_files files, 1 then 2 workers
        part = files[: cfg.scale_files]
        n_part = cfg.scale_files * cfg.file_rows
        times = {}
        for workers in (1, 2):
            cluster, client = _cluster(workers)
            with cluster, client:
                _warm(client, model)
                got = _whybox(client, model, part, folder / f"scale{workers}")
                times[workers] = got["seconds"]
                add(
                    f"whybox, {workers} worker(s), {cfg.scale_files} files",
                    rows=n_part,
                    seconds=round(got["seconds"], 1),
                    rows_per_s=round(n_part / got["seconds"]),
                    explain_task_median_s=round(got["explain_task_s"], 3),
                    speedup=round(times[1] / got["seconds"], 2),
                )
    return results


if __name__ == "__main__":
    run("W13b", quick="--quick" in sys.argv)
