"""Accumulated local effects: PyALE, a loop transcription of ALEPlot, closed forms, the
bootstrap re-run on resampled rows, model-call counts, plots and bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests._requires import requires
from tests.inspection._helpers import additive
from whybox._exceptions import InputError
from whybox.adapters import adapt_data, adapt_model
from whybox.inspection import _ale, accumulated_local_effects, partial_dependence
from whybox.inspection._ale import AccumulatedLocalEffects, _level_distances, order_levels
from whybox.plots._ale import ale as plot_ale


def _reg(f):
    return adapt_model(lambda A: f(np.asarray(A, dtype=np.float64)), task="regression")


def _nonlinear(A):
    return np.sin(A[:, 0]) * A[:, 1] ** 2 + A[:, 2] * A[:, 0] + A[:, 1]


class _Predictor(RegressorMixin, BaseEstimator):
    """``_nonlinear`` as a model object: PyALE needs ``predict``; fitted on a DataFrame it
    is handed DataFrames (category columns included) by whybox too."""

    def __init__(self, g=None):
        self.g = g

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, D):
        A = np.asarray(D, dtype=np.float64)
        if self.g is not None:  # additive: g[code] + sin(x)
            return np.asarray(self.g)[A[:, 0].astype(int)] + np.sin(A[:, 1])
        return _nonlinear(A)


# PyALE computes the same bin means and cumulative sums in double (pandas): measured
# differences at most 6.2e-15; 1e-12 is over 100 times that.
PYALE_TOL = 1e-12


@pytest.fixture(scope="module")
def correlated():
    rng = np.random.default_rng(0)
    n = 500
    a = rng.normal(size=n)
    frame = pd.DataFrame({"a": a, "b": rng.uniform(-1, 1, n) + 0.8 * a, "c": rng.normal(size=n)})
    return frame


def _pyale_edges(x: pd.Series, k: int) -> np.ndarray:
    """PyALE's own bin edges (its R type-1 quantile helper), so both sides use the same bins."""
    from PyALE._src.lib import quantile_ied

    q = np.append(0, np.arange(1 / k, 1 + 1 / k, 1 / k))
    return np.unique([x.min()] + quantile_ied(x, q).to_list())


# ---------------------------------------------------------------------- references
def test_first_order_equals_pyale_on_the_same_bins(correlated):
    pyale = requires("PyALE")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pyale.ale(correlated, _Predictor(), ["b"], grid_size=12, include_CI=False, plot=False)
    ours = accumulated_local_effects(
        _reg(_nonlinear), correlated, "b", n_bins=np.asarray(ref.index, dtype=np.float64)
    )
    assert ours.effect.shape == (1, len(ref))
    assert np.abs(ours.effect[0] - ref["eff"].to_numpy()).max() <= PYALE_TOL
    np.testing.assert_array_equal(ours.counts, ref["size"].to_numpy()[1:])


