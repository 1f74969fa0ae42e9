"""Partial dependence, ICE, ALE and the H-statistic: references, closed forms, errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
from _requires import requires
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox import plots
from whybox._exceptions import InputError
from whybox.adapters import adapt_model
from whybox.inspection import accumulated_local_effects, h_statistic, partial_dependence


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] ** 2 + X[:, 1] * X[:, 2] + rng.normal(0, 0.1, 300)
    return GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def multiclass():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y), X


def _additive(X):
    X = np.asarray(X, dtype=np.float64)
    return np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]


# ---------------------------------------------------------------------- partial dependence
def test_pd_and_ice_equal_scikit_learn_regression(regression):
    model, X = regression
    ref = sk_partial_dependence(model, X, [0], kind="both", method="brute", grid_resolution=25)
    ours = partial_dependence(model, X, 0, kind="both", grid_resolution=25)
    np.testing.assert_array_equal(ours.grid_values[0], ref["grid_values"][0])
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    assert ours.output_space == "raw" and ours.individual.shape == (1, 300, 25)


def test_pd_multiclass_probabilities_and_two_way_equal_scikit_learn(multiclass):
    model, X = multiclass
    ref = sk_partial_dependence(model, X, [1], kind="both", method="brute", grid_resolution=15)
    ours = partial_dependence(model, X, "x1", kind="both", grid_resolution=15)
    assert ours.average.shape == (3, 15) and ours.output_space == "probability"
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    ref2 = sk_partial_dependence(model, X, [(0, 1)], method="brute", grid_resolution=8)
    ours2 = partial_dependence(model, X, (0, 1), grid_resolution=8)
    assert ours2.average.shape == (3, 8, 8)
    assert np.abs(ours2.average - ref2["average"]).max() <= 1e-9
    frame = ours2.to_frame()
    assert len(frame) == 3 * 64 and {"x0", "x1", "output", "average"} <= set(frame.columns)


def test_pd_pipeline_with_categorical_column_equals_scikit_learn():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"num": rng.normal(size=200), "cat": rng.choice(["a", "b", "c"], size=200)}
    )
    y = ((frame["num"] > 0) ^ (frame["cat"] == "b")).astype(int)
    pre = ColumnTransformer([("oh", OneHotEncoder(), ["cat"])], remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression()).fit(frame, y)
    ref = sk_partial_dependence(
        model, frame, ["cat"], categorical_features=["cat"], kind="both", method="brute"
    )
    ours = partial_dependence(model, frame, "cat", kind="both")
    assert list(ours.grid_values[0]) == ["a", "b", "c"] and ours.categorical == (True,)
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    with pytest.raises(InputError, match="categorical"):
        partial_dependence(model, frame, "cat", grid="uniform")


def test_pd_of_an_additive_model_is_the_component_and_ice_is_parallel():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(150, 3))
    model = adapt_model(_additive, task="regression")
    res = partial_dependence(
        model, X, 1, kind="both", grid="uniform", grid_resolution=11, centered=True
    )
    z = res.grid_values[0]
    np.testing.assert_allclose(res.grid_values[0][[0, -1]], [X[:, 1].min(), X[:, 1].max()])
    # centred: g2(z) - g2(z_0) for the average and for every single row (parallel ICE)
    np.testing.assert_allclose(res.average[0], z**2 - z[0] ** 2, atol=1e-12)
    np.testing.assert_allclose(res.individual[0], np.tile(z**2 - z[0] ** 2, (150, 1)), atol=1e-12)
    plain = partial_dependence(model, X, 1, grid="uniform", grid_resolution=11)
    rest = np.sin(X[:, 0]) + 0.5 * X[:, 2]
    np.testing.assert_allclose(plain.average[0], z**2 + rest.mean(), atol=1e-12)


def test_pd_batch_size_and_sample_weight(regression):
    model, X = regression
    full = partial_dependence(model, X, 2, kind="both", grid_resolution=10)
    small = partial_dependence(model, X, 2, kind="both", grid_resolution=10, batch_size=7)
    np.testing.assert_array_equal(full.individual, small.individual)
    w = np.random.default_rng(4).uniform(0, 2, size=len(X))
    ref = sk_partial_dependence(model, X, [2], method="brute", grid_resolution=10, sample_weight=w)
    ours = partial_dependence(model, X, 2, grid_resolution=10, sample_weight=w)
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9


def test_pd_bad_input(regression):
    model, X = regression
    frame = pd.DataFrame(X, columns=["age", "income", "debt", "score"])
    with pytest.raises(InputError, match="'incme'.*closest.*income"):
        partial_dependence(model, frame, "incme")
    const = X.copy()
    const[:, 3] = 1.0
    with pytest.raises(InputError, match="single value"):
        partial_dependence(model, const, 3)
    with pytest.raises(InputError, match="kind"):
        partial_dependence(model, X, 0, kind="mean")
    with pytest.raises(InputError, match="grid_resolution"):
        partial_dependence(model, X, 0, grid_resolution=1)
    with pytest.raises(InputError, match="percentiles"):
        partial_dependence(model, X, 0, percentiles=(0.9, 0.1))
    with pytest.raises(InputError, match="one feature or a pair"):
        partial_dependence(model, X, [0, 1, 2])
    with pytest.raises(InputError, match="position 9"):
        partial_dependence(model, X, 9)


# ---------------------------------------------------------------------- ALE
def test_ale_equals_pyale_on_the_same_bins(regression):
    pyale = requires("PyALE")
    model, X = regression
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pyale.ale(frame, model, ["a"], grid_size=10, include_CI=False, plot=False)
    edges = np.asarray(ref.index, dtype=np.float64)
    ours = accumulated_local_effects(model, frame, "a", bins=edges)
    # PyALE computes in double (pandas): measured 1.8e-15
    assert np.abs(ours.effect[0] - ref["eff"].to_numpy()).max() <= 1e-12
    # default edges: the minimum and the k/10 quantiles (inverse empirical CDF, R's type 1),
    # each a value of the data; PyALE's own quantile rule differs slightly (n - 1 in place of n)
    default = accumulated_local_effects(model, frame, "a", bins=10)
    assert len(default.grid_values) == 11 and np.isin(default.grid_values, frame["a"]).all()
    assert (
        default.grid_values[0] == frame["a"].min() and default.grid_values[-1] == frame["a"].max()
    )
    assert default.counts.sum() == len(frame) and default.counts.min() >= 25


def test_ale_of_an_additive_model_is_the_centred_component():
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, size=(400, 3))
    model = adapt_model(_additive, task="regression")
    res = accumulated_local_effects(model, X, 1, bins=8)
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
    ale = accumulated_local_effects(model, X, 0, bins=20)
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
    plain = accumulated_local_effects(model, X, 0, bins=10)
    n_plain = list(calls)
    calls.clear()
    boot = accumulated_local_effects(model, X, 0, bins=10, n_bootstrap=200, random_state=0)
    # the same calls: check_data's probe of X, then one call for both edges of every row
    assert calls == n_plain and calls[-1] == 2 * len(X)
    np.testing.assert_allclose(boot.effect, plain.effect)
    assert np.all(boot.lower <= boot.effect + 1e-12) and np.all(boot.effect <= boot.upper + 1e-12)
    again = accumulated_local_effects(model, X, 0, bins=10, n_bootstrap=200, random_state=0)
    np.testing.assert_array_equal(boot.lower, again.lower)
    few = accumulated_local_effects(model, X[:60], 0, bins=10, n_bootstrap=200, random_state=0)
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
        accumulated_local_effects(model, X, 0, bins=[1.0, 0.5])
    with pytest.raises(InputError, match="needs at least 40 rows"):
        accumulated_local_effects(model, X[:30], 0, bins=20)
    with pytest.raises(InputError, match="n_bootstrap"):
        accumulated_local_effects(model, X, 0, n_bootstrap=1)
    with pytest.raises(InputError, match="confidence_level"):
        accumulated_local_effects(model, X, 0, n_bootstrap=10, confidence_level=1.5)
    with pytest.raises(InputError, match="at least 10 rows"):
        accumulated_local_effects(model, X[:8], 0, bins=2, n_bootstrap=10)
    const = X.copy()
    const[:, 1] = 0.0
    with pytest.raises(InputError, match="single value"):
        accumulated_local_effects(model, const, 1)


# ---------------------------------------------------------------------- H-statistic
def _h_brute(f, X, j, k):
    """Friedman & Popescu's pairwise H^2 by plain loops over the rows."""
    n = len(X)

    def pd(cols, point):
        Z = X.copy()
        Z[:, cols] = point
        return f(Z).mean()

    pjk = np.array([pd([j, k], X[i, [j, k]]) for i in range(n)])
    pj = np.array([pd([j], X[i, j]) for i in range(n)])
    pk = np.array([pd([k], X[i, k]) for i in range(n)])
    pjk, pj, pk = pjk - pjk.mean(), pj - pj.mean(), pk - pk.mean()
    return ((pjk - pj - pk) ** 2).sum() / (pjk**2).sum()


