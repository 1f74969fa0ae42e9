"""Reductions over dask collections on a real two-worker LocalCluster: each function's
dask call equals its in-memory call on the same rows (counts exactly; sums of floats,
added in another order, to 1e-12 relative), the model is one key of the graph, and
partitions of unknown size (a filtered dask DataFrame) work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests._requires import requires

requires("dask")
requires("distributed")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

from whybox._exceptions import InputError  # noqa: E402
from whybox.adapters import Model, adapt_model  # noqa: E402
from whybox.debugging import calibration, confusion_analysis  # noqa: E402
from whybox.fairness import group_metrics  # noqa: E402
from whybox.inspection import (  # noqa: E402
    accumulated_local_effects,
    partial_dependence,
    permutation_importance,
)

RTOL = 1e-12  # float sums added per partition, then across partitions: rounding only
N = 2400


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 4))
    y_cls = (X[:, 0] + 0.5 * rng.normal(size=N) > 0).astype(int)
    y_reg = X @ np.array([1.0, 2.0, 0.0, -1.0]) + rng.normal(size=N)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["y_cls"], frame["y_reg"] = y_cls, y_reg
    frame["sex"] = rng.choice(["F", "M"], N)
    frame["race"] = rng.choice(["A", "B", "C"], N)
    clf = LogisticRegression().fit(frame[["a", "b", "c", "d"]], y_cls)
    frame["pred"] = clf.predict(frame[["a", "b", "c", "d"]])
    frame["prob"] = clf.predict_proba(frame[["a", "b", "c", "d"]])[:, 1]
    reg = LinearRegression().fit(X, y_reg)
    clf_np = LogisticRegression().fit(X, y_cls)
    return {"X": X, "frame": frame, "clf": clf, "reg": reg, "clf_np": clf_np}


def _filtered(frame: pd.DataFrame) -> tuple[pd.DataFrame, dd.DataFrame]:
    """The rows with a > -1.5, in memory and as a filtered dask DataFrame (unknown
    partition sizes)."""
    ddf = dd.from_pandas(frame, npartitions=5)
    return frame[frame["a"] > -1.5], ddf[ddf["a"] > -1.5]


def test_confusion_analysis_counts_exactly(data, dask_client):
    frame = data["frame"]
    mem, ddf = _filtered(frame)
    labels = np.array(["no", "yes"])
    t, p = labels[mem["y_cls"]], labels[mem["pred"]]
    expected = confusion_analysis(t, p)
    got = confusion_analysis(
        ddf["y_cls"].map(dict(enumerate(labels)), meta=("y_cls", object)),
        ddf["pred"].map(dict(enumerate(labels)), meta=("pred", object)),
    )
    assert got.labels == expected.labels
    np.testing.assert_array_equal(got.matrix, expected.matrix)
    assert got.accuracy == expected.accuracy
    assert got.confused_pairs == expected.confused_pairs
    ordered = confusion_analysis(
        da.from_array(frame["y_cls"].to_numpy(), chunks=500),
        da.from_array(frame["pred"].to_numpy(), chunks=500),
        labels=[1, 0, 2],
    )
    mem_ordered = confusion_analysis(frame["y_cls"], frame["pred"], labels=[1, 0, 2])
    np.testing.assert_array_equal(ordered.matrix, mem_ordered.matrix)


def test_calibration_matches_in_memory(data, dask_client):
    frame, clf = data["frame"], data["clf"]
    mem, ddf = _filtered(frame)
    cols = ["a", "b", "c", "d"]
    expected = calibration(clf, mem[cols], mem["y_cls"], n_bins=8)
    got = calibration(clf, ddf[cols], ddf["y_cls"], n_bins=8)
    for e, g in zip(expected.curves, got.curves, strict=True):
        np.testing.assert_array_equal(g.counts, e.counts)
        np.testing.assert_allclose(g.mean_predicted, e.mean_predicted, rtol=RTOL)
        np.testing.assert_allclose(g.observed, e.observed, rtol=RTOL)
    assert got.ece == pytest.approx(expected.ece, rel=RTOL)
    assert got.brier_score == pytest.approx(expected.brier_score, rel=RTOL)
    assert got.params == expected.params


def test_group_metrics_counts_and_bootstrap_match(data, dask_client):
    frame = data["frame"]
    mem, ddf = _filtered(frame)
    kwargs = {"n_bootstrap": 40, "random_state": 3}
    expected = group_metrics(
        mem["y_cls"], mem["pred"], mem[["sex", "race"]], y_prob=mem["prob"], **kwargs
    )
    got = group_metrics(
        ddf["y_cls"], ddf["pred"], ddf[["sex", "race"]], y_prob=ddf["prob"], **kwargs
    )
    # counts exact; the bootstrap draws counts (a multinomial per group) from the same
    # generator, so the intervals equal the in-memory ones as well
    np.testing.assert_array_equal(got.by_group["count"], expected.by_group["count"])
    pd.testing.assert_frame_equal(got.by_group, expected.by_group, rtol=RTOL)
    pd.testing.assert_frame_equal(got.disparities, expected.disparities, rtol=RTOL)
    for name in expected.marginals:
        pd.testing.assert_frame_equal(got.marginals[name], expected.marginals[name], rtol=RTOL)
    assert got.warnings == expected.warnings
    assert got.four_fifths == expected.four_fifths
    assert got.params == expected.params


def test_group_metrics_regression_sums_match(data, dask_client):
    frame = data["frame"].assign(
        f=lambda d: data["reg"].predict(d[["a", "b", "c", "d"]].to_numpy())
    )
    mem, ddf = _filtered(frame)
    for sens in (["sex", "race"], "sex"):
        expected = group_metrics(mem["y_reg"], mem["f"], mem[sens], n_bootstrap=0)
        got = group_metrics(ddf["y_reg"], ddf["f"], ddf[sens], n_bootstrap=0)
        assert got.task == expected.task == "regression"
        np.testing.assert_array_equal(got.by_group["count"], expected.by_group["count"])
        pd.testing.assert_frame_equal(got.by_group, expected.by_group, rtol=RTOL)
        pd.testing.assert_frame_equal(got.disparities, expected.disparities, rtol=RTOL)
        for name in expected.marginals:
            pd.testing.assert_frame_equal(got.marginals[name], expected.marginals[name], rtol=RTOL)
        assert got.warnings == expected.warnings
        assert got.params == expected.params


def test_partial_dependence_brute_matches(data, dask_client):
    X, reg = data["X"], data["reg"]
    expected = partial_dependence(reg, X, 1, grid_resolution=9, method="brute")
    got = partial_dependence(reg, da.from_array(X, chunks=(500, 4)), 1, grid_resolution=9)
    np.testing.assert_array_equal(got.grid_values[0], expected.grid_values[0])
    np.testing.assert_allclose(got.average, expected.average, rtol=RTOL)
    assert got.method == "brute"


def test_partial_dependence_unknown_partition_sizes(data, dask_client):
    frame, clf = data["frame"], data["clf"]
    mem, ddf = _filtered(frame)
    cols = ["a", "b", "c", "d"]
    expected = partial_dependence(clf, mem[cols], "b", grid_resolution=6, method="brute")
    got = partial_dependence(clf, ddf[cols], "b", grid_resolution=6, centered=False)
    np.testing.assert_array_equal(got.grid_values[0], expected.grid_values[0])
    np.testing.assert_allclose(got.average, expected.average, rtol=RTOL)
    assert got.params["n_samples"] == len(mem)


def test_ale_matches(data, dask_client):
    X = data["X"]
    gb = GradientBoostingRegressor(n_estimators=15, random_state=0).fit(X, X[:, 0] ** 2)
    expected = accumulated_local_effects(gb, X, 0, n_bins=10)
    got = accumulated_local_effects(gb, da.from_array(X, chunks=(500, 4)), 0, n_bins=10)
    np.testing.assert_array_equal(got.grids[0], expected.grids[0])
    np.testing.assert_array_equal(got.counts, expected.counts)
    # the effect is centred (values near 0): compare on the scale of the curve
    scale = np.abs(expected.effect).max()
    np.testing.assert_allclose(got.effect, expected.effect, rtol=0, atol=RTOL * scale * 10)
    assert got.params == expected.params


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_permutation_importance_classifier(data, dask_client, scoring):
    frame, clf = data["frame"], data["clf"]
    cols = ["a", "b", "c", "d"]
    ddf = dd.from_pandas(frame, npartitions=4)
    expected = permutation_importance(clf, frame[cols], frame["y_cls"], scoring=scoring,
                                      n_repeats=20)  # fmt: skip
    got = permutation_importance(clf, ddf[cols], ddf["y_cls"], scoring=scoring, n_repeats=20)
    # the baseline is deterministic: equal to rounding
    assert got.baseline_score == pytest.approx(expected.baseline_score, rel=RTOL)
    # the permutations are drawn within partitions (other draws than in memory): the
    # means over repeats agree within their standard errors (4 combined s.e.)
    se = np.sqrt(got.importances_std**2 / 20 + expected.importances_std**2 / 20)
    assert np.all(np.abs(got.importances_mean - expected.importances_mean) <= 4 * se + 1e-12)
    again = permutation_importance(clf, ddf[cols], ddf["y_cls"], scoring=scoring, n_repeats=20)
    np.testing.assert_array_equal(again.importances, got.importances)  # seeded


def test_permutation_importance_r2_and_refusals(data, dask_client):
    X, reg, frame = data["X"], data["reg"], data["frame"]
    y = frame["y_reg"].to_numpy()
    Xd, yd = da.from_array(X, chunks=(600, 4)), da.from_array(y, chunks=600)
    expected = permutation_importance(reg, X, y, n_repeats=10)
    got = permutation_importance(reg, Xd, yd, n_repeats=10)
    assert got.baseline_score == pytest.approx(expected.baseline_score, rel=RTOL)
    se = np.sqrt(got.importances_std**2 / 10 + expected.importances_std**2 / 10)
    assert np.all(np.abs(got.importances_mean - expected.importances_mean) <= 4 * se + 1e-12)
    with pytest.raises(InputError, match="not a sum over rows"):
        permutation_importance(reg, Xd, yd, scoring="neg_median_absolute_error")
    with pytest.raises(InputError, match="early_stop"):
        permutation_importance(reg, Xd, yd, early_stop=True)


def _graph_counter(model):
    """A scheduler that records, for each compute, how many graph keys hold ``model``
    (raw or adapted) and how many keys the graph has, then runs it synchronously."""
    seen = []

    def is_model(value):
        return value is model or (isinstance(value, Model) and value.estimator is model)

    def get(dsk, keys, **kwargs):
        graph = dict(dsk.__dask_graph__() if hasattr(dsk, "__dask_graph__") else dsk)
        hits = [k for k, v in graph.items() if is_model(getattr(v, "value", v))]
        seen.append((len(hits), len(graph)))
        return dask.get(graph, keys, **kwargs)

    return get, seen


def test_model_is_one_key_of_the_graph(data):
    X, reg, clf, frame = data["X"], data["reg"], data["clf"], data["frame"]
    Xd = da.from_array(X, chunks=(400, 4))
    yd = da.from_array(frame["y_reg"].to_numpy(), chunks=400)
    get, seen = _graph_counter(reg)
    with dask.config.set(scheduler=get):
        permutation_importance(reg, Xd, yd, n_repeats=2)
    # six chunks of X, six of y, six partition tasks and the model once
    assert seen == [(1, 19)]
    get, seen = _graph_counter(reg)
    with dask.config.set(scheduler=get):
        partial_dependence(reg, Xd, 0, grid_resolution=4)
        accumulated_local_effects(reg, Xd, 0, n_bins=4)
    model_runs = [s for s in seen if s[0]]  # the others gather a column or a partition
    assert [s[0] for s in model_runs] == [1, 1]
    assert [s[1] for s in model_runs] == [13, 13]  # six chunks, six tasks, one model
    cols = ["a", "b", "c", "d"]
    ddf = dd.from_pandas(frame, npartitions=6)
    get, seen = _graph_counter(clf)
    with dask.config.set(scheduler=get):
        calibration(clf, ddf[cols], ddf["y_cls"])
    assert [s[0] for s in seen] == [1]


# ---------------------------------------------------------------------- permutation importance:
# weights, row samples and more scores
def _documented_importances(model, X, y, w, lengths, columns, n_repeats, seed, scoring, sizes):
    """Importances built as the dask docstring says, scored by scikit-learn's own scorer
    on the permuted rows: per partition k, ``default_rng([seed, k])`` draws (with
    ``sizes``) each repeat's rows, then one permutation per column group."""
    from sklearn.metrics import get_scorer

    scorer = get_scorer(scoring)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    rngs = [np.random.default_rng([seed, k]) for k in range(len(lengths))]
    out = np.empty((len(columns), n_repeats))
    for r in range(n_repeats):
        rows, perms = [], []
        for k, rng in enumerate(rngs):
            idx = np.arange(lengths[k])
            if sizes is not None:
                idx = np.sort(rng.choice(lengths[k], size=sizes[k, r], replace=False))
            rows.append(starts[k] + idx)
            perms.append([rng.permutation(len(idx)) for _ in columns])
        sel = np.concatenate(rows)
        wr = None if w is None else w[sel]
        base = scorer(model, X[sel], y[sel], sample_weight=wr)
        for j, cols in enumerate(columns):
            Xp = X[sel].copy()
            parts = [X[np.ix_(rk[pk[j]], cols)] for rk, pk in zip(rows, perms, strict=True)]
            Xp[:, cols] = np.concatenate(parts)
            out[j, r] = base - scorer(model, Xp, y[sel], sample_weight=wr)
    return out


