"""TreeExplainer against the reference implementations, on small real models.

References: XGBoost's and LightGBM's own TreeSHAP (``pred_contribs``/``pred_contrib``)
and ``shap.TreeExplainer`` for scikit-learn models. Every model is small (<= 30 trees,
300 rows) to keep this file fast on two cores.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import ensemble as sk_ensemble
from sklearn import tree as sk_tree

from tests._requires import lazy
from tests.shapley.tree._bruteforce import tree_data
from whybox.shapley.tree import TreeExplainer, parse_ensemble
from whybox.shapley.tree._path_dependent import ensemble_predict

xgb = lazy("xgboost")
lgb = lazy("lightgbm")
shap = lazy("shap")

# XGBoost stores leaf values, covers and thresholds as float32 and computes its own
# contributions and predictions in float32: each of the ~100 additions of values of
# order 1 can be off by half an ulp (6e-8), so its figures carry errors of a few 1e-6.
# 1e-5 is about 80 float32 ulps at 1; whybox itself works in float64 (see the
# float64 checks against the trees' own traversal below, at DOUBLE_TOL).
XGB_TOL = 1e-5
# LightGBM (pred_contrib), shap (on scikit-learn trees) and whybox all compute in double:
# the same sums taken in another order differ by a few ulps (2.2e-16 relative) of the
# largest partial sum. Measured: at most 5.3e-15 on values up to 9; 1e-12 is 200 times that.
DOUBLE_TOL = 1e-12

N, D = 300, 5


@pytest.fixture(scope="module")
def data():
    return tree_data(0, N, pair_34=False)


def _by_output(contribs: np.ndarray, n_features: int) -> np.ndarray:
    """Library contributions (bias column last) as (n_samples, n_features, n_outputs)."""
    if contribs.ndim == 3:  # XGBoost multi-class: (n, k, d + 1)
        return np.moveaxis(contribs[:, :, :-1], 1, 2)
    k = contribs.shape[1] // (n_features + 1)
    blocks = [contribs[:, i * (n_features + 1) : (i + 1) * (n_features + 1) - 1] for i in range(k)]
    return np.stack(blocks, axis=-1)


def _shap_reference(model, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sv = np.asarray(shap.TreeExplainer(model).shap_values(X))
    if sv.ndim == 2:
        sv = sv[:, :, None]
    if sv.shape[2] == 2:  # shap keeps both classes of a binary classifier
        sv = sv[:, :, 1:]
    return sv


# ---------------------------------------------------------------------- XGBoost
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_xgboost_matches_pred_contribs(data, task):
    _, X_nan, targets = data
    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    model = cls(n_estimators=20, max_depth=4, random_state=0).fit(X_nan, targets[task])
    ex = TreeExplainer(model)(X_nan)
    contribs = model.get_booster().predict(xgb.DMatrix(X_nan), pred_contribs=True)
    reference = _by_output(contribs, D)
    k = 3 if task == "multiclass" else 1
    assert ex.values.shape == (N, D, k)
    np.testing.assert_allclose(ex.values, reference, rtol=0, atol=XGB_TOL)
    bias = contribs[..., -1].reshape(N, -1)
    np.testing.assert_allclose(ex.base_values, bias, rtol=0, atol=XGB_TOL)
    assert ex.additivity_error.max() <= XGB_TOL  # against XGBoost's float32 margin
    # against the trees themselves, in float64, local accuracy is exact
    own = ensemble_predict(parse_ensemble(model), X_nan)
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, own, rtol=0, atol=DOUBLE_TOL)


@pytest.mark.parametrize(
    "objective",
    ["count:poisson", "reg:gamma", "reg:logistic", "binary:logitraw", "reg:absoluteerror"],
)
def test_xgboost_base_score_is_read_as_a_margin(data, objective):
    X, _, targets = data
    y = targets["binary"] if objective in ("reg:logistic", "binary:logitraw") else None
    if y is None:
        y = np.exp(targets["regression"] / 2)
    booster = xgb.train({"objective": objective, "max_depth": 3, "seed": 0}, xgb.DMatrix(X, y), 5)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    own = ensemble_predict(parse_ensemble(booster), X)
    np.testing.assert_allclose(own[:, 0], margin, rtol=0, atol=XGB_TOL)
    ex = TreeExplainer(booster)(X[:50])
    contribs = booster.predict(xgb.DMatrix(X[:50]), pred_contribs=True)
    np.testing.assert_allclose(ex.values[:, :, 0], contribs[:, :-1], rtol=0, atol=XGB_TOL)


def test_xgboost_dart_and_raw_booster(data):
    _, X_nan, targets = data
    booster = xgb.train(
        {
            "booster": "dart",
            "rate_drop": 0.3,
            "max_depth": 3,
            "seed": 0,
            "objective": "reg:squarederror",
        },
        xgb.DMatrix(X_nan, targets["regression"]),
        10,
    )
    ex = TreeExplainer(booster)(X_nan)
    contribs = booster.predict(xgb.DMatrix(X_nan), pred_contribs=True)
    np.testing.assert_allclose(ex.values[:, :, 0], contribs[:, :-1], rtol=0, atol=XGB_TOL)
    assert ex.additivity_error.max() <= XGB_TOL


# ---------------------------------------------------------------------- LightGBM
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_lightgbm_matches_pred_contrib(data, task):
    _, X_nan, targets = data
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    model = cls(n_estimators=20, num_leaves=8, verbose=-1, random_state=0)
    model.fit(X_nan, targets[task])
    ex = TreeExplainer(model)(X_nan)
    contribs = model.predict(X_nan, pred_contrib=True)
    reference = _by_output(np.asarray(contribs), D)
    np.testing.assert_allclose(ex.values, reference, rtol=0, atol=DOUBLE_TOL)
    assert ex.additivity_error.max() <= DOUBLE_TOL


@pytest.mark.parametrize(
    "params",
    [
        {},  # trained without NaN: missing_type "None", NaN read as 0 at prediction
        {"zero_as_missing": True},  # missing_type "Zero"
        {"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.6},  # raw score: the sum
    ],
)
def test_lightgbm_missing_types_and_rf_mode_on_raw_booster(data, params):
    X, X_nan, targets = data
    X_zero = np.where(np.isnan(X_nan), 0.0, X)
    train = X if not params.get("zero_as_missing") else X_zero
    booster = lgb.train(
        {"num_leaves": 8, "verbose": -1, "seed": 0, **params},
        lgb.Dataset(train, targets["regression"]),
        10,
    )
    explain = np.vstack([X_nan[:100], X_zero[:100]])
    ex = TreeExplainer(booster)(explain)
    contribs = booster.predict(explain, pred_contrib=True)
    np.testing.assert_allclose(ex.values[:, :, 0], contribs[:, :-1], rtol=0, atol=DOUBLE_TOL)
    assert ex.additivity_error.max() <= DOUBLE_TOL


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_lightgbm_categorical_splits_match_pred_contrib(data, task):
    X, _, targets = data
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 8, size=N).astype(float)
    X_cat = np.column_stack([X, codes])
    y = targets[task]
    y = y + 2 * np.isin(codes, [0, 3, 5]) if task == "regression" else y
    params = {"num_leaves": 8, "verbose": -1, "seed": 0, "min_data_per_group": 5, "cat_smooth": 1}
    if task == "multiclass":
        params.update(objective="multiclass", num_class=3)
    booster = lgb.train(params, lgb.Dataset(X_cat, y, categorical_feature=[D]), 10)
    assert "'decision_type': '=='" in str(booster.dump_model())  # a categorical split
    # NaN, negative, truncated (2.7 -> 2, -0.5 -> 0) and unseen (11) categories
    probe = np.tile(X_cat[:7], (1, 1))
    probe[:, D] = [np.nan, -1.0, -0.5, 2.7, 11.0, 3.0, 0.0]
    rows = np.vstack([X_cat, probe])
    ex = TreeExplainer(booster)(rows)
    contribs = booster.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(ex.values, _by_output(contribs, D + 1), rtol=0, atol=DOUBLE_TOL)
    assert ex.additivity_error.max() <= DOUBLE_TOL


# ---------------------------------------------------------------------- scikit-learn
SKLEARN_CASES = [
    (sk_ensemble.RandomForestRegressor, "regression", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.RandomForestClassifier, "binary", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.RandomForestClassifier, "multiclass", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.ExtraTreesRegressor, "regression", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.ExtraTreesClassifier, "binary", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.ExtraTreesClassifier, "multiclass", {"n_estimators": 10, "max_depth": 6}),
    (sk_ensemble.GradientBoostingRegressor, "regression", {"n_estimators": 15}),
    (sk_ensemble.GradientBoostingClassifier, "binary", {"n_estimators": 15}),
    (sk_ensemble.HistGradientBoostingRegressor, "regression", {"max_iter": 15}),
    (sk_ensemble.HistGradientBoostingClassifier, "binary", {"max_iter": 15}),
    (sk_ensemble.HistGradientBoostingClassifier, "multiclass", {"max_iter": 15}),
    (sk_tree.DecisionTreeRegressor, "regression", {"max_depth": 6}),
    (sk_tree.DecisionTreeClassifier, "multiclass", {"max_depth": 6}),
]


@pytest.mark.parametrize(
    ("cls", "task", "params"), SKLEARN_CASES, ids=lambda c: getattr(c, "__name__", c)
)
def test_sklearn_matches_shap(data, cls, task, params):
    X, X_nan, targets = data
    rows = X if cls.__name__.startswith("GradientBoosting") else X_nan  # GB refuses NaN
    model = cls(random_state=0, **params).fit(rows, targets[task])
    ex = TreeExplainer(model)(rows)
    np.testing.assert_allclose(ex.values, _shap_reference(model, rows), rtol=0, atol=DOUBLE_TOL)
    assert ex.additivity_error.max() <= DOUBLE_TOL
    forest_classifier = task != "regression" and not cls.__name__.startswith(
        ("GradientBoosting", "HistGradientBoosting")
    )
    assert ex.output_space == ("probability" if forest_classifier else "raw")
    assert ex.values.shape == (N, D, 3 if task == "multiclass" else 1)


def test_gradient_boosting_multiclass_local_accuracy(data):
    # shap does not read multi-class GradientBoostingClassifier: check local accuracy
    # against the model's decision_function, and the empty coalition against the
    # cover-weighted mean of each class's trees plus the init estimator's log-prior.
    X, _, targets = data
    y = targets["multiclass"]
    model = sk_ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    ex = TreeExplainer(model)(X)
    assert ex.values.shape == (N, D, 3)
    np.testing.assert_allclose(
        ex.values.sum(axis=1) + ex.base_values, model.decision_function(X), rtol=0, atol=DOUBLE_TOL
    )
    prior = np.log(np.bincount(y) / len(y))
    prior -= prior.mean()  # scikit-learn centres the multinomial intercept
    means = np.zeros(3)
    for stage in model.estimators_:
        for k, t in enumerate(stage):
            tree = t.tree_
            leaves = tree.children_left == -1
            w = tree.weighted_n_node_samples[leaves] / tree.weighted_n_node_samples[0]
            means[k] += model.learning_rate * (w * tree.value[leaves, 0, 0]).sum()
    np.testing.assert_allclose(ex.base_values[0], prior + means, rtol=0, atol=DOUBLE_TOL)