def test_second_order_equals_pyale_on_the_same_bins_with_empty_cells(correlated):
    ale2d = requires("PyALE._src.ALE_2D")
    K = 8
    e0, e1 = _pyale_edges(correlated["a"], K), _pyale_edges(correlated["b"], K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ale2d.aleplot_2D_continuous(correlated, _Predictor(), ["a", "b"], grid_size=K)
    ours = accumulated_local_effects(_reg(_nonlinear), correlated, ("a", "b"), n_bins=(e0, e1))
    np.testing.assert_allclose(np.asarray(ref.index, dtype=float), ours.grids[0])
    np.testing.assert_allclose(np.asarray(ref.columns, dtype=float), ours.grids[1])
    # a and b are correlated: corner cells are empty and filled from their nearest neighbour
    assert ours.params["n_empty_cells"] > 5
    assert ours.effect.shape == (1, K + 1, K + 1) and ours.counts.shape == (K, K)
    assert np.abs(ours.effect[0] - ref.to_numpy()).max() <= PYALE_TOL


def _aleplot_2d_loops(f, X, j1, j2, z1, z2):
    """ALEPlot's second-order estimator written with plain loops (the reference)."""
    K1, K2 = len(z1) - 1, len(z2) - 1

    def cell(z, v):
        return min(max(int(np.searchsorted(z, v, side="left")) - 1, 0), len(z) - 2)

    sums, b = np.zeros((K1, K2)), np.zeros((K1, K2))
    for row in X:
        k, m = cell(z1, row[j1]), cell(z2, row[j2])
        c = []
        for a1, a2 in [(k, m), (k, m + 1), (k + 1, m), (k + 1, m + 1)]:
            r = row.copy()
            r[j1], r[j2] = z1[a1], z2[a2]
            c.append(f(r[None])[0])
        sums[k, m] += (c[3] - c[2]) - (c[1] - c[0])
        b[k, m] += 1
    delta = np.zeros((K1, K2))
    centre = lambda z, i: (z[i] + z[i + 1]) / 2 / (z[-1] - z[0])  # noqa: E731
    full = [(k, m) for k in range(K1) for m in range(K2) if b[k, m] > 0]
    for k in range(K1):
        for m in range(K2):
            if b[k, m] > 0:
                delta[k, m] = sums[k, m] / b[k, m]
            else:
                d = [(centre(z1, k) - centre(z1, p)) ** 2 + (centre(z2, m) - centre(z2, q)) ** 2
                     for p, q in full]  # fmt: skip
                p, q = full[int(np.argmin(d))]
                delta[k, m] = sums[p, q] / b[p, q]
    F = np.zeros((K1 + 1, K2 + 1))
    for k in range(1, K1 + 1):
        for m in range(1, K2 + 1):
            F[k, m] = F[k - 1, m] + F[k, m - 1] - F[k - 1, m - 1] + delta[k - 1, m - 1]
    f1, f2 = np.zeros(K1 + 1), np.zeros(K2 + 1)
    for k in range(K1):
        step = sum(b[k, m] * (F[k + 1, m] - F[k, m] + F[k + 1, m + 1] - F[k, m + 1]) / 2
                   for m in range(K2))  # fmt: skip
        f1[k + 1] = f1[k] + step / b[k].sum()
    for m in range(K2):
        step = sum(b[k, m] * (F[k, m + 1] - F[k, m] + F[k + 1, m + 1] - F[k + 1, m]) / 2
                   for k in range(K1))  # fmt: skip
        f2[m + 1] = f2[m] + step / b[:, m].sum()
    F = F - f1[:, None] - f2[None, :]
    c0 = sum(b[k, m] * (F[k, m] + F[k + 1, m] + F[k, m + 1] + F[k + 1, m + 1]) / 4
             for k in range(K1) for m in range(K2))  # fmt: skip
    return F - c0 / b.sum()


def test_second_order_equals_a_loop_transcription_of_aleplot():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-2, 2, 250)
    X = np.column_stack([x0, x0 + rng.normal(0, 0.5, 250), rng.normal(size=250)])
    res = accumulated_local_effects(_reg(_nonlinear), X, (0, 1), n_bins=(6, 7))
    z1, z2 = res.grids
    assert len(z1) == 7 and len(z2) == 8 and res.params["n_empty_cells"] > 0
    ref = _aleplot_2d_loops(_nonlinear, X, 0, 1, z1, z2)
    assert np.abs(res.effect[0] - ref).max() <= 1e-10


# ---------------------------------------------------------------------- closed forms
def test_additive_component_is_recovered_exactly():
    """f = sin(x0) + x1^2 + x2/2: every local effect of x1 is z_k^2 - z_{k-1}^2 exactly."""
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(400, 3))
    res = accumulated_local_effects(
        _reg(lambda A: np.sin(A[:, 0]) + A[:, 1] ** 2 + A[:, 2] / 2), X, 1, n_bins=10
    )
    z = res.grids[0]
    mid_weights = res.counts / res.counts.sum()
    centre = (mid_weights * (z[1:] ** 2 + z[:-1] ** 2) / 2).sum()
    np.testing.assert_allclose(res.effect[0], z**2 - centre, atol=1e-12)


