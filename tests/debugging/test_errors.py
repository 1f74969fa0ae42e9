"""error_analysis: ground truth for classifiers and regressors, confidence tables, effect sizes,
no errors, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from whybox import InputError
from whybox.adapters import adapt_model
from whybox.debugging import ErrorAnalysis, confusion_analysis, error_analysis


# ------------------------------------------------------------------ error analysis: classification
def _flipped_data(n=600, seed=0):
    """Labels follow `signal`, but are flipped where `shift` is large: errors live there."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            "shift": rng.normal(size=n),
            "noise": rng.normal(size=n),
        }
    )
    clean = np.where(X["signal"] > 0, "spam", "ham")
    flip = (X["shift"] > 1.0).to_numpy() & (rng.random(n) < 0.8)
    noisy = np.where(flip, np.where(clean == "spam", "ham", "spam"), clean)
    model = LogisticRegression().fit(X, clean)
    return model, X, pd.Series(noisy, name="label")


def test_error_analysis_classification_ground_truth():
    model, X, y = _flipped_data()
    ea = error_analysis(model, X, y, top_k=5)
    assert isinstance(ea, ErrorAnalysis) and ea.task == "classification"
    pred = model.predict(X)
    assert ea.accuracy == pytest.approx(metrics.accuracy_score(y, pred))
    np.testing.assert_array_equal(ea.is_error, pred != y.to_numpy())
    assert ea.classes == ("ham", "spam")
    recall = metrics.recall_score(y, pred, average=None, labels=["ham", "spam"])
    np.testing.assert_allclose(ea.class_accuracy, recall)
    np.testing.assert_array_equal(ea.class_support, [(y == "ham").sum(), (y == "spam").sum()])

    # the shifted feature comes first, with effect sizes computed by hand
    top = ea.feature_shifts[0]
    assert top.feature == "shift" and top.kind == "numeric"
    a = X["shift"].to_numpy()[ea.is_error]
    b = X["shift"].to_numpy()[~ea.is_error]
    pooled = np.sqrt(
        ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    )
    assert top.cohens_d == pytest.approx((a.mean() - b.mean()) / pooled)
    assert top.cohens_d > 1.0
    ks = stats.ks_2samp(a, b)
    assert top.ks_statistic == pytest.approx(ks.statistic) and top.effect == top.ks_statistic
    assert top.ks_pvalue == pytest.approx(ks.pvalue)
    assert {s.feature for s in ea.feature_shifts} == {"signal", "shift", "noise"}
    effects = [s.effect for s in ea.feature_shifts]
    assert effects == sorted(effects, reverse=True)


def test_error_analysis_confidence_tables():
    model, X, y = _flipped_data()
    ea = error_analysis(model, X, y, top_k=7)
    proba = model.predict_proba(X).max(axis=1)
    errs = ea.high_confidence_errors
    assert len(errs) == 7
    assert all(c.true != c.predicted for c in errs)
    conf = [c.confidence for c in errs]
    assert conf == sorted(conf, reverse=True)
    wrong = np.flatnonzero(ea.is_error)
    assert conf[0] == pytest.approx(proba[wrong].max())
    for c in errs:
        assert c.confidence == pytest.approx(proba[c.row])
        assert c.true == y.iloc[c.row]
    ok = ea.low_confidence_correct
    assert all(c.true == c.predicted for c in ok)
    assert [c.confidence for c in ok] == sorted(c.confidence for c in ok)
    assert ok[0].confidence == pytest.approx(proba[~ea.is_error].min())
    cases = ea.cases_frame()
    assert list(cases["kind"].unique()) == ["high_confidence_error", "low_confidence_correct"]
    json.dumps(ea.to_dict())


