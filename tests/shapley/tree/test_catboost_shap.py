"""CatBoost's own SHAP values in whybox's layout (issue 21, item 4).

CatBoost's ``ShapValues`` are path-dependent TreeSHAP on its own trees, categorical
splits (one-hot and CTR) included. Checked against CatBoost's own prediction
(``RawFormulaVal``: the values add up to it), for a column the model never splits on
(a constant column: value 0), and, on a model without categorical features, against
whybox's path-dependent kernels on the same trees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests._requires import lazy
from whybox import InputError, UnsupportedModelError
from whybox.shapley import TreeExplainer
from whybox.shapley.tree._catboost_shap import (
    catboost_expected_value,
    catboost_has_categorical,
    catboost_shap_values,
)

cb = lazy("catboost")

KINDS = ["regression", "binary", "multiclass"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(11)
    n = 500
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "violet"], n),
            "x": rng.normal(size=n),
            "constant": np.ones(n),  # the model cannot split on it
            "size": rng.choice(["S", "M", "XL"], n),
        }
    )
    y = (
        2.0 * (frame["colour"] == "red")
        + np.where(frame["size"] == "S", frame["x"], -frame["x"])
        + 0.1 * rng.normal(size=n)
    ).to_numpy()
    return frame, y


def _fit(kind: str, frame: pd.DataFrame, y: np.ndarray, cat_features=("colour", "size")):
    common = dict(
        iterations=40, depth=4, verbose=0, random_seed=0, thread_count=1, allow_writing_files=False
    )
    if cat_features:
        common["cat_features"] = list(cat_features)
    if kind == "regression":
        return cb.CatBoostRegressor(**common).fit(frame, y)
    if kind == "binary":
        return cb.CatBoostClassifier(**common).fit(frame, (y > 0.5).astype(int))
    return cb.CatBoostClassifier(**common).fit(frame, np.digitize(y, [-0.5, 1.0]))


@pytest.fixture(scope="module", params=KINDS)
def fitted(request, table):
    frame, y = table
    return request.param, _fit(request.param, frame, y)


def test_values_add_up_to_catboosts_raw_prediction(fitted, table):
    kind, model = fitted
    frame, _ = table
    rows = frame.iloc[:40]
    values, base = catboost_shap_values(model, rows)
    k = {"regression": 1, "binary": 1, "multiclass": 3}[kind]
    assert values.shape == (40, 4, k) and values.dtype == np.float64
    assert base.shape == (k,) and base.dtype == np.float64
    raw = np.asarray(model.predict(rows, prediction_type="RawFormulaVal")).reshape(40, -1)
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, rtol=0, atol=1e-10)
    # the categorical columns carry the planted effects
    assert np.abs(values[:, 0]).max() > 0.1 and np.abs(values[:, 3]).max() > 0.01


def test_a_column_the_model_never_splits_on_gets_zero(fitted, table):
    _, model = fitted
    frame, _ = table
    values, _ = catboost_shap_values(model, frame.iloc[:40])
    np.testing.assert_array_equal(values[:, 2], 0.0)


def test_binary_is_the_positive_class_log_odds(table):
    frame, y = table
    model = _fit("binary", frame, y)
    rows = frame.iloc[:30]
    values, base = catboost_shap_values(model, rows)
    p = model.predict_proba(rows)[:, 1]
    margin = values.sum(axis=1)[:, 0] + base[0]
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-margin)), p, rtol=0, atol=1e-10)


def test_columns_are_matched_by_name_and_checked(table):
    frame, y = table
    model = _fit("regression", frame, y)
    rows = frame.iloc[:10]
    reordered = rows[["size", "constant", "x", "colour"]]
    np.testing.assert_array_equal(
        catboost_shap_values(model, reordered)[0], catboost_shap_values(model, rows)[0]
    )
    with pytest.raises(InputError, match=r"missing \['size'\]"):
        catboost_shap_values(model, rows.drop(columns="size"))
    with pytest.raises(InputError, match="CatBoost could not compute SHAP values"):
        catboost_shap_values(model, rows.assign(colour=np.nan))


def test_has_categorical(table):
    frame, y = table
    assert catboost_has_categorical(_fit("regression", frame, y))
    numeric = frame[["x", "constant"]]
    assert not catboost_has_categorical(_fit("regression", numeric, y, cat_features=()))


@pytest.mark.parametrize("kind", KINDS)
def test_equals_whybox_kernels_on_a_model_without_categories(kind, table):
    """Both are path-dependent TreeSHAP on the same trees."""
    frame, y = table
    numeric = frame[["x", "constant"]].assign(z=np.sin(3 * frame["x"]))
    model = _fit(kind, numeric, y, cat_features=())
    values, base = catboost_shap_values(model, numeric.iloc[:30])
    ex = TreeExplainer(model)(numeric.iloc[:30])
    np.testing.assert_allclose(values, ex.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(base, ex.base_values[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_with_a_background_the_values_are_interventional(kind, table):
    """CatBoost's Independent Tree SHAP equals brute-force enumeration of the
    interventional game on CatBoost's own predictions (ExactExplainer)."""
    from whybox.shapley import ExactExplainer

    frame, y = table
    model = _fit(kind, frame, y)
    background, rows = frame.iloc[200:225], frame.iloc[:6]
    values, base = catboost_shap_values(model, rows, background)
    reference = ExactExplainer(model, background, max_background=None, output="raw")(rows)
    np.testing.assert_allclose(values, reference.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(base, reference.base_values[0], rtol=0, atol=1e-10)
    raw = np.asarray(model.predict(background, prediction_type="RawFormulaVal"))
    np.testing.assert_allclose(base, raw.reshape(25, -1).mean(axis=0), rtol=0, atol=1e-10)
    with pytest.raises(InputError, match="background has the columns"):
        catboost_shap_values(model, rows, background.drop(columns="x"))


@pytest.mark.parametrize("kind", KINDS)
def test_the_expected_value_needs_no_rows(kind, table):
    frame, y = table
    model = _fit(kind, frame, y)
    _, base = catboost_shap_values(model, frame.iloc[:3])
    np.testing.assert_allclose(catboost_expected_value(model), base, rtol=0, atol=1e-12)


@pytest.mark.parametrize("policy", ["Depthwise", "Lossguide"])
def test_non_symmetric_trees_are_refused(policy, table):
    """CatBoost's own ShapValues on non-symmetric trees do not add up to its prediction
    (CatBoost 1.2.10), so they are refused rather than returned."""
    frame, y = table
    model = cb.CatBoostRegressor(
        iterations=30, depth=4, verbose=0, random_seed=0, grow_policy=policy,
        cat_features=["colour", "size"], allow_writing_files=False,
    ).fit(frame, y)  # fmt: skip
    with pytest.raises(UnsupportedModelError, match=r"non-symmetric trees.*SymmetricTree"):
        catboost_shap_values(model, frame.iloc[:5])


def test_a_model_loaded_from_a_file_is_explained(table, tmp_path):
    from whybox.io import load_model

    frame, y = table
    model = _fit("multiclass", frame, y)
    model.save_model(str(tmp_path / "model.cbm"))
    loaded = load_model(tmp_path / "model.cbm")
    assert catboost_has_categorical(loaded)
    rows = frame.iloc[:10]
    np.testing.assert_array_equal(
        catboost_shap_values(loaded, rows)[0], catboost_shap_values(model, rows)[0]
    )
