"""Path-dependent SHAP interaction values (``TreeExplainer.interaction_values``).

Ground truths: the Shapley interaction index computed by enumerating coalitions of the
brute-force path-dependent value function on random trees (``_bruteforce``), the
SHAP values (each row of the matrix sums to them), ``shap.TreeExplainer`` (its own C++
for scikit-learn and LightGBM models) and XGBoost's ``pred_interactions``. Models are
small (<= 30 trees, <= 200 rows) to keep the file fast on two cores.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from sklearn import ensemble as sk_ensemble

from tests._requires import lazy
from tests.shapley.tree._bruteforce import (
    brute_force_shap,
    chain_ensemble,
    one_tree,
    random_ensembles,
    tree_data,
    value_function,
)
from whybox._exceptions import InputError
from whybox.shapley.tree import TreeExplainer
from whybox.shapley.tree._interactions import path_dependent_interactions
from whybox.shapley.tree._path_dependent import (
    ensemble_expected_value,
    ensemble_predict,
    path_dependent_shap,
)

xgb = lazy("xgboost")
lgb = lazy("lightgbm")
shap = lazy("shap")

# shap (its own C++ TreeSHAP, on scikit-learn and LightGBM trees) computes in double like
# whybox: the same sums in another order differ by a few ulps of the largest partial sum.
# Measured: at most 2e-15 on values up to 2; 1e-12 is 500 times that.
DOUBLE_TOL = 1e-12
# XGBoost stores leaves, covers and thresholds as float32 and computes its interactions
# in float32: each is a difference of two SHAP values of conditioned games, each a sum
# over the trees of terms of order 0.1-1 with half-ulp (6e-8) rounding per addition, and
# the diagonal subtracts d - 1 such differences from a SHAP value. Errors of a few 1e-7
# are seen here (8e-7 on the multi-class model), a few 1e-6 on 500 trees; 1e-5 (about
# 80 float32 ulps at 1) is the bound test_tree_shap.py uses for pred_contribs. whybox
# itself works in float64 (see the brute-force checks at 1e-10).
XGB_TOL = 1e-5


# ---------------------------------------------------------------------- brute force
def brute_force_interactions(e, x: np.ndarray) -> np.ndarray:
    """Shapley interaction index / 2 off the diagonal, phi_i - sum_j Phi_ij on it."""
    d = e.n_features
    v = value_function(e, x)
    out = np.zeros((d, d, e.n_outputs))
    for i, j in combinations(range(d), 2):
        others = [k for k in range(d) if k not in (i, j)]
        for size in range(d - 1):
            w = math.factorial(size) * math.factorial(d - size - 2) / math.factorial(d - 1)
            for s in combinations(others, size):
                s = frozenset(s)
                out[i, j] += w / 2 * (v(s | {i, j}) - v(s | {i}) - v(s | {j}) + v(s))
        out[j, i] = out[i, j]
    phi = brute_force_shap(e, x)
    for i in range(d):
        out[i, i] = phi[i] - (out[i].sum(axis=0) - out[i, i])
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ensembles())
def test_matches_brute_force_interaction_index(case):
    ensemble, X = case
    inter = path_dependent_interactions(ensemble, X)
    d, k = ensemble.n_features, ensemble.n_outputs
    assert inter.shape == (X.shape[0], d, d, k)
    assert inter.dtype == np.float64
    phi = path_dependent_shap(ensemble, X)
    pred = ensemble_predict(ensemble, X)
    base = ensemble_expected_value(ensemble)
    for r, x in enumerate(X):
        np.testing.assert_allclose(
            inter[r], brute_force_interactions(ensemble, x), rtol=0, atol=1e-10
        )
    np.testing.assert_array_equal(inter, np.swapaxes(inter, 1, 2))
    np.testing.assert_allclose(inter.sum(axis=2), phi, rtol=0, atol=1e-10)
    np.testing.assert_allclose(inter.sum(axis=(1, 2)) + base, pred, rtol=0, atol=1e-10)


def test_one_feature_tree_and_feature_repeated_on_a_path():
    # x0 <= 0 ? (x1 <= 0 ? (x0 <= -1 ? 1 : 2) : 3) : 4: x0 appears twice on a path and
    # interacts with x1; x2 is unused (zero row and column).
    e = _repeated_feature_tree()
    X = np.array([[-2.0, -1.0, 0.0], [-0.5, 1.0, 5.0], [1.0, np.nan, 0.0]])
    inter = path_dependent_interactions(e, X)
    for r, x in enumerate(X):
        np.testing.assert_allclose(inter[r], brute_force_interactions(e, x), atol=1e-12)
    np.testing.assert_array_equal(inter[:, 2, :, :], 0.0)
    np.testing.assert_array_equal(inter[:, :, 2, :], 0.0)


def _repeated_feature_tree():
    # nodes: 0 x0<=0 -> 1, 2 ; 1 x1<=0 -> 3, 4 ; 3 x0<=-1 -> 5, 6 ; leaves 2, 4, 5, 6
    return one_tree(
        [1, 3, -1, 5, -1, -1, -1],
        [2, 4, -1, 6, -1, -1, -1],
        [0, 1, -1, 0, -1, -1, -1],
        [0.0, 0.0, 0, -1.0, 0, 0, 0],
        [10.0, 6.0, 4.0, 4.0, 2.0, 1.0, 3.0],
        [0.0, 0.0, 4.0, 0.0, 3.0, 1.0, 2.0],
        n_features=3,
        default_left=[True, False, False, True, False, False, False],
        base_offset=0.5,
    )


# ---------------------------------------------------------------------- real models
N, D = 200, 5


@pytest.fixture(scope="module")
def data():
    return tree_data(1, N, pair_34=True)


def _shap_interactions(model, X: np.ndarray, n_outputs: int, *, own_cpp: bool) -> np.ndarray:
    """shap's interaction values as (n_samples, d, d, n_outputs)."""
    explainer = shap.TreeExplainer(model)
    if own_cpp:
        explainer.model.model_type = "internal"  # shap's own C++ TreeSHAP
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sv = explainer.shap_interaction_values(X)
    if isinstance(sv, list):
        sv = np.stack(sv, axis=-1)
    sv = np.asarray(sv, np.float64)
    if sv.ndim == 3:
        sv = sv[..., None]
    if sv.shape[-1] == 2 and n_outputs == 1:  # binary forest: positive class
        sv = sv[..., 1:]
    return sv