def test_error_analysis_categorical_feature_cramers_v_and_tvd():
    rng = np.random.default_rng(1)
    n = 400
    X = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["a", "b", "c"], size=n)})
    clean = (X["x"] > 0).astype(int).to_numpy()
    flip = (X["city"] == "c").to_numpy() & (rng.random(n) < 0.5)
    y = np.where(flip, 1 - clean, clean)
    pipe = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(), ["city"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(X, clean)
    ea = error_analysis(pipe, X, y)
    by_name = {s.feature: s for s in ea.feature_shifts}
    city = by_name["city"]
    assert city.kind == "categorical" and city.top_category == "c"
    err = ea.is_error
    cats = ["a", "b", "c"]
    p_err = np.array([(X["city"][err] == c).mean() for c in cats])
    p_rest = np.array([(X["city"][~err] == c).mean() for c in cats])
    assert city.tvd == pytest.approx(0.5 * np.abs(p_err - p_rest).sum())
    assert city.effect == city.tvd
    table = np.array([[(X["city"][g] == c).sum() for c in cats] for g in (~err, err)])
    assert city.cramers_v == pytest.approx(stats.contingency.association(table, method="cramer"))
    assert ea.feature_shifts[0].feature == "city"


def test_error_analysis_no_errors():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0, 1, 0, 1, 0]})
    y = np.array(["lo", "lo", "lo", "hi", "hi", "hi"])
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    ea = error_analysis(model, X, y)
    assert ea.accuracy == 1.0 and ea.n_errors == 0 and not ea.has_errors
    assert ea.high_confidence_errors == ()
    assert ea.feature_shifts == ()
    assert any("No errors" in note for note in ea.notes)
    assert len(ea.low_confidence_correct) == 6
    assert ea.to_frame().empty
    d = json.loads(json.dumps(ea.to_dict()))
    assert d["n_errors"] == 0


def test_error_analysis_single_class_present():
    model, X, y = _flipped_data()
    keep = (y == "spam").to_numpy()
    ea = error_analysis(model, X[keep], y[keep])
    assert ea.classes == ("spam",)
    assert ea.class_support.tolist() == [keep.sum()]
    assert ea.class_accuracy[0] == pytest.approx(ea.accuracy)
    assert any("single class" in note for note in ea.notes)


def test_error_analysis_ignores_nan_in_features():
    rng = np.random.default_rng(2)
    n = 300
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n)])
    y = (X[:, 0] + 0.8 * rng.normal(size=n) > 0).astype(int)
    X[::7, 1] = np.nan
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    ea = error_analysis(model, X, y)
    x1 = {s.feature: s for s in ea.feature_shifts}["x1"]
    observed = ~np.isnan(X[:, 1])
    assert x1.n_errors == (ea.is_error & observed).sum()
    assert x1.n_rest == (~ea.is_error & observed).sum()
    assert np.isfinite(x1.effect) and np.isfinite(x1.cohens_d)


def test_error_analysis_bad_input():
    model, X, y = _flipped_data(n=100)
    with pytest.raises(InputError, match="y has 99 values but X has 100 rows"):
        error_analysis(model, X, y[:99])
    with pytest.raises(InputError, match="does not know"):
        error_analysis(model, X, y.replace("spam", "eggs"))
    with pytest.raises(InputError, match="top_k must be a positive integer"):
        error_analysis(model, X, y, top_k=0)
    with pytest.raises(InputError, match="missing 'noise'"):
        error_analysis(model, X.drop(columns="noise"), y)