@pytest.fixture(scope="module")
def three_class(data):
    X = data["X"]
    y3 = np.digitize(X[:, 0] + X[:, 1], [-0.7, 0.7])
    return LogisticRegression().fit(X, y3), y3


@pytest.mark.parametrize(
    "task,scoring",
    [
        ("binary", "balanced_accuracy"),
        ("binary", "f1"),
        ("binary", "neg_brier_score"),
        ("binary", "neg_log_loss"),
        ("three", "f1_macro"),
        ("three", "matthews_corrcoef"),
        ("three", "neg_brier_score"),
        ("three", "accuracy"),
        ("reg", "neg_mean_absolute_error"),
        ("reg", "neg_root_mean_squared_error"),
        ("reg", "r2"),
    ],
)
def test_permutation_importance_weighted_scores(data, three_class, dask_client, task, scoring):
    X, frame = data["X"], data["frame"]
    model, y = {
        "binary": (data["clf_np"], frame["y_cls"].to_numpy()),
        "three": three_class,
        "reg": (data["reg"], frame["y_reg"].to_numpy()),
    }[task]
    w = np.random.default_rng(5).uniform(0.0, 3.0, size=len(y))
    w[:50] = 0.0  # zero weights count as rows seen, as in scikit-learn
    chunks = 700
    Xd, yd = da.from_array(X, chunks=(chunks, 4)), da.from_array(y, chunks=chunks)
    wd = da.from_array(w, chunks=chunks)
    expected = permutation_importance(model, X, y, scoring=scoring, sample_weight=w, n_repeats=2)
    got = permutation_importance(model, Xd, yd, scoring=scoring, sample_weight=wd, n_repeats=3)
    assert got.baseline_score == pytest.approx(expected.baseline_score, rel=RTOL)
    lengths = np.asarray(Xd.chunks[0])
    columns = [np.array([j]) for j in range(4)]
    documented = _documented_importances(model, X, y, w, lengths, columns, 3, 0, scoring, None)
    np.testing.assert_allclose(got.importances, documented, rtol=RTOL, atol=RTOL)
    assert got.params["sample_weight"] is True
    unweighted = permutation_importance(model, Xd, yd, scoring=scoring, n_repeats=1)
    base = permutation_importance(model, X, y, scoring=scoring, n_repeats=1)
    assert unweighted.baseline_score == pytest.approx(base.baseline_score, rel=RTOL)


