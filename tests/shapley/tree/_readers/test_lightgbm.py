"""The LightGBM reader on models trained on pandas category columns (issue 21, item 4).

LightGBM keeps the training frame's categories (``pandas_categorical``, written into
its text model) and maps a category column through them in ``predict``. A table with
text values (object columns, as read from a CSV) is explained without manual encoding,
for the fitted model and for its text file loaded by ``whybox.io.load_model`` (as
``whybox audit --model m.txt`` loads it). References: LightGBM's own ``pred_contrib``
and ``raw_score`` on the frame with category columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests._requires import lazy
from tests.shapley.tree._readers._helpers import as_csv_text, category_frame
from whybox.shapley import TreeExplainer
from whybox.shapley.tree._ensemble import parse_ensemble

lgb = lazy("lightgbm")

SIZE = ["XL", "S", "M"]  # not sorted: LightGBM's codes are positions in this order


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(5)
    n = 800
    colour = rng.choice(["red", "green", "blue", "violet"], n)
    size = rng.choice(SIZE, n)
    x = rng.normal(size=n)
    y = 2.0 * (colour == "red") + np.where(size == "S", x, -x) + 0.1 * rng.normal(size=n)
    frame = category_frame(colour, size, x, SIZE)
    frame.loc[rng.random(n) < 0.1, "colour"] = np.nan
    return frame, y


@pytest.fixture(scope="module", params=["regression", "binary", "multiclass"])
def model(request, table):
    frame, y = table
    common = dict(n_estimators=30, num_leaves=8, min_child_samples=5, verbose=-1)
    if request.param == "regression":
        return lgb.LGBMRegressor(**common).fit(frame, y)
    if request.param == "binary":
        return lgb.LGBMClassifier(**common).fit(frame, (y > 0.5).astype(int))
    return lgb.LGBMClassifier(**common).fit(frame, np.digitize(y, [-0.5, 1.0]))


def _contrib(booster, frame: pd.DataFrame) -> np.ndarray:
    """LightGBM's own contributions, shape (n_samples, n_features + 1, n_outputs)."""
    out = booster.predict(frame, pred_contrib=True)
    k = booster.num_model_per_iteration()
    return np.moveaxis(np.asarray(out).reshape(len(frame), k, -1), 1, -1)


@pytest.mark.parametrize("loaded", [False, True], ids=["fitted", "text file"])
def test_text_values_from_a_csv_equal_pred_contrib(model, table, loaded, tmp_path):
    frame, _ = table
    explained = model
    if loaded:
        from whybox.io import load_model

        model.booster_.save_model(tmp_path / "model.txt")
        explained = load_model(tmp_path / "model.txt")
    assert parse_ensemble(explained).category_levels[2].tolist() == SIZE
    rows = frame.iloc[:50].copy()
    text = as_csv_text(rows)
    # a category the model never saw and a missing cell: LightGBM reads both as missing
    text.loc[3, "colour"] = "purple"
    text.loc[4, "size"] = None
    rows["colour"] = rows["colour"].cat.add_categories(["purple"])
    rows.loc[rows.index[3], "colour"] = "purple"
    rows.loc[rows.index[4], "size"] = np.nan
    ex = TreeExplainer(explained)(text)
    theirs = _contrib(model.booster_, rows)
    np.testing.assert_allclose(ex.values, theirs[:, :-1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values, theirs[:, -1], rtol=0, atol=1e-10)
    raw = model.booster_.predict(rows, raw_score=True).reshape(len(rows), -1)
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, raw, rtol=0, atol=1e-10)
