"""Workload W14 "glass box": exact SHAP values of an EBM with pairs, whybox against shap.

An ``ExplainableBoostingClassifier`` with 10 pairs on 20 features (``make_classification``,
10,000 training rows; ``outer_bags=2`` to keep the fit short: the bags change the scores,
not the cost of explaining them) explains 1,000 held-out rows against 100 background rows
(interventional SHAP of its log-odds):

- whybox ``AdditiveExplainer`` (closed form per term, background histograms), and its
  model-own variant without a background;
- shap's ``PermutationExplainer`` on the EBM's ``decision_function`` with an
  ``Independent`` masker of the same 100 rows, timed on fewer rows
  (``n_permutation_rows``) and compared in rows per second;
- shap's ``ExactExplainer``: 2**20 coalitions per row. Its default ``max_evals`` refuses
  (the message is recorded verbatim); with ``max_evals=2**20`` its masker allocates
  2**20 x 100 x 20 float64 (15.6 GiB) for one row, so it is not run;
- shap's ``AdditiveExplainer``: ``shap.Explainer(ebm, masker)`` refuses an EBM with
  pairs (its message is recorded verbatim); built directly, it runs and treats the
  pairs as if the model were additive (its error against the exact values is recorded).

Exactness: whybox against its own ``ExactExplainer`` on a few rows (the 20 features in
10 groups of two, since exact enumeration takes at most 16 players: a grouped game's
values are the sums of the feature values for an additive model, so this checks every
term), against shap's permutation values (antithetic orderings are exact for a model
whose interactions are pairs), and efficiency (values + base = ``decision_function``)
on all rows. Every side runs in this process; times are medians of ``repeats`` runs after
a warm-up run.
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

Config = namedtuple(
    "Config",
    "n_train n_explain n_background n_permutation_rows n_exact_rows n_check_rows repeats",
)
FULL = Config(10_000, 1_000, 100, 100, 1, 5, 3)
QUICK = Config(3_000, 300, 100, 10, 0, 2, 3)
N_FEATURES, N_PAIRS, SEED = 20, 10, 0


@dataclass
class Result:
    workload: str
    rows: list[dict] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def add(self, side: str, seconds: float, n_rows: int, diff: float | None, runs: int) -> None:
        self.rows.append(
            {"side": side, "median_s": seconds, "rows": n_rows, "diff": diff, "runs": runs}
        )


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def make_model(cfg: Config, threads: int | None = None):
    """The EBM and the rows: (model, X_explain, background, fit seconds)."""
    from interpret.glassbox import ExplainableBoostingClassifier
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=cfg.n_train + cfg.n_explain,
        n_features=N_FEATURES,
        n_informative=10,
        random_state=SEED,
    )
    X_train, y_train, X_explain = X[: cfg.n_train], y[: cfg.n_train], X[cfg.n_train :]
    rng = np.random.default_rng(SEED)
    background = X_train[rng.choice(cfg.n_train, cfg.n_background, replace=False)]
    model = ExplainableBoostingClassifier(
        interactions=N_PAIRS, outer_bags=2, random_state=SEED, n_jobs=threads or -2
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    return model, X_explain, background, time.perf_counter() - start


def _max(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def run(workload: str = "W14", quick: bool = False, threads: int | None = None) -> list[Result]:
    """Run W14 and return its result (also printed)."""
    import shap

    from whybox.shapley import AdditiveExplainer, ExactExplainer

    cfg = QUICK if quick else FULL
    model, X, bg, fit_s = make_model(cfg, threads)
    n_pairs = sum(len(f) == 2 for f in model.term_features_)
    res = Result(f"W14 EBM with {n_pairs} pairs on {N_FEATURES} features, SHAP vs shap")
    res.notes["fit_s"] = fit_s
    raw = model.decision_function(X)

    # whybox, interventional and model-own, all rows
    t, ours = median_time(lambda: AdditiveExplainer(model, bg)(X), cfg.repeats)
    res.add("whybox AdditiveExplainer (background)", t, len(X), None, cfg.repeats)
    values = ours.values[:, :, 0]
    res.notes["efficiency_max_error"] = _max(values.sum(axis=1) + ours.base_values[:, 0], raw)
    t, own = median_time(lambda: AdditiveExplainer(model)(X), cfg.repeats)
    res.add("whybox AdditiveExplainer (model's own terms)", t, len(X), None, cfg.repeats)
    res.notes["own_efficiency_max_error"] = _max(
        own.values[:, :, 0].sum(axis=1) + own.base_values[:, 0], raw
    )

    # exactness against whybox's exact enumeration (10 groups of 2 features)
    groups = {f"g{i}": [2 * i, 2 * i + 1] for i in range(N_FEATURES // 2)}
    rows = X[: cfg.n_check_rows]
    if len(rows):
        exact = ExactExplainer(model, bg, output="raw", feature_groups=groups, max_background=None)
        t, enumerated = median_time(lambda: exact(rows), cfg.repeats)
        res.add("whybox ExactExplainer (10 groups of 2)", t, len(rows), None, cfg.repeats)
        grouped = AdditiveExplainer(model, bg, feature_groups=groups)(rows)
        res.notes["vs_whybox_exact_grouped"] = _max(grouped.values, enumerated.values)

    masker = shap.maskers.Independent(bg, max_samples=cfg.n_background)
    # shap's permutation explainer on fewer rows
    sub = X[: cfg.n_permutation_rows]
    perm = shap.PermutationExplainer(model.decision_function, masker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, v = median_time(lambda: perm(sub, silent=True), cfg.repeats)
    res.add(
        "shap PermutationExplainer", t, len(sub), _max(v.values, values[: len(sub)]), cfg.repeats
    )
    # shap's exact explainer: 2**20 coalitions per row; its default max_evals refuses,
    # and with max_evals=2**20 its masker allocates 2**20 x 100 rows x 20 float64
    # (15.6 GiB) per explained row, so it is not timed here: its message is recorded.
    if cfg.n_exact_rows:
        ex = shap.ExactExplainer(model.decision_function, masker)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = ex(X[: cfg.n_exact_rows], silent=True)
            res.notes["shap_exact"] = f"ran: max|diff| {_max(v.values, values[:1]):.1e}"
        except Exception as exc:  # what shap says, verbatim
            res.notes["shap_exact_refusal"] = f"{type(exc).__name__}: {exc}"
    # shap's additive explainer
    try:
        shap.Explainer(model, masker)
        res.notes["shap_auto_refusal"] = None
    except Exception as exc:  # what shap says, verbatim
        res.notes["shap_auto_refusal"] = f"{type(exc).__name__}: {exc}"
    try:
        additive = shap.AdditiveExplainer(model, masker)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = additive(X[: cfg.n_permutation_rows or 10])
        res.notes["shap_additive_direct_error"] = _max(v.values, values[: len(v.values)])
    except Exception as exc:
        res.notes["shap_additive_direct_error"] = f"{type(exc).__name__}: {exc}"
    report(res, cfg)
    return [res]


def report(res: Result, cfg: Config) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours = next(r for r in res.rows if r["side"].startswith("whybox"))
    our_rate = ours["rows"] / ours["median_s"]
    print(f"\n== {res.workload}")
    print(
        f"   {cfg.n_train:,} training rows (EBM fit {res.notes['fit_s']:.1f} s, outer_bags=2), "
        f"{cfg.n_background} background rows; {os.cpu_count()} CPUs; peak RSS {peak:,.0f} MiB"
    )
    print(
        f"   {'side':45s} {'rows':>6s} {'runs':>4s} {'median s':>9s} {'rows/s':>10s} "
        f"{'whybox x':>9s} {'max|diff|':>10s}"
    )
    for r in res.rows:
        rate = r["rows"] / r["median_s"]
        diff = "" if r["diff"] is None else f"{r['diff']:.1e}"
        print(
            f"   {r['side']:45s} {r['rows']:6d} {r['runs']:4d} {r['median_s']:9.3f} "
            f"{rate:10.1f} {our_rate / rate:8.0f}x {diff:>10s}"
        )
    print("   (whybox x: whybox's rows/s over this side's; max|diff|: against whybox's values)")
    for key, value in res.notes.items():
        if key != "fit_s":
            print(f"   {key}: {value}")


if __name__ == "__main__":
    import sys

    run("W14", quick="--quick" in sys.argv)
