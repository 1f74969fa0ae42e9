"""from_pygam: a LinearGAM/LogisticGAM read into an AdditiveModel predicts as pyGAM does."""

from __future__ import annotations

import numpy as np
import pytest

from tests._requires import requires
from whybox._exceptions import InputError, UnsupportedModelError
from whybox.glassbox import from_pygam, is_pygam


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[
        rng.normal(size=n), rng.uniform(size=n), rng.integers(1, 4, size=n),
        rng.normal(size=n), rng.uniform(size=n),
    ]  # fmt: skip
    z = np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2] + X[:, 3] * X[:, 4]
    return X, z + rng.normal(size=n) * 0.1


def _terms(pygam):
    return (
        pygam.s(0) + pygam.s(1) + pygam.f(2) + pygam.l(3) + pygam.te(3, 4)
        + pygam.s(0, by=4)
    )  # fmt: skip


def test_linear_gam_terms_sum_to_predict():
    pygam = requires("pygam")
    X, y = _data()
    gam = pygam.LinearGAM(_terms(pygam)).fit(X, y)
    model = from_pygam(gam, feature_names=["a", "b", "c", "d", "e"])
    assert [t.name for t in model.terms] == [
        "s(a)", "s(b)", "f(c)", "l(d)", "te(d, e)", "s(a, by=e)",
    ]  # fmt: skip
    assert [t.features for t in model.terms] == [(0,), (1,), (2,), (3,), (3, 4), (0, 4)]
    assert model.link == "identity" and model.output_names == ("prediction",)
    intercept = gam.coef_[gam.terms.get_coef_indices(len(gam.terms) - 1)]
    np.testing.assert_array_equal(model.intercept, intercept)
    X_new, _ = _data(200, seed=1)
    values = model.term_values(X_new)
    assert values.shape == (200, 6, 1)
    np.testing.assert_allclose(
        model.intercept[0] + values.sum(axis=(1, 2)), gam.predict(X_new), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(model.predict(X_new), gam.predict(X_new), rtol=0, atol=1e-9)
    for i in range(6):
        np.testing.assert_array_equal(values[:, i, 0], gam.partial_dependence(term=i, X=X_new))


def test_logistic_gam_is_the_log_odds():
    pygam = requires("pygam")
    X, z = _data()
    y = (z > np.median(z)).astype(int)
    gam = pygam.LogisticGAM(pygam.s(0) + pygam.f(2) + pygam.te(3, 4, n_splines=5)).fit(X, y)
    model = from_pygam(gam)
    assert model.link == "logit" and model.output_names == ("1",)
    assert model.feature_names == ("x0", "x1", "x2", "x3", "x4")
    X_new, _ = _data(200, seed=2)
    raw = model.predict_raw(X_new)[:, 0]
    p = gam.predict_proba(X_new)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-raw)), p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(raw, np.log(p / (1.0 - p)), rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.predict_proba(X_new)[:, 1], gam.predict_mu(X_new), atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_new), gam.predict(X_new).astype(int))


def test_no_intercept():
    pygam = requires("pygam")
    X, y = _data()
    gam = pygam.LinearGAM(pygam.s(0) + pygam.l(1), fit_intercept=False).fit(X, y)
    model = from_pygam(gam)
    np.testing.assert_array_equal(model.intercept, [0.0])
    np.testing.assert_allclose(model.predict(X), gam.predict(X), rtol=0, atol=1e-9)


def test_refusals():
    pygam = requires("pygam")
    X, y = _data()
    assert not is_pygam(object()) and is_pygam(pygam.LinearGAM())
    with pytest.raises(UnsupportedModelError, match="LinearGAM or LogisticGAM"):
        from_pygam(object())
    with pytest.raises(InputError, match="unfitted LinearGAM"):
        from_pygam(pygam.LinearGAM())
    poisson = pygam.PoissonGAM(pygam.s(0)).fit(X, np.round(np.exp(y / 3)))
    with pytest.raises(UnsupportedModelError, match="poisson distribution and a log link"):
        from_pygam(poisson)
    three = pygam.LinearGAM(pygam.te(0, 1, 3, n_splines=4)).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="reads 3 features, which is not separable"):
        from_pygam(three)
    gam = pygam.LinearGAM(pygam.s(0)).fit(X, y)
    with pytest.raises(InputError, match="feature_names must name the model's 5"):
        from_pygam(gam, feature_names=["a"])


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_additive_shap_equals_exact_enumeration_on_the_gam(kind):
    pygam = requires("pygam")
    from whybox.adapters import adapt_model
    from whybox.shapley import AdditiveExplainer, ExactExplainer

    X, z = _data(300)
    if kind == "linear":
        gam = pygam.LinearGAM(_terms(pygam)).fit(X, z)
        own = adapt_model(gam.predict, task="regression")  # pyGAM's own prediction
    else:
        # noisy labels keep the log-odds moderate: the logit of a probability near 0 or 1
        # loses digits (1e-16 / (1 - p)), the terms do not
        y = (z + np.random.default_rng(1).normal(size=len(z)) * 2 > np.median(z)).astype(int)
        gam = pygam.LogisticGAM(
            pygam.s(0) + pygam.f(2) + pygam.te(3, 4, n_splines=5) + pygam.s(1, by=4)
        ).fit(X, y)

        def log_odds(rows):
            p = gam.predict_proba(rows)
            return np.log(p / (1.0 - p))

        own = adapt_model(log_odds, task="regression")
    background, rows = X[:30], X[100:120]
    additive = AdditiveExplainer(from_pygam(gam), background)(rows)
    exact = ExactExplainer(own, background, max_background=None)(rows)
    np.testing.assert_allclose(
        additive.values.reshape(exact.values.shape), exact.values, rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        np.ravel(additive.base_values)[0], np.ravel(exact.base_values)[0], rtol=0, atol=1e-9
    )
