"""calibration: scikit-learn's calibration curve and Brier score, honest and overconfident
predictors, the top-label curve."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import brier_score_loss

from whybox import plots
from whybox._exceptions import InputError
from whybox.adapters import adapt_model
from whybox.debugging import calibration


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_equals_scikit_learn(strategy):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(800, 4))
    y = (X[:, 0] + rng.normal(0, 1, 800) > 0).astype(int)
    model = LogisticRegression().fit(X[:400], y[:400])
    res = calibration(model, X[400:], y[400:], n_bins=8, strategy=strategy)
    p = model.predict_proba(X[400:])[:, 1]
    true, pred = calibration_curve(y[400:], p, n_bins=8, strategy=strategy)
    curve = res.curves[0]
    np.testing.assert_allclose(curve.observed, true, atol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted, pred, atol=1e-12)
    assert np.isclose(res.brier_score, brier_score_loss(y[400:], p))
    assert np.isclose(res.ece, np.sum(curve.counts * np.abs(true - pred)) / 400)


def test_calibrated_and_overconfident_predictors():
    rng = np.random.default_rng(6)
    n = 20000
    p = rng.uniform(0, 1, n)
    y = (rng.uniform(size=n) < p).astype(int)
    honest = adapt_model(
        lambda A: np.column_stack([1 - np.asarray(A)[:, 0], np.asarray(A)[:, 0]]),
        task="classification",
        output_names=["0", "1"],
    )
    X = p[:, None]
    res = calibration(honest, X, np.where(y == 1, "1", "0").astype(object), n_bins=10)
    # each bin's observed frequency has sd <= sqrt(0.25 / 2000) ~ 0.011
    assert res.ece < 0.02
    sharp = np.clip(0.5 + 2.5 * (p - 0.5), 0.001, 0.999)[:, None]
    over = calibration(honest, sharp, np.where(y == 1, "1", "0").astype(object), n_bins=10)
    assert over.ece > 0.1


def test_multiclass_top_label_and_brier():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(900, 3))
    y = np.digitize(X[:, 0] + rng.normal(0, 0.5, 900), [-0.5, 0.5])
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:600], y[:600])
    res = calibration(model, X[600:], y[600:])
    proba = model.predict_proba(X[600:])
    assert res.curves[0].label == "top label" and len(res.curves) == 4
    assert np.isclose(res.brier_score, brier_score_loss(y[600:], proba))
    true, pred = calibration_curve(y[600:] == 2, proba[:, 2], n_bins=10)
    np.testing.assert_allclose(res.curves[3].observed, true, atol=1e-12)
    fig = plots.calibration(res)
    assert "ECE" in fig.axes[0].get_title()
    with pytest.raises(InputError, match="regressor"):
        calibration(LinearRegression().fit(X, X[:, 0]), X, X[:, 0])
    with pytest.raises(InputError, match="n_bins"):
        calibration(model, X, y, n_bins=1)
    with pytest.raises(InputError, match="labels"):
        calibration(model, X[:5], [0, 1, 2, 3, 9])