def test_h_statistic_closed_forms_and_brute_force():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(40, 3))
    additive = adapt_model(_additive, task="regression")
    res = h_statistic(additive, X, pairs="all")
    assert np.abs(res.overall).max() <= 1e-12
    assert np.nanmax(np.abs(res.pairwise)) <= 1e-12
    # f = x0 x1 on exactly centred columns: PD_0 = x0 mean(x1) = 0, so all of it is interaction
    C = X - X.mean(axis=0)
    product = adapt_model(lambda A: A[:, 0] * A[:, 1], task="regression")
    res = h_statistic(product, C, pairs=[("x0", "x1")])
    np.testing.assert_allclose(res.pairwise[0, 0, 1], 1.0, atol=1e-12)
    np.testing.assert_allclose(res.overall[0, :2], 1.0, atol=1e-12)
    assert np.isnan(res.pairwise[0, 0, 2])

    def g(A):
        return np.tanh(A[:, 0] + 0.5 * A[:, 1] * A[:, 2]) + A[:, 2] ** 2

    res = h_statistic(adapt_model(g, task="regression"), X[:15], pairs="all")
    for j, k in [(0, 1), (1, 2), (0, 2)]:
        assert abs(res.pairwise[0, j, k] - _h_brute(g, X[:15], j, k)) <= 1e-10
    assert set(res.pairs_frame()["feature_1"]) <= {"x0", "x1"}


