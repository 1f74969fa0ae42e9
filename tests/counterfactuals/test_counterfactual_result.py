"""The counterfactual results through strict JSON and back, field by field."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests.evaluate._helpers import assert_round_trip
from whybox.counterfactuals import CounterfactualExplainer


def _mixed(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.normal(size=n),
            "children": rng.integers(0, 5, n),
            "city": rng.choice(["north", "south"], n),
        }
    )
    y = ((X["income"] > 0) & (X["city"] == "north")).astype(int)
    encode = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    model = make_pipeline(encode, RandomForestClassifier(20, random_state=0)).fit(X, y)
    return X, model


def test_counterfactuals_of_mixed_columns_round_trip():
    X, model = _mixed()
    ex = CounterfactualExplainer(model, X)
    res = ex(X[:3], n_counterfactuals=2, max_evals=2000)
    assert_round_trip(res)
    # a row the model already gives the desired class: an empty set of counterfactuals
    label = model.predict(X[:1])[0]
    none = ex(X[:1], desired_class=label)
    assert none.status[0].startswith("not found") and len(none.counterfactuals[0]) == 0
    back = assert_round_trip(none)
    assert back.counterfactuals[0].columns.tolist() == none.counterfactuals[0].columns.tolist()


def test_recourse_round_trips_found_or_not():
    X, model = _mixed()
    ex = CounterfactualExplainer(model, X)
    found = ex.recourse(X.iloc[0], max_evals=2000)
    back = assert_round_trip(found)
    assert back.actions == found.actions and back.cost == found.cost
    label = model.predict(X[:1])[0]
    missing = ex.recourse(X.iloc[0], desired_class=label)
    assert missing.counterfactual is None
    assert assert_round_trip(missing).counterfactual is None


def test_a_desired_range_comes_back_as_a_pair_of_floats():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    model = RandomForestRegressor(20, random_state=0).fit(X, X["a"] + X["b"])
    ex = CounterfactualExplainer(model, X, plausibility=None)
    res = ex(X[:2], desired_range=(1.5, np.inf), n_counterfactuals=2, max_evals=2000)
    back = assert_round_trip(res)
    assert back.desired[0] == (1.5, np.inf)
    assert assert_round_trip(ex.recourse(X.iloc[0], desired_range=(1.5, np.inf))).desired == (
        1.5,
        np.inf,
    )