def test_ale_follows_the_data_where_partial_dependence_extrapolates():
    """f = x0 + x1 + 10 (x0 - x1)^2 with x1 = x0 + N(0, 0.1^2) (Apley & Zhu's point).

    The ALE step of x0 over bin k is w_k + 10 w_k (z_k + z_{k-1} - 2 mean(x1 | bin k)):
    x1 - x0 has mean 0 in every bin up to noise of sd 0.1 / sqrt(rows per bin) and
    z_k + z_{k-1} - 2 mean(x0 | bin k) is at most w_k, so each step is w_k (1 + e) with
    |e| <= 10 (w_k + 3 * 0.1 / sqrt(100)) ~ 0.9 for 20 bins of 100 rows (w_k ~ 0.05):
    the accumulated curve stays within 0.2 of a line of slope 1 while PD's slope runs
    from about -9 to 11 (PD(z) = z + E x1 + 10 E (z - x1)^2)."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(0, 1, 2000)
    X = np.column_stack([x0, x0 + rng.normal(0, 0.1, 2000)])
    model = _reg(lambda A: A[:, 0] + A[:, 1] + 10 * (A[:, 0] - A[:, 1]) ** 2)
    res = accumulated_local_effects(model, X, 0, n_bins=20)
    z = res.grids[0]
    line = z - z[0]
    dev = (res.effect[0] - res.effect[0][0]) - line
    assert np.abs(dev).max() < 0.2
    slope = np.polyfit(z, res.effect[0], 1)[0]
    assert abs(slope - 1) < 0.15
    pd_res = partial_dependence(model, X, 0, grid="uniform", grid_resolution=21)
    pd_slope = np.diff(pd_res.average[0]) / np.diff(pd_res.grid_values[0])
    assert pd_slope.min() < -5 and pd_slope.max() > 7


def test_second_order_of_an_additive_model_is_zero():
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=300)
    X = np.column_stack([x0, 0.9 * x0 + rng.normal(0, 0.3, 300), rng.normal(size=300)])
    model = _reg(lambda A: np.exp(A[:, 0] / 2) + np.sin(3 * A[:, 1]) + A[:, 2] * A[:, 0])
    res = accumulated_local_effects(model, X, (0, 1), n_bins=10)
    # every second difference is 0 (up to rounding), filled cells too
    assert res.params["n_empty_cells"] > 0
    assert np.abs(res.effect).max() <= 1e-12


def test_second_order_of_a_product_is_the_centred_product():
    """f = x0 x1 on a full factorial of independent draws (every cell holds 5 x 5 rows).

    Each second difference in cell (k, l) is (z_k - z_{k-1})(w_l - w_{l-1}), so the
    accumulated surface is (z - z_0)(w - w_0). With cell counts a product of the
    marginal counts, its main effects are (z - z_0)(wbar - w_0) and (w - w_0)(zbar - z_0),
    wbar the count-weighted mean of the bin midpoints, and removing them and centring
    leaves (z - zbar)(w - wbar) exactly. A third, additive feature changes nothing."""
    rng = np.random.default_rng(5)
    u, v = rng.uniform(0, 1, 40), rng.uniform(-1, 3, 40)
    U, V = np.meshgrid(u, v, indexing="ij")
    X = np.column_stack([U.ravel(), V.ravel(), rng.normal(size=1600)])
    res = accumulated_local_effects(
        _reg(lambda A: A[:, 0] * A[:, 1] + A[:, 2] ** 2), X, (0, 1), n_bins=8
    )
    z, w = res.grids
    assert res.counts.shape == (8, 8) and (res.counts == 25).all()
    zbar = np.average((z[1:] + z[:-1]) / 2, weights=res.counts.sum(axis=1))
    wbar = np.average((w[1:] + w[:-1]) / 2, weights=res.counts.sum(axis=0))
    np.testing.assert_allclose(res.effect[0], np.outer(z - zbar, w - wbar), atol=1e-12)


def test_multi_output_and_output_spaces_match_single_output_runs():

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300) + (X[:, 0] > 0.5)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    res = accumulated_local_effects(clf, X, 0, n_bins=10)
    assert res.output_space == "probability" and res.effect.shape == (4, 11)
    for k in range(4):
        one = accumulated_local_effects(
            adapt_model(lambda A, k=k: clf.predict_proba(A)[:, k], task="regression"), X, 0,
            n_bins=10,
        )  # fmt: skip
        np.testing.assert_allclose(res.effect[k], one.effect[0], atol=1e-12)
    binary = LogisticRegression().fit(X, X[:, 1] > 0)
    logit = accumulated_local_effects(binary, X, (1, 2), n_bins=6, output="log_odds")
    assert logit.output_space == "log_odds" and logit.effect.shape == (1, 7, 7)
    # the log-odds are linear, so the pure interaction vanishes
    assert np.abs(logit.effect).max() <= 1e-9
    margin = accumulated_local_effects(binary, X, 1, n_bins=6, output="log_odds")
    z = margin.grids[0]
    slope = binary.coef_[0, 1]
    np.testing.assert_allclose(np.diff(margin.effect[0]), slope * np.diff(z), atol=1e-10)


# ---------------------------------------------------------------------- categorical
def test_categorical_levels_follow_mds_of_ks_and_share_distances():
    rng = np.random.default_rng(7)
    n = 800
    rank = rng.integers(0, 4, n)
    names = np.array(["delta", "alpha", "charlie", "bravo"])  # rank order is not sorted order
    colour = np.where(rng.uniform(size=n) < 0.2 + 0.2 * rank, "red", "blue")
    frame = pd.DataFrame({"g": names[rank], "x": rank + rng.normal(0, 0.5, n), "colour": colour})
    data = adapt_data(frame)
    lv = np.array(sorted(set(names)), dtype=object)
    codes = pd.Index(lv).get_indexer(frame["g"])
    D = _level_distances(data, 0, codes, 4)
    for p in range(4):
        for q in range(4):
            a, b = frame[codes == p], frame[codes == q]
            ks = ks_2samp(a["x"], b["x"]).statistic
            tv = abs((a["colour"] == "red").mean() - (b["colour"] == "red").mean())
            assert D[p, q] == pytest.approx(ks + tv, abs=1e-12)
    order = list(order_levels(data, 0))
    assert order in (list(names), list(names[::-1]))


def test_categorical_effect_is_exact_for_an_additive_model_and_ordered_categories():
    rng = np.random.default_rng(8)
    n = 500
    code = rng.integers(0, 5, n)
    g = np.array([0.0, 2.0, -1.0, 0.5, 3.0])
    X = np.column_stack([code, rng.normal(size=n)]).astype(np.float64)
    model = _reg(lambda A: g[A[:, 0].astype(int)] + np.sin(A[:, 1]))
    # integer codes treated as categories: the effect is g in the accumulation order
    res = accumulated_local_effects(model, X, 0, categorical_features=[0])
    assert res.categorical and sorted(res.grids[0]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    gi = g[np.asarray(res.grids[0], dtype=int)]
    np.testing.assert_array_equal(res.counts, np.bincount(code)[res.grids[0].astype(int)])
    np.testing.assert_allclose(res.effect[0], gi - (gi * res.counts).sum() / n, atol=1e-12)
    # an ordered pandas Categorical keeps its order
    cats = [3, 1, 4, 0, 2]
    frame = pd.DataFrame({"c": pd.Categorical(code, categories=cats, ordered=True), "x": X[:, 1]})
    res2 = accumulated_local_effects(_Predictor(g).fit(frame), frame, "c")
    assert list(res2.grids[0]) == cats
    gi2 = g[cats]
    np.testing.assert_allclose(res2.effect[0], gi2 - (gi2 * res2.counts).sum() / n, atol=1e-12)


def test_categorical_in_sorted_order_equals_pyale_discrete():
    lib = requires("PyALE._src.ALE_1D")
    rng = np.random.default_rng(9)
    n = 400
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.integers(0, 6, n), "c": rng.normal(size=n)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lib.aleplot_1D_discrete(frame, _Predictor(), "b", include_CI=False)
    ordered = frame.assign(b=pd.Categorical(frame["b"], categories=range(6), ordered=True))
    ours = accumulated_local_effects(_Predictor().fit(ordered), ordered, "b")
    assert list(ours.grids[0]) == list(ref.index)
    assert np.abs(ours.effect[0] - ref["eff"].to_numpy()).max() <= PYALE_TOL


# ---------------------------------------------------------------------- bootstrap
def _counting(f):
    calls = []

    def g(A):
        calls.append(len(A))
        return f(np.asarray(A, dtype=np.float64))

    return adapt_model(g, task="regression"), calls


@pytest.mark.parametrize("features", [0, (0, 1)])
def test_bootstrap_equals_rerunning_on_resampled_rows(features):
    """Resampling the per-row local effects is the estimator re-run on the resampled
    rows with the same bins: the same percentiles, without a model call."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(120, 3))
    X[:, 1] += 0.7 * X[:, 0]
    model, calls = _counting(_nonlinear)
    plain = accumulated_local_effects(model, X, features, n_bins=5)
    n_plain = list(calls)
    calls.clear()
    boot = accumulated_local_effects(
        model, X, features, n_bins=5, n_bootstrap=40, confidence_level=0.8, random_state=3
    )
    assert calls == n_plain and calls[-1] == (4 if isinstance(features, tuple) else 2) * len(X)
    np.testing.assert_allclose(boot.effect, plain.effect, atol=1e-14)
    draws = np.random.default_rng(3)
    edges = plain.grids if isinstance(features, tuple) else plain.grids[0]
    curves = []
    for _ in range(40):
        rows = draws.integers(0, len(X), len(X))
        curves.append(accumulated_local_effects(model, X[rows], features, n_bins=edges).effect)
    lo, hi = np.quantile(np.stack(curves), [0.1, 0.9], axis=0)
    assert np.abs(boot.lower - lo).max() <= 1e-9 and np.abs(boot.upper - hi).max() <= 1e-9


