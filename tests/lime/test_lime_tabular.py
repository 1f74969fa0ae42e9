"""LIME for tables.

Ground truths: closed forms (a linear model is its own surrogate; a model additive in
indicators of the bins is linear in LIME's binary representation) and the lime package.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests._requires import requires
from whybox import Explanation, InputError
from whybox.lime import LimeTabularExplainer, conditions


@pytest.fixture(scope="module")
def data6():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0] + [0, 1, -1, 2, 0, 5]
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] + 0.2 * rng.normal(size=300) > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def forest(data6):
    X, y = data6
    return RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(X, y)


# ---------------------------------------------------------------------- closed forms
def test_continuous_mode_recovers_a_linear_model_exactly(data6):
    X, _ = data6
    coef = np.array([1.5, -2.0, 0.3, 0.0, 0.7, -0.1])
    y = X @ coef + 4.0
    model = LinearRegression().fit(X, y)
    ex = LimeTabularExplainer(
        model, X, discretize=False, ridge=0.0, feature_selection="none", n_perturbations=400,
        random_state=0,
    )(X[:5])  # fmt: skip
    mean, std = X.mean(axis=0), X.std(axis=0)
    # the surrogate on standardised features has coefficients coef * std ...
    z_row = (X[:5] - mean) / std
    np.testing.assert_allclose(ex.values[:, :, 0] / z_row, np.tile(coef * std, (5, 1)), atol=1e-9)
    # ... so each value is coef * (x - mean), the intercept f(mean), the fit perfect
    np.testing.assert_allclose(ex.values[:, :, 0], coef * (X[:5] - mean), atol=1e-9)
    np.testing.assert_allclose(ex.base_values[:, 0], mean @ coef + 4.0, atol=1e-9)
    np.testing.assert_allclose(ex.quality["local_r2"], 1.0, atol=1e-12)
    assert ex.additivity_error.max() < 1e-9
    assert ex.params["mean"]["x1"] == pytest.approx(mean[1])
    assert ex.params["scale"]["x4"] == pytest.approx(std[4])


def test_continuous_mode_log_odds_of_a_logistic_model_are_exact(data6):
    X, y = data6
    model = LogisticRegression().fit(X, y)
    ex = LimeTabularExplainer(
        model, X, output="log_odds", discretize=False, ridge=0.0, feature_selection="none",
        n_perturbations=300, random_state=1,
    )(X[:3])  # fmt: skip
    assert ex.output_space == "log_odds"
    np.testing.assert_allclose(
        ex.values[:, :, 0], model.coef_[0] * (X[:3] - X.mean(axis=0)), atol=1e-8
    )
    np.testing.assert_allclose(ex.quality["local_r2"], 1.0, atol=1e-12)


def test_discretized_mode_on_a_model_additive_in_bin_indicators_is_exact():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(400, 4))
    top = np.percentile(X, 75, axis=0)  # the last quartile bin is x > the 75th percentile
    c = np.array([0.5, -1.0, 2.0, 0.25])

    def model(A):
        return (np.asarray(A, dtype=float) > top) @ c

    rows = top + 0.05  # every feature in its top quartile
    ex = LimeTabularExplainer(
        model, X, ridge=0.0, feature_selection="none", n_perturbations=500, random_state=0
    )(rows[None, :])
    np.testing.assert_allclose(ex.values[0, :, 0], c, atol=1e-10)
    np.testing.assert_allclose(ex.base_values, 0.0, atol=1e-10)
    np.testing.assert_allclose(ex.quality["local_r2"], 1.0, atol=1e-12)
    assert ex.additivity_error.max() < 1e-10
    assert list(conditions(ex)[0]) == [f"x{j} > {top[j]:.4g}" for j in range(4)]
    assert ex.params["discretizer"]["edges"]["x2"] == pytest.approx(
        np.percentile(X[:, 2], [25, 50, 75])
    )


def test_two_level_categorical_and_numeric_columns_of_a_pipeline_are_exact():
    rng = np.random.default_rng(2)
    n = 200
    frame = pd.DataFrame(
        {
            "size": rng.normal(3.0, 2.0, n),
            "color": pd.Categorical(rng.choice(["red", "blue"], n)),
        }
    )
    y = 1.5 * frame["size"] + np.where(frame["color"] == "red", 2.0, -1.0)
    pipe = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["color"])], remainder="passthrough"),
        LinearRegression(),
    ).fit(frame, y)
    rows = frame.iloc[:4]
    ex = LimeTabularExplainer(
        pipe, frame, discretize=False, ridge=0.0, feature_selection="none", n_perturbations=300,
        random_state=0,
    )(rows)  # fmt: skip
    assert ex.feature_names == ("size", "color")
    np.testing.assert_allclose(
        ex.values[:, 0, 0], 1.5 * (rows["size"] - frame["size"].mean()), atol=1e-9
    )
    # being the row's colour rather than the other one
    expected = np.where(rows["color"] == "red", 3.0, -3.0)
    np.testing.assert_allclose(ex.values[:, 1, 0], expected, atol=1e-9)
    np.testing.assert_allclose(ex.quality["local_r2"], 1.0, atol=1e-12)
    cond = conditions(ex)
    assert cond[0, 1] == f"color = {rows['color'].iloc[0]}"
    assert cond[0, 0] == f"size = {rows['size'].iloc[0]:.4g}"
    assert ex.params["categorical_features"] == ["color"]
    # discretized: the numeric column reads as its bin, the categorical as its level
    disc = LimeTabularExplainer(pipe, frame, n_perturbations=300, random_state=0)(rows)
    edges = np.percentile(frame["size"], [25, 50, 75])
    x = rows["size"].iloc[0]
    b = int(np.searchsorted(edges, x))
    expected = (
        [f"size <= {edges[0]:.4g}"]
        + [f"{edges[i - 1]:.4g} < size <= {edges[i]:.4g}" for i in (1, 2)]
        + [f"size > {edges[2]:.4g}"]
    )[b]
    assert list(conditions(disc)[0]) == [expected, f"color = {rows['color'].iloc[0]}"]


# ---------------------------------------------------------------------- contracts
def test_deterministic_batch_size_invariant_and_batch_equals_row_by_row(data6, forest):
    X, _ = data6

    def explain(**kw):
        return LimeTabularExplainer(forest, X, n_perturbations=600, random_state=7, **kw)

    a = explain()(X[:4])
    b = explain(batch_size=37)(X[:4])
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)
    np.testing.assert_array_equal(a.quality["local_r2"], b.quality["local_r2"])
    rows = [explain()(X[i : i + 1]) for i in range(4)]
    np.testing.assert_allclose(np.concatenate([r.values for r in rows]), a.values, atol=1e-12)
    np.testing.assert_allclose(
        np.concatenate([r.base_values for r in rows]), a.base_values, atol=1e-12
    )
    other = LimeTabularExplainer(forest, X, n_perturbations=600, random_state=8)(X[:4])
    assert not np.array_equal(other.values, a.values)
    assert a.params["random_state"] == 7 and a.params["n_perturbations"] == 600
    assert a.params["feature_selection_used"] == "none"  # max_features covers all 6
    # one model call for everything gives the same numbers too
    whole = explain(batch_size=None)(X[:4])
    np.testing.assert_array_equal(whole.values, a.values)
    assert whole.params["batch_size"] is None


def test_default_seed_is_zero_and_recorded(data6, forest):
    X, _ = data6
    a = LimeTabularExplainer(forest, X, n_perturbations=300)(X[:2])
    b = LimeTabularExplainer(forest, X, n_perturbations=300, random_state=0)(X[:2])
    np.testing.assert_array_equal(a.values, b.values)
    assert a.params["random_state"] == 0 and a.params["ridge"] == 1.0
    assert a.params["background_rows"] == len(X)
    with pytest.raises(InputError, match="random_state must be None, a non-negative int"):
        LimeTabularExplainer(forest, X, random_state="seed")


def test_classifier_defaults_to_probability_and_selects_max_features(data6, forest):
    X, _ = data6
    ex = LimeTabularExplainer(forest, X, max_features=2, n_perturbations=500, random_state=0)(X[:6])
    assert ex.output_space == "probability"
    assert ex.shape == (6, 6, 1) and ex.output_names == ("1",)
    np.testing.assert_allclose(ex.model_output, forest.predict_proba(X[:6])[:, 1:])
    assert ((ex.values != 0).sum(axis=1) == 2).all()
    assert ex.params["feature_selection_used"] == "forward_selection"
    assert ((ex.quality["local_r2"] > 0) & (ex.quality["local_r2"] <= 1)).all()
    # the features the forest is built on (0, 1, 2) dominate
    top = np.argmax(np.abs(ex.values[:, :, 0]), axis=1)
    assert set(top) <= {0, 1, 2}


def test_multiclass_explains_every_class_and_the_surrogates_add_up():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    ex = LimeTabularExplainer(
        model, X, feature_selection="none", n_perturbations=500, random_state=0
    )(X[[0, 60, 120]])
    assert ex.shape == (3, 4, 3) and ex.output_names == ("0", "1", "2")
    # ridge is linear in the target: the class surrogates sum to the surrogate of sum p = 1
    np.testing.assert_allclose(ex.values.sum(axis=2), 0.0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values.sum(axis=1), 1.0, atol=1e-10)
    # each row's own class gains from being in the row's bins
    own = ex.values.sum(axis=1)[np.arange(3), [0, 1, 2]]
    assert (own > 0).all()


def test_round_trips_through_json_with_its_conditions(data6, forest):
    X, _ = data6
    ex = LimeTabularExplainer(forest, X, n_perturbations=300, random_state=0)(X[:3])
    back = Explanation.from_dict(json.loads(ex.to_json()))
    np.testing.assert_array_equal(back.values, ex.values)
    np.testing.assert_array_equal(back.quality["local_r2"], ex.quality["local_r2"])
    np.testing.assert_array_equal(conditions(back), conditions(ex))
    # slices keep the conditions of the kept features
    assert list(conditions(ex[1, ["x2", "x0"]])) == [conditions(ex)[1, 2], conditions(ex)[1, 0]]
    assert conditions(ex[0]).shape == (6,)
    assert ex[0, :, 0].quality["local_r2"] == ex.quality["local_r2"][0, 0]


def test_agrees_with_the_lime_package_on_the_top_features(data6):
    lt = requires("lime.lime_tabular")

    X, y = data6
    model = LogisticRegression().fit(X, y)
    rows = X[:3]
    ours = LimeTabularExplainer(model, X, max_features=6, random_state=0)(rows)
    ref = lt.LimeTabularExplainer(X, discretize_continuous=True, random_state=0)
    for i, row in enumerate(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exp = ref.explain_instance(row, model.predict_proba, num_features=6)
        theirs = np.zeros(6)
        for j, w in exp.as_map()[1]:
            theirs[j] = w
        mine = ours.values[i, :, 0]
        top = set(np.argsort(-np.abs(mine))[:3])
        assert top == set(np.argsort(-np.abs(theirs))[:3])
        assert all(np.sign(mine[j]) == np.sign(theirs[j]) for j in top)


def test_perturbations_follow_the_training_marginals(data6):
    X, _ = data6
    seen = []

    def model(A):
        seen.append(np.asarray(A, dtype=float))
        return np.zeros(len(A))

    LimeTabularExplainer(model, X[:128], n_perturbations=2049, random_state=0)(X[:2])
    draws = seen[-2]  # the perturbations (the explained rows come last)
    assert draws.shape == (2048, 6)
    # Sobol' points: with 2^11 draws from 2^7 training rows, each row's value is drawn
    # exactly 16 times in every column (each 1/128 of a coordinate holds 16 points)
    for j in range(6):
        values, counts = np.unique(draws[:, j], return_counts=True)
        np.testing.assert_array_equal(values, np.sort(X[:128, j]))
        assert (counts == 16).all()


def test_progress_bar_and_the_monte_carlo_fallback(data6, forest, capsys, monkeypatch):
    from scipy.stats import qmc

    X, _ = data6
    quiet = LimeTabularExplainer(forest, X, n_perturbations=200, random_state=0)(X[:3])
    shown = LimeTabularExplainer(forest, X, n_perturbations=200, random_state=0, progress=True)(
        X[:3]
    )
    assert "LIME" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet.values, shown.values)
    assert quiet.params["sampling"] == "scrambled_sobol"
    # beyond the dimensions Sobol' points are tabulated for: independent uniform draws
    monkeypatch.setattr(qmc.Sobol, "MAXDIM", 5)
    mc = LimeTabularExplainer(forest, X, n_perturbations=200, random_state=0)(X[:3])
    assert mc.params["sampling"] == "monte_carlo"
    assert not np.array_equal(mc.values, quiet.values)
    assert np.isfinite(mc.values).all()


# ---------------------------------------------------------------------- bad input
def test_bad_input_is_named(data6, forest):
    X, _ = data6
    with pytest.raises(InputError, match="needs background"):
        LimeTabularExplainer(forest, None)
    with pytest.raises(InputError, match="background has 5 columns"):
        LimeTabularExplainer(forest, X[:, :5])
    ex = LimeTabularExplainer(forest, X, n_perturbations=50)
    with pytest.raises(InputError, match="X has 7 columns"):
        ex(np.c_[X[:2], X[:2, :1]])
    with pytest.raises(InputError, match="max_features is 7 but the data has 6"):
        LimeTabularExplainer(forest, X, max_features=7)
    for bad in (0, -1.0, np.inf, "wide"):
        with pytest.raises(InputError, match="kernel_width must be a finite number > 0"):
            LimeTabularExplainer(forest, X, kernel_width=bad)
    for bad in (1, 2.5, True):
        with pytest.raises(InputError, match="n_perturbations must be an integer >= 2"):
            LimeTabularExplainer(forest, X, n_perturbations=bad)
    with pytest.raises(InputError, match="feature_selection must be one of"):
        LimeTabularExplainer(forest, X, feature_selection="lasso")
    with pytest.raises(InputError, match="discretizer must be one of"):
        LimeTabularExplainer(forest, X, discretizer="entropy")
    with pytest.raises(InputError, match="ridge must be a finite number >= 0"):
        LimeTabularExplainer(forest, X, ridge=-1)
    with pytest.raises(InputError, match="output must be one of"):
        LimeTabularExplainer(LinearRegression().fit(X, X[:, 0]), X, output="probability")
    with pytest.raises(InputError, match="categorical_features names the column 'z'"):
        LimeTabularExplainer(forest, X, categorical_features=["z"])
    with pytest.raises(InputError, match="X has 5 columns but background has 6"):
        LimeTabularExplainer(lambda A: np.zeros(len(A)), X, n_perturbations=50)(X[:2, :5])
    nan_row = X[:1].copy()
    nan_row[0, 2] = np.nan

    def nan_sum(A):  # a model that accepts missing values
        return np.nansum(np.asarray(A, dtype=float), axis=1)

    with pytest.raises(InputError, match="missing values in numeric columns"):
        LimeTabularExplainer(nan_sum, X, discretize=False, n_perturbations=50)(nan_row)
    # discretized, a missing value is a bin of its own
    ex = LimeTabularExplainer(nan_sum, X, n_perturbations=50)(nan_row)
    assert conditions(ex)[0, 2] == "x2 is missing"
    with pytest.raises(InputError, match="conditions reads a tabular LIME explanation"):
        conditions(Explanation(np.zeros((1, 2, 1)), np.zeros((1, 1)), None, ["a", "b"], ["y"]))


def test_feature_groups_are_one_player_perturbed_as_a_whole():
    # one-hot columns of a city plus a numeric column; the model is additive in the
    # city being paris and in x0 being in its top quartile, so for a paris row in the
    # top quartile it is exactly linear in LIME's grouped representation
    rng = np.random.default_rng(3)
    n = 400
    city = rng.choice(["paris", "lyon", "nice"], n)
    onehot = np.column_stack([city == c for c in ("paris", "lyon", "nice")]).astype(float)
    x0 = rng.normal(size=n)
    X = np.column_stack([onehot, x0, rng.normal(size=n)])
    names = ["city_paris", "city_lyon", "city_nice", "x0", "x1"]
    q3 = np.percentile(x0, 75)
    seen = []

    def f(A):
        A = np.asarray(A, dtype=float)
        seen.append(A)
        return 3.0 * A[:, 0] + 2.0 * (A[:, 3] > q3)

    frame = pd.DataFrame(X, columns=names)
    groups = {"city": ["city_paris", "city_lyon", "city_nice"]}
    explainer = LimeTabularExplainer(
        f, frame, feature_groups=groups, feature_selection="none", ridge=0.0, random_state=0
    )
    row = frame[(frame["city_paris"] == 1) & (frame["x0"] > q3)].iloc[:1]
    ex = explainer(row)
    assert ex.feature_names == ("city", "x0", "x1")
    assert ex.data is None
    np.testing.assert_allclose(ex.values[0, :, 0], [3.0, 2.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(ex.quality["local_r2"], 1.0, atol=1e-12)
    # every perturbation keeps exactly one city column set
    perturbed = np.concatenate(seen)
    np.testing.assert_array_equal(perturbed[:, :3].sum(axis=1), 1.0)
    assert ex.params["feature_groups"] == {"city": [0, 1, 2], "x0": [3], "x1": [4]}
    from whybox.plots import lime_bar

    labels = [t.get_text() for t in lime_bar(ex[0]).axes[0].get_yticklabels()]
    assert labels[:2] == ["city", "x0"]  # groups are labelled by name, largest weight on top
    with pytest.raises(InputError, match="feature_groups needs discretize=True"):
        LimeTabularExplainer(f, frame, feature_groups=groups, discretize=False)
    with pytest.raises(InputError, match="names the column 'town'"):
        LimeTabularExplainer(f, frame, feature_groups={"c": ["town"]})
