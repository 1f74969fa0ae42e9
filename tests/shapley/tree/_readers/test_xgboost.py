"""The XGBoost reader on models trained on pandas category columns (issue 21, item 4).

XGBoost 3.1 and later store the training frame's categories in the model and re-code
a category frame by them. The reader hands them over as ``category_levels``, so a
table with text values (object columns, as read from a CSV) is explained without
manual encoding. References: XGBoost's own ``pred_contribs``, ``pred_interactions``
and ``predict(output_margin=True)`` on the frame with category columns; never a value
from an earlier whybox run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests._requires import lazy
from tests.shapley.tree._readers._helpers import as_csv_text, category_frame
from whybox import InputError
from whybox.shapley import TreeExplainer
from whybox.shapley.tree._ensemble import parse_ensemble

xgb = lazy("xgboost")

XGB_TOL = 1e-5  # XGBoost sums its trees in float32 (see test_tree_shap)
COLOUR = ["red", "green", "blue", "violet", "grey"]
SIZE = ["XL", "S", "M"]  # a category order that is not sorted: codes are positions here


def _stores_categories() -> None:
    from importlib.metadata import version

    xgb.DMatrix  # noqa: B018 (imports XGBoost, or skips when it is missing)
    found = version("xgboost")
    if tuple(int(p) for p in found.split(".")[:2]) < (3, 1):
        pytest.skip(f"XGBoost {found} does not store categories (3.1 and later do)")


@pytest.fixture(scope="module")
def table():
    """A frame with two category columns (one in an unsorted order, with missing values)."""
    rng = np.random.default_rng(3)
    n = 700
    colour = rng.choice(COLOUR, n)
    size = rng.choice(SIZE, n)
    x = rng.normal(size=n)
    y = (
        2.0 * (colour == "red")
        - 1.5 * (colour == "grey")
        + np.where(size == "S", x, -x)
        + 0.7 * (size == "M")
        + 0.1 * rng.normal(size=n)
    )
    frame = category_frame(colour, size, x, SIZE)
    frame.loc[rng.random(n) < 0.1, "colour"] = np.nan
    return frame, y


def _fit(kind: str, frame: pd.DataFrame, y: np.ndarray, **extra):
    common = dict(
        n_estimators=25, max_depth=4, enable_categorical=True, max_cat_to_onehot=1, **extra
    )
    if kind == "regression":
        return xgb.XGBRegressor(**common).fit(frame, y)
    if kind == "binary":
        return xgb.XGBClassifier(**common).fit(frame, (y > 0.5).astype(int))
    return xgb.XGBClassifier(**common).fit(frame, np.digitize(y, [-0.5, 1.0]))


@pytest.fixture(scope="module", params=["regression", "binary", "multiclass"])
def model(request, table):
    _stores_categories()
    return _fit(request.param, *table)


def _contribs(model, frame: pd.DataFrame, **kw) -> np.ndarray:
    """XGBoost's own contributions on the category frame, outputs last."""
    out = model.get_booster().predict(xgb.DMatrix(frame, enable_categorical=True), **kw)
    if out.ndim == 2:
        return out[:, :, None]
    return np.moveaxis(out, 1, -1) if "pred_contribs" in kw else out


def test_the_stored_categories_are_the_category_levels(model, table):
    frame, _ = table
    e = parse_ensemble(model)
    assert set(e.category_levels) == {0, 2}
    assert e.category_levels[0].tolist() == list(frame["colour"].cat.categories)
    assert e.category_levels[2].tolist() == SIZE  # the training order, not sorted
    assert e.categorical_features.tolist() == [0, 2]
    from whybox.adapters._model import xgboost_category_levels

    adapter = xgboost_category_levels(model)  # XGBoost's own export, as the adapter reads it
    assert {j: v.tolist() for j, v in adapter.items()} == {
        j: v.tolist() for j, v in e.category_levels.items()
    }


def test_text_values_from_a_csv_equal_pred_contribs(model, table):
    frame, _ = table
    rows = frame.iloc[:60]
    text = as_csv_text(rows)
    ex = TreeExplainer(model)(text)
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)
    np.testing.assert_allclose(ex.base_values, theirs[:, -1], rtol=0, atol=XGB_TOL)
    margin = model.predict(rows, output_margin=True).reshape(len(rows), -1)
    total = ex.values.sum(axis=1) + ex.base_values
    np.testing.assert_allclose(total, margin, rtol=0, atol=XGB_TOL)
    # the explanation keeps the text; the codes never show
    assert ex.data[0, 2] == rows["size"].iloc[0]


def test_a_category_frame_in_another_category_order_is_recoded(model, table):
    frame, _ = table
    rows = frame.iloc[:40].copy()
    rows["size"] = rows["size"].astype(str).astype("category")  # sorted: M, S, XL
    assert rows["size"].cat.categories.tolist() != SIZE
    ex = TreeExplainer(model)(rows)
    theirs = _contribs(model, rows, pred_contribs=True)  # XGBoost re-codes it itself
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)