def test_permutation_importance_max_samples(data, dask_client):
    X, frame, reg = data["X"], data["frame"], data["reg"]
    y = frame["y_reg"].to_numpy()
    w = np.random.default_rng(6).uniform(0.5, 2.0, size=len(y))
    ddf = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")).assign(y=y, w=w), npartitions=3)
    ddf = ddf[ddf["a"] > -1.5]  # unknown partition sizes
    keep = X[:, 0] > -1.5
    Xk, yk, wk = X[keep], y[keep], w[keep]
    groups = {"ab": ["a", "b"]}
    got = permutation_importance(reg, ddf[list("abcd")], ddf["y"], sample_weight=ddf["w"],
                                 max_samples=0.3, n_repeats=4, random_state=7,
                                 feature_groups=groups)  # fmt: skip
    lengths = np.asarray(ddf.map_partitions(len).compute())
    m = int(0.3 * keep.sum())
    rng = np.random.default_rng(7)
    sizes = np.stack([rng.multivariate_hypergeometric(lengths, m) for _ in range(4)], axis=1)
    assert np.all(sizes.sum(axis=0) == m) and got.params["n_samples_per_repeat"] == m
    columns = [np.array([0, 1]), np.array([2]), np.array([3])]
    documented = _documented_importances(reg, Xk, yk, wk, lengths, columns, 4, 7, "r2", sizes)
    np.testing.assert_allclose(got.importances, documented, rtol=RTOL, atol=RTOL)
    # the baseline is every row's, as in memory
    expected = permutation_importance(reg, Xk, yk, sample_weight=wk, max_samples=0.3)
    assert got.baseline_score == pytest.approx(expected.baseline_score, rel=RTOL)
    again = permutation_importance(reg, ddf[list("abcd")], ddf["y"], sample_weight=ddf["w"],
                                   max_samples=0.3, n_repeats=4, random_state=7,
                                   feature_groups=groups)  # fmt: skip
    np.testing.assert_array_equal(again.importances, got.importances)
    # more rows than X holds: every row, as max_samples=None
    everything = permutation_importance(reg, ddf[list("abcd")], ddf["y"], max_samples=10**6)
    whole = permutation_importance(reg, ddf[list("abcd")], ddf["y"])
    np.testing.assert_array_equal(everything.importances, whole.importances)
    with pytest.raises(InputError, match="max_samples must be"):
        permutation_importance(reg, ddf[list("abcd")], ddf["y"], max_samples=0)
    with pytest.raises(InputError, match="not a sum over rows"):
        permutation_importance(data["clf_np"], da.from_array(X, chunks=(600, 4)),
                               da.from_array(frame["y_cls"].to_numpy(), chunks=600),
                               scoring="roc_auc")  # fmt: skip


