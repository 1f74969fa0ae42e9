"""Reason codes against the closed form of a logistic model's linear SHAP values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tests.evaluate._helpers import assert_round_trip
from whybox import InputError, explain
from whybox.fairness import reason_codes


def test_reason_codes_of_a_logistic_model_in_closed_form():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=list("abcde"))
    y = (X @ [1.5, -1.0, 0.5, 0.0, 2.0] + rng.logistic(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    ex = explain(model, X, background=X)
    denied = np.flatnonzero(model.predict(X) == 0)[:10]
    codes = reason_codes(ex, rows=denied, top_k=3)
    # linear SHAP: phi_j = coef_j * (x_j - mean x_j); reasons = the 3 most negative
    phi = model.coef_[0] * (X.to_numpy() - X.to_numpy().mean(axis=0))
    for r in denied:
        got = codes.table[codes.table.row == r]
        neg = [j for j in np.argsort(phi[r]) if phi[r, j] < 0][:3]
        assert got.feature.tolist() == [X.columns[j] for j in neg]
        np.testing.assert_allclose(got.shap_value, phi[r, neg], atol=1e-9)
        assert got["rank"].tolist() == list(range(1, len(neg) + 1))
    sentence = codes.for_row(int(denied[0]))[0]
    assert "lowered the score for '1'" in sentence and "(raw)" in sentence


def test_bad_input(credit):
    case = credit[True]
    ex = explain(case.model, case.X_test[:20])
    with pytest.raises(InputError, match="top_k must be an integer in 1..8"):
        reason_codes(ex, top_k=9)
    with pytest.raises(InputError, match="rows must be positions"):
        reason_codes(ex, rows=[25])


def test_result_round_trips_through_strict_json():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["income", "debt", "age"])
    X["region"] = rng.choice(["north", "south"], 200)
    y = (X["income"] - X["debt"] > 0).astype(int)
    model = LogisticRegression().fit(X[["income", "debt", "age"]], y)
    ex = explain(model, X[["income", "debt", "age"]], background=X[["income", "debt", "age"]])
    codes = reason_codes(ex, rows=[0, 1, 2], top_k=2)
    back = assert_round_trip(codes)
    assert back.for_row(1) == codes.for_row(1)
