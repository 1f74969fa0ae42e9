"""find_slices: a planted failing slice, false positives under random errors, support, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression

from tests.debugging._helpers import frame as make_frame
from whybox._exceptions import InputError
from whybox.debugging import find_slices


class _Rule(ClassifierMixin, BaseEstimator):
    """A classifier that knows one rule: class 1 when x2 > 0 (probability 0.95)."""

    def fit(self, X, y=None):
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict_proba(self, X):
        p = 0.05 + 0.9 * (np.asarray(pd.DataFrame(X)["x2"], dtype=float) > 0)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def test_planted_failing_slice_is_found_first():
    frame = make_frame(3000, 0)
    y = (frame["x2"] > 0).astype(int).to_numpy()
    rng = np.random.default_rng(1)
    y = np.where(rng.uniform(size=len(y)) < 0.05, 1 - y, y)  # 5% background noise
    planted = (frame["x1"] > 0.75) & (frame["cat"] == "b")
    y = np.where(planted, 1 - y, y)  # the model is wrong on every planted row
    res = find_slices(_Rule().fit(frame), frame, y)
    top = res.slices[0]
    assert set(top.conditions) == {"x1 > 0.75", "cat == 'b'"} or (
        "cat == 'b'" in top.conditions and any(c.startswith("x1 >") for c in top.conditions)
    )
    assert top.error_rate > 0.9 and top.adjusted_p_value < 1e-6
    assert top.ci_low > 0.5 and res.n_candidates > 50
    assert np.isclose(top.support, top.n / 3000)
    frame_out = res.to_frame()
    assert list(frame_out["description"])[0] == top.description


def test_uniform_errors_give_no_slice_in_most_seeds():
    """Errors at random: the false discovery rate (= family-wise rate here) is <= significance."""
    found = 0
    seeds = 20
    for seed in range(seeds):
        frame = make_frame(1500, 100 + seed)
        y = (frame["x2"] > 0).astype(int).to_numpy()
        flip = np.random.default_rng(seed).uniform(size=len(y)) < 0.15
        res = find_slices(_Rule().fit(frame), frame, np.where(flip, 1 - y, y), significance=0.05)
        found += bool(res.slices)
    # P(X >= 4) for X ~ Binomial(20, 0.05) is 0.016
    assert found <= 3, stats.binom.sf(found - 1, seeds, 0.05)


def test_min_support_and_regression_errors():
    frame = make_frame(2000, 2)
    res = find_slices(_Rule().fit(frame), frame, (frame["x2"] > 0).astype(int), min_support=100)
    assert all(s.n >= 100 for s in res.slices)
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(2000, 3))
    y = X[:, 0] + 3 * np.where(X[:, 1] > 0.5, X[:, 2] ** 2, 0) + rng.normal(0, 0.05, 2000)
    reg = LinearRegression().fit(X, y)
    res = find_slices(reg, X, y, max_conditions=1)
    assert "90th percentile" in res.error_definition
    assert np.isclose(res.overall_error_rate, 0.1, atol=0.001)
    assert res.slices[0].conditions[0].startswith("x1 >")


def test_slice_bad_input():
    frame = make_frame(200, 4)
    y = (frame["x2"] > 0).astype(int)
    with pytest.raises(InputError, match="min_support"):
        find_slices(_Rule().fit(frame), frame, y, min_support=1.5)
    with pytest.raises(InputError, match="max_conditions"):
        find_slices(_Rule().fit(frame), frame, y, max_conditions=3)
    with pytest.raises(InputError, match="y has 10 values"):
        find_slices(_Rule().fit(frame), frame, y[:10])
    with pytest.raises(InputError, match="labels"):
        find_slices(_Rule().fit(frame), frame, np.full(200, 7))


def test_conjunction_with_an_irrelevant_condition_is_not_reported():
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {"x1": rng.uniform(0, 1, n), "x2": rng.normal(size=n), "cat": rng.choice(list("abc"), n)}
    )
    y = (frame["x2"] > 0).astype(int).to_numpy()
    y = np.where(rng.uniform(size=n) < 0.05, 1 - y, y)
    y = np.where((frame["x1"] > 0.75) & (frame["cat"] == "b"), 1 - y, y)
    res = find_slices(_Rule().fit(frame), frame, y)
    # x2 says nothing about where the model fails beyond its rule; a conjunction with an
    # x2 condition is only a random subset of a failing slice
    assert not [
        s.description for s in res.slices if len(s.conditions) == 2 and "x2" in s.description
    ]


def test_regression_y_with_nan_is_refused_and_tied_large_errors_count():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    model = LinearRegression().fit(X, X[:, 0])
    with pytest.raises(InputError, match="missing"):
        find_slices(model, X, np.r_[np.nan, X[1:, 0]])
    with pytest.raises(InputError, match="y has"):
        find_slices(model, X, 5)
    # integer targets: 16% of rows share one large error (exactly 3), more than the top
    # decile; they are the errors, and their slice is found
    Z = np.column_stack([rng.integers(-5, 5, 500), rng.normal(size=500)]).astype(float)
    y = Z[:, 0] + 3.0 * (Z[:, 1] > 1) + (rng.uniform(size=500) < 0.05)
    res = find_slices(lambda A: np.asarray(A, dtype=float)[:, 0], Z, y, max_conditions=1)
    assert res.overall_error_rate == pytest.approx(np.mean(Z[:, 1] > 1))
    assert res.slices[0].conditions[0].startswith("x1 >")
