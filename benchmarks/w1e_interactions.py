"""Workload W1e: path-dependent SHAP interaction values, whybox against shap and XGBoost.

The W1a XGBoost regressor (500 trees, depth 6, 10,000 x 20 synthetic training rows)
explains 200 held-out rows with ``TreeExplainer.interaction_values``, against
``shap.TreeExplainer.shap_interaction_values`` (which hands XGBoost models to XGBoost),
shap's own C++ TreeSHAP and XGBoost's ``predict(pred_interactions=True)`` (float32).
Every side runs in this process on the same rows; each timing is the median of
``repeats`` runs after one warm-up run; explainers are built outside the timed loop.
"""

from __future__ import annotations

import resource
import warnings

import numpy as np
from w1_treeshap import N_TRAIN, Config, Result, _max_diff, make_data, median_time, report

FULL = Config(N_TRAIN, 200, 500, 3)
QUICK = Config(2_000, 50, 100, 3)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _shap_interactions(explainer, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(explainer.shap_interaction_values(X))[..., None]


def _xgb_interactions(booster, X: np.ndarray, threads: int) -> np.ndarray:
    import xgboost as xgb

    booster.set_param({"nthread": threads})
    out = booster.predict(xgb.DMatrix(X), pred_interactions=True)
    return out[:, :-1, :-1, None]  # drop the bias row and column


def run(workload: str, quick: bool = False, threads: int | None = None) -> list[Result]:
    """Run W1e and return its result (also printed)."""
    import numba
    import shap
    import xgboost as xgb

    from whybox.shapley import TreeExplainer

    n_all = threads or numba.config.NUMBA_NUM_THREADS
    cfg = QUICK if quick else FULL
    res = Result(f"W1e XGBoost regressor interactions ({cfg.n_trees} trees, depth 6)")
    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    model = xgb.XGBRegressor(n_estimators=cfg.n_trees, max_depth=6, n_jobs=n_all)
    model.fit(X_train, y)
    before = _peak_mib()

    ours = None
    for th in (1, n_all):
        explainer = TreeExplainer(model, n_jobs=th, progress=False)
        t, ex = median_time(lambda e=explainer: e.interaction_values(X), cfg.repeats)
        res.add("whybox interaction_values", t, th, None)
        res.rows[-1]["additivity_error"] = float(ex.additivity_error.max())
        ours = ex.values
    after_ours = _peak_mib()
    booster = model.get_booster()
    for th in (1, n_all):
        t, v = median_time(lambda th=th: _xgb_interactions(booster, X, th), cfg.repeats)
        res.add("xgboost pred_interactions (float32)", t, th, _max_diff(v, ours))
    booster.set_param({"nthread": n_all})
    explainer = shap.TreeExplainer(model)
    t, v = median_time(lambda: _shap_interactions(explainer, X), cfg.repeats)
    res.add("shap.TreeExplainer (delegates to xgboost)", t, -1, _max_diff(v, ours))
    explainer = shap.TreeExplainer(model)
    explainer.model.model_type = "internal"  # route to shap's own C++ TreeSHAP
    t, v = median_time(lambda: _shap_interactions(explainer, X), cfg.repeats)
    res.add("shap.TreeExplainer (own C++)", t, 1, _max_diff(v, ours))

    report(res, cfg, n_all)
    print(
        f"   peak RSS: {before:,.0f} MiB after training, {after_ours:,.0f} MiB after the "
        f"whybox runs, {_peak_mib():,.0f} MiB at the end; the values take "
        f"{ours.nbytes / 2**20:,.1f} MiB"
    )
    return [res]
