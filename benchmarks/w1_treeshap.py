"""Workload W1 (a-c): path-dependent TreeSHAP, whybox against shap and the libraries' own.

Workload list: benchmarks/README.md. Every side explains the same rows of the same model in
the same process; each timing is the median of ``repeats`` runs after one warm-up run.
Construction of the explainers is not timed (it is done once, outside the loop).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import warnings
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

N_TRAIN, N_FEATURES, SEED = 10_000, 20, 0


Config = namedtuple("Config", "n_train n_explain n_trees repeats")


FULL = {
    "W1a": Config(N_TRAIN, 2_000, 500, 3),
    "W1b": Config(N_TRAIN, 1_000, 100, 3),
    "W1c": Config(N_TRAIN, 2_000, 300, 3),
    "W1f": Config(N_TRAIN, 2_000, 300, 3),
}
QUICK = {
    "W1a": Config(2_000, 300, 100, 3),
    "W1b": Config(2_000, 200, 20, 3),
    "W1c": Config(2_000, 300, 60, 3),
    "W1f": Config(2_000, 300, 60, 3),
}


@dataclass
class Result:
    workload: str
    rows: list[dict] = field(default_factory=list)

    def add(self, side: str, seconds: float, threads: int, diff: float | None) -> None:
        self.rows.append({"side": side, "median_s": seconds, "threads": threads, "diff": diff})


def make_data(n_train: int, n_explain: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nonlinear target with interactions; returns X_train, y_train, X_explain (held out)."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n_train + n_explain, N_FEATURES))
    y = (
        np.sin(2 * X[:, 0])
        + X[:, 1] * X[:, 2]
        + 0.5 * X[:, 3] ** 2
        + np.where(X[:, 4] > 0, X[:, 5], -X[:, 6])
        + 0.3 * X[:, 7:12].sum(axis=1)
        + 0.1 * rng.normal(size=len(X))
    )
    return X[:n_train], y[:n_train], X[n_train:]


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (numba compilation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def interleaved_median_times(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int
) -> tuple[float, object, float, object]:
    """Median times of two functions run in turn, so both see the same machine load.

    Returns (our median, our last output, their median, their last output); one
    warm-up call each first.
    """
    out_ours, out_theirs = ours(), theirs()
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        out_ours = ours()
        t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        out_theirs = theirs()
        t_theirs.append(time.perf_counter() - start)
    return statistics.median(t_ours), out_ours, statistics.median(t_theirs), out_theirs


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _shap_values(explainer, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sv = np.asarray(explainer.shap_values(X, check_additivity=False))
    if sv.ndim == 2:
        sv = sv[:, :, None]
    if sv.shape[2] == 2:
        sv = sv[:, :, 1:]
    return sv


def _whybox_sides(model, X, cfg, res, n_all) -> np.ndarray:
    from whybox.shapley import TreeExplainer

    values = None
    for threads in (1, n_all):
        explainer = TreeExplainer(model, n_jobs=threads, progress=False)
        t, ex = median_time(lambda e=explainer: e(X), cfg.repeats)
        res.add("whybox TreeExplainer", t, threads, None)
        values = ex.values
        res.rows[-1]["additivity_error"] = float(ex.additivity_error.max())
    return values


def _shap_sides(model, X, cfg, res, ours, *, own_cpp: bool, delegated: bool) -> None:
    import shap

    if delegated:
        explainer = shap.TreeExplainer(model)
        t, sv = median_time(lambda: _shap_values(explainer, X), cfg.repeats)
        res.add("shap.TreeExplainer (delegates to library)", t, -1, _max_diff(sv, ours))
    if own_cpp:
        explainer = shap.TreeExplainer(model)
        explainer.model.model_type = "internal"  # route to shap's own C++ TreeSHAP
        t, sv = median_time(lambda: _shap_values(explainer, X), cfg.repeats)
        res.add("shap.TreeExplainer (own C++)", t, 1, _max_diff(sv, ours))


def _xgb_contribs(booster, X, threads: int) -> np.ndarray:
    import xgboost as xgb

    booster.set_param({"nthread": threads})
    c = booster.predict(xgb.DMatrix(X), pred_contribs=True)
    return c[:, :-1][:, :, None]


def run_w1a(cfg: Config, res: Result, n_all: int, task: str = "regression") -> None:
    import xgboost as xgb

    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    if task == "regression":
        model = xgb.XGBRegressor(n_estimators=cfg.n_trees, max_depth=6, n_jobs=n_all)
        model.fit(X_train, y)
    else:
        model = xgb.XGBClassifier(n_estimators=cfg.n_trees, max_depth=6, n_jobs=n_all)
        model.fit(X_train, (y > np.median(y)).astype(int))
    ours = _whybox_sides(model, X, cfg, res, n_all)
    booster = model.get_booster()
    for threads in (1, n_all):
        t, c = median_time(lambda th=threads: _xgb_contribs(booster, X, th), cfg.repeats)
        res.add("xgboost pred_contribs", t, threads, _max_diff(c, ours))
    booster.set_param({"nthread": n_all})
    _shap_sides(model, X, cfg, res, ours, own_cpp=True, delegated=True)


def run_w1b(cfg: Config, res: Result, n_all: int) -> None:
    from sklearn.ensemble import RandomForestRegressor

    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    model = RandomForestRegressor(
        n_estimators=cfg.n_trees, max_depth=10, random_state=SEED, n_jobs=n_all
    ).fit(X_train, y)
    ours = _whybox_sides(model, X, cfg, res, n_all)
    _shap_sides(model, X, cfg, res, ours, own_cpp=True, delegated=False)


def run_w1c(cfg: Config, res: Result, n_all: int) -> None:
    import lightgbm as lgb

    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    model = lgb.LGBMClassifier(
        n_estimators=cfg.n_trees, num_leaves=31, verbose=-1, random_state=SEED, n_jobs=n_all
    ).fit(X_train, (y > np.median(y)).astype(int))
    ours = _whybox_sides(model, X, cfg, res, n_all)
    booster = model.booster_
    for threads in (1, n_all):
        t, c = median_time(
            lambda th=threads: booster.predict(X, pred_contrib=True, num_threads=th)[:, :-1],
            cfg.repeats,
        )
        res.add("lightgbm pred_contrib", t, threads, _max_diff(c[:, :, None], ours))
    _shap_sides(model, X, cfg, res, ours, own_cpp=True, delegated=True)


def run_w1f(cfg: Config, res: Result, n_all: int) -> None:
    """Beyond the standard workloads: W1c's setting for CatBoost (symmetric trees, depth 6)."""
    import catboost

    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    model = catboost.CatBoostClassifier(
        iterations=cfg.n_trees,
        depth=6,
        verbose=0,
        random_seed=SEED,
        thread_count=n_all,
        allow_writing_files=False,
    ).fit(X_train, (y > np.median(y)).astype(int))
    ours = _whybox_sides(model, X, cfg, res, n_all)
    pool = catboost.Pool(X)
    for threads in (1, n_all):
        t, c = median_time(
            lambda th=threads: model.get_feature_importance(
                pool, type="ShapValues", thread_count=th
            )[:, :-1],
            cfg.repeats,
        )
        res.add("catboost ShapValues", t, threads, _max_diff(c[:, :, None], ours))


