"""Path-dependent TreeSHAP against Shapley values computed by enumerating coalitions.

The trees are random (structure, covers, thresholds, missing-value rules, leaf values)
and built directly as TreeEnsemble objects, so these tests need no model library.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from tests.shapley.tree._bruteforce import (
    brute_force_shap,
    ensemble_value,
    one_tree,
    random_ensembles,
)
from whybox.shapley.tree._path_dependent import (
    ensemble_expected_value,
    ensemble_predict,
    path_dependent_shap,
)


# ---------------------------------------------------------------------- tests
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ensembles())
def test_matches_brute_force_shapley_values(case):
    ensemble, X = case
    phi = path_dependent_shap(ensemble, X)
    assert phi.shape == (X.shape[0], ensemble.n_features, ensemble.n_outputs)
    for i, x in enumerate(X):
        np.testing.assert_allclose(phi[i], brute_force_shap(ensemble, x), rtol=0, atol=1e-10)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ensembles())
def test_base_value_and_prediction_are_the_empty_and_full_coalitions(case):
    ensemble, X = case
    full = frozenset(range(ensemble.n_features))
    np.testing.assert_allclose(
        ensemble_expected_value(ensemble),
        ensemble_value(ensemble, X[0], frozenset()),
        rtol=0,
        atol=1e-10,
    )
    pred = ensemble_predict(ensemble, X)
    for i, x in enumerate(X):
        np.testing.assert_allclose(pred[i], ensemble_value(ensemble, x, full), rtol=0, atol=1e-12)


def test_repeated_feature_on_a_path():
    # x0 <= 0 ? (x0 <= -1 ? 1 : 2) : 3, covers 10 -> (6 -> 2, 4), 4: the feature appears
    # twice on one path, the case UNWIND exists for.
    e = one_tree(
        [1, 3, -1, -1, -1],
        [2, 4, -1, -1, -1],
        [0, 0, -1, -1, -1],
        [0.0, -1.0, 0, 0, 0],
        [10.0, 6.0, 4.0, 2.0, 4.0],
        [0.0, 0.0, 3.0, 1.0, 2.0],
        n_features=2,
    )
    X = np.array([[-2.0, 5.0], [-0.5, 0.0], [1.0, 0.0]])
    phi = path_dependent_shap(e, X)
    expected = 0.2 * 1 + 0.4 * 2 + 0.4 * 3  # cover-weighted mean of the leaves
    # one feature matters: it gets the whole difference f(x) - E[f]
    np.testing.assert_allclose(phi[:, 0, 0], np.array([1.0, 2.0, 3.0]) - expected, atol=1e-14)
    np.testing.assert_array_equal(phi[:, 1, 0], 0.0)


def test_tiny_covers_stay_finite():
    # A cold child whose share of the cover is subnormal: 1 / share overflows, so the
    # kernel must divide last (a case hypothesis found).
    e = one_tree(
        [1, -1, -1],
        [2, -1, -1],
        [0, -1, -1],
        [-1.0, 0, 0],
        [1.0, 1e-308, 1.0],
        [0.0, 4.0, 2.0],
        n_features=1,
    )
    X = np.array([[-2.0], [0.0]])
    phi = path_dependent_shap(e, X)
    assert np.all(np.isfinite(phi))
    for i, x in enumerate(X):
        np.testing.assert_allclose(phi[i], brute_force_shap(e, x), rtol=0, atol=1e-10)
