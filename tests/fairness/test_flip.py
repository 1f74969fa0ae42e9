"""Flip test: decisions that change with the sensitive attribute alone, by brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from tests.evaluate._helpers import assert_round_trip
from whybox import InputError
from whybox.fairness import flip_test


def test_flip_test_counts_changed_decisions_by_brute_force():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"score": rng.normal(size=500), "sex": rng.choice(["F", "M"], 500)})
    y = ((X.score + 0.8 * (X.sex == "M")) > 0.4).astype(int)
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["sex"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(X, y)
    res = flip_test(model, X, "sex")
    flipped = X.assign(sex=np.where(X.sex == "F", "M", "F"))
    changed = model.predict(flipped) != model.predict(X)
    assert res.overall == pytest.approx(changed.mean(), abs=1e-15)
    f = (X.sex == "F").to_numpy()
    assert res.flip_rate.loc["F", "M"] == pytest.approx(changed[f].mean(), abs=1e-15)
    assert res.flip_rate.loc["M", "F"] == pytest.approx(changed[~f].mean(), abs=1e-15)
    assert np.isnan(res.flip_rate.loc["F", "F"])
    np.testing.assert_array_equal(res.changed_rows, np.flatnonzero(changed))
    assert res.overall > 0.1  # the model uses sex directly


def test_flip_test_regression_and_a_model_that_ignores_the_attribute():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 2, 300)])
    y = 2 * X[:, 0] + 3 * X[:, 1]
    reg = flip_test(LinearRegression().fit(X, y), X, 1)
    np.testing.assert_allclose(reg.flip_rate.to_numpy()[[0, 1], [1, 0]], 3.0, atol=1e-9)
    assert reg.overall == pytest.approx(3.0, abs=1e-9)
    blind = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[:, :1], (y > 0))
    res = flip_test(lambda A: blind.predict_proba(np.asarray(A)[:, :1])[:, 1], X, 1)
    assert res.overall == 0.0


def test_bad_input(credit):
    case = credit[True]
    with pytest.raises(InputError, match="not a column of X"):
        flip_test(case.model, case.X_test, "group")
    with pytest.raises(InputError, match="too many for a sensitive attribute"):
        flip_test(case.model, case.X_test, "income")


def test_results_round_trip_through_strict_json():
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=200), rng.integers(0, 3, 200)])
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    res = flip_test(LogisticRegression().fit(X, y), X, 1)
    back = assert_round_trip(res)  # NaN on the diagonal, the from/to names
    assert back.flip_rate.index.name == "from" and back.flip_rate.columns.name == "to"
    assert_round_trip(flip_test(LinearRegression().fit(X, X[:, 0]), X, 1))