def test_bootstrap_band_contains_estimate_narrows_with_rows_and_is_seeded(monkeypatch):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(2000, 3))
    model = _reg(lambda A: np.tanh(A[:, 0]) * 2 + A[:, 1] * A[:, 2] + A[:, 0] * A[:, 1])
    for feats in (0, (0, 1)):
        big = accumulated_local_effects(model, X, feats, n_bins=8, n_bootstrap=100, random_state=0)
        small = accumulated_local_effects(
            model, X[:200], feats, n_bins=8, n_bootstrap=100, random_state=0
        )
        assert np.all(big.lower <= big.effect + 1e-12) and np.all(big.effect <= big.upper + 1e-12)
        assert np.mean(small.upper - small.lower) > 2 * np.mean(big.upper - big.lower)
        again = accumulated_local_effects(
            model, X, feats, n_bins=8, n_bootstrap=100, random_state=0
        )
        np.testing.assert_array_equal(big.lower, again.lower)
        other = accumulated_local_effects(
            model, X, feats, n_bins=8, n_bootstrap=100, random_state=1
        )
        assert not np.array_equal(big.lower, other.lower)
    # the resamples are drawn in one order whatever the memory block size
    monkeypatch.setattr(_ale, "_BOOT_CELLS", 1)
    tiny = accumulated_local_effects(model, X, (0, 1), n_bins=8, n_bootstrap=100, random_state=0)
    np.testing.assert_allclose(tiny.lower, big.lower, atol=1e-12)


