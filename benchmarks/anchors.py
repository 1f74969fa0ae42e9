"""Workload W11 (beyond the standard workloads): anchors for tables, whybox against anchor-exp.

Breast cancer (bundled with scikit-learn, 30 features), a 70/30 stratified split and a
RandomForestClassifier (100 trees, seed 0, one thread). Held-out rows are explained at
the same settings on both sides: threshold 0.95, delta 0.1, epsilon (anchor-exp's
``tau``) 0.15, 100 perturbations per pull, beam size 2, quartile bins.

Figures: the median time per explanation (each explanation timed alone, after one
warm-up explanation) and the ratio; the anchors' length and coverage; the precision
each side reports; and the *held-out precision*: the fraction of 10,000 fresh
perturbations where the anchor holds on which the forest predicts the explained class,
drawn here (not by either library) from two distributions:

- "product": a random training row whose anchored features are copied together from a
  training row where the anchor holds (whybox's ``D(z | A)``);
- "per-feature": a random training row in which each anchored feature that violates its
  condition is replaced by a random training value that satisfies it (anchor-exp's).

An anchor *holds up* when its held-out precision is at least 0.95 minus three binomial
standard deviations of 10,000 draws.

anchor-exp runs only when it can be imported: ``pip install anchor-exp`` pulls spaCy and
about 30 other packages (for its text explainer), so it is not in the ``bench`` extra;
its tabular explainer needs only lime and scikit-learn, so ``pip install --no-deps
anchor-exp`` (or its source on ``PYTHONPATH``) is enough. Its anchor is computed with
the calls ``explain_instance`` makes (``get_sample_fn`` then ``anchor_beam``), so the
rule comes back as exact bin indices rather than rounded names.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections import namedtuple

import numpy as np

SEED = 0
THRESHOLD, DELTA, EPSILON, PULL, BEAM = 0.95, 0.1, 0.15, 100, 2
N_HELDOUT = 10_000


Config = namedtuple("Config", "n_explain")


FULL = Config(20)
QUICK = Config(4)

Interval = tuple[int, float, float]  # feature, low, high: low < x <= high


def _data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    X_train, X_test, y_train, _ = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=SEED
    )
    model = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)
    model.fit(X_train, y_train)
    return data, X_train, X_test, model


def _sample_product(X, intervals, n, rng):
    rows = X[rng.integers(len(X), size=n)].copy()
    if intervals:
        cols = [j for j, _, _ in intervals]
        ok = np.ones(len(X), dtype=bool)
        for j, low, high in intervals:
            ok &= (X[:, j] > low) & (X[:, j] <= high)
        donors = np.flatnonzero(ok)
        rows[:, cols] = X[donors[rng.integers(donors.size, size=n)]][:, cols]
    return rows


def _sample_per_feature(X, intervals, n, rng):
    rows = X[rng.integers(len(X), size=n)].copy()
    for j, low, high in intervals:
        bad = ~((rows[:, j] > low) & (rows[:, j] <= high))
        values = X[(X[:, j] > low) & (X[:, j] <= high), j]
        rows[bad, j] = values[rng.integers(values.size, size=int(bad.sum()))]
    return rows


def _heldout(model, X, intervals, x, rng) -> tuple[float, float]:
    target = model.predict(x[None])[0]
    return tuple(
        float(np.mean(model.predict(sample(X, intervals, N_HELDOUT, rng)) == target))
        for sample in (_sample_product, _sample_per_feature)
    )


def _whybox_side(model, data, X_train, rows):
    import pandas as pd

    from whybox.anchors import AnchorTabular

    explainer = AnchorTabular(
        model,
        pd.DataFrame(X_train, columns=data.feature_names),
        threshold=THRESHOLD,
        delta=DELTA,
        epsilon=EPSILON,
        samples_per_pull=PULL,
        beam_size=BEAM,
        random_state=SEED,
    )
    explainer(rows[0])  # warm-up
    out = []
    for x in rows:
        start = time.perf_counter()
        (a,) = explainer(x)
        seconds = time.perf_counter() - start
        edges = explainer.discretizer.edges
        intervals = [
            (j, -math.inf if lo == 0 else edges[j][lo - 1], math.inf if hi == len(edges[j]) else edges[j][hi])
            for j, (lo, hi) in zip(a.features, a.bins, strict=True)
        ]  # fmt: skip
        out.append((seconds, intervals, a.precision, a.coverage, str(a)))
    return out


def _anchor_exp_side(model, data, X_train, rows):
    from anchor import anchor_base, anchor_tabular

    explainer = anchor_tabular.AnchorTabularExplainer(
        list(data.target_names), list(data.feature_names), X_train
    )
    # lime's quartile cuts: bin b holds cuts[b-1] < x <= cuts[b]
    cuts = [np.unique(np.percentile(X_train[:, j], [25, 50, 75])) for j in range(X_train.shape[1])]

    def explain(x):
        sample_fn, mapping = explainer.get_sample_fn(x, model.predict)
        return mapping, anchor_base.AnchorBaseBeam.anchor_beam(
            sample_fn,
            delta=DELTA,
            epsilon=EPSILON,
            batch_size=PULL,
            desired_confidence=THRESHOLD,
            beam_size=BEAM,
        )

    np.random.seed(SEED)  # noqa: NPY002 - anchor-exp draws from numpy's global generator
    explain(rows[0])  # warm-up
    out = []
    for x in rows:
        start = time.perf_counter()
        mapping, exp = explain(x)
        seconds = time.perf_counter() - start
        bounds: dict[int, list[float]] = {}
        for idx in exp["feature"]:
            j, op, b = mapping[idx]
            low, high = bounds.setdefault(j, [-math.inf, math.inf])
            if op == "geq":
                bounds[j][0] = max(low, cuts[j][b])
            else:
                bounds[j][1] = min(high, cuts[j][b])
        intervals = [(j, lo, hi) for j, (lo, hi) in bounds.items()]
        precision = exp["precision"][-1] if exp["precision"] else float("nan")
        coverage = exp["coverage"][-1] if exp["coverage"] else 1.0
        out.append((seconds, intervals, precision, coverage, ""))
    return out


def _summary(name, results, model, X_train, rows, rng, ref=None):
    times = [r[0] for r in results]
    margin = THRESHOLD - 3 * math.sqrt(THRESHOLD * (1 - THRESHOLD) / N_HELDOUT)
    held = [_heldout(model, X_train, r[1], x, rng) for r, x in zip(results, rows, strict=True)]
    med = statistics.median(times)
    ratio = "" if ref is None else f"{med / ref:6.2f}x"
    print(
        f"   {name:12s} {med:9.3f} {ratio:>8s} {np.mean([len(r[1]) for r in results]):7.1f} "
        f"{np.mean([r[3] for r in results]):9.3f} {np.mean([r[2] for r in results]):9.3f} "
        + "  ".join(
            f"{statistics.median(h[k] for h in held):6.3f} / {min(h[k] for h in held):5.3f} / "
            f"{sum(h[k] >= margin for h in held):2d} of {len(held)}"
            for k in (0, 1)
        )
    )
    return med


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    """Run W11 and print its figures."""
    cfg = QUICK if quick else FULL
    data, X_train, X_test, model = _data()
    rows = X_test[: cfg.n_explain]
    ours = _whybox_side(model, data, X_train, rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _anchor_exp_side(model, data, X_train, rows)
    except ImportError:
        theirs = None
    print(f"\n== {workload} anchors, breast cancer, RandomForestClassifier (100 trees)")
    print(
        f"   {len(X_train)} training rows x 30 features; {len(rows)} held-out rows explained, "
        f"one thread; threshold {THRESHOLD}, delta {DELTA}, epsilon {EPSILON}, "
        f"{PULL} per pull, beam {BEAM}"
    )
    print(
        f"   {'side':12s} {'median s':>9s} {'vs whybox':>8s} {'length':>7s} {'coverage':>9s} "
        f"{'reported':>9s} held-out precision, product D / per-feature D: median / min / "
        "rows holding up"
    )
    rng = np.random.default_rng(SEED + 1)
    ref = _summary("whybox", ours, model, X_train, rows, rng)
    if theirs is None:
        print("   anchor-exp   not installed (pip install --no-deps anchor-exp to compare)")
    else:
        _summary("anchor-exp", theirs, model, X_train, rows, rng, ref)
    print("   (vs whybox: anchor-exp's median time / whybox's; examples of whybox's anchors:)")
    for r in ours[:3]:
        print(f"     {r[4]}")
