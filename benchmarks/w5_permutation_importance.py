"""Workload W5: permutation importance, whybox against scikit-learn.

Workload list: benchmarks/README.md. A HistGradientBoostingClassifier (seed 0) is fitted
on 20,000 rows of ``make_classification`` (30 features: 8 informative, 6 redundant,
16 noise; seed 0); importance is computed on 5,000 held-out rows with 10 repeats and
accuracy, by whybox and by ``sklearn.inspection.permutation_importance`` with
``n_jobs=1`` (and ``n_jobs=-1`` as a second line). Timings are medians of ``repeats``
runs after one warm-up, whybox and scikit-learn in turn; ratio = scikit-learn's time /
whybox's (above 1: whybox is faster). The two draw different permutations, so the
means agree only within their permutation noise: a feature "agrees" when its two
means differ by less than two combined standard errors (``sqrt(se_a^2 + se_b^2)``,
``se = std / sqrt(n_repeats - 1)``), and the count of features whose whybox mean lies
inside scikit-learn's one-standard-error band is printed too. Early stop: the
repeats whybox needs before the top 5 (and the whole ranking, with differences
below 0.002 accuracy counted as ties) is settled at 95% family-wise confidence, with a
budget of 4 x n_repeats, and how its ranking compares with that of the full budget.
"""

from __future__ import annotations

import time
from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times

Config = namedtuple("Config", "n_train n_test n_repeats repeats")


FULL = Config(20_000, 5_000, 10, 3)
QUICK = Config(4_000, 1_000, 5, 1)


def _agreement(a_mean, a_std, b_mean, b_std, r: int) -> tuple[int, int]:
    se_a, se_b = a_std / np.sqrt(r - 1), b_std / np.sqrt(r - 1)
    within_two = int(np.sum(np.abs(a_mean - b_mean) < 2 * np.sqrt(se_a**2 + se_b**2)))
    inside_band = int(np.sum(np.abs(a_mean - b_mean) <= se_b))
    return within_two, inside_band


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import sklearn
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance as sk_permutation_importance
    from threadpoolctl import threadpool_limits

    from whybox.inspection import permutation_importance

    cfg = QUICK if quick else FULL
    limits = threadpool_limits(threads) if threads else None
    X, y = make_classification(
        n_samples=cfg.n_train + cfg.n_test, n_features=30, n_informative=8, n_redundant=6,
        random_state=0,
    )  # fmt: skip
    X_tr, y_tr, X_te, y_te = X[: cfg.n_train], y[: cfg.n_train], X[cfg.n_train :], y[cfg.n_train :]
    model = HistGradientBoostingClassifier(random_state=0).fit(X_tr, y_tr)
    r = cfg.n_repeats
    print(
        f"{workload}: HistGradientBoostingClassifier on {cfg.n_train:,} x 30, {cfg.n_test:,} "
        f"held-out rows, n_repeats {r}, accuracy {model.score(X_te, y_te):.3f}; "
        f"scikit-learn {sklearn.__version__}, medians of {cfg.repeats}"
    )

    def ours():
        return permutation_importance(
            model, X_te, y_te, scoring="accuracy", n_repeats=r, random_state=0
        )

    def theirs(n_jobs=1):
        return sk_permutation_importance(
            model, X_te, y_te, scoring="accuracy", n_repeats=r, random_state=0, n_jobs=n_jobs
        )

    t_ours, res, t_sk, sk = interleaved_median_times(ours, theirs, cfg.repeats)
    start = time.perf_counter()
    theirs(n_jobs=-1)
    t_sk_all = time.perf_counter() - start
    agree, inside = _agreement(
        res.importances_mean, res.importances_std, sk.importances_mean, sk.importances_std, r
    )
    print(f"{'':28s} {'time (s)':>9s} {'ratio':>7s}")
    print(f"{'whybox':28s} {t_ours:9.3f}")
    print(f"{'scikit-learn n_jobs=1':28s} {t_sk:9.3f} {t_sk / t_ours:7.2f}")
    print(f"{'scikit-learn n_jobs=-1 (1 run)':28s} {t_sk_all:9.3f} {t_sk_all / t_ours:7.2f}")
    print(
        f"means agree within 2 combined SE: {agree}/30 features; whybox mean inside "
        f"scikit-learn's 1-SE band: {inside}/30; max |diff| "
        f"{np.max(np.abs(res.importances_mean - sk.importances_mean)):.4f}"
    )
    budget = 4 * r
    full = permutation_importance(
        model, X_te, y_te, scoring="accuracy", n_repeats=budget, random_state=0
    )
    order_full = np.argsort(-full.importances_mean, kind="stable")
    print(f"early stop, budget n_repeats={budget} (reference: all {budget} repeats):")
    for label, kwargs in (("top 5", {"top_k": 5}), ("full ranking, tol 0.002", {"tol": 0.002})):
        start = time.perf_counter()
        early = permutation_importance(
            model, X_te, y_te, scoring="accuracy", n_repeats=budget, random_state=0,
            early_stop=True, **kwargs,
        )  # fmt: skip
        t_early = time.perf_counter() - start
        order = np.argsort(-early.importances_mean, kind="stable")
        k = kwargs.get("top_k", 30)
        same = int(np.sum(order[:k] == order_full[:k]))
        # pairs the early ranking orders against the full budget's, by more than tol there
        tol = kwargs.get("tol", 0.0)
        ranked = order[:k]
        gap = full.importances_mean[ranked][:, None] - full.importances_mean[ranked][None, :]
        wrong = int(np.sum(np.triu(gap < -tol, k=1)))
        print(
            f"  {label:24s} {early.n_repeats_done:3d}/{budget} repeats, {t_early:7.3f} s; "
            f"{same}/{k} ranks equal to the {budget}-repeat run, {wrong} pairs reversed by "
            f"more than {tol:g} there"
        )
    if limits is not None:
        limits.restore_original_limits()
