"""TreeSHAP on categorical splits: XGBoost and HistGradientBoosting (LightGBM: see
test_tree_interventional and test_tree_shap).

References: XGBoost's own ``pred_contribs``/``pred_interactions`` on categorical
models; brute-force enumeration of the path-dependent game (``tests/shapley/tree/_bruteforce.py``)
and of the interventional game (``ExactExplainer``); the model's own predictions for
local accuracy. The rows hold missing values, categories never seen in training,
negative and non-integer codes, so every branch of each library's rule is exercised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from tests._requires import lazy
from tests.shapley.tree._bruteforce import brute_force_shap, by_output
from whybox import InputError
from whybox.shapley import ExactExplainer, TreeExplainer
from whybox.shapley.tree._ensemble import parse_ensemble
from whybox.shapley.tree._path_dependent import ensemble_predict, prepare_rows
from whybox.shapley.tree._primitives import (
    SPLIT_CATEGORICAL_DEFAULT,
    SPLIT_CATEGORICAL_RIGHT,
)

xgb = lazy("xgboost")

XGB_TOL = 1e-5  # XGBoost sums in float32 (see test_tree_shap)
TYPES = ["q", "c", "q", "c"]
# codes the model never saw: negative, non-integer, beyond the training range, missing
ODD_CODES = [-1.0, -0.5, 2.5, 11.0, 40.0, np.nan]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 9, n).astype(float),  # a 9-level categorical
            rng.normal(size=n),
            rng.integers(0, 3, n).astype(float),  # a 3-level categorical (one-hot splits)
        ]
    )
    X[rng.random(n) < 0.1, 1] = np.nan
    X[rng.random(n) < 0.1, 0] = np.nan
    y = (
        np.nan_to_num(X[:, 0])
        + 2.0 * np.isin(X[:, 1], [1, 3, 6])
        - 3.0 * (X[:, 1] == 5)
        + (X[:, 3] == 1) * X[:, 2]
    )
    rows = X[:40].copy()
    rows[: len(ODD_CODES), 1] = ODD_CODES
    rows[: len(ODD_CODES), 3] = ODD_CODES[::-1]
    return X, y, rows


def _dmatrix(X: np.ndarray):
    return xgb.DMatrix(X, feature_types=TYPES, enable_categorical=True)


@pytest.fixture(scope="module", params=["regression", "binary", "multiclass"])
def xgb_model(request, data):
    X, y, _ = data
    common = dict(
        n_estimators=25,
        max_depth=4,
        enable_categorical=True,
        feature_types=TYPES,
        tree_method="hist",
        max_cat_to_onehot=4,  # the 3-level column gets one-hot splits, the other partitions
    )
    if request.param == "regression":
        return xgb.XGBRegressor(**common).fit(X, y)
    labels = (y > 1).astype(int) if request.param == "binary" else np.digitize(y, [0, 2])
    return xgb.XGBClassifier(**common).fit(X, labels)


def test_xgboost_categorical_splits_are_read(xgb_model):
    e = parse_ensemble(xgb_model)
    cat = e.missing_rule == SPLIT_CATEGORICAL_RIGHT
    assert cat.any()
    assert set(np.unique(e.features[cat])) == {1, 3}
    np.testing.assert_array_equal(e.categorical_features, [1, 3])


def test_xgboost_categorical_matches_pred_contribs(xgb_model, data):
    _, _, rows = data
    ex = TreeExplainer(xgb_model)(rows)
    contribs = by_output(xgb_model.get_booster().predict(_dmatrix(rows), pred_contribs=True))
    np.testing.assert_allclose(ex.values, contribs[:, :-1], rtol=0, atol=XGB_TOL)
    np.testing.assert_allclose(ex.base_values, contribs[:, -1], rtol=0, atol=XGB_TOL)
    # local accuracy: exact against whybox's float64 traversal, float32-close to XGBoost's
    e = parse_ensemble(xgb_model)
    total = ex.values.sum(axis=1) + ex.base_values
    np.testing.assert_allclose(total, ensemble_predict(e, rows), rtol=0, atol=1e-10)
    assert ex.additivity_error.max() < XGB_TOL


def test_xgboost_categorical_equals_brute_force(xgb_model, data):
    _, _, rows = data
    e = parse_ensemble(xgb_model)
    few = rows[:8]  # every odd code is among them
    ex = TreeExplainer(xgb_model)(few)
    reference = np.array([brute_force_shap(e, r) for r in prepare_rows(e, few)])
    np.testing.assert_allclose(ex.values, reference, rtol=0, atol=1e-10)


def test_xgboost_categorical_interactions_match_pred_interactions(data):
    X, y, rows = data
    model = xgb.XGBRegressor(
        n_estimators=15, max_depth=4, enable_categorical=True, feature_types=TYPES
    ).fit(X, y)
    ours = TreeExplainer(model).interaction_values(rows[:20]).values[..., 0]
    theirs = model.get_booster().predict(_dmatrix(rows[:20]), pred_interactions=True)
    np.testing.assert_allclose(ours, theirs[:, :-1, :-1], rtol=0, atol=XGB_TOL)


def test_xgboost_categorical_interventional_equals_exact(xgb_model, data):
    X, _, rows = data
    background = X[300:330]
    ex = TreeExplainer(xgb_model, background=background, feature_perturbation="interventional")
    ours = ex(rows[:8])
    reference = ExactExplainer(xgb_model, background, max_background=None, output="raw")(rows[:8])
    # ExactExplainer calls XGBoost (float32); whybox's trees are float64
    np.testing.assert_allclose(ours.values, reference.values, rtol=0, atol=XGB_TOL)


def test_xgboost_category_values_without_stored_categories_are_refused(data):
    """A model trained on codes (``feature_types``) stores no categories: text is refused
    with the fix. (Models trained on pandas category columns with XGBoost 3.1+ store
    them and take text: tests/shapley/tree/_readers/test_xgboost.py.)"""
    X, y, _ = data
    model = xgb.XGBRegressor(
        n_estimators=3, enable_categorical=True, feature_types=TYPES, tree_method="hist"
    ).fit(pd.DataFrame(X, columns=["a", "colour", "b", "d"]), y)
    frame = pd.DataFrame(X[:20], columns=["a", "colour", "b", "d"])
    explainer = TreeExplainer(model)
    assert explainer.ensemble.category_levels == {}
    text = frame.assign(colour=np.where(frame["colour"] > 3, "red", "blue"))
    with pytest.raises(InputError, match=r"column 'colour' holds category values.*cat\.codes"):
        explainer(text)
    ex = explainer(frame)
    assert ex.additivity_error.max() < XGB_TOL


# ---------------------------------------------------------------------- HistGradientBoosting
@pytest.fixture(scope="module")
def hgb_data():
    """Numeric categories that are not 0..n-1 (steps of 1.5), so encoding matters."""
    rng = np.random.default_rng(1)
    n = 800
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 10, n) * 1.5,
            rng.normal(size=n),
            rng.integers(0, 3, n).astype(float),
        ]
    )
    X[rng.random(n) < 0.1, 1] = np.nan
    y = X[:, 0] + 2.0 * np.isin(X[:, 1], [1.5, 4.5, 9.0]) + (X[:, 3] == 1) * X[:, 2]
    rows = X[:30].copy()
    rows[:6, 1] = [-1.0, 2.0, 3.0, 100.0, np.nan, 13.5]  # 2.0, 100: unknown; 3.0, 13.5: known
    return X, y, rows


def test_hgb_categorical_equals_brute_force_and_predict(hgb_data):
    X, y, rows = hgb_data
    model = HistGradientBoostingRegressor(
        categorical_features=[1, 3], max_iter=20, max_depth=4, random_state=0
    ).fit(X, y)
    e = parse_ensemble(model)
    assert (e.missing_rule == SPLIT_CATEGORICAL_DEFAULT).any()
    assert set(e.encoded_categories) == {1, 3}
    ex = TreeExplainer(model)(rows)
    np.testing.assert_allclose(
        ex.values.sum(axis=1)[:, 0] + ex.base_values[:, 0], model.predict(rows), rtol=0, atol=1e-10
    )
    reference = np.array([brute_force_shap(e, r) for r in prepare_rows(e, rows[:8])])
    np.testing.assert_allclose(ex.values[:8], reference, rtol=0, atol=1e-10)
    ix = TreeExplainer(model).interaction_values(rows[:10])
    np.testing.assert_allclose(ix.values.sum(axis=2), ex.values[:10], rtol=0, atol=1e-10)


def test_hgb_categorical_strings_from_a_dataframe(hgb_data):
    X, y, _ = hgb_data
    levels = np.array(list("abcdefghij"))
    colour = np.where(np.isnan(X[:, 1]), None, levels[np.nan_to_num(X[:, 1] / 1.5).astype(int)])
    frame = pd.DataFrame({"a": X[:, 0], "colour": pd.Categorical(colour), "b": X[:, 2]})
    model = HistGradientBoostingClassifier(max_iter=15, max_depth=4, random_state=0)
    model.fit(frame, (y > 1).astype(int))
    assert model.is_categorical_.tolist() == [False, True, False]
    rows = frame.iloc[:20].copy()
    rows["colour"] = rows["colour"].cat.add_categories(["zz"])
    rows.loc[rows.index[0], "colour"] = "zz"  # unknown: treated as missing
    ex = TreeExplainer(model)(rows)
    np.testing.assert_allclose(
        ex.values.sum(axis=1)[:, 0] + ex.base_values[:, 0],
        model.decision_function(rows),
        rtol=0,
        atol=1e-10,
    )
    background = frame.iloc[400:430]
    inter = TreeExplainer(model, background=background, feature_perturbation="interventional")
    reference = ExactExplainer(model, background, max_background=None, output="raw")
    np.testing.assert_allclose(
        inter(rows.iloc[:5]).values, reference(rows.iloc[:5]).values, rtol=0, atol=1e-10
    )