# ---------------------------------------------------------------------- partitions unlike the meta
def _bad_middle(frame: pd.DataFrame, bad: str) -> dd.DataFrame:
    """``frame`` as three delayed pandas partitions, the middle one renaming column 'b'
    ('columns') or holding it as int64 ('dtypes'); dask's meta check off."""
    parts = [frame.iloc[i * 800 : (i + 1) * 800].copy() for i in range(3)]
    if bad == "columns":
        parts[1] = parts[1].rename(columns={"b": "B"})
    else:
        parts[1]["b"] = np.arange(800, dtype=np.int64)
    return dd.from_delayed(
        [dask.delayed(lambda f: f)(p) for p in parts], meta=parts[0].iloc[:0], verify_meta=False
    )


@pytest.mark.parametrize(
    "bad,message",
    [
        ("columns", r"^partition 1 of X lacks the column 'b'; "),
        ("dtypes", r"^partition 1 of X holds int64 in column 'b', not float64 as the meta says;"),
    ],
)
def test_a_partition_unlike_the_meta_is_named(data, dask_client, bad, message):
    frame, clf, reg = data["frame"], data["clf"], data["reg"]
    cols = ["a", "b", "c", "d"]
    X = _bad_middle(frame[cols], bad)
    y = dd.from_delayed(
        [dask.delayed(lambda f: f)(frame["y_cls"].iloc[i * 800 : (i + 1) * 800]) for i in range(3)],
        meta=frame["y_cls"].iloc[:0],
    )
    calls = [
        lambda: calibration(clf, X, y),
        lambda: permutation_importance(clf, X, y, n_repeats=1),
        lambda: partial_dependence(reg, X, "a", grid_resolution=3),
        lambda: accumulated_local_effects(reg, X, "a", n_bins=3),
    ]
    for call in calls:
        with pytest.raises(InputError, match=message):
            call()


