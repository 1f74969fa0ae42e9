"""The surrogate core every LIME explainer shares: kernel, moments, selection, ridge.

Ground truths: the lime package's own ``LimeBase`` fitted on the very same samples,
scikit-learn's weighted Ridge and cosine distances.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests._requires import requires
from whybox.lime._surrogate import (
    cosine_distance_to_ones,
    fit_surrogates,
    kernel_weights,
    resolve_selection,
    weighted_moments,
)


# ---------------------------------------------------------------------- the surrogate core
def _random_neighbourhood(seed=0, n=400, d=7, binary=True):
    rng = np.random.default_rng(seed)
    Z = (rng.random((n, d)) < 0.6).astype(float) if binary else rng.normal(size=(n, d))
    Z[0] = 1.0
    y = Z @ rng.normal(size=d) + 0.5 * Z[:, 0] * Z[:, 1] + 0.3 * rng.normal(size=n)
    distances = np.sqrt(((Z - Z[0]) ** 2).sum(axis=1))
    return Z, y, distances


@pytest.mark.parametrize(
    "method", ["none", "highest_weights", "forward_selection", "lasso_path", "auto"]
)
@pytest.mark.parametrize("max_features", [3, 6])
def test_surrogate_equals_lime_base_on_the_same_samples(method, max_features):
    LimeBase = requires("lime.lime_base").LimeBase

    Z, y, distances = _random_neighbourhood(seed=max_features)
    width = 2.0
    base = LimeBase(lambda d: np.sqrt(np.exp(-(d**2) / width**2)), random_state=0)
    intercept, pairs, score, local_pred = base.explain_instance_with_data(
        Z, np.c_[1 - y, y], distances, 1, max_features, feature_selection=method
    )
    ref = np.zeros(Z.shape[1])
    for j, w in pairs:
        ref[j] = w
    mom = weighted_moments(Z[None], y[None, :, None], kernel_weights(distances, width)[None])
    fit = fit_surrogates(
        mom,
        max_features=max_features,
        feature_selection=resolve_selection(method, max_features, Z.shape[1]),
        ridge=1.0,
    )
    np.testing.assert_allclose(fit.coef[0, :, 0], ref, atol=1e-9)
    np.testing.assert_allclose(fit.intercept[0, 0], intercept, atol=1e-9)
    np.testing.assert_allclose(fit.local_r2[0, 0], score, atol=1e-9)
    np.testing.assert_allclose(fit.intercept[0, 0] + Z[0] @ fit.coef[0, :, 0], local_pred[0])
    assert fit.selected[0, :, 0].sum() == (Z.shape[1] if method == "none" else max_features)


def test_surrogate_equals_weighted_ridge_for_many_rows_and_outputs():
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(3, 200, 5))
    Y = rng.normal(size=(3, 200, 2)) + Z[..., :2]
    w = rng.random((3, 200))
    fit = fit_surrogates(
        weighted_moments(Z, Y, w), max_features=5, feature_selection="none", ridge=2.5
    )
    for r in range(3):
        ridge = Ridge(alpha=2.5).fit(Z[r], Y[r], sample_weight=w[r])
        np.testing.assert_allclose(fit.coef[r].T, ridge.coef_, atol=1e-10)
        np.testing.assert_allclose(fit.intercept[r], ridge.intercept_, atol=1e-10)
        for o in range(2):
            r2 = r2_score(Y[r, :, o], ridge.predict(Z[r])[:, o], sample_weight=w[r])
            assert fit.local_r2[r, o] == pytest.approx(r2, abs=1e-10)


def test_kernel_and_cosine_distance_conventions():
    d = np.array([0.0, 1.0, 2.5])
    np.testing.assert_allclose(kernel_weights(d, 1.5), np.sqrt(np.exp(-(d**2) / 1.5**2)))
    Z = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    from sklearn.metrics.pairwise import cosine_distances

    np.testing.assert_allclose(
        cosine_distance_to_ones(Z), cosine_distances(Z, np.ones((1, 4)))[:, 0], atol=1e-12
    )
