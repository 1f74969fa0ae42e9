"""Every inspection result survives strict JSON: ``from_dict(json.loads(to_json()))`` gives
back its fields, and it shows as an HTML table in a notebook."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

import whybox.inspection as wi
from tests.evaluate._helpers import assert_round_trip, assert_same


@pytest.fixture(scope="module")
def classified():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(160, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0.3).astype(int)
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y), X, y


def test_partial_dependence(classified):
    model, X, _ = classified
    both = wi.partial_dependence(model, X, ("a", "b"), kind="both", grid_resolution=5)
    back = assert_round_trip(both)
    assert isinstance(back, wi.PartialDependence) and back.individual.shape == (1, 160, 5, 5)
    assert_round_trip(wi.partial_dependence(model, X, "a", grid_resolution=4))


def test_accumulated_local_effects(classified):
    model, X, _ = classified
    one = wi.accumulated_local_effects(model, X, "a", n_bins=5, n_bootstrap=5)
    assert isinstance(assert_round_trip(one), wi.AccumulatedLocalEffects)
    assert_round_trip(wi.accumulated_local_effects(model, X, ("a", "b"), n_bins=4))

    coded = X.assign(a=(X["a"] > 0).astype(float))
    cat = wi.accumulated_local_effects(model, coded, "a", categorical_features="a")
    back = assert_round_trip(cat)
    assert back.categorical and list(back.grids[0]) == list(cat.grids[0])


def test_h_statistic(classified):
    model, X, _ = classified
    h = wi.h_statistic(model, X, max_samples=20, pairs=[("a", "b")])
    assert np.isnan(h.pairwise).any()  # pairs not computed: NaN, written as null
    assert isinstance(assert_round_trip(h), wi.HStatistic)


def test_permutation_importance(classified):
    model, X, y = classified
    one = wi.permutation_importance(model, X, y, n_repeats=1)
    assert np.isnan(one.importances_lower).all()  # one repeat: no interval
    assert isinstance(assert_round_trip(one), wi.PermutationImportance)
    d = json.loads(one.to_json())
    assert d["n_repeats_done"] == 1 and d["importances_lower"] == [None, None, None]
    assert_round_trip(
        wi.permutation_importance(model, X, y, n_repeats=3, feature_groups="correlated")
    )


def test_importance_comparison(classified):
    model, X, y = classified
    comparison = wi.importance_comparison(model, X, y, n_repeats=2)
    back = assert_round_trip(comparison)
    assert isinstance(back, wi.ImportanceComparison)
    assert isinstance(back.permutation, wi.PermutationImportance)
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(80, 2))
    linear = LinearRegression().fit(Z, Z[:, 0])
    given = wi.importance_comparison(linear, Z, Z[:, 0], shap_values=np.zeros((80, 2)))
    assert given.mdi is None and np.isnan(given.rank_correlation["permutation vs shap"])
    assert_round_trip(given)


def test_global_surrogate(classified):
    model, X, _ = classified
    sur = wi.global_surrogate(model, X[:100], max_depth=2, X_test=X[100:])
    back = wi.GlobalSurrogate.from_dict(json.loads(sur.to_json()))
    assert back.tree is None  # JSON holds the tree's rules and size, not the tree
    assert_same(dataclasses.replace(sur, tree=None), back)
    assert sur._repr_html_().strip()
    assert (back.depth, back.n_leaves) == (sur.depth, sur.n_leaves)
    assert repr(back) == repr(sur)
    pd.testing.assert_frame_equal(back.to_frame(), sur.to_frame())
    assert "tree" not in sur.to_dict()
