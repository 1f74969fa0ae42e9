"""Workload W8: counterfactual explanations, whybox against DiCE.

Workload list: benchmarks/README.md. scikit-learn's breast cancer data (30 features), a
GradientBoostingClassifier (seed 0) trained on all rows but the last 100; 20 of those
held-out rows are explained with 4 counterfactuals each, desired class "opposite".

Methods: whybox's tree path (``method="tree"``, candidate values from the split
thresholds), whybox's genetic search (``method="genetic"``), and DiCE 0.12's
``random`` and ``genetic`` methods where dice_ml installs. Every method's
counterfactuals are scored by this script alike:

- validity: the share of the returned counterfactuals that the model itself
  (``model.predict``) gives the desired class; "found" counts them against the 80 asked;
- sparsity: the mean number of features changed;
- proximity: the mean MAD-scaled L1 distance to the row (MAD of the training data);
- diversity: the mean pairwise MAD-scaled L1 distance within a row's set;
- time: the median over ``repeats`` runs of the total wall time, and per row.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections import namedtuple

import numpy as np

Config = namedtuple("Config", "n_rows n_estimators repeats")


FULL = Config(20, 100, 3)
QUICK = Config(5, 50, 1)
N_CF = 4


def model_and_data(n_estimators: int):
    """The W8 model and data: breast cancer, GradientBoostingClassifier (depth 3, seed 0)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    X_train, y_train, X_test = X.iloc[:-100], y.iloc[:-100], X.iloc[-100:]
    model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3, random_state=0).fit(
        X_train, y_train
    )
    return model, X_train, y_train, X_test


def score(model, X_train, rows, cf_sets) -> dict[str, float]:
    """Validity, sparsity, proximity and diversity of counterfactual sets (see module doc)."""
    train = X_train.to_numpy(np.float64)
    scale = np.median(np.abs(train - np.median(train, axis=0)), axis=0)
    scale = np.where(scale > 0, scale, train.std(axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    n_found = n_valid = 0
    sparsity, proximity, diversity = [], [], []
    for i, cfs in enumerate(cf_sets):
        if cfs is None or len(cfs) == 0:
            continue
        x = rows.iloc[i].to_numpy(np.float64)
        Z = cfs[list(rows.columns)].to_numpy(np.float64)
        want = 1 - model.predict(rows.iloc[[i]])[0]
        n_found += len(Z)
        n_valid += int(np.sum(model.predict(cfs[list(rows.columns)]) == want))
        changed = ~np.isclose(Z, x, rtol=0, atol=0)
        sparsity.extend(changed.sum(axis=1))
        proximity.extend((np.abs(Z - x) / scale).sum(axis=1))
        if len(Z) > 1:
            a, b = np.triu_indices(len(Z), 1)
            diversity.append(float((np.abs(Z[a] - Z[b]) / scale).sum(axis=1).mean()))
    nan = float("nan")
    return {
        "found": n_found,
        "validity": n_valid / n_found if n_found else nan,
        "sparsity": float(np.mean(sparsity)) if sparsity else nan,
        "proximity": float(np.mean(proximity)) if proximity else nan,
        "diversity": float(np.mean(diversity)) if diversity else nan,
    }


def _median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    from threadpoolctl import threadpool_limits

    from whybox.counterfactuals import CounterfactualExplainer

    cfg = QUICK if quick else FULL
    model, X_train, y_train, X_test = model_and_data(cfg.n_estimators)
    rows = X_test.iloc[: cfg.n_rows]
    print(
        f"{workload}: GradientBoostingClassifier({cfg.n_estimators} trees, depth 3), breast "
        f"cancer 30 features, {cfg.n_rows} rows x {N_CF} counterfactuals, desired 'opposite', "
        f"threads {threads or 'all'}, medians of {cfg.repeats}"
    )
    methods = {}

    def whybox(method):
        def go():
            ex = CounterfactualExplainer(model, X_train, method=method, random_state=0)
            res = ex(rows, n_counterfactuals=N_CF)
            return list(res.counterfactuals)

        return go

    methods["whybox tree"] = whybox("tree")
    methods["whybox genetic"] = whybox("genetic")
    try:
        import dice_ml

        frame = X_train.assign(target=y_train)
        d_data = dice_ml.Data(
            dataframe=frame, continuous_features=list(X_train.columns), outcome_name="target"
        )
        d_model = dice_ml.Model(model=model, backend="sklearn")

        def dice(method):
            def go():
                np.random.seed(0)  # noqa: NPY002 - DiCE genetic draws from the global state
                exp = dice_ml.Dice(d_data, d_model, method=method)
                kw = {"random_seed": 0} if method == "random" else {}
                out = exp.generate_counterfactuals(
                    rows, total_CFs=N_CF, desired_class="opposite", verbose=False, **kw
                )
                return [c.final_cfs_df for c in out.cf_examples_list]

            return go

        methods["DiCE random"] = dice("random")
        methods["DiCE genetic"] = dice("genetic")
    except Exception as exc:  # pragma: no cover - dice_ml missing or broken
        print(f"DiCE unavailable: {type(exc).__name__}: {exc}")

    asked = cfg.n_rows * N_CF
    print(
        f"{'method':16s} {'found':>7s} {'validity':>9s} {'sparsity':>9s} {'proximity':>10s} "
        f"{'diversity':>10s} {'total (s)':>10s} {'per row (s)':>12s}"
    )
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in methods.items():
            try:
                fn()  # warm-up
                t, cf_sets = _median_time(fn, cfg.repeats)
            except Exception as exc:  # report a reference library's failure, keep going
                print(f"{name:16s} failed: {type(exc).__name__}: {exc}")
                continue
            s = score(model, X_train, rows, cf_sets)
            print(
                f"{name:16s} {s['found']:>3d}/{asked:<3d} {s['validity']:9.3f} "
                f"{s['sparsity']:9.2f} {s['proximity']:10.3f} {s['diversity']:10.3f} "
                f"{t:10.3f} {t / cfg.n_rows:12.4f}"
            )
