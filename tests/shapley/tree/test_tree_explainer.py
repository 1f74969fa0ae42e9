"""TreeExplainer's public contract: shapes, inputs, invariances and error messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests._requires import lazy
from whybox import Explanation, InputError, UnsupportedModelError
from whybox.adapters import adapt_model
from whybox.shapley import TreeExplainer

xgb = lazy("xgboost")
lgb = lazy("lightgbm")

N, D = 200, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, D))
    y = X[:, 0] - 2 * X[:, 1] * X[:, 2] + X[:, 3] ** 2
    return X, y


@pytest.fixture(scope="module")
def forest(data):
    X, y = data
    return RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(X, y)


def test_explanation_contract(data, forest):
    X, _ = data
    ex = TreeExplainer(forest)(X)
    assert isinstance(ex, Explanation)
    assert ex.values.shape == (N, D, 1) and ex.values.dtype == np.float64
    assert ex.base_values.shape == (N, 1)
    assert ex.feature_names == ("x0", "x1", "x2", "x3")
    assert ex.output_names == ("prediction",)
    assert ex.output_space == "raw"
    assert ex.method == "tree_path_dependent"
    assert ex.params["feature_perturbation"] == "tree_path_dependent"
    np.testing.assert_array_equal(ex.data, X)
    np.testing.assert_allclose(ex.model_output[:, 0], forest.predict(X), rtol=0, atol=1e-12)
    assert ex.additivity_error.max() <= 1e-10
    assert np.all(ex.base_values == ex.base_values[0])  # one base value for every row


def test_single_tree_base_value_is_training_mean(data):
    X, y = data
    model = RandomForestRegressor(n_estimators=1, bootstrap=False, max_depth=4, random_state=0)
    model.fit(X, y)
    ex = TreeExplainer(model)(X[:5])
    np.testing.assert_allclose(ex.base_values[:, 0], y.mean(), rtol=0, atol=1e-10)


def test_binary_forest_explains_positive_class_probability(data):
    X, y = data
    model = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)
    model.fit(X, (y > 0).astype(int))
    ex = TreeExplainer(model, output="probability")(X)
    assert ex.output_names == ("1",) and ex.values.shape == (N, D, 1)
    np.testing.assert_allclose(
        ex.values.sum(axis=1)[:, 0] + ex.base_values[:, 0],
        model.predict_proba(X)[:, 1],
        rtol=0,
        atol=1e-10,
    )


def test_pandas_input_is_matched_by_column_name(data):
    X, y = data
    cols = ["age", "income", "debt", "score"]
    frame = pd.DataFrame(X, columns=cols)
    model = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(frame, y)
    explainer = TreeExplainer(model)
    ex = explainer(frame)
    shuffled = explainer(frame[["score", "age", "debt", "income"]])
    assert shuffled.feature_names == tuple(cols)
    np.testing.assert_array_equal(shuffled.values, ex.values)
    np.testing.assert_array_equal(explainer(X).values, ex.values)  # array in the model's order
    assert ex.additivity_error.max() <= 1e-10


def test_lightgbm_booster_fitted_on_a_frame_takes_arrays_and_frames(data):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1).fit(frame, y)
    a = TreeExplainer(model)(X)
    b = TreeExplainer(model.booster_)(frame)
    np.testing.assert_array_equal(a.values, b.values)
    assert b.feature_names == ("a", "b", "c", "d")


def test_batch_equals_row_by_row_and_n_jobs_does_not_change_values(data):
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    model.fit(X, np.digitize(y, [-1, 1]))
    batch = TreeExplainer(model)(X[:20])
    one_thread = TreeExplainer(model, n_jobs=1)(X[:20])
    np.testing.assert_array_equal(batch.values, one_thread.values)
    for i in (0, 7, 19):
        np.testing.assert_array_equal(TreeExplainer(model)(X[i : i + 1]).values[0], batch.values[i])


def test_many_rows_are_explained_in_blocks(data, monkeypatch):
    import whybox.shapley.tree._explainer as mod

    X, y = data
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y)
    whole = TreeExplainer(model)(X)
    monkeypatch.setattr(mod, "_BLOCK_ROWS", 64)
    blocks = TreeExplainer(model, progress=True)(X)  # the bar advances block by block
    np.testing.assert_array_equal(blocks.values, whole.values)


def test_supports():
    assert TreeExplainer.supports(RandomForestRegressor())
    assert TreeExplainer.supports(xgb.XGBClassifier())
    assert TreeExplainer.supports(lgb.LGBMRegressor())
    assert not TreeExplainer.supports(LinearRegression())
    assert not TreeExplainer.supports(make_pipeline(StandardScaler(), RandomForestRegressor()))


def test_whybox_model_wrapper_is_accepted(data, forest):
    X, _ = data
    a = TreeExplainer(adapt_model(forest))(X[:10])
    np.testing.assert_array_equal(a.values, TreeExplainer(forest)(X[:10]).values)


# ---------------------------------------------------------------------- errors
def test_unsupported_models_are_refused_with_the_list(data):
    X, y = data
    with pytest.raises(UnsupportedModelError, match="LinearRegression.*supports.*RandomForest"):
        TreeExplainer(LinearRegression().fit(X, y))
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="LinearRegression.*Pipelines ending in one"):
        TreeExplainer(pipe)
    # a pipeline ending in trees is explained in its input columns
    pipe = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=2)).fit(X, y)
    assert TreeExplainer(pipe)(X[:3]).values.shape == (3, X.shape[1], 1)
    with pytest.raises(UnsupportedModelError, match="not fitted"):
        TreeExplainer(RandomForestRegressor())


def test_interventional_needs_a_background(data, forest):
    X, _ = data
    with pytest.raises(InputError, match="interventional.*needs a background"):
        TreeExplainer(forest, feature_perturbation="interventional")
    ex = TreeExplainer(forest, background=X[:20], feature_perturbation="interventional")(X[:3])
    assert ex.method == "tree_interventional" and ex.params["background_rows"] == 20
    np.testing.assert_allclose(ex.base_values[0], forest.predict(X[:20]).mean(), atol=1e-12)
    with pytest.raises(InputError, match="feature_perturbation must be one of"):
        TreeExplainer(forest, feature_perturbation="marginal")


def test_output_must_be_the_native_space(data, forest):
    X, y = data
    with pytest.raises(InputError, match="native output space.*'raw'"):
        TreeExplainer(forest, output="probability")
    clf = xgb.XGBClassifier(n_estimators=3).fit(X, (y > 0).astype(int))
    with pytest.raises(InputError, match="path-dependent TreeSHAP explains"):
        TreeExplainer(clf, output="probability")
    assert TreeExplainer(clf, output="raw").output_space == "raw"


def test_wrong_column_count(data, forest):
    X, _ = data
    with pytest.raises(InputError, match="X has 3 columns but the model was fitted on 4"):
        TreeExplainer(forest)(X[:, :3])


def test_bad_n_jobs(forest):
    with pytest.raises(InputError, match="n_jobs must be a positive integer"):
        TreeExplainer(forest, n_jobs=0)


def test_background_is_not_used_and_says_so(data, forest):
    X, _ = data
    with pytest.warns(UserWarning, match="background is not used"):
        TreeExplainer(forest, background=X)
