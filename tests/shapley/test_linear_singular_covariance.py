"""LinearExplainer warns when the background covariance is singular (#19 item 21)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from whybox.shapley import LinearExplainer
from whybox.shapley._linear import COVARIANCE_RIDGE


def _model(d: int, seed: int = 0) -> LinearRegression:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, d))
    return LinearRegression().fit(X, X @ rng.normal(size=d))


def test_fewer_rows_than_features_warns_and_is_recorded():
    model = _model(6)
    bg = np.random.default_rng(1).normal(size=(4, 6))  # rank of the covariance: 3
    with pytest.warns(UserWarning, match=r"covariance is singular \(rank 3 of 6: it has 4 rows"):
        explainer = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")
    ex = explainer(bg[:2])
    assert ex.params["covariance_singular"] is True
    assert ex.params["covariance_rank"] == 3
    assert ex.params["covariance_ridge"] == COVARIANCE_RIDGE


def test_collinear_features_warn():
    model = _model(3)
    base = np.random.default_rng(2).normal(size=(40, 2))
    bg = np.column_stack([base, base[:, 0] - 2 * base[:, 1]])  # x2 = x0 - 2 x1
    with pytest.warns(UserWarning, match=r"rank 2 of 3: some features are linear combinations"):
        LinearExplainer(model, bg, feature_perturbation="correlation_dependent")


def test_full_rank_background_is_silent_and_recorded():
    model = _model(4)
    bg = np.random.default_rng(3).normal(size=(30, 4))
    bg[:, 3] = 1.5  # a constant column is no reason to warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(bg[:1])
    assert ex.params["covariance_singular"] is False
    assert ex.params["covariance_rank"] == 3


def test_interventional_has_no_covariance():
    model = _model(6)
    bg = np.random.default_rng(1).normal(size=(4, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = LinearExplainer(model, bg)(bg[:1])
    assert ex.params["covariance_singular"] is None
