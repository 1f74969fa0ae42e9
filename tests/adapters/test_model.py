"""Model and data adapters: output spaces, class handling, column checks."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from tests._requires import lazy
from whybox import InputError, UnsupportedModelError
from whybox.adapters import adapt_data, adapt_model

lgb = lazy("lightgbm")
xgb = lazy("xgboost")


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(200, 5, random_state=0)
    return pd.DataFrame(X, columns=[f"f {i}" for i in range(5)]), y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    return X, y


def test_binary_classifier_has_one_output_per_space(binary):
    X, y = binary
    model = adapt_model(LogisticRegression().fit(X, y))
    assert model.output_names == ("1",)
    proba = model.predict(X, "probability")
    assert proba.shape == (200, 1)
    np.testing.assert_allclose(proba[:, 0], model.estimator.predict_proba(X)[:, 1])
    np.testing.assert_allclose(
        model.predict(X, "raw")[:, 0], model.estimator.decision_function(X), rtol=1e-12
    )
    # For logistic regression the log-odds of the probability is the decision function.
    np.testing.assert_allclose(model.predict(X, "log_odds"), model.predict(X, "raw"), atol=1e-8)
    np.testing.assert_array_equal(model.predict_label(X), model.estimator.predict(X))


def test_forest_native_space_is_probability(binary):
    X, y = binary
    model = adapt_model(RandomForestClassifier(5, random_state=0).fit(X, y))
    assert model.native_space == "probability"
    np.testing.assert_allclose(
        model.predict(X, "auto")[:, 0], model.estimator.predict_proba(X)[:, 1]
    )


def test_multiclass_outputs_are_named_by_classes(multiclass):
    X, y = multiclass
    names = ("a", "b", "c")
    model = adapt_model(GradientBoostingClassifier(n_estimators=5).fit(X, y), class_names=names)
    assert model.output_names == names
    assert model.predict(X, "raw").shape == (300, 3)
    np.testing.assert_allclose(model.predict(X, "raw"), model.estimator.decision_function(X))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosters_margin_and_probability(library, multiclass):
    X, y = multiclass
    if library == "xgboost":
        est = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
        booster = est.get_booster()
    else:
        est = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
        booster = est.booster_
    for wrapped in (est, booster):
        model = adapt_model(wrapped)
        assert model.task == "classification"
        assert model.output_names == ("0", "1", "2")
        np.testing.assert_allclose(model.predict(X, "probability"), est.predict_proba(X), rtol=1e-5)
        np.testing.assert_array_equal(model.predict_label(X), est.predict(X))


def test_xgboost_binary_margin_is_log_odds(binary):
    X, y = binary
    est = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    model = adapt_model(est.get_booster())
    p = est.predict_proba(X)[:, 1]
    np.testing.assert_allclose(model.predict(X, "raw")[:, 0], np.log(p / (1 - p)), atol=1e-5)


def test_pipeline_with_column_transformer_takes_original_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=80), "colour": rng.choice(["red", "blue"], 80)})
    y = (frame.x + (frame.colour == "red") > 0.5).astype(int)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    model = adapt_model(pipe)
    data = model.check_data(adapt_data(frame))
    assert data.values.dtype == object
    np.testing.assert_allclose(
        model.predict(data.values, "probability")[:, 0], pipe.predict_proba(frame)[:, 1]
    )


def test_callable_model():
    model = adapt_model(lambda X: X @ np.array([1.0, 2.0]))
    assert model.task == "regression"
    np.testing.assert_allclose(model.predict(np.eye(2)), [[1.0], [2.0]])


def test_callable_with_several_outputs_needs_their_names():
    def f(X):
        return np.column_stack([X.sum(axis=1), X.prod(axis=1)])

    named = adapt_model(f, output_names=["sum", "product"])
    assert named.output_names == ("sum", "product")
    np.testing.assert_allclose(named.predict(np.array([[2.0, 3.0]])), [[5.0, 6.0]])
    with pytest.raises(InputError, match="returned 2 outputs but pass output_names"):
        adapt_model(f).predict(np.ones((1, 2)))
    with pytest.raises(InputError, match="returned 2 outputs but output_names has 3"):
        adapt_model(f, output_names=["a", "b", "c"]).predict(np.ones((1, 2)))


def test_binary_label_at_probability_one_half_is_the_first_class_as_sklearn():
    class Half(LogisticRegression):
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    X, y = np.array([[0.0], [1.0]]), np.array(["no", "yes"])
    model = adapt_model(Half().fit(X, y))
    assert model.predict_label(X).tolist() == ["no", "no"]


def test_check_data_reorders_and_names_missing_columns(binary):
    X, y = binary
    model = adapt_model(LogisticRegression().fit(X, y))
    shuffled = X[X.columns[::-1]]
    assert model.check_data(adapt_data(shuffled)).feature_names == tuple(X.columns)
    with pytest.raises(
        InputError, match="has 4 columns but the model was fitted on 5: missing 'f 0'"
    ):
        model.check_data(adapt_data(X.drop(columns=["f 0"])))


def test_check_data_refuses_text_for_numeric_models():
    X, y = make_regression(50, 2, random_state=0)
    model = adapt_model(LinearRegression().fit(X, y))
    data = adapt_data(np.array([["a", 1.0], ["b", 2.0]], dtype=object))
    with pytest.raises(InputError, match="non-numeric columns"):
        model.check_data(data)


def test_check_data_names_nan_columns_for_models_without_nan_support():
    X, y = make_regression(50, 3, random_state=0)
    model = adapt_model(LinearRegression().fit(X, y))
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(InputError, match=r"missing values \(NaN\) in \['x1'\]"):
        model.check_data(adapt_data(X))


def test_lightgbm_names_with_spaces_match(binary):
    X, y = binary
    est = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    data = adapt_model(est.booster_).check_data(adapt_data(X))
    assert data.feature_names == tuple(X.columns)


def test_unknown_and_unfitted_models_are_refused():
    with pytest.raises(UnsupportedModelError, match="not supported"):
        adapt_model(object())
    with pytest.raises(InputError, match="not fitted"):
        adapt_model(LogisticRegression())


def test_adapt_data_errors():
    with pytest.raises(InputError, match="empty"):
        adapt_data(np.zeros((0, 3)))
    with pytest.raises(InputError, match="must be 2-D"):
        adapt_data(np.zeros(3))
    with pytest.raises(InputError, match="one name per column"):
        adapt_data(np.zeros((2, 3)), feature_names=["a"])
    frame = pd.DataFrame({"a": [1.0, None], "b": pd.Categorical(["x", "y"])})
    data = adapt_data(frame)
    assert data.categorical.tolist() == [False, True]
    assert data.numeric_columns_with_nan() == ["a"]