def test_a_partition_that_cannot_be_selected_is_named(data, dask_client):
    frame, clf = data["frame"], data["clf"]
    cols = ["a", "b", "c", "d"]
    ddf = _bad_middle(frame[[*cols, "y_cls"]], "columns")
    # ddf[cols] fails inside partition 1's task (no column 'b'): traced to it
    with pytest.raises(InputError, match=r"^partition 1 of X cannot be computed \(KeyError: "):
        calibration(clf, ddf[cols], ddf["y_cls"])


# ---------------------------------------------------------------------- exact quantiles
def test_percentile_plan_is_numpys():
    """The ranks and interpolation numpy's percentile uses, replayed on sorted values,
    give numpy's result bit for bit (ties, tiny and odd sizes, every edge of 7 bins)."""
    from whybox.distributed import _reduce

    rng = np.random.default_rng(1)
    q = np.linspace(0, 100, 8)
    for n in (1, 2, 3, 7, 10, 101, 1000):
        for values in (rng.uniform(size=n), rng.integers(0, 3, size=n) / 3.0):
            lo, hi, gamma = _reduce._percentile_ranks(n, q)
            s = np.sort(values)
            got = _reduce._lerp(s[lo], s[hi], gamma)
            np.testing.assert_array_equal(got, np.percentile(values, q))
            assert got.tobytes() == np.percentile(values, q).tobytes()


@pytest.mark.parametrize("gather", [16, 65536])
def test_exact_percentiles_equal_numpys(dask_client, monkeypatch, gather):
    """Exact percentiles of a dask vector, bit for bit numpy's; a small gather
    threshold forces the splitting passes (ties, negatives, -0.0, tiny values)."""
    from whybox.distributed import _reduce

    monkeypatch.setattr(_reduce, "_GATHER", gather)
    rng = np.random.default_rng(2)
    v = np.concatenate(
        [
            rng.normal(size=700),
            np.full(300, 0.25),  # a tie across many rows
            rng.uniform(0, 1e-300, size=50),  # subnormal-scale values
            [-0.0, 0.0, 1.0, -3.5],
        ]
    )
    rng.shuffle(v)
    q = np.array([0, 0.1, 12.5, 25, 33.3, 50, 62.5, 90, 99.9, 100])
    got = _reduce.exact_percentiles(da.from_array(v, chunks=200), q)
    assert got.tobytes() == np.percentile(v, q).tobytes()
    series = dd.from_pandas(pd.Series(v), npartitions=3)
    assert _reduce.exact_percentiles(series, q).tobytes() == np.percentile(v, q).tobytes()


@pytest.mark.parametrize("gather", [8, 65536])
def test_calibration_quantile_matches_in_memory(data, three_class, dask_client, monkeypatch,
                                                gather):  # fmt: skip
    from whybox.distributed import _reduce

    monkeypatch.setattr(_reduce, "_GATHER", gather)
    frame, clf = data["frame"], data["clf"]
    mem, ddf = _filtered(frame)
    cols = ["a", "b", "c", "d"]
    expected = calibration(clf, mem[cols], mem["y_cls"], n_bins=7, strategy="quantile")
    got = calibration(clf, ddf[cols], ddf["y_cls"], n_bins=7, strategy="quantile")
    sums = _reduce.calibration_sums(adapt_model(clf), ddf[cols], ddf["y_cls"], 7, "quantile")
    prob = clf.predict_proba(mem[cols])[:, 1]
    edges = np.percentile(prob, np.linspace(0, 100, 8))
    assert sums["edges"][0].tobytes() == edges.tobytes()
    # three classes: the top-label curve and one curve per class
    model3, y3 = three_class
    X = data["X"]
    exp3 = calibration(model3, X, y3, n_bins=5, strategy="quantile")
    got3 = calibration(model3, da.from_array(X, chunks=(500, 4)), da.from_array(y3, chunks=500),
                       n_bins=5, strategy="quantile")  # fmt: skip
    for e_cal, g_cal in ((expected, got), (exp3, got3)):
        assert len(g_cal.curves) == len(e_cal.curves)
        for e, g in zip(e_cal.curves, g_cal.curves, strict=True):
            assert g.label == e.label
            np.testing.assert_array_equal(g.counts, e.counts)
            np.testing.assert_allclose(g.mean_predicted, e.mean_predicted, rtol=RTOL)
            np.testing.assert_allclose(g.observed, e.observed, rtol=RTOL)
        assert g_cal.ece == pytest.approx(e_cal.ece, rel=RTOL)
        assert g_cal.brier_score == pytest.approx(e_cal.brier_score, rel=RTOL)
        assert g_cal.params == e_cal.params and g_cal.strategy == "quantile"