def test_batch_size_bounds_calls_and_never_changes_the_result():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(90, 3))
    model, calls = _counting(_nonlinear)
    ref = accumulated_local_effects(model, X, (0, 2), n_bins=4)
    calls.clear()
    small = accumulated_local_effects(model, X, (0, 2), n_bins=4, batch_size=50)
    assert max(calls[1:]) <= 50 and sum(calls[1:]) == 4 * 90
    np.testing.assert_allclose(small.effect, ref.effect, atol=1e-13)


# ---------------------------------------------------------------------- results, plots
def test_result_frames_dicts_and_plots(correlated):
    import json

    model = _reg(_nonlinear)
    one = accumulated_local_effects(
        model, correlated, "a", n_bins=6, n_bootstrap=20, random_state=0
    )
    pair = accumulated_local_effects(model, correlated, ("a", "c"), n_bins=5)
    assert one.feature_name == "a" and one.grid_values is one.grids[0] and one.order == 1
    with pytest.raises(InputError, match="feature_names"):
        getattr(pair, "feature_name")  # noqa: B009
    frame = pair.to_frame()
    assert list(frame.columns) == ["a", "c", "output", "effect"] and len(frame) == 36
    row = frame.iloc[7]
    assert row["effect"] == pair.effect[0, 1, 1]
    assert row["a"] == pair.grids[0][1] and row["c"] == pair.grids[1][1]
    assert {"lower", "upper"} <= set(one.to_frame().columns)
    d = json.loads(json.dumps(pair.to_dict()))
    assert d["feature_names"] == ["a", "c"] and np.shape(d["effect"]) == (1, 6, 6)
    assert d["params"]["n_bins"] == [5, 5] and isinstance(d["grids"][0][0], float)

    fig = plot_ale(one)
    ax = fig.axes[0]
    assert "95% bootstrap band" in [t.get_text() for t in ax.get_legend().get_texts()]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), one.effect[0])
    rug = [ln for ln in ax.get_lines() if ln.get_gid() == "rug:x"][0]
    np.testing.assert_allclose(rug.get_xdata(), one.grids[0])
    fig2 = plot_ale(pair)
    assert len(fig2.axes) == 2  # heatmap and colour bar
    mesh = [c for c in fig2.axes[0].collections if c.get_gid() == "ale:heatmap"][0]
    np.testing.assert_allclose(mesh.get_array().reshape(6, 6), pair.effect[0].T)
    assert fig2.axes[0].get_xlabel() == "a" and fig2.axes[0].get_ylabel() == "c"
    coded = correlated.assign(a=(correlated["a"] > 0).astype(float))
    cat = accumulated_local_effects(model, coded, "a", categorical_features="a")
    fig3 = plot_ale(cat)
    ticks = [t.get_text() for t in fig3.axes[0].get_xticklabels()]
    assert ticks == [str(v) for v in cat.grids[0]] and len(ticks) == 2
    with pytest.raises(InputError, match="AccumulatedLocalEffects"):
        plot_ale(frame)
    with pytest.raises(InputError, match="target"):
        plot_ale(one, target="nope")
    assert isinstance(one, AccumulatedLocalEffects)