def test_h_statistic_samples_rows_and_errors(multiclass):
    model, X = multiclass
    res = h_statistic(model, X, features=[0, 1, 2], n_samples=30, random_state=0)
    assert res.overall.shape == (3, 3) and res.params["n_samples"] == 30
    again = h_statistic(model, X, features=[0, 1, 2], n_samples=30, random_state=0)
    np.testing.assert_array_equal(res.overall, again.overall)
    assert res.to_frame()["h2"].notna().all()
    with pytest.raises(InputError, match="n_samples"):
        h_statistic(model, X, n_samples=1)
    with pytest.raises(InputError, match="itself"):
        h_statistic(model, X, features=[0, 1], pairs=[(0, 0)], n_samples=10)


# ---------------------------------------------------------------------- plots
def test_effect_plots_draw_what_they_say(regression, multiclass):
    model, X = regression
    res = partial_dependence(model, X, 0, kind="both", grid_resolution=10)
    fig = plots.partial_dependence(res, max_ice_lines=20)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "partial dependence" in labels and "ICE (20 rows)" in labels
    fig2 = plots.partial_dependence(partial_dependence(model, X, (0, 1), grid_resolution=6))
    assert len(fig2.axes) == 2  # heatmap and colour bar
    ale = accumulated_local_effects(model, X, 0, bins=10, n_bootstrap=20, random_state=0)
    fig3 = plots.ale(ale)
    assert "95% bootstrap band" in [t.get_text() for t in fig3.axes[0].get_legend().get_texts()]
    cmodel, CX = multiclass
    h = h_statistic(cmodel, CX, features=[0, 1, 2], n_samples=20, random_state=0)
    assert len(plots.h_statistic(h, output=2).axes[0].patches) == 3
    with pytest.raises(InputError, match="PartialDependence"):
        plots.partial_dependence(ale)
    with pytest.raises(InputError, match="output"):
        plots.ale(ale, output="nope")