# ---------------------------------------------------------------------- Poisson bootstrap
def test_group_metrics_regression_poisson_bootstrap(dask_client):
    """Closed form: group means of normal predictions (sigma 1, 1000 rows per group,
    means 0 and 3). The interval of the mean_prediction difference has width about
    2 z SE with SE = sqrt(s_A^2/n_A + s_B^2/n_B). With B = 400 replicates the
    percentile ends have s.d. 0.134 SE each (sqrt(p(1-p)/B) / phi(z)), the width
    0.187 SE (4.8% of 3.92 SE) and the centre 0.096 SE: the test allows 4 s.d.
    (20% on the width, 0.4 SE on the centre)."""
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    n = 1000
    group = np.repeat(["A", "B"], n)
    f = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(3.0, 1.0, n)])
    y = f + rng.normal(size=2 * n)
    order = rng.permutation(2 * n)  # groups spread over the partitions
    frame = pd.DataFrame({"y": y[order], "f": f[order], "g": group[order]})
    ddf = dd.from_pandas(frame, npartitions=4)
    kwargs = {"n_bootstrap": 400, "random_state": 5}
    got = group_metrics(ddf["y"], ddf["f"], ddf["g"], **kwargs)
    mem = group_metrics(frame["y"], frame["f"], frame["g"], **kwargs)
    pd.testing.assert_frame_equal(got.by_group, mem.by_group, rtol=RTOL)
    se = np.sqrt(sum(np.var(f[group == g], ddof=1) / n for g in "AB"))
    z = norm.ppf(0.975)
    for result in (got, mem):
        row = result.disparities.set_index("metric").loc["mean_prediction"]
        point, lo, hi = row["difference"], row["difference_ci_low"], row["difference_ci_high"]
        assert point == pytest.approx(f[n:].mean() - f[:n].mean(), rel=RTOL)
        assert abs((hi - lo) / (2 * z * se) - 1) <= 0.2
        assert abs((lo + hi) / 2 - point) <= 0.4 * se
    again = group_metrics(ddf["y"], ddf["f"], ddf["g"], **kwargs)
    pd.testing.assert_frame_equal(again.disparities, got.disparities)
    other = group_metrics(ddf["y"], ddf["f"], ddf["g"], n_bootstrap=400, random_state=6)
    assert not other.disparities.equals(got.disparities)
    assert got.params == mem.params


def test_group_metrics_regression_bootstrap_intersections(data, dask_client):
    """Two sensitive features: the intersection groups and each marginal get
    intervals around their point estimates, reproducibly."""
    frame = data["frame"].assign(
        f=lambda d: data["reg"].predict(d[["a", "b", "c", "d"]].to_numpy())
    )
    mem, ddf = _filtered(frame)
    got = group_metrics(ddf["y_reg"], ddf["f"], ddf[["sex", "race"]], n_bootstrap=60)
    exp = group_metrics(mem["y_reg"], mem["f"], mem[["sex", "race"]], n_bootstrap=60)
    pd.testing.assert_frame_equal(got.by_group, exp.by_group, rtol=RTOL)
    for disp in (got.disparities, *got.marginal_disparities.values()):
        assert np.all(disp["difference_ci_low"] <= disp["difference"] + 1e-12)
        assert np.all(disp["difference"] <= disp["difference_ci_high"] + 1e-12)
    assert set(got.marginal_disparities) == {"sex", "race"}


def test_ale_poisson_bootstrap_band(data, dask_client):
    """The band of a Poisson bootstrap (dask) against the in-memory multinomial one on
    the same rows: the same effect, the same seed the same band, and band widths that
    estimate the same spread. With B = 300 replicates a 90% percentile end has an s.d.
    of sqrt(p(1-p)/B) / phi(z) = 0.122 SE (p = 0.05), a band's width (3.29 SE) one of
    0.173 SE, 5.3%, and the ratio of two independent bands' widths one of 7.5% (no
    more for their mean over the grid): the test allows 25%, 3.3 s.d."""
    X = data["X"]
    target = X[:, 0] * X[:, 1] + 0.3 * np.random.default_rng(3).normal(size=len(X))
    gb = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, target)
    Xd = da.from_array(X, chunks=(600, 4))
    kwargs = {"n_bins": 10, "n_bootstrap": 300, "confidence_level": 0.9, "random_state": 4}
    expected = accumulated_local_effects(gb, X, 0, **kwargs)
    got = accumulated_local_effects(gb, Xd, 0, **kwargs)
    scale = np.abs(expected.effect).max()
    np.testing.assert_allclose(got.effect, expected.effect, rtol=0, atol=RTOL * scale * 10)
    np.testing.assert_array_equal(got.counts, expected.counts)
    assert got.params == expected.params
    assert got.lower.shape == expected.lower.shape == got.effect.shape
    assert np.all(got.lower <= got.upper)
    width_got = (got.upper - got.lower).mean()
    width_mem = (expected.upper - expected.lower).mean()
    assert abs(width_got / width_mem - 1) < 0.25
    again = accumulated_local_effects(gb, Xd, 0, **kwargs)
    np.testing.assert_array_equal(again.lower, got.lower)
    np.testing.assert_array_equal(again.upper, got.upper)
    other = accumulated_local_effects(gb, Xd, 0, **{**kwargs, "random_state": 5})
    assert not np.array_equal(other.lower, got.lower)


