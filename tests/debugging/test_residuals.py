"""Regression residual analysis: scipy's tests, brute-force bins, misspecified models found."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests._requires import requires
from whybox._exceptions import InputError
from whybox.debugging._residuals import residual_analysis
from whybox.plots._residuals import residuals as plot_residuals


class _FirstColumn(RegressorMixin, BaseEstimator):
    """Predicts the column "a" of a frame and ignores everything else."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict(self, X):
        return np.asarray(pd.DataFrame(X)["a"], dtype=float)


def _brute_bins(x, n_bins):
    """Bin k holds edges[k] <= x < edges[k+1] (the last bin closed), row by row."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    out = np.empty(len(x), dtype=int)
    for i, v in enumerate(x):
        k = 0
        while k < len(edges) - 2 and v >= edges[k + 1]:
            k += 1
        out[i] = k
    return out


def _misspecified(seed, n=1200):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(2 * n, 3))
    y = X[:, 0] + 2 * X[:, 1] ** 2 + 0.5 * X[:, 2] + rng.normal(0, 0.3, 2 * n)
    model = LinearRegression().fit(X[:n], y[:n])
    return model, X[n:], y[n:]


@pytest.mark.parametrize(
    ("test", "reference"),
    [
        ("welch", lambda g: stats.f_oneway(*g, equal_var=False)),
        ("anova", lambda g: stats.f_oneway(*g)),
        ("kruskal", lambda g: stats.kruskal(*g)),
    ],
)
def test_statistics_equal_scipy_on_brute_force_bins(test, reference):
    multitest = requires("statsmodels.stats.multitest")  # Holm reference
    model, X, y = _misspecified(0, n=500)
    res = residual_analysis(model, X, y, n_bins=4, test=test)
    resid = model.predict(X) - y
    np.testing.assert_allclose(res.residuals, resid, rtol=0, atol=1e-12)
    for j in range(3):
        fr = res[f"x{j}"]
        bins = _brute_bins(X[:, j], 4)
        groups = [resid[bins == k] for k in range(4)]
        ref = reference(groups)
        assert fr.test == test
        # scipy computes the same statistic in double: measured 9e-16 relative. A p-value
        # far in the tail (here down to 1e-90) multiplies that relative error by
        # |d log p / d log F| (measured 1.3e-13 relative); 1e-10 leaves 700 times that.
        assert fr.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert fr.p_value == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-300)
        frame = pd.DataFrame({"b": bins, "r": resid, "a": np.abs(resid)}).groupby("b")
        np.testing.assert_array_equal(fr.count, frame.size().to_numpy())
        np.testing.assert_allclose(fr.mean_residual, frame["r"].mean(), atol=1e-12)
        np.testing.assert_allclose(fr.mae, frame["a"].mean(), atol=1e-12)
        np.testing.assert_allclose(fr.std_residual, frame["r"].std(ddof=1), atol=1e-12)
        between = sum(len(g) * (g.mean() - resid.mean()) ** 2 for g in groups)
        assert fr.effect_size == pytest.approx(between / np.sum((resid - resid.mean()) ** 2))
    ps = [res[f"x{j}"].p_value for j in range(3)]
    holm = multitest.multipletests(ps, method="holm")[1]
    np.testing.assert_allclose([res[f"x{j}"].adjusted_p_value for j in range(3)], holm)


def test_a_missing_quadratic_term_ranks_its_feature_first():
    model, X, y = _misspecified(1)
    res = residual_analysis(model, X, y)
    top = res.features[0]
    assert top.feature == "x1" and top.adjusted_p_value < 1e-10
    # y has +2 x1^2 the linear model cannot follow: it under-predicts at both ends
    # (negative residual predicted - true) and over-predicts in the middle.
    assert top.mean_residual[0] < 0 and top.mean_residual[-1] < 0
    assert top.mean_residual[2] > 0
    assert top.effect_size > 0.5
    assert res.significant[0] == "x1"
    assert list(res.to_frame()["feature"])[0] == "x1"
    assert res.summary.bias == pytest.approx(np.mean(model.predict(X) - y))


def test_well_specified_model_flags_no_feature_in_most_seeds():
    """The true function, noise growing along x0 (Welch's case): P(any flagged) <= significance.

    The model is the data's own mean function, so the null hypothesis holds exactly (a
    model fitted on few rows carries its coefficients' error, a real bias).
    """
    beta = np.array([1.0, -2.0, 0.5, 0.0])
    flagged = 0
    seeds = 20
    for seed in range(seeds):
        rng = np.random.default_rng(200 + seed)
        X = rng.uniform(-1, 1, size=(600, 4))
        y = X @ beta + rng.normal(0, 0.2 + 0.8 * np.abs(X[:, 0]))
        res = residual_analysis(lambda A: np.asarray(A) @ beta, X, y, significance=0.05)
        flagged += bool(res.significant)
    # P(flagged >= 4) for flagged ~ Binomial(20, 0.05) is 0.016
    assert flagged <= 3, stats.binom.sf(flagged - 1, seeds, 0.05)


def test_fitted_well_specified_model_on_many_rows_is_not_flagged():
    rng = np.random.default_rng(9)
    X = rng.uniform(-1, 1, size=(20600, 3))
    y = X @ np.array([2.0, 0.0, -1.0]) + rng.normal(0, 0.5, len(X))
    model = LinearRegression().fit(X[:20000], y[:20000])
    res = residual_analysis(model, X[20000:], y[20000:], test="kruskal")
    assert res.significant == ()
    assert all(f.adjusted_p_value > 0.05 for f in res.features)


def test_categorical_offset_missing_values_and_few_distinct_values():
    rng = np.random.default_rng(3)
    n = 1500
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "cat": rng.choice(["u", "v", "w"], size=n),
            "gappy": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(size=n)),
            "level": rng.choice([1.0, 2.0, 3.0], size=n),
        }
    )
    y = frame["a"] + 1.0 * (frame["cat"] == "v") + rng.normal(0, 0.3, n)
    res = residual_analysis(_FirstColumn().fit(frame), frame, y)
    top = res.features[0]
    assert top.feature == "cat" and top.kind == "categorical"
    assert top.labels == ("u", "v", "w") and top.adjusted_p_value < 1e-10
    resid = frame["a"] - y
    expected = resid.groupby(frame["cat"]).mean()
    np.testing.assert_allclose(top.mean_residual, expected.loc[["u", "v", "w"]], atol=1e-12)
    assert top.mean_residual[1] == pytest.approx(-1.0, abs=0.06)
    gappy = res["gappy"]
    assert gappy.labels[-1] == "missing"
    assert gappy.count[-1] == frame["gappy"].isna().sum() and gappy.count.sum() == n
    miss = resid[frame["gappy"].isna()]
    assert gappy.mean_residual[-1] == pytest.approx(miss.mean())
    assert res["level"].labels == ("1", "2", "3")
    json.dumps(res.to_dict())
    bins = res.bins_frame()
    assert len(bins) == sum(len(f.labels) for f in res.features)
    assert set(bins.columns) >= {"feature", "bin", "count", "mean_residual", "mae"}


def test_degenerate_cases_do_not_fail():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 2))
    y = 3 * X[:, 0] - X[:, 1]
    exact = LinearRegression().fit(X, y)
    res = residual_analysis(exact, X, y)
    # residuals are rounding noise: nothing is tested, nothing claimed
    assert res.summary.mae < 1e-12 and res.significant == ()
    assert all(np.isnan(f.p_value) for f in res.features) and "rounding" in res.notes[0]
    constant = residual_analysis(
        lambda A: np.asarray(A, dtype=float)[:, 0] + 1.0, X, X[:, 0], test="welch"
    )
    assert all(np.isnan(f.p_value) for f in constant.features)
    assert constant.significant == ()
    assert constant.to_frame()["worst_bias"].iloc[0] == pytest.approx(1.0)
    # one bin with no spread: Welch's weights are undefined, the F-test is used and named
    X2 = np.column_stack([np.repeat([0.0, 1.0, 2.0], 50), rng.normal(size=150)])
    y2 = np.where(X2[:, 0] == 0, 0.0, rng.normal(size=150))
    fallback = residual_analysis(lambda A: np.zeros(len(A)), X2, y2)
    assert fallback["x0"].test.startswith("anova")
    groups = [y2[X2[:, 0] == v] for v in (0.0, 1.0, 2.0)]
    assert fallback["x0"].statistic == pytest.approx(stats.f_oneway(*groups).statistic)


def test_plot_draws_the_bin_means_and_the_test():
    model, X, y = _misspecified(5, n=400)
    res = residual_analysis(model, X, y)
    fig = plot_residuals(res)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, res.features[0].mean_residual)
    assert "x1" in ax.get_title() and "p = " in ax.get_title()
    fig = plot_residuals(res, "x2")
    assert fig.axes[0].get_xlabel() == "x2"
    with pytest.raises(InputError, match="feature must be"):
        plot_residuals(res, "nope")
    with pytest.raises(InputError, match="feature must be"):
        plot_residuals(res, 7)
    with pytest.raises(InputError, match="ResidualAnalysis"):
        plot_residuals(model)


def test_bad_input():
    model, X, y = _misspecified(6, n=100)
    with pytest.raises(InputError, match="regressor"):
        residual_analysis(LogisticRegression().fit(X, y > 0), X, y > 0)
    with pytest.raises(InputError, match="n_bins"):
        residual_analysis(model, X, y, n_bins=1)
    with pytest.raises(InputError, match="test must be one of"):
        residual_analysis(model, X, y, test="t")
    with pytest.raises(InputError, match="significance"):
        residual_analysis(model, X, y, significance=1.5)
    with pytest.raises(InputError, match="y has 10 values"):
        residual_analysis(model, X, y[:10])
    with pytest.raises(InputError, match="numbers"):
        residual_analysis(model, X, np.array(["a"] * len(y), dtype=object))
    two = LinearRegression().fit(X, np.column_stack([y, y]))
    with pytest.raises(InputError, match="one regression target"):
        residual_analysis(two, X, y)