# ---------------------------------------------------------------------- bad input
def test_bad_input(correlated):
    model = _reg(_nonlinear)
    X = correlated
    with pytest.raises(InputError, match="not a column"):
        accumulated_local_effects(model, X, "nope")
    with pytest.raises(InputError, match="one feature or a pair"):
        accumulated_local_effects(model, X, ["a", "b", "c"])
    with pytest.raises(InputError, match="twice"):
        accumulated_local_effects(model, X, ("a", "a"))
    with pytest.raises(InputError, match="single value"):
        accumulated_local_effects(model, X.assign(c=1.0), ("a", "c"))
    with pytest.raises(InputError, match="needs at least 40 rows"):
        accumulated_local_effects(model, X[:30], "a", n_bins=20)
    with pytest.raises(InputError, match="needs at least 20 rows"):
        accumulated_local_effects(model, X[:15], ("a", "b"), n_bins=(3, 10))
    with pytest.raises(InputError, match="at least 10 rows"):
        accumulated_local_effects(model, X[:8], "a", n_bins=2, n_bootstrap=10)
    with pytest.raises(InputError, match="categorical.*two numeric"):
        accumulated_local_effects(model, X, ("a", "b"), categorical_features="b")
    with pytest.raises(InputError, match="bins"):
        accumulated_local_effects(model, X, "a", n_bins=[1.0, 0.5])
    with pytest.raises(InputError, match="bins"):
        accumulated_local_effects(model, X, "a", n_bins=0)
    with pytest.raises(InputError, match=r"bins\[1\]"):
        accumulated_local_effects(model, X, ("a", "b"), n_bins=(5, [0.0]))
    with pytest.raises(InputError, match="pair"):
        accumulated_local_effects(model, X, ("a", "b"), n_bins=(5, 5, 5))
    with pytest.raises(InputError, match="n_bootstrap"):
        accumulated_local_effects(model, X, "a", n_bootstrap=1)
    with pytest.raises(InputError, match="n_bootstrap"):
        accumulated_local_effects(model, X, "a", n_bootstrap=-3)
    with pytest.raises(InputError, match="confidence_level"):
        accumulated_local_effects(model, X, "a", n_bootstrap=10, confidence_level=1.0)
    with pytest.raises(InputError, match="categorical_features"):
        accumulated_local_effects(model, X, "a", categorical_features=["zz"])