def test_interactions_and_interventional_values_on_text(table):
    _stores_categories()
    frame, y = table
    model = _fit("regression", frame, y)
    rows = frame.iloc[:20]
    text = as_csv_text(rows)
    ours = TreeExplainer(model).interaction_values(text).values[..., 0]
    theirs = _contribs(model, rows, pred_interactions=True)
    np.testing.assert_allclose(ours, theirs[:, :-1, :-1], rtol=0, atol=XGB_TOL)
    background = as_csv_text(frame.iloc[300:330])
    inter = TreeExplainer(model, background=background, feature_perturbation="interventional")
    from whybox.shapley import ExactExplainer

    reference = ExactExplainer(model, background, max_background=None, output="raw")
    np.testing.assert_allclose(
        inter(text.iloc[:6]).values, reference(text.iloc[:6]).values, rtol=0, atol=XGB_TOL
    )


def test_missing_text_follows_xgboosts_default_branch(model, table):
    frame, _ = table
    rows = frame.iloc[:10].copy()
    rows["colour"] = pd.Categorical([np.nan] * 10, categories=rows["colour"].cat.categories)
    text = as_csv_text(frame.iloc[:10])
    text["colour"] = None  # an empty CSV cell
    ex = TreeExplainer(model)(text)
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)


def test_a_category_the_model_never_saw_is_refused(model, table):
    # XGBoost 3.2 either fails on it or reads it as the next stored category in sorted
    # order (e.g. "NEW" as "blue"): whybox refuses it, naming the value and its row
    frame, _ = table
    text = as_csv_text(frame.iloc[:10])
    text.loc[4, "colour"] = "purple"
    explainer = TreeExplainer(model)
    with pytest.raises(InputError, match=r"column 'colour' holds 'purple' at row 4.*known"):
        explainer(text)
    codes = pd.DataFrame({"colour": [0.0, 7.0], "x": [0.0, 0.0], "size": ["S", "M"]})
    with pytest.raises(InputError, match=r"column 'colour' holds 7.0 at row 1.*code"):
        explainer(codes)


def test_codes_are_still_read_as_codes(model, table):
    frame, _ = table
    rows = frame.iloc[:30]
    codes = rows.assign(
        colour=rows["colour"].cat.codes.replace(-1, np.nan).astype(float),
        size=rows["size"].cat.codes.astype(float),
    )
    ex = TreeExplainer(model)(codes)
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_a_model_saved_and_loaded_by_whybox_io_keeps_its_categories(model, table, tmp_path, suffix):
    from whybox.io import load_model

    frame, _ = table
    path = tmp_path / f"model{suffix}"
    model.save_model(path)
    loaded = load_model(path)
    rows = frame.iloc[:30]
    ex = TreeExplainer(loaded)(as_csv_text(rows))
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)


def test_dart_and_integer_categories(table):
    _stores_categories()
    frame, y = table
    numbered = frame.assign(size=frame["size"].cat.rename_categories([30, 10, 20]))
    model = _fit("regression", numbered, y, booster="dart", rate_drop=0.1, random_state=0)
    e = parse_ensemble(model)
    assert e.category_levels[2].tolist() == [30, 10, 20]
    from whybox.adapters._model import xgboost_category_levels

    assert xgboost_category_levels(model)[2].tolist() == [30, 10, 20]
    rows = numbered.iloc[:30]
    # text colours and integer categories (object column, not codes)
    mixed = as_csv_text(rows).assign(size=rows["size"].astype(object).to_numpy())
    assert mixed["size"].dtype == object
    ex = TreeExplainer(model)(mixed)
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)


def test_text_that_is_not_ascii_needs_its_codes(table):
    """XGBoost 3.2 stores categories cut by characters, not bytes: "é" comes back as a
    broken byte. Such a column keeps no levels, and its text is refused with the fix."""
    _stores_categories()
    frame, y = table
    accented = frame.assign(size=frame["size"].cat.rename_categories(["été", "hiver", "mi"]))
    model = _fit("regression", accented, y)
    e = parse_ensemble(model)
    assert set(e.category_levels) == {0}
    from whybox.adapters._model import xgboost_category_levels

    assert set(xgboost_category_levels(model)) == {0}
    rows = accented.iloc[:20]
    with pytest.raises(InputError, match=r"column 'size' holds category values.*cat\.codes"):
        TreeExplainer(model)(as_csv_text(rows))
    codes = rows.assign(size=rows["size"].cat.codes.astype(float))
    ex = TreeExplainer(model)(codes)
    theirs = _contribs(model, rows, pred_contribs=True)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=XGB_TOL)
