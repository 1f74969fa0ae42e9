"""Workload W1d: interventional TreeSHAP, whybox against shap's interventional TreeExplainer.

The W1a XGBoost regressor (500 trees, depth 6, 10,000 x 20 training rows) explained on
200 held-out rows against 100 background rows sampled from the training data. Both sides
compute the exact Shapley values of ``v(S) = mean_z f(x_S, z_notS)`` for the raw output;
``max|diff|`` is against whybox. Construction is not timed; each timing is the median of
``repeats`` runs after one warm-up run, all sides in one process (see
benchmarks/README.md).
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import SEED, Result, _max_diff, make_data, median_time, report

Config = namedtuple("Config", "n_train n_explain n_trees n_background repeats")


FULL = Config(10_000, 200, 500, 100, 3)
QUICK = Config(2_000, 100, 100, 100, 3)


def _shap_interventional(model, background: np.ndarray, X: np.ndarray) -> np.ndarray:
    import shap

    explainer = shap.TreeExplainer(
        model, data=background, feature_perturbation="interventional", model_output="raw"
    )

    def call() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = np.asarray(explainer.shap_values(X, check_additivity=False))
        return sv[:, :, None] if sv.ndim == 2 else sv

    return call


def run(workload: str, quick: bool = False, threads: int | None = None) -> list[Result]:
    """Run W1d and return its result (also printed)."""
    import numba
    import xgboost as xgb

    from whybox.shapley import TreeExplainer

    n_all = threads or numba.config.NUMBA_NUM_THREADS
    cfg = QUICK if quick else FULL
    X_train, y, X = make_data(cfg.n_train, cfg.n_explain)
    rng = np.random.default_rng(SEED)
    background = X_train[rng.choice(cfg.n_train, cfg.n_background, replace=False)]
    model = xgb.XGBRegressor(n_estimators=cfg.n_trees, max_depth=6, n_jobs=n_all)
    model.fit(X_train, y)
    res = Result(
        f"W1d XGBoost regression ({cfg.n_trees} trees, depth 6), interventional, "
        f"{cfg.n_background} background rows"
    )
    ours = None
    for th in (1, n_all):
        explainer = TreeExplainer(
            model,
            background=background,
            feature_perturbation="interventional",
            n_jobs=th,
            progress=False,
        )
        t, ex = median_time(lambda e=explainer: e(X), cfg.repeats)
        res.add("whybox TreeExplainer (interventional)", t, th, None)
        res.rows[-1]["additivity_error"] = float(ex.additivity_error.max())
        ours = ex.values
    call = _shap_interventional(model, background, X)
    t, sv = median_time(call, cfg.repeats)
    res.add("shap.TreeExplainer (interventional)", t, 1, _max_diff(sv, ours))
    report(res, cfg, n_all)
    return [res]