# ---------------------------------------------------------------------- error analysis: regression
def test_error_analysis_regression_summary_and_bins():
    rng = np.random.default_rng(4)
    n = 500
    X = pd.DataFrame({"x1": rng.uniform(0, 1, n), "x2": rng.uniform(0, 1, n)})
    # noise grows with x2: errors concentrate in the top bin of x2
    y = 3 * X["x1"] + rng.normal(size=n) * (0.05 + 2.0 * (X["x2"] > 0.8))
    model = LinearRegression().fit(X, y)
    ea = error_analysis(model, X, y, top_k=4, n_bins=5)
    pred = model.predict(X)
    r = ea.residuals
    assert r.mae == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert r.rmse == pytest.approx(np.sqrt(metrics.mean_squared_error(y, pred)))
    assert r.r2 == pytest.approx(metrics.r2_score(y, pred))
    assert r.bias == pytest.approx(np.mean(pred - y))
    abs_err = np.abs(pred - y.to_numpy())
    assert [c.row for c in ea.largest_errors] == list(np.argsort(-abs_err)[:4])
    assert ea.largest_errors[0].error == pytest.approx(
        pred[ea.largest_errors[0].row] - y.iloc[ea.largest_errors[0].row]
    )
    # "large error" is the top decile
    assert ea.error_threshold == pytest.approx(np.quantile(abs_err, 0.9))
    assert ea.n_errors == (abs_err >= ea.error_threshold).sum()
    # x2's worst bin is its top quintile, and x2 ranks first
    x2 = ea.feature_bins[0]
    assert x2.feature == "x2" and x2.worst_bin == 4 and len(x2.labels) == 5
    assert x2.count.sum() == n
    edges = np.quantile(X["x2"], [0.8])
    top_bin = (X["x2"] >= edges[0]).to_numpy()
    assert x2.mae[4] == pytest.approx(abs_err[top_bin].mean())
    assert x2.worst_ratio == pytest.approx(x2.mae[4] / r.mae)
    assert ea.feature_shifts[0].feature == "x2"
    json.dumps(ea.to_dict())
    assert ea.cases_frame().shape == (4, 4)


def test_error_analysis_regression_hand_computed_bins():
    X = np.arange(1.0, 11.0)[:, None]
    y = np.zeros(10)
    # a callable regressor whose absolute error is x for x <= 5 and 2x beyond
    model = adapt_model(lambda Z: np.where(Z[:, 0] <= 5, Z[:, 0], 2 * Z[:, 0]))
    ea = error_analysis(model, X, y, n_bins=2)
    (b,) = ea.feature_bins
    # quantile edges 1, 5.5, 10: bins {1..5} and {6..10}
    np.testing.assert_array_equal(b.count, [5, 5])
    np.testing.assert_allclose(b.mae, [3.0, 16.0])
    overall = (15 + 80) / 10
    assert ea.residuals.mae == pytest.approx(overall)
    assert b.worst_bin == 1 and b.worst_ratio == pytest.approx(16.0 / overall)
    assert b.labels == ("[1, 5.5)", "[5.5, 10]")
    assert ea.residuals.bias == pytest.approx(overall)


def test_error_analysis_regression_perfect_model():
    X = np.arange(20.0).reshape(10, 2)
    model = adapt_model(lambda Z: 2 * Z[:, 0])
    ea = error_analysis(model, X, 2 * X[:, 0])
    assert ea.residuals.mae == 0 and ea.residuals.r2 == 1.0
    assert ea.n_errors == 0 and ea.feature_shifts == ()
    assert any("No errors" in note for note in ea.notes)
    json.dumps(ea.to_dict())


def test_error_analysis_regression_needs_numeric_y():
    model = adapt_model(lambda Z: Z[:, 0])
    with pytest.raises(InputError, match="y must hold numbers"):
        error_analysis(model, np.ones((3, 1)), ["a", "b", "c"])


def test_error_analysis_confusion_matches_confusion_analysis():
    model, X, y = _flipped_data()
    ea = error_analysis(model, X, y)
    ref = confusion_analysis(y, model.predict(X), labels=list(model.classes_))
    np.testing.assert_array_equal(ea.confusion.matrix, ref.matrix)
    assert ea.confusion.labels == ("ham", "spam")
    assert ea.confusion.accuracy == pytest.approx(ea.accuracy)
    assert ea.confusion.matrix.sum() - np.trace(ea.confusion.matrix) == ea.n_errors
    with pytest.raises(dataclasses.FrozenInstanceError):
        ea.accuracy = 1.0
