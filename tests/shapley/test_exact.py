"""ExactExplainer against ground truths: brute-force Shapley, closed forms, shap, axioms."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import whybox
from tests._requires import requires
from tests.shapley._helpers import normal_background_and_rows
from whybox import ExactExplainer, Explanation, InputError
from whybox.adapters import adapt_model


# ---------------------------------------------------------------------- brute force
def brute_force_shapley(f, x, background, players):
    """Shapley values of the interventional game, by the permutation formula.

    ``f`` maps (m, d) rows to (m, k) outputs; ``players`` is a list of column lists.
    Written from the definition: average over every ordering of the players of each
    player's marginal contribution, with v(S) the mean of f over background rows with
    the columns of the players outside S replaced by the background's.
    """
    p = len(players)

    def v(coalition):
        total = 0.0
        for b in background:
            row = np.array(b, dtype=object if background.dtype == object else float)
            for i in coalition:
                for c in players[i]:
                    row[c] = x[c]
            total = total + np.asarray(f(row[None, :]), dtype=float)[0]
        return total / len(background)

    cache = {}

    def value(coalition):
        key = frozenset(coalition)
        if key not in cache:
            cache[key] = v(key)
        return cache[key]

    phi = 0.0
    for order in itertools.permutations(range(p)):
        contrib = []
        before: list[int] = []
        for i in order:
            contrib.append((i, value(before + [i]) - value(before)))
            before.append(i)
        phi = phi + np.array([c for _, c in sorted(contrib)])
    return phi / math.factorial(p)


def nonlinear(X):
    """Two outputs with interactions of up to three features."""
    X = np.asarray(X, dtype=float)
    a = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) * X[:, 3] + X[:, 4] ** 2 + X[:, 0] * X[:, 2] * X[:, 4]
    b = np.exp(0.3 * X[:, 1]) - X[:, 3] * X[:, 4] + np.abs(X[:, 0])
    return np.column_stack([a, b])


@pytest.fixture(scope="module")
def data5():
    return normal_background_and_rows(12, 3, 5)


def test_matches_brute_force_shapley(data5):
    bg, X = data5
    model = adapt_model(nonlinear, output_names=["a", "b"])
    ex = ExactExplainer(model, bg)(X)
    assert ex.values.shape == (3, 5, 2)
    assert ex.output_names == ("a", "b")
    for r in range(len(X)):
        truth = brute_force_shapley(nonlinear, X[r], bg, [[j] for j in range(5)])
        np.testing.assert_allclose(ex.values[r], truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ex.base_values, np.tile(nonlinear(bg).mean(axis=0), (3, 1)))


def test_linear_closed_form():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6)) * [1, 2, 3, 0.5, 1, 4] + [0, 1, -2, 3, 0, 5]
    y = X @ np.array([1.5, -2.0, 0.3, 4.0, 0.0, -0.7]) + rng.normal(size=200)
    lr = LinearRegression().fit(X, y)
    bg, Xe = X[:40], X[150:160]
    ex = ExactExplainer(lr, bg)(Xe)
    truth = lr.coef_ * (Xe - bg.mean(axis=0))
    np.testing.assert_allclose(ex.values[:, :, 0], truth, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values[:, 0], lr.predict(bg).mean(), rtol=0, atol=1e-12)
    assert ex.method == "exact"
    assert ex.output_space == "raw"
    assert ex.params["background_rows"] == 40


def test_matches_shap_exact_with_independent_masker():
    shap = requires("shap")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.8)
    clf = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0).fit(X, y)
    bg, Xe = X[:25], X[200:206]
    ours = ExactExplainer(clf, bg, output="probability")(Xe)
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    theirs = shap.explainers.Exact(clf.predict_proba, masker)(Xe)
    # both enumerate the same coalitions in double: measured 2.2e-16 on values up to 0.5
    np.testing.assert_allclose(ours.values, theirs.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.base_values, theirs.base_values, rtol=0, atol=1e-12)


def test_efficiency_symmetry_dummy():
    rng = np.random.default_rng(3)
    bg = rng.normal(size=(15, 4))
    bg[:, 1] = bg[:, 0]  # columns 0 and 1 exchangeable in the background

    def f(X):
        X = np.asarray(X, dtype=float)
        # symmetric in x0, x1; x3 is a dummy
        return np.tanh(X[:, 0] + X[:, 1]) * X[:, 2] + X[:, 0] * X[:, 1] + X[:, 2] ** 3

    X = rng.normal(size=(4, 4))
    X[:, 1] = X[:, 0]
    ex = ExactExplainer(f, bg)(X)
    # efficiency / local accuracy
    total = ex.values.sum(axis=1) + ex.base_values
    np.testing.assert_allclose(total[:, 0], f(X), rtol=0, atol=1e-12)
    assert np.all(ex.additivity_error < 1e-12)
    # symmetry
    np.testing.assert_allclose(ex.values[:, 0], ex.values[:, 1], rtol=0, atol=1e-12)
    # dummy
    np.testing.assert_allclose(ex.values[:, 3], 0.0, rtol=0, atol=1e-12)


def test_feature_groups_equal_the_grouped_game(data5):
    bg, X = data5
    groups = {"g01": ["x0", "x1"], "g34": [4, 3]}
    ex = ExactExplainer(nonlinear, bg, feature_groups=groups)(X)
    assert ex.feature_names == ("g01", "g34", "x2")
    assert ex.data is None
    assert ex.params["feature_groups"] == {"g01": [0, 1], "g34": [3, 4], "x2": [2]}
    players = [[0, 1], [3, 4], [2]]
    for r in range(len(X)):
        truth = brute_force_shapley(nonlinear, X[r], bg, players)
        np.testing.assert_allclose(ex.values[r], truth, rtol=0, atol=1e-12)
    assert np.all(ex.additivity_error < 1e-12)


def _mixed_frame(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice"], size=n),
            "age": rng.integers(18, 80, size=n).astype(float),
            "plan": rng.choice(["basic", "pro"], size=n),
            "income": rng.normal(50, 15, size=n),
        }
    )


def test_pipeline_with_column_transformer_in_original_columns():
    df = _mixed_frame(300, 4)
    y = ((df["city"] == "paris") & (df["age"] > 40) | (df["income"] > 60)).astype(int)
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(df, y)
    bg, Xe = df.iloc[:10], df.iloc[250:253]
    ex = ExactExplainer(pipe, bg, output="probability")(Xe)
    assert ex.feature_names == ("city", "age", "plan", "income")
    assert ex.values.shape == (3, 4, 1)
    assert ex.data.dtype == object and ex.data[0, 0] == Xe.iloc[0, 0]

    def f(rows):
        frame = pd.DataFrame(rows, columns=df.columns).astype({"age": float, "income": float})
        return pipe.predict_proba(frame)[:, 1:]

    bg_obj = bg.to_numpy(dtype=object)
    for r in range(len(Xe)):
        truth = brute_force_shapley(
            f, Xe.to_numpy(dtype=object)[r], bg_obj, [[j] for j in range(4)]
        )
        np.testing.assert_allclose(ex.values[r], truth, rtol=0, atol=1e-12)
    assert np.all(ex.additivity_error < 1e-12)


def test_multiclass_outputs_and_output_spaces():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    clf = LogisticRegression().fit(X, y)
    bg, Xe = X[:20], X[100:105]
    proba = ExactExplainer(clf, bg, output="probability")(Xe)
    assert proba.values.shape == (5, 4, 3)
    assert proba.output_names == ("a", "b", "c")
    # the class probabilities sum to one, so by linearity each feature's values sum to 0
    np.testing.assert_allclose(proba.values.sum(axis=2), 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba.model_output, clf.predict_proba(Xe), rtol=0, atol=1e-15)
    for space in ("raw", "log_odds"):
        ex = ExactExplainer(clf, bg, output=space)(Xe)
        assert ex.output_space == space
        assert np.all(ex.additivity_error < 1e-10)
    assert ExactExplainer(clf, bg)(Xe).output_space == "raw"  # auto = native space


def test_binary_raw_margin_equals_log_odds():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=300) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    bg, Xe = X[:15], X[200:204]
    raw = ExactExplainer(clf, bg, output="raw")(Xe)
    logit = ExactExplainer(clf, bg, output="log_odds")(Xe)
    assert raw.values.shape == (4, 3, 1) and raw.output_names == ("1",)
    # a logistic regression's margin is the log-odds of the positive class, linear in x
    np.testing.assert_allclose(raw.values, logit.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        raw.values[:, :, 0], clf.coef_[0] * (Xe - bg.mean(axis=0)), atol=1e-10
    )


def test_batch_size_and_row_by_row_do_not_change_values(data5):
    bg, X = data5
    model = nonlinear
    full = ExactExplainer(model, bg)(X)
    small = ExactExplainer(model, bg, batch_size=1)(X)
    odd = ExactExplainer(model, bg, batch_size=37)(X)
    np.testing.assert_array_equal(full.values, small.values)
    np.testing.assert_array_equal(full.values, odd.values)
    for r in range(len(X)):
        np.testing.assert_array_equal(
            ExactExplainer(model, bg)(X[r : r + 1]).values[0], full.values[r]
        )


def test_large_background_is_sampled_with_a_warning():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 3))
    lr = LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="max_background=None"):
        ex = ExactExplainer(lr, X, random_state=0)(X[:2])
    assert ex.params["background_rows"] == 100
    assert ex.params["background_rows_given"] == 500
    with pytest.warns(UserWarning):
        again = ExactExplainer(lr, X, random_state=0)(X[:2])
    np.testing.assert_array_equal(ex.values, again.values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        allrows = ExactExplainer(lr, X, max_background=None)(X[:2])
    assert allrows.params["background_rows"] == 500
    np.testing.assert_allclose(
        allrows.values[:, :, 0], lr.coef_ * (X[:2] - X.mean(axis=0)), atol=1e-10
    )


def test_result_round_trips_through_json(data5):
    bg, X = data5
    ex = whybox.ExactExplainer(nonlinear, bg)(X)
    back = Explanation.from_dict(json.loads(ex.to_json()))
    np.testing.assert_array_equal(back.values, ex.values)
    assert back.params == ex.params


def test_clear_errors(data5):
    bg, X = data5
    rng = np.random.default_rng(8)
    wide = rng.normal(size=(50, 17))
    lr = LinearRegression().fit(wide, wide.sum(axis=1))
    with pytest.raises(InputError, match="PermutationExplainer"):
        ExactExplainer(lr, wide[:5])
    # groups bring the players under the limit
    ok = ExactExplainer(lr, wide[:3], feature_groups={"a": list(range(10))})
    assert len(ok.feature_names) == 8
    with pytest.raises(InputError, match="background"):
        ExactExplainer(lr, None)
    with pytest.raises(InputError, match="output"):
        ExactExplainer(lr, wide[:5], output="probability")
    with pytest.raises(InputError, match="output"):
        ExactExplainer(nonlinear, bg, output="margin")
    with pytest.raises(InputError, match="feature_groups"):
        ExactExplainer(nonlinear, bg, feature_groups={"a": ["nope"]})
    with pytest.raises(InputError, match="both"):
        ExactExplainer(nonlinear, bg, feature_groups={"a": [0, 1], "b": [1]})
    with pytest.raises(InputError, match="feature_groups"):
        ExactExplainer(nonlinear, bg, feature_groups=[[0, 1]])
    with pytest.raises(InputError, match="max_background"):
        ExactExplainer(nonlinear, bg, max_background=0)
    with pytest.raises(InputError, match="batch_size"):
        ExactExplainer(nonlinear, bg, batch_size=0)
    with pytest.raises(InputError, match="columns"):
        ExactExplainer(nonlinear, bg)(X[:, :4])
    with pytest.raises(InputError, match="columns"):
        ExactExplainer(lr, wide[:3], feature_groups={"a": list(range(10))})(wide[:2, :16])


@settings(max_examples=30, deadline=None)
@given(p=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_any_game_matches_the_permutation_formula(p, seed):
    # A model reading its 0/1 inputs as the bits of a table index, explained at x = 1...1
    # with the single background row 0...0, has v(S) = table[S]: any game at all.
    table = np.random.default_rng(seed).normal(size=2**p)
    bits = 1 << np.arange(p)

    def game(A):
        return table[(np.asarray(A, dtype=float).astype(int) * bits).sum(axis=1)]

    ex = ExactExplainer(game, np.zeros((1, p)))(np.ones((1, p)))
    truth = np.zeros(p)
    for order in itertools.permutations(range(p)):
        s = 0
        for i in order:
            truth[i] += table[s | (1 << i)] - table[s]
            s |= 1 << i
    truth /= math.factorial(p)
    np.testing.assert_allclose(ex.values[0, :, 0], truth, rtol=0, atol=1e-12)
    assert ex.base_values[0, 0] == table[0]


def test_one_model_call_per_chunk():
    rng = np.random.default_rng(11)
    bg, X = rng.normal(size=(10, 4)), rng.normal(size=(3, 4))
    sizes = []

    def f(A):
        sizes.append(len(A))
        return np.asarray(A, dtype=float) @ [1.0, 2.0, 3.0, 4.0]

    ExactExplainer(f, bg)(X)
    # every row's 2**4 - 2 coalitions with 10 background rows each, in one call
    assert sizes.count(3 * 14 * 10) == 1
    assert sum(s for s in sizes if s > 10) == 3 * 14 * 10
    sizes.clear()
    ExactExplainer(f, bg, batch_size=50)(X)
    chunks = [s for s in sizes if s > 10 and s != 3]
    assert chunks == [50] * 8 + [20]  # 5 coalitions of 10 rows per call
