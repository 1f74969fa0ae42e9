"""One-sentence InputErrors at the public entry points (issue #19, items 11 and 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import whybox
from whybox import InputError
from whybox.adapters import adapt_data, adapt_model

RNG = np.random.default_rng(0)
X_NUM = RNG.normal(size=(120, 3))
Y_CLS = (X_NUM[:, 0] + 0.3 * RNG.normal(size=120) > 0).astype(int)
Y_REG = X_NUM @ np.array([1.0, -2.0, 0.5])
FRAME = pd.DataFrame(X_NUM, columns=["a", "b", "c"])


@pytest.fixture(scope="module")
def clf():
    return LogisticRegression().fit(X_NUM, Y_CLS)


@pytest.fixture(scope="module")
def reg():
    return LinearRegression().fit(X_NUM, Y_REG)


# ---------------------------------------------------------------- item 11: check_data
def test_check_data_finds_inf_after_the_probe_rows(clf):
    X = X_NUM.copy()
    X[100, 1] = np.inf
    with pytest.raises(InputError, match=r"infinite value \(inf\) in column 'x1' at row 100"):
        adapt_model(clf).check_data(adapt_data(X))


def test_check_data_finds_text_in_a_numeric_column_after_the_probe_rows():
    model = adapt_model(LinearRegression().fit(FRAME, Y_REG))
    frame = FRAME.astype(object)
    frame.loc[97, "c"] = "n/a " * 30
    with pytest.raises(InputError) as info:
        model.check_data(adapt_data(frame), name="X")
    msg = str(info.value)
    assert "column 'c'" in msg and "row 97" in msg and "text" in msg
    assert "'n/a n/a n/a" in msg and "n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a" not in msg


def test_check_data_finds_inf_in_a_mixed_frame_after_the_probe_rows():
    model = adapt_model(LinearRegression().fit(FRAME, Y_REG))
    frame = FRAME.assign(c=FRAME["c"].astype(object))
    frame.loc[80, "c"] = -np.inf
    with pytest.raises(InputError, match=r"\(-inf\) in column 'c' at row 80"):
        model.check_data(adapt_data(frame), name="X")


def test_explainer_reports_the_bad_row_not_a_later_model_error(clf):
    X = X_NUM.copy()
    X[90, 2] = np.inf
    with pytest.raises(InputError, match=r"column 'x2' at row 90"):
        whybox.inspection.permutation_importance(clf, X, Y_CLS, n_repeats=1)


def test_check_data_keeps_text_columns_and_nan():
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"n": np.r_[np.nan, np.arange(99.0)], "t": ["a", "b"] * 50})
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["t"]), remainder="passthrough"),
        HistGradientBoostingRegressor(max_iter=5),
    ).fit(frame, np.arange(100.0))
    data = adapt_data(frame)
    assert adapt_model(pipe).check_data(data) is data  # text and NaN left to the model
