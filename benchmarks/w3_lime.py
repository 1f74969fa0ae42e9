"""Workload W3: LIME for tables, whybox against the lime package.

Workload list: benchmarks/README.md. scikit-learn's breast cancer data (all 30 features), a
RandomForestClassifier (100 trees, seed 0) fitted on 70% of it; both sides explain the
probability of the positive class for the first 50 held-out rows with 5,000 samples
per row and 10 features (quartile bins, the default kernel width, "auto" feature
selection: highest weights). Construction of the explainers is not timed; each timing
is the median of ``repeats`` runs after one warm-up run, both sides in one process.

Stability: the first 10 rows explained with 5 seeds; for each row and each pair of
seeds, the Jaccard index of the two sets of 5 features of largest absolute weight;
the mean is reported. Local R^2: the mean over the 50 rows of the surrogate's
weighted R^2 on its perturbations (lime's ``score``). Agreement: the mean Jaccard
index of whybox's and lime's top-5 sets for the same rows.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import median_time

SEED = 0


Config = namedtuple(
    "Config", "n_explain n_perturbations n_features n_stability_rows n_seeds repeats"
)


FULL = Config(50, 5_000, 10, 10, 5, 3)
QUICK = Config(10, 1_000, 10, 5, 3, 1)


def _top5(weights: np.ndarray) -> list[frozenset]:
    return [frozenset(np.argsort(-np.abs(w), kind="stable")[:5].tolist()) for w in weights]


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b)


def _stability(top_by_seed: list[list[frozenset]]) -> float:
    pairs = itertools.combinations(range(len(top_by_seed)), 2)
    return float(
        np.mean(
            [
                _jaccard(top_by_seed[s][r], top_by_seed[t][r])
                for s, t in pairs
                for r in range(len(top_by_seed[0]))
            ]
        )
    )


def _lime_side(model, X_train: np.ndarray, rows: np.ndarray, cfg: Config, seed: int):
    """A callable explaining ``rows`` with the lime package: weights (n, 30) and scores."""
    import lime.lime_tabular as lt

    explainer = lt.LimeTabularExplainer(
        X_train, mode="classification", discretize_continuous=True, random_state=seed
    )

    def call() -> tuple[np.ndarray, np.ndarray]:
        weights = np.zeros(rows.shape)
        scores = np.empty(len(rows))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, row in enumerate(rows):
                exp = explainer.explain_instance(
                    row,
                    model.predict_proba,
                    labels=(1,),
                    num_features=cfg.n_features,
                    num_samples=cfg.n_perturbations,
                )
                for j, w in exp.as_map()[1]:
                    weights[i, j] = w
                scores[i] = exp.score
        return weights, scores

    return call


def _whybox_side(model, X_train: np.ndarray, rows: np.ndarray, cfg: Config, seed: int):
    from whybox.lime import LimeTabularExplainer

    explainer = LimeTabularExplainer(
        model,
        X_train,
        n_perturbations=cfg.n_perturbations,
        max_features=cfg.n_features,
        random_state=seed,
    )

    def call() -> tuple[np.ndarray, np.ndarray]:
        ex = explainer(rows)
        return ex.values[:, :, 0], ex.quality["local_r2"][:, 0]

    return call


def run(workload: str, quick: bool = False, threads: int | None = None) -> dict:
    """Run W3 and return its figures (also printed)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    cfg = QUICK if quick else FULL
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=SEED)
    n_jobs = threads or 1
    model = RandomForestClassifier(random_state=SEED, n_jobs=n_jobs).fit(X_train, y_train)
    rows = X_test[: cfg.n_explain]
    figures: dict[str, dict] = {}
    for name, side in (("whybox LimeTabularExplainer", _whybox_side), ("lime", _lime_side)):
        seconds, (weights, r2) = median_time(side(model, X_train, rows, cfg, SEED), cfg.repeats)
        stab_rows = rows[: cfg.n_stability_rows]
        tops = [_top5(side(model, X_train, stab_rows, cfg, s)()[0]) for s in range(cfg.n_seeds)]
        figures[name] = {
            "median_s": seconds,
            "stability": _stability(tops),
            "local_r2": float(np.mean(r2)),
            "top5": _top5(weights),
        }
    ours, ref = figures["whybox LimeTabularExplainer"], figures["lime"]
    agreement = float(
        np.mean([_jaccard(a, b) for a, b in zip(ours["top5"], ref["top5"], strict=True)])
    )
    print(f"\n== {workload} LIME tabular: breast cancer, RandomForestClassifier (100 trees)")
    print(
        f"   {len(X_train)} training rows x 30 features, explaining {cfg.n_explain} rows with "
        f"{cfg.n_perturbations:,} samples and {cfg.n_features} features; model n_jobs={n_jobs}; "
        f"median of {cfg.repeats} runs after a warm-up; {os.cpu_count()} CPUs"
    )
    print(
        f"   {'side':30s} {'median s':>9s} {'vs whybox':>10s} "
        f"{'top-5 Jaccard':>14s} {'local R^2':>10s}"
    )
    for name, f in figures.items():
        ratio = f["median_s"] / ours["median_s"]
        print(
            f"   {name:30s} {f['median_s']:9.3f} {ratio:9.2f}x "
            f"{f['stability']:14.3f} {f['local_r2']:10.3f}"
        )
    print(
        f"   top-5 Jaccard: across {cfg.n_seeds} seeds on {cfg.n_stability_rows} rows; "
        f"whybox vs lime top-5 agreement (seed {SEED}): {agreement:.3f}"
    )
    print("   (vs whybox: the side's time / whybox's time)")
    for f in figures.values():
        del f["top5"]
    figures["agreement"] = {"top5_jaccard": agreement}
    return figures