def _check(ex, explainer, X, additivity_tol: float = DOUBLE_TOL) -> None:
    # additivity is against the model's own prediction, in double except for XGBoost
    d = X.shape[1]
    assert ex.values.shape == (X.shape[0], d, d, explainer.model.n_outputs)
    assert ex.axes == ("samples", "features", "features", "outputs")
    assert ex.method == "tree_path_dependent_interactions"
    np.testing.assert_array_equal(ex.values, np.swapaxes(ex.values, 1, 2))
    np.testing.assert_allclose(ex.values.sum(axis=2), explainer(X).values, rtol=0, atol=DOUBLE_TOL)
    assert ex.additivity_error.max() <= additivity_tol


@pytest.mark.parametrize(
    ("name", "target", "make"),
    [
        (
            "rf_regression",
            "regression",
            lambda: sk_ensemble.RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
        ),
        (
            "rf_multiclass",
            "multiclass",
            lambda: sk_ensemble.RandomForestClassifier(
                n_estimators=10, max_depth=5, random_state=0
            ),
        ),
        (
            "gb_binary",
            "binary",
            lambda: sk_ensemble.GradientBoostingClassifier(
                n_estimators=20, max_depth=3, random_state=0
            ),
        ),
        (
            "gb_regression",
            "regression",
            lambda: sk_ensemble.GradientBoostingRegressor(
                n_estimators=20, max_depth=4, random_state=0
            ),
        ),
        (
            "lgbm_regression_nan",
            "regression",
            lambda: lgb.LGBMRegressor(n_estimators=20, num_leaves=15, verbose=-1),
        ),
        (
            "lgbm_multiclass_nan",
            "multiclass",
            lambda: lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1),
        ),
    ],
)
def test_matches_shap(data, name, target, make):
    X, X_nan, targets = data
    X_fit = X_nan if name.endswith("_nan") else X
    model = make().fit(X_fit, targets[target])
    explainer = TreeExplainer(model)
    ex = explainer.interaction_values(X_fit)
    _check(ex, explainer, X_fit)
    ref = _shap_interactions(model, X_fit, explainer.model.n_outputs, own_cpp=True)
    np.testing.assert_allclose(ex.values, ref, rtol=0, atol=DOUBLE_TOL)


@pytest.mark.parametrize("target", ["regression", "multiclass"])
def test_matches_xgboost_pred_interactions(data, target):
    X, X_nan, targets = data
    model = xgb.XGBRegressor if target == "regression" else xgb.XGBClassifier
    model = model(n_estimators=30, max_depth=4, n_jobs=1).fit(X_nan, targets[target])
    explainer = TreeExplainer(model)
    ex = explainer.interaction_values(X_nan)
    # XGBoost predicts in float32: 6.9e-7 measured on margins up to ~5 after 30 trees
    _check(ex, explainer, X_nan, additivity_tol=1e-6)
    ref = model.get_booster().predict(xgb.DMatrix(X_nan), pred_interactions=True)
    if ref.ndim == 4:  # multi-class: (n, k, d + 1, d + 1)
        ref = np.moveaxis(ref, 1, -1)
    else:
        ref = ref[..., None]
    ref = ref[:, :-1, :-1]  # drop the bias row and column
    np.testing.assert_allclose(ex.values, ref, rtol=0, atol=XGB_TOL)


def test_threads_feature_names_and_checks(data):
    X, _, targets = data
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=15, verbose=-1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(D)])
    model.fit(frame, targets["regression"])
    one = TreeExplainer(model, n_jobs=1).interaction_values(frame)
    two = TreeExplainer(model, n_jobs=2).interaction_values(frame)
    np.testing.assert_array_equal(one.values, two.values)
    assert one.feature_names == tuple(frame.columns)
    # columns are matched by name, as in __call__
    shuffled = TreeExplainer(model).interaction_values(frame[frame.columns[::-1]])
    np.testing.assert_array_equal(shuffled.values, one.values)
    assert one[:, "f0", "f1"].values.shape == (N, 1)
    with pytest.raises(InputError):
        TreeExplainer(model).interaction_values(X[:, :3])
    explainer = TreeExplainer(model)
    explainer.feature_perturbation = "interventional"
    with pytest.raises(InputError, match="tree_path_dependent"):
        explainer.interaction_values(frame)


def test_paths_of_too_many_distinct_features_are_refused():
    from whybox.shapley.tree._interactions import MAX_PATH_FEATURES

    e = chain_ensemble(MAX_PATH_FEATURES + 1, np.random.default_rng(0))
    X = np.zeros((1, e.n_features))
    with pytest.raises(InputError, match="65 distinct features.*up to 64"):
        path_dependent_interactions(e, X)
    # at the limit the values are computed and add up to the SHAP values
    e = chain_ensemble(MAX_PATH_FEATURES, np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(2, e.n_features))
    got = path_dependent_interactions(e, X)
    np.testing.assert_allclose(got.sum(axis=2), path_dependent_shap(e, X), rtol=0, atol=1e-12)