# ---------------------------------------------------------------------- partial dependence: ICE, recursion
@pytest.mark.parametrize("centered", [False, True])
def test_partial_dependence_ice_is_lazy_and_equal(data, dask_client, centered):
    frame, clf = data["frame"], data["clf"]
    mem, ddf = _filtered(frame)  # unknown partition sizes: read once
    cols = ["a", "b", "c", "d"]
    for features, kind in (("b", "both"), (("a", "c"), "individual")):
        expected = partial_dependence(clf, mem[cols], features, grid_resolution=4, kind=kind,
                                      centered=centered, method="brute")  # fmt: skip
        got = partial_dependence(clf, ddf[cols], features, grid_resolution=4, kind=kind,
                                 centered=centered)  # fmt: skip
        assert isinstance(got.individual, da.Array) and got.kind == kind
        assert got.individual.shape == expected.individual.shape
        sizes = ddf.map_partitions(len).compute().tolist()
        assert list(got.individual.chunks[1]) == sizes
        # each row's curve is the in-memory call's, bit for bit
        np.testing.assert_array_equal(got.individual.compute(), expected.individual)
        np.testing.assert_allclose(got.average, expected.average, rtol=RTOL, atol=RTOL)


def test_partial_dependence_recursion(data, dask_client):
    X = data["X"]
    gb = GradientBoostingRegressor(n_estimators=15, random_state=0).fit(X, X[:, 0] * X[:, 2])
    expected = partial_dependence(gb, X, (0, 2), grid_resolution=5, method="recursion")
    got = partial_dependence(gb, da.from_array(X, chunks=(500, 4)), (0, 2), grid_resolution=5,
                             method="recursion")  # fmt: skip
    assert got.method == "recursion"
    np.testing.assert_array_equal(got.average, expected.average)
    for g, e in zip(got.grid_values, expected.grid_values, strict=True):
        np.testing.assert_array_equal(g, e)
    assert got.params == expected.params
    with pytest.raises(InputError, match="method='recursion' does not apply"):
        partial_dependence(gb, da.from_array(X, chunks=(500, 4)), 0, method="recursion",
                           kind="both")  # fmt: skip
    # "auto" resolves as in memory: recursion for the trees' average, brute otherwise
    methods = []
    for kind, output in (("average", None), ("both", None), ("average", "log_odds")):
        if output == "log_odds":  # a classifier whose auto method falls to brute force
            model = GradientBoostingClassifier(n_estimators=5, random_state=0)
            model.fit(X, X[:, 0] > 0)
        else:
            model = gb
        want = partial_dependence(model, X, 0, grid_resolution=5, kind=kind, output=output)
        got = partial_dependence(model, da.from_array(X, chunks=(500, 4)), 0, grid_resolution=5,
                                 kind=kind, output=output)  # fmt: skip
        assert got.method == want.method
        np.testing.assert_allclose(got.average, want.average, rtol=RTOL)
        methods.append(got.method)
    assert methods == ["recursion", "brute", "brute"]


def test_ale_second_order_matches(data, dask_client):
    X = data["X"]
    target = X[:, 0] * X[:, 1] + X[:, 2]
    gb = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0).fit(X, target)
    ddf = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=4)
    frame = pd.DataFrame(X, columns=list("abcd"))
    gbf = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0).fit(frame, target)
    for model, mem_X, dask_X, feats in ((gb, X, da.from_array(X, chunks=(500, 4)), (0, 1)),
                                        (gbf, frame, ddf, ("a", "b"))):  # fmt: skip
        expected = accumulated_local_effects(model, mem_X, feats, n_bins=(6, 5))
        got = accumulated_local_effects(model, dask_X, feats, n_bins=(6, 5))
        assert got.feature_names == expected.feature_names
        for g, e in zip(got.grids, expected.grids, strict=True):
            np.testing.assert_array_equal(g, e)
        np.testing.assert_array_equal(got.counts, expected.counts)
        scale = np.abs(expected.effect).max()
        np.testing.assert_allclose(got.effect, expected.effect, rtol=0, atol=RTOL * scale * 10)
        assert got.params == expected.params
    banded = accumulated_local_effects(gb, da.from_array(X, chunks=(500, 4)), (0, 1),
                                       n_bins=(6, 5), n_bootstrap=20)  # fmt: skip
    assert banded.lower.shape == banded.effect.shape
    assert np.all(banded.lower <= banded.upper)
    with pytest.raises(InputError, match="categorical_features"):
        accumulated_local_effects(gb, ddf, "a", categorical_features=["a"])


