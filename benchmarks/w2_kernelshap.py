"""Workload W2: KernelSHAP accuracy per budget, whybox against shap.KernelExplainer.

Breast cancer (scikit-learn), the first 12 features, an MLP classifier (standardised
inputs) explained in probability space on 20 test rows against a 50-row background.
Ground truth: the exact interventional Shapley values over all 2**12 coalitions
(whybox's ExactExplainer; shap's ExactExplainer is timed and compared with it).
Both KernelSHAP sides get the same budget: ``nsamples`` coalitions per row for shap
(its better setting, ``l1_reg=False``), ``max_evals`` for whybox; each is run with
``seeds`` different seeds and the mean/max absolute error versus the exact values is
averaged over them; times are medians over the seeds (all sides in one process, after
a warm-up run).
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np


@dataclass
class Config:
    budgets: tuple[int, ...]
    seeds: int


FULL = Config((128, 256, 512, 1024, 2048), 5)
QUICK = Config((256, 1024), 2)
N_FEATURES = 12
N_BACKGROUND = 50
N_EXPLAIN = 20


def make_model():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :N_FEATURES]
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=2000, random_state=0)
    )
    model.fit(X_train, y_train)
    rng = np.random.default_rng(0)
    background = X_train[rng.choice(len(X_train), N_BACKGROUND, replace=False)]
    return model, background, X_test[:N_EXPLAIN]


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(workload: str, quick: bool = False, threads: int | None = None) -> list[dict]:
    """Run W2 and print, per budget, time and error of each side."""
    import shap

    from whybox import ExactExplainer, KernelExplainer

    cfg = QUICK if quick else FULL
    model, background, X = make_model()

    def f(A):
        return model.predict_proba(A)[:, 1]

    calls = {"rows": 0}

    def counted(A):
        calls["rows"] += len(A)
        return f(A)

    f(X)  # warm-up
    t_exact, exact = _timed(lambda: ExactExplainer(f, background)(X))
    truth = exact.values[:, :, 0]
    shap_exact = shap.ExactExplainer(f, shap.maskers.Independent(background, N_BACKGROUND))
    t_shap_exact, sv = _timed(lambda: shap_exact(X, max_evals=1 << (N_FEATURES + 1)))
    rows = [
        ("whybox ExactExplainer (truth)", None, t_exact, 0.0, 0.0, None),
        (
            "shap.ExactExplainer",
            None,
            t_shap_exact,
            float(np.abs(sv.values - truth).mean()),
            float(np.abs(sv.values - truth).max()),
            None,
        ),
    ]
    kernel = shap.KernelExplainer(f, background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel.shap_values(X[:2], nsamples=64, l1_reg=False, silent=True)  # warm-up
    for budget in cfg.budgets:
        for side in ("shap", "whybox", "whybox2"):
            times, maes, maxes, cover = [], [], [], []
            for seed in range(cfg.seeds):
                if side == "shap":
                    np.random.seed(seed)  # noqa: NPY002 (shap draws from the global RNG)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t, est = _timed(
                            lambda b=budget: kernel.shap_values(
                                X, nsamples=b, l1_reg=False, silent=True
                            )
                        )
                    est = np.asarray(est)
                else:
                    t, ex = _timed(
                        lambda b=budget, s=seed, d=3 if side == "whybox" else 2: KernelExplainer(
                            f, background, max_evals=b, random_state=s, degree=d
                        )(X)
                    )
                    est = ex.values[:, :, 0]
                    se = ex.quality["standard_error"][:, :, 0]
                    cover.append(float(np.mean(np.abs(est - truth) <= 2 * se)))
                times.append(t)
                maes.append(float(np.abs(est - truth).mean()))
                maxes.append(float(np.abs(est - truth).max()))
            rows.append(
                (
                    {
                        "shap": "shap.KernelExplainer l1_reg=False",
                        "whybox": "whybox KernelExplainer",
                        "whybox2": "whybox KernelExplainer degree=2",
                    }[side],
                    budget,
                    statistics.median(times),
                    float(np.mean(maes)),
                    float(np.mean(maxes)),
                    float(np.mean(cover)) if cover else None,
                )
            )
    calls["rows"] = 0
    t_2048, _ = _timed(
        lambda: KernelExplainer(counted, background, max_evals=2048, random_state=0)(X)
    )
    whybox_rows = calls["rows"]
    # the floor: the model alone on as many rows, in the same batch size
    floor = np.resize(X, (whybox_rows, N_FEATURES))
    t_model, _ = _timed(lambda: [f(floor[i : i + 65536]) for i in range(0, len(floor), 65536)])
    print(f"\n== {workload} KernelSHAP accuracy per budget")
    print(
        f"   breast cancer, first {N_FEATURES} features, MLP (probability); {N_BACKGROUND} "
        f"background rows; {N_EXPLAIN} rows; errors averaged over {cfg.seeds} seeds, "
        "times are medians over them"
    )
    print(
        f"   whybox KernelSHAP at 2048 called the model on {whybox_rows:,} rows in "
        f"{t_2048:.3f} s; the model alone on as many rows takes {t_model:.3f} s "
        f"({t_model / t_2048:.0%} of whybox's time)"
    )
    print(
        f"   {'side':36s} {'budget':>6s} {'median s':>9s} {'mean|err|':>10s} {'max|err|':>10s}"
        f" {'|err|<=2se':>10s}"
    )
    for side, budget, t, mae, mx, cov in rows:
        b = "" if budget is None else str(budget)
        c = "" if cov is None else f"{cov:.2f}"
        print(f"   {side:36s} {b:>6s} {t:9.3f} {mae:10.2e} {mx:10.2e} {c:>10s}")
    by = {(s, b): (t, e) for s, b, t, e, _, _ in rows if b is not None}
    shap_side, ours = "shap.KernelExplainer l1_reg=False", "whybox KernelExplainer"
    print("   ratios (shap / whybox) at the same budget:")
    for b in cfg.budgets:
        ts, es = by[(shap_side, b)]
        tw, ew = by[(ours, b)]
        print(f"     {b:5d}: time {ts / tw:6.2f}x   mean error {es / ew:6.2f}x")
    top = max(cfg.budgets)
    ts, es = by[(shap_side, top)]
    reach = [b for b in cfg.budgets if by[(ours, b)][1] <= es]
    if reach:
        tw = by[(ours, reach[0])][0]
        print(
            f"   equal error: whybox reaches shap's error at {top} ({es:.2e}) with {reach[0]} "
            f"coalitions, {ts / tw:.2f}x less wall time"
        )
    return [{"rows": rows}]