def test_ale_equals_pyale_on_the_same_bins(regression):
    pyale = requires("PyALE")
    model, X = regression
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pyale.ale(frame, model, ["a"], grid_size=10, include_CI=False, plot=False)
    edges = np.asarray(ref.index, dtype=np.float64)
    ours = accumulated_local_effects(model, frame, "a", n_bins=edges)
    # PyALE computes in double (pandas): measured 1.8e-15
    assert np.abs(ours.effect[0] - ref["eff"].to_numpy()).max() <= 1e-12
    # default edges: the minimum and the k/10 quantiles (inverse empirical CDF, R's type 1),
    # each a value of the data; PyALE's own quantile rule differs slightly (n - 1 in place of n)
    default = accumulated_local_effects(model, frame, "a", n_bins=10)
    assert len(default.grid_values) == 11 and np.isin(default.grid_values, frame["a"]).all()
    assert (
        default.grid_values[0] == frame["a"].min() and default.grid_values[-1] == frame["a"].max()
    )
    assert default.counts.sum() == len(frame) and default.counts.min() >= 25


def test_ale_of_an_additive_model_is_the_centred_component():
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, size=(400, 3))
    model = adapt_model(additive, task="regression")
    res = accumulated_local_effects(model, X, 1, n_bins=8)
    z = res.grid_values
    # local effects are exactly g(z_k) - g(z_{k-1}), so the steps equal the component's
    np.testing.assert_allclose(np.diff(res.effect[0]), np.diff(z**2), atol=1e-12)
    # centred: the count-weighted mean of the bin midpoint values is 0
    mid = (res.effect[0][1:] + res.effect[0][:-1]) / 2
    assert abs((mid * res.counts).sum()) <= 1e-9
    assert res.counts.sum() == 400


def test_ale_is_right_under_correlation_where_pd_extrapolates():
    """f = x0 + x1 + 10 (x0 - x1)^2 with x1 = x0 + N(0, 0.01): on the data the effect of x0
    has slope 1 (the square is ~0); PD sets x0 far from x1 and sees a parabola."""
    rng = np.random.default_rng(6)
    x0 = rng.uniform(0, 1, 2000)
    X = np.column_stack([x0, x0 + rng.normal(0, 0.01, 2000)])
    model = adapt_model(
        lambda A: A[:, 0] + A[:, 1] + 10 * (A[:, 0] - A[:, 1]) ** 2, task="regression"
    )
    ale = accumulated_local_effects(model, X, 0, n_bins=20)
    z = ale.grid_values
    # within a bin of width w the square adds 10 w (z_k + z_{k-1} - 2 x1) per row, which
    # averages to ~0 with |error| bounded by a few times 10 * w * 0.01 per bin
    assert (
        np.abs(ale.effect[0] - (z - z.mean()) - (ale.effect[0] - (z - z.mean())).mean()).max()
        < 0.05
    )
    pd_res = partial_dependence(model, X, 0, grid="uniform", grid_resolution=21)
    g = pd_res.grid_values[0]
    slope = np.diff(pd_res.average[0]) / np.diff(g)
    # PD(z) = z + mean(x1) + 10 mean((z - x1)^2): slope 1 + 20 (z - mean(x1)), -9 to 11
    assert slope.max() - slope.min() > 15


