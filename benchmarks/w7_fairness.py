"""Workload W7: group fairness metrics, whybox against fairlearn.

Workload list: benchmarks/README.md. 100,000 rows (quick: 20,000) of synthetic binary labels and
predictions (seed 0) with a 3-valued sensitive feature (group shares 0.5 / 0.3 / 0.2, base
rates and accuracies that differ by group). fairlearn computes accuracy, selection rate,
TPR and FPR by group with ``MetricFrame`` and calls ``demographic_parity_difference`` and
``equalized_odds_difference``; whybox computes all of them (and more) in one
``group_metrics`` call. Timings are medians of ``repeats`` runs after one warm-up, the two
sides run in turn; ratio = fairlearn's time / whybox's (above 1: whybox is faster); "max
diff" is the largest absolute difference over the 12 by-group values and the 2 disparities.
The first line times whybox without intervals (``n_bootstrap=0``, like for like), the
second with its default 200-resample bootstrap intervals (fairlearn gives none).
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times

Config = namedtuple("Config", "n_rows repeats")


FULL = Config(100_000, 5)
QUICK = Config(20_000, 3)


def labels_and_groups(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y_true, y_pred (0/1 int) and a 3-valued sensitive feature (str), seed 0."""
    rng = np.random.default_rng(0)
    group = rng.choice(np.array(["group_a", "group_b", "group_c"]), size=n, p=[0.5, 0.3, 0.2])
    base = np.select([group == "group_a", group == "group_b"], [0.45, 0.35], 0.25)
    acc = np.select([group == "group_a", group == "group_b"], [0.85, 0.80], 0.75)
    y_true = (rng.random(n) < base).astype(np.int64)
    y_pred = np.where(rng.random(n) < acc, y_true, 1 - y_true)
    return y_true, y_pred, group


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score
    from threadpoolctl import threadpool_limits

    from whybox.fairness import group_metrics

    cfg = QUICK if quick else FULL
    y_true, y_pred, group = labels_and_groups(cfg.n_rows)
    print(
        f"{workload}: {cfg.n_rows} rows, 3-valued sensitive feature, accuracy / selection "
        f"rate / TPR / FPR by group, DP and EO differences, threads {threads or 'all'}, "
        f"medians of {cfg.repeats}"
    )
    columns = ("accuracy", "selection_rate", "tpr", "fpr")

    def ours(n_bootstrap: int):
        def call():
            res = group_metrics(y_true, y_pred, group, n_bootstrap=n_bootstrap, random_state=0)
            d = res.disparities.set_index("metric")["difference"]
            return (
                res.by_group.loc[:, list(columns)].to_numpy(),
                [d["demographic_parity"], d["equalized_odds"]],
            )

        return call

    def theirs():
        metrics = {
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
        }
        mf = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=group)
        dp = demographic_parity_difference(y_true, y_pred, sensitive_features=group)
        eo = equalized_odds_difference(y_true, y_pred, sensitive_features=group)
        return mf.by_group.loc[:, list(columns)].to_numpy(dtype=np.float64), [dp, eo]

    print(
        f"{'method':32s} {'whybox (s)':>11s} {'fairlearn (s)':>14s} {'ratio':>8s} {'max diff':>10s}"
    )
    for label, n_boot in (
        ("group metrics, no intervals", 0),
        ("group metrics, bootstrap 200", 200),
    ):
        with threadpool_limits(limits=threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ours, v_ours, t_theirs, v_theirs = interleaved_median_times(
                ours(n_boot), theirs, cfg.repeats
            )
        diff = max(
            float(np.max(np.abs(v_ours[0] - v_theirs[0]))),
            float(np.max(np.abs(np.subtract(v_ours[1], v_theirs[1])))),
        )
        print(f"{label:32s} {t_ours:11.4f} {t_theirs:14.3f} {t_theirs / t_ours:8.1f} {diff:10.2e}")
