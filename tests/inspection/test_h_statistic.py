"""Friedman's H-statistic: closed forms, a brute-force transcription, sampling, errors."""

import numpy as np
import pytest

from tests.inspection._helpers import additive
from whybox._exceptions import InputError
from whybox.adapters import adapt_model
from whybox.inspection import h_statistic


def _h_brute(f, X, j, k):
    """Friedman & Popescu's pairwise H^2 by plain loops over the rows."""
    n = len(X)

    def pd(cols, point):
        Z = X.copy()
        Z[:, cols] = point
        return f(Z).mean()

    pjk = np.array([pd([j, k], X[i, [j, k]]) for i in range(n)])
    pj = np.array([pd([j], X[i, j]) for i in range(n)])
    pk = np.array([pd([k], X[i, k]) for i in range(n)])
    pjk, pj, pk = pjk - pjk.mean(), pj - pj.mean(), pk - pk.mean()
    return ((pjk - pj - pk) ** 2).sum() / (pjk**2).sum()


def test_h_statistic_closed_forms_and_brute_force():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(40, 3))
    res = h_statistic(adapt_model(additive, task="regression"), X, pairs="all")
    assert np.abs(res.overall).max() <= 1e-12
    assert np.nanmax(np.abs(res.pairwise)) <= 1e-12
    # f = x0 x1 on exactly centred columns: PD_0 = x0 mean(x1) = 0, so all of it is interaction
    C = X - X.mean(axis=0)
    product = adapt_model(lambda A: A[:, 0] * A[:, 1], task="regression")
    res = h_statistic(product, C, pairs=[("x0", "x1")])
    np.testing.assert_allclose(res.pairwise[0, 0, 1], 1.0, atol=1e-12)
    np.testing.assert_allclose(res.overall[0, :2], 1.0, atol=1e-12)
    assert np.isnan(res.pairwise[0, 0, 2])

    def g(A):
        return np.tanh(A[:, 0] + 0.5 * A[:, 1] * A[:, 2]) + A[:, 2] ** 2

    res = h_statistic(adapt_model(g, task="regression"), X[:15], pairs="all")
    for j, k in [(0, 1), (1, 2), (0, 2)]:
        assert abs(res.pairwise[0, j, k] - _h_brute(g, X[:15], j, k)) <= 1e-10
    assert set(res.pairs_frame()["feature_1"]) <= {"x0", "x1"}


def test_h_statistic_samples_rows_and_errors(multiclass):
    model, X = multiclass
    res = h_statistic(model, X, features=[0, 1, 2], max_samples=30, random_state=0)
    assert res.overall.shape == (3, 3) and res.params["n_samples"] == 30
    again = h_statistic(model, X, features=[0, 1, 2], max_samples=30, random_state=0)
    np.testing.assert_array_equal(res.overall, again.overall)
    assert res.to_frame()["h2"].notna().all()
    with pytest.raises(InputError, match="max_samples"):
        h_statistic(model, X, max_samples=1)
    with pytest.raises(InputError, match="itself"):
        h_statistic(model, X, features=[0, 1], pairs=[(0, 0)], max_samples=10)