def test_ale_bootstrap_band_costs_no_model_calls_and_is_seeded():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3))
    calls = []

    def f(A):
        calls.append(len(A))
        return np.tanh(A[:, 0]) * 2 + A[:, 1] * A[:, 2]

    model = adapt_model(f, task="regression")
    calls.clear()
    plain = accumulated_local_effects(model, X, 0, n_bins=10)
    n_plain = list(calls)
    calls.clear()
    boot = accumulated_local_effects(model, X, 0, n_bins=10, n_bootstrap=200, random_state=0)
    # the same calls: check_data's probe of X, then one call for both edges of every row
    assert calls == n_plain and calls[-1] == 2 * len(X)
    np.testing.assert_allclose(boot.effect, plain.effect)
    assert np.all(boot.lower <= boot.effect + 1e-12) and np.all(boot.effect <= boot.upper + 1e-12)
    again = accumulated_local_effects(model, X, 0, n_bins=10, n_bootstrap=200, random_state=0)
    np.testing.assert_array_equal(boot.lower, again.lower)
    few = accumulated_local_effects(model, X[:60], 0, n_bins=10, n_bootstrap=200, random_state=0)
    assert np.mean(few.upper - few.lower) > np.mean(boot.upper - boot.lower)


def test_ale_categorical_orders_levels_and_recovers_an_additive_effect():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(8)
    n = 600
    rank = rng.integers(0, 4, n)
    names = np.array(["low", "mid", "high", "top"])  # sorted order differs from rank order
    frame = pd.DataFrame({"size": rank * 1.0 + rng.normal(0, 0.3, n), "level": names[rank]})
    y = 0.5 * frame["size"] + pd.Series([0.0, 1.0, 3.0, 2.0])[rank].to_numpy()
    pre = ColumnTransformer([("oh", OneHotEncoder(), ["level"])], remainder="passthrough")
    model = make_pipeline(pre, LinearRegression()).fit(frame, y)  # additive in the level
    res = accumulated_local_effects(model, frame, "level")
    order = list(res.grid_values)
    assert order in (["low", "mid", "high", "top"], ["top", "high", "mid", "low"])
    coef = dict(zip(pre.get_feature_names_out(), model[-1].coef_, strict=False))
    g = np.array([coef[f"oh__level_{v}"] for v in order])
    counts = np.array([(frame["level"] == v).sum() for v in order])
    np.testing.assert_array_equal(res.counts, counts)
    np.testing.assert_allclose(res.effect[0], g - (g * counts).sum() / counts.sum(), atol=1e-9)


def test_ale_bad_input(regression):
    model, X = regression
    with pytest.raises(InputError, match="bins"):
        accumulated_local_effects(model, X, 0, n_bins=[1.0, 0.5])
    with pytest.raises(InputError, match="needs at least 40 rows"):
        accumulated_local_effects(model, X[:30], 0, n_bins=20)
    with pytest.raises(InputError, match="n_bootstrap"):
        accumulated_local_effects(model, X, 0, n_bootstrap=1)
    with pytest.raises(InputError, match="confidence_level"):
        accumulated_local_effects(model, X, 0, n_bootstrap=10, confidence_level=1.5)
    with pytest.raises(InputError, match="at least 10 rows"):
        accumulated_local_effects(model, X[:8], 0, n_bins=2, n_bootstrap=10)
    const = X.copy()
    const[:, 1] = 0.0
    with pytest.raises(InputError, match="single value"):
        accumulated_local_effects(model, const, 1)
