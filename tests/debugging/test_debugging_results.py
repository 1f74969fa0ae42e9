"""Every debugging result survives strict JSON: ``from_dict(json.loads(to_json()))`` gives
back its fields, and it shows as an HTML table in a notebook."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests.debugging._helpers import frame
from tests.evaluate._helpers import assert_round_trip
from whybox.debugging import (
    Calibration,
    ClassificationCase,
    ConfusedPair,
    ConfusionAnalysis,
    ErrorAnalysis,
    FeatureBins,
    FeatureResiduals,
    FeatureShift,
    RegressionCase,
    ReliabilityCurve,
    ResidualAnalysis,
    ResidualSummary,
    Slice,
    SliceAnalysis,
    calibration,
    confusion_analysis,
    error_analysis,
    find_slices,
    residual_analysis,
)


@pytest.fixture(scope="module")
def classified():
    X = frame(600, 0)
    numeric = X[["x1", "x2"]]
    y = ((numeric["x2"] > 0) ^ (numeric["x1"] > 0.8)).astype(int).to_numpy()
    return LogisticRegression().fit(numeric, y), numeric, y


@pytest.fixture(scope="module")
def regressed():
    X = frame(400, 1)
    numeric = X[["x1", "x2"]].assign(x3=np.where(X["cat"] == "a", np.nan, 1.0))
    y = numeric["x1"] ** 2 * 4 + numeric["x2"] + np.random.default_rng(2).normal(0, 0.1, 400)
    model = LinearRegression().fit(numeric[["x1", "x2"]].to_numpy(), y)
    return (lambda A: model.predict(np.asarray(A, dtype=float)[:, :2])), numeric, y.to_numpy()


def test_confusion_analysis_and_confused_pair():
    ca = confusion_analysis(
        ["a", "a", "b", "c", "c"], ["a", "b", "b", "a", "c"], labels=list("abcd")
    )
    back = assert_round_trip(ca)
    assert isinstance(back, ConfusionAnalysis) and json.loads(ca.to_json())["n_samples"] == 5
    assert all(isinstance(p, ConfusedPair) for p in back.confused_pairs)
    assert isinstance(assert_round_trip(ca.confused_pairs[0]), ConfusedPair)


def test_error_analysis_of_a_classifier(classified):
    model, X, y = classified
    ea = error_analysis(model, X, y, top_k=3)
    back = assert_round_trip(ea)
    assert isinstance(back, ErrorAnalysis) and back.is_error.dtype == bool
    assert json.loads(ea.to_json())["n_errors"] == ea.n_errors
    assert isinstance(back.confusion, ConfusionAnalysis)
    assert isinstance(assert_round_trip(ea.high_confidence_errors[0]), ClassificationCase)
    assert isinstance(assert_round_trip(ea.feature_shifts[0]), FeatureShift)
    pd.testing.assert_frame_equal(back.cases_frame(), ea.cases_frame())


def test_error_analysis_of_a_regressor(regressed):
    model, X, y = regressed
    from whybox.adapters import adapt_model

    ea = error_analysis(adapt_model(model, task="regression"), X, y, top_k=2)
    back = assert_round_trip(ea)
    assert isinstance(back.residuals, ResidualSummary)
    assert isinstance(assert_round_trip(ea.largest_errors[0]), RegressionCase)
    assert isinstance(assert_round_trip(ea.feature_bins[0]), FeatureBins)
    assert isinstance(assert_round_trip(ea.residuals), ResidualSummary)


def test_residual_analysis(regressed):
    model, X, y = regressed
    from whybox.adapters import adapt_model

    res = residual_analysis(adapt_model(model, task="regression"), X, y, n_bins=4)
    back = assert_round_trip(res)
    assert isinstance(back, ResidualAnalysis) and back.significant == res.significant
    assert json.loads(res.to_json())["n_samples"] == 400
    assert isinstance(assert_round_trip(res.features[0]), FeatureResiduals)
    assert res.features[0].test_name == "Welch's one-way ANOVA"


def test_slices(classified):
    model, X, y = classified
    found = find_slices(model, X, y)
    assert found.slices
    back = assert_round_trip(found)
    assert isinstance(back, SliceAnalysis) and isinstance(back.slices[0], Slice)
    assert isinstance(assert_round_trip(found.slices[0]), Slice)
    assert_round_trip(find_slices(model, X, np.asarray(model.predict(X))))  # no slice


def test_calibration(classified):
    model, X, y = classified
    cal = calibration(model, X, y, n_bins=5)
    back = assert_round_trip(cal)
    assert isinstance(back, Calibration) and back.classes == (0, 1)
    assert isinstance(assert_round_trip(cal.curves[0]), ReliabilityCurve)
