"""Workload W6: partial dependence and ICE, whybox against scikit-learn.

Workload list: benchmarks/README.md. The W5 model (HistGradientBoostingClassifier on 20,000 x
30 synthetic rows from ``make_classification``, seed 0), 5 features, grid 50, kind
"both", over 2,000 rows. scikit-learn runs ``partial_dependence(method="brute")``: one
``predict_proba`` per grid point; whybox stacks the copies of the rows for many grid
points into one model call. Timings are medians of ``repeats`` runs after one warm-up,
the two sides run in turn; ratio = scikit-learn's time / whybox's (above 1: whybox is
faster); "max diff" is the largest absolute difference of the average and ICE values.
A second line times the recursion method (the trees walked with their training-sample
shares, average only, raw margin) against scikit-learn's ``method="recursion"``; its max
diff is taken after adding the initial prediction that scikit-learn's recursion omits.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times

Config = namedtuple("Config", "n_train n_rows repeats")


FULL = Config(20_000, 2_000, 7)
QUICK = Config(5_000, 500, 3)
FEATURES = (0, 3, 7, 12, 21)


def model_and_data(n_train: int, threads: int | None = None):
    """The W5 model: a HistGradientBoostingClassifier on make_classification(30 features)."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(
        n_samples=n_train + 5_000, n_features=30, n_informative=10, random_state=0
    )
    model = HistGradientBoostingClassifier(random_state=0).fit(X[:n_train], y[:n_train])
    return model, X[n_train:], y[n_train:]


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    from sklearn.inspection import partial_dependence as sk_pd
    from threadpoolctl import threadpool_limits

    from whybox.inspection import partial_dependence

    cfg = QUICK if quick else FULL
    model, X, _ = model_and_data(cfg.n_train)
    X = X[: cfg.n_rows]
    print(
        f"{workload}: HistGradientBoostingClassifier, {cfg.n_rows} rows x 30, features "
        f"{FEATURES}, grid 50, kind both, threads {threads or 'all'}, medians of {cfg.repeats}"
    )

    def ours():
        return [partial_dependence(model, X, f, kind="both", grid_resolution=50) for f in FEATURES]

    def theirs():
        return [
            sk_pd(model, X, [f], kind="both", method="brute", grid_resolution=50) for f in FEATURES
        ]

    with threadpool_limits(limits=threads):
        t_ours, v_ours, t_theirs, v_theirs = interleaved_median_times(ours, theirs, cfg.repeats)
    diff = max(
        max(
            np.abs(a.average - b["average"]).max(),
            np.abs(a.individual - b["individual"]).max(),
        )
        for a, b in zip(v_ours, v_theirs, strict=True)
    )
    print(
        f"{'method':28s} {'whybox (s)':>11s} {'sklearn (s)':>12s} {'ratio':>7s} {'max diff':>10s}"
    )
    print(
        f"{'PD + ICE, 5 features':28s} {t_ours:11.3f} {t_theirs:12.3f} {t_theirs / t_ours:7.2f} {diff:10.2e}"
    )

    def ours_recursion():
        return [
            partial_dependence(model, X, f, output="raw", method="recursion", grid_resolution=50)
            for f in FEATURES
        ]

    def theirs_recursion():
        return [
            sk_pd(
                model,
                X,
                [f],
                method="recursion",
                grid_resolution=50,
                response_method="decision_function",
            )  # fmt: skip
            for f in FEATURES
        ]

    with threadpool_limits(limits=threads):
        t_ours, v_ours, t_theirs, v_theirs = interleaved_median_times(
            ours_recursion, theirs_recursion, cfg.repeats
        )
    # scikit-learn's recursion leaves out the constant initial prediction; whybox adds it
    offset = float(np.ravel(model._baseline_prediction)[0])
    diff = max(
        np.abs(a.average - b["average"] - offset).max()
        for a, b in zip(v_ours, v_theirs, strict=True)
    )
    print(
        f"{'PD recursion (raw), 5 feat.':28s} {t_ours:11.3f} {t_theirs:12.3f} "
        f"{t_theirs / t_ours:7.2f} {diff:10.2e}"
    )