def test_partial_dependence_sample_weight_and_max_samples(data, dask_client):
    X, clf = data["X"], data["clf_np"]
    w = np.random.default_rng(8).uniform(0.0, 2.0, size=len(X))
    Xd, wd = da.from_array(X, chunks=(500, 4)), da.from_array(w, chunks=500)
    expected = partial_dependence(clf, X, 1, grid_resolution=5, sample_weight=w, kind="both",
                                  method="brute")  # fmt: skip
    got = partial_dependence(clf, Xd, 1, grid_resolution=5, sample_weight=wd, kind="both")
    np.testing.assert_allclose(got.average, expected.average, rtol=RTOL)
    assert got.params["sample_weight"] is True
    np.testing.assert_array_equal(got.individual.compute(), expected.individual)
    # max_samples: a uniform sample split over the partitions (documented draw), rows
    # averaged equal to the in-memory call on those rows
    sampled = partial_dependence(clf, Xd, 1, grid_resolution=5, max_samples=0.25,
                                 sample_weight=wd, kind="both", random_state=3)  # fmt: skip
    lengths = np.asarray(Xd.chunks[0])
    rng = np.random.default_rng(3)
    seed = int(rng.integers(2**63))
    sizes = rng.multivariate_hypergeometric(lengths, 600)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    rows = np.concatenate(
        [starts[k] + np.sort(np.random.default_rng([seed, k]).choice(lengths[k], sizes[k],
                                                                     replace=False))
         for k in range(len(lengths))]
    )  # fmt: skip
    on_rows = partial_dependence(clf, X[rows], 1, custom_values={1: got.grid_values[0]},
                                 sample_weight=w[rows], kind="both", method="brute")  # fmt: skip
    np.testing.assert_allclose(sampled.average, on_rows.average, rtol=RTOL)
    np.testing.assert_array_equal(sampled.individual.compute(), on_rows.individual)
    assert sampled.params["n_samples"] == 600 and sampled.params["n_given"] == len(X)
    with pytest.raises(InputError, match="sample_weight sums to 0"):
        partial_dependence(clf, Xd, 1, grid_resolution=3, sample_weight=wd * 0)


def test_ale_categorical_ordered_matches(data, dask_client):
    """A categorical feature given as an ordered pandas Categorical (the order the
    in-memory call keeps) on a dask DataFrame: the in-memory ALE of a pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = data["frame"][["a", "b", "race"]].copy()
    levels = pd.CategoricalDtype(["C", "A", "B"], ordered=True)
    frame["race"] = frame["race"].astype(levels)
    target = frame["a"] + frame["race"].map({"A": 0.0, "B": 1.0, "C": -2.0}).astype(float)
    pipe = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["race"])], remainder="passthrough"),
        GradientBoostingRegressor(n_estimators=15, random_state=0),
    ).fit(frame, target)
    ddf = dd.from_pandas(frame, npartitions=3)
    expected = accumulated_local_effects(pipe, frame, "race")
    got = accumulated_local_effects(pipe, ddf, "race")
    assert got.categorical and expected.categorical
    np.testing.assert_array_equal(got.grids[0], expected.grids[0])  # C, A, B
    np.testing.assert_array_equal(got.counts, expected.counts)
    scale = np.abs(expected.effect).max()
    np.testing.assert_allclose(got.effect, expected.effect, rtol=0, atol=RTOL * scale * 10)
    assert got.params == expected.params
    banded = accumulated_local_effects(pipe, ddf, "race", n_bootstrap=20)
    assert np.all(banded.lower <= banded.upper)
    unordered = dd.from_pandas(frame.assign(race=frame["race"].astype(str)), npartitions=3)
    with pytest.raises(InputError, match="not an ordered pandas Categorical"):
        accumulated_local_effects(pipe, unordered, "race")
    with pytest.raises(InputError, match="second-order ALE needs two numeric"):
        accumulated_local_effects(pipe, ddf, ("a", "race"))


def test_a_parquet_tables_columns_pair_partition_by_partition(data, dask_client, tmp_path):
    """dask fuses the partitions of a narrow projection of wide Parquet files (``df["y"]``
    gets fewer than ``df[features]``): X and y of one table still pair row by row."""
    frame = data["frame"]
    for k in range(6):
        frame.iloc[k * 400 : (k + 1) * 400].to_parquet(tmp_path / f"p{k}.parquet", index=False)
    table = dd.read_parquet(tmp_path)
    assert len(table["y_cls"].to_delayed()) < table.npartitions  # the fusion this is about
    X, y, features = table[["a", "b", "c", "d"]], table["y_cls"], frame[["a", "b", "c", "d"]]
    clf = data["clf"]
    got = calibration(clf, X, y, n_bins=5).curves[0]
    want = calibration(clf, features, frame["y_cls"], n_bins=5).curves[0]
    np.testing.assert_array_equal(got.counts, want.counts)
    np.testing.assert_allclose(got.observed, want.observed, rtol=RTOL)
    got = confusion_analysis(y, table["pred"]).matrix
    np.testing.assert_array_equal(got, confusion_analysis(frame["y_cls"], frame["pred"]).matrix)
    pi = permutation_importance(clf, X, y, scoring="accuracy", n_repeats=2)
    assert pi.baseline_score == pytest.approx(
        float(np.mean(clf.predict(features) == frame["y_cls"])), rel=RTOL
    )