def run(workload: str, quick: bool = False, threads: int | None = None) -> list[Result]:
    """Run one W1 workload and return its results (also printed)."""
    import numba

    n_all = threads or numba.config.NUMBA_NUM_THREADS
    cfg = (QUICK if quick else FULL)[workload]
    results = []
    if workload == "W1a":
        for task in ("regression", "binary"):
            res = Result(f"W1a XGBoost {task} ({cfg.n_trees} trees, depth 6)")
            run_w1a(cfg, res, n_all, task)
            results.append(res)
    elif workload == "W1b":
        res = Result(f"W1b RandomForestRegressor ({cfg.n_trees} trees, max_depth 10)")
        run_w1b(cfg, res, n_all)
        results.append(res)
    elif workload == "W1c":
        res = Result(f"W1c LightGBM classifier ({cfg.n_trees} trees, 31 leaves)")
        run_w1c(cfg, res, n_all)
        results.append(res)
    elif workload == "W1f":
        res = Result(f"W1f CatBoost classifier ({cfg.n_trees} trees, depth 6)")
        run_w1f(cfg, res, n_all)
        results.append(res)
    for res in results:
        report(res, cfg, n_all)
    return results


def report(res: Result, cfg: Config, n_all: int) -> None:
    ours = {r["threads"]: r["median_s"] for r in res.rows if r["side"].startswith("whybox")}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n== {res.workload}")
    print(
        f"   {cfg.n_train:,} training rows x {N_FEATURES} features, explaining "
        f"{cfg.n_explain:,} rows; median of {cfg.repeats} runs after a warm-up; "
        f"{os.cpu_count()} CPUs, all-threads = {n_all}; process peak RSS {peak:,.0f} MiB"
    )
    print(f"   {'side':45s} {'threads':>7s} {'median s':>9s} {'vs whybox':>10s} {'max|diff|':>10s}")
    for r in res.rows:
        th = r["threads"]
        ref = ours.get(th if th in ours else n_all)
        ratio = r["median_s"] / ref if ref else float("nan")
        diff = "" if r["diff"] is None else f"{r['diff']:.1e}"
        extra = f"  additivity {r['additivity_error']:.1e}" if "additivity_error" in r else ""
        label = "all" if th == -1 else str(th)
        print(
            f"   {r['side']:45s} {label:>7s} {r['median_s']:9.3f} {ratio:9.2f}x {diff:>10s}{extra}"
        )
    print("   (vs whybox: the other side's time / whybox's time at the same thread count)")
