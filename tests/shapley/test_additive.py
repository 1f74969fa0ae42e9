"""AdditiveExplainer: exact SHAP values of additive models with pairs.

Proofs: closed forms on hand-built additive models (a pure pair ``c [a > t][b > s]``,
main terms, a function pair); equality with whybox's brute-force ExactExplainer (every
coalition, every background row) on fitted EBMs with pairs, missing values and
categories the model never saw (binary, multiclass, regression); efficiency against the
EBM's own ``decision_function`` / ``predict``; the model-own explanation equal to the
interventional one with the whole training set as background.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import whybox
from tests._requires import requires
from tests.glassbox._helpers import mixed_table
from whybox._exceptions import InputError, UnsupportedModelError
from whybox.glassbox import AdditiveModel, Binning, Term
from whybox.shapley import AdditiveExplainer, ExactExplainer, WeightedBackground

TOL = 1e-9


# ------------------------------------------------------------------ hand-built models
def _pure_pair(c=2.0, t=0.0, s=1.0):
    """f(a, b) = c [a > t][b > s], as one binned pair (bins: missing, low, high, unknown)."""
    scores = np.zeros((4, 4))
    scores[2, 2] = c
    bins = (Binning("numeric", cuts=[t]), Binning("numeric", cuts=[s]))
    pair = Term((0, 1), "a & b", bins=bins, scores=scores, weights=np.ones((4, 4)))
    # "0", "1": positions, so arrays are read by position (as pandas' default labels)
    return AdditiveModel(("0", "1"), (pair,), [0.0], "identity", ("y",), "hand")


def test_pure_pair_closed_form():
    c, t, s = 2.0, 0.0, 1.0
    rng = np.random.default_rng(0)
    bg = rng.normal(size=(200, 2))
    X = np.array([[1.0, 2.0], [-1.0, 2.0], [1.0, 0.0], [-1.0, 0.0], [0.5, 1.5]])
    ex = AdditiveExplainer(_pure_pair(c, t, s), bg)(X)
    pa, pb = np.mean(bg[:, 0] > t), np.mean(bg[:, 1] > s)
    pab = np.mean((bg[:, 0] > t) & (bg[:, 1] > s))
    for row, (a, b) in enumerate(X):
        ia, ib = float(a > t), float(b > s)
        v0, va, vb, vab = c * pab, c * ia * pb, c * pa * ib, c * ia * ib
        np.testing.assert_allclose(ex.values[row, 0, 0], 0.5 * (va - v0 + vab - vb), atol=1e-15)
        np.testing.assert_allclose(ex.values[row, 1, 0], 0.5 * (vb - v0 + vab - va), atol=1e-15)
    np.testing.assert_allclose(ex.base_values[:, 0], c * pab, atol=1e-15)
    assert ex.method == "additive_interventional"


def test_main_terms_are_value_minus_background_mean():
    cut = Binning("numeric", cuts=[0.0, 1.0])
    t0 = Term((0,), "a", bins=(cut,), scores=np.array([5.0, 1.0, 2.0, 3.0, 9.0]))
    t1 = Term((1,), "b", function=lambda cols: np.sin(np.asarray(cols[0], dtype=float)))
    m = AdditiveModel(("0", "1"), (t0, t1), [0.5], "identity", ("y",), "hand")
    rng = np.random.default_rng(1)
    bg = rng.normal(size=(50, 2))
    bg[:5, 0] = np.nan  # the missing bin in the background
    X = np.array([[np.nan, 0.3], [0.5, -1.0], [3.0, 2.0]])
    ex = AdditiveExplainer(m, bg)(X)
    g0 = lambda a: np.where(np.isnan(a), 5.0, np.where(a < 0, 1.0, np.where(a < 1, 2.0, 3.0)))  # noqa: E731
    np.testing.assert_allclose(ex.values[:, 0, 0], g0(X[:, 0]) - g0(bg[:, 0]).mean(), atol=1e-14)
    np.testing.assert_allclose(
        ex.values[:, 1, 0], np.sin(X[:, 1]) - np.sin(bg[:, 1]).mean(), atol=1e-14
    )
    np.testing.assert_allclose(
        ex.base_values[:, 0], 0.5 + g0(bg[:, 0]).mean() + np.sin(bg[:, 1]).mean(), atol=1e-14
    )


def test_function_pair_equals_exact_enumeration():
    def g(cols):
        a, b = (np.asarray(c, dtype=float) for c in cols)
        return np.column_stack([a * b, np.tanh(a - 2 * b)])

    def h(cols):
        return np.asarray(cols[0], dtype=float) ** 2

    terms = (Term((0, 2), "a & c", function=g), Term((1,), "b", function=h))
    m = AdditiveModel(("0", "1", "2"), terms, [0.0, 1.0], "identity", ("y", "z"), "hand")
    rng = np.random.default_rng(2)
    bg, X = rng.normal(size=(30, 3)), rng.normal(size=(7, 3))
    ours = AdditiveExplainer(m, bg)(X)
    exact = ExactExplainer(m, bg, output="raw", max_background=None)(X)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.base_values, exact.base_values, rtol=0, atol=TOL)
    np.testing.assert_allclose(
        ours.values.sum(axis=1) + ours.base_values, m.predict_raw(X), rtol=0, atol=TOL
    )


def test_weighted_background_and_feature_groups():
    m = _pure_pair()
    rng = np.random.default_rng(3)
    bg, X = rng.normal(size=(40, 2)), rng.normal(size=(6, 2))
    w = rng.random(40)
    weighted = AdditiveExplainer(m, WeightedBackground(bg, w))(X)
    # the same as repeating rows: weights 1 and 2 against rows given once and twice
    w2 = np.r_[np.ones(20), 2 * np.ones(20)]
    rep = np.concatenate([bg, bg[20:]])
    a = AdditiveExplainer(m, WeightedBackground(bg, w2))(X)
    b = AdditiveExplainer(m, rep)(X)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-14)
    assert weighted.params["background_weighted"]
    grouped = AdditiveExplainer(m, bg, feature_groups={"both": [0, 1]})(X)
    plain = AdditiveExplainer(m, bg)(X)
    np.testing.assert_allclose(grouped.values[:, 0], plain.values.sum(axis=1), atol=1e-15)


def test_refusals_in_one_sentence():
    m = _pure_pair()
    with pytest.raises(InputError, match="not additive"):
        AdditiveExplainer(m, np.zeros((3, 2)), output="probability")
    f = Term((0,), "a", function=lambda cols: np.asarray(cols[0], dtype=float))
    fm = AdditiveModel(("0",), (f,), [0.0], "identity", ("y",), "hand")
    with pytest.raises(InputError, match="background"):
        AdditiveExplainer(fm)
    with pytest.raises(UnsupportedModelError, match="additive models"):
        AdditiveExplainer(object(), np.zeros((3, 2)))
    with pytest.raises(InputError):
        AdditiveExplainer(m, np.zeros((3, 2)))(np.zeros((2, 3)))
    assert AdditiveExplainer.supports(m) and not AdditiveExplainer.supports(object())


# ------------------------------------------------------------------ fitted EBMs
def _data(n=300, seed=0):
    return mixed_table(n, seed, uniform=True)


def _ebm(kind, interactions=((0, 1), (1, 2), (2, 3), (0, 4))):
    glassbox = requires("interpret.glassbox")
    X, rng = _data()
    if kind == "binary":
        y = (X.a.fillna(0) + X.b * (X.c == "x") > 0).astype(int)
        cls = glassbox.ExplainableBoostingClassifier
    elif kind == "multiclass":
        y = rng.integers(0, 3, len(X))
        cls = glassbox.ExplainableBoostingClassifier
    else:
        y = X.b * X.e + rng.normal(size=len(X))
        cls = glassbox.ExplainableBoostingRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(
            interactions=[list(p) for p in interactions],
            outer_bags=2,
            max_rounds=100,
            random_state=0,
        ).fit(X, y)
    return model, X


def _rows(X):
    T = X.iloc[:12].copy()
    T.loc[:3, "c"] = "never seen"  # the unknown bin
    T.loc[4:6, "a"] = np.nan
    return T


def _raw(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.decision_function(X) if hasattr(model, "decision_function") else None
        out = model.predict(X) if out is None else out
    out = np.asarray(out, dtype=float)
    return out[:, None] if out.ndim == 1 else out


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_ebm_equals_exact_enumeration_and_adds_up(kind):
    model, X = _ebm(kind)
    bg, T = X.iloc[100:140], _rows(X)
    ours = AdditiveExplainer(model, bg)(T)
    exact = ExactExplainer(model, bg, output="raw", max_background=None)(T)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.base_values, exact.base_values, rtol=0, atol=TOL)
    total = ours.values.sum(axis=1) + ours.base_values
    np.testing.assert_allclose(total, _raw(model, T), rtol=0, atol=TOL)
    assert ours.output_space == "raw" and ours.params["n_pairs"] == 4


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_model_own_terms_equal_training_data_background(kind):
    model, X = _ebm(kind)
    T = _rows(X)
    own = AdditiveExplainer(model)(T)
    full = AdditiveExplainer(model, X)(T)
    np.testing.assert_allclose(own.values, full.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(own.base_values, full.base_values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        own.values.sum(axis=1) + own.base_values, _raw(model, T), rtol=0, atol=TOL
    )
    assert own.method == "additive_model_terms"
    assert "the model's own terms" in own.params["explains"]
    assert own.params["background_rows"] is None
    # the base value is the intercept plus each term's weighted mean (bin_weights_)
    means = [
        np.tensordot(w / w.sum(), np.asarray(s).reshape(*w.shape, -1), axes=w.ndim)
        for w, s in zip(model.bin_weights_, model.term_scores_, strict=True)
    ]
    np.testing.assert_allclose(
        own.base_values[0], np.atleast_1d(model.intercept_) + np.sum(means, axis=0), atol=1e-12
    )


def test_ebm_numpy_input_and_pandas_categories():
    glassbox = requires("interpret.glassbox")
    rng = np.random.default_rng(4)
    Xn = rng.normal(size=(300, 4))
    y = (Xn[:, 0] * Xn[:, 1] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = glassbox.ExplainableBoostingClassifier(
            interactions=[[0, 1], [2, 3]], outer_bags=1, max_rounds=80, random_state=0
        ).fit(Xn, y)
    ours = AdditiveExplainer(model, Xn[:50])(Xn[50:60])
    exact = ExactExplainer(model, Xn[:50], output="raw", max_background=None)(Xn[50:60])
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=TOL)

    cat_model, X = _ebm("binary")
    T = _rows(X)
    Tc = T.assign(c=T["c"].astype("category"))
    a = AdditiveExplainer(cat_model, X.iloc[:40])(T)
    b = AdditiveExplainer(cat_model, X.iloc[:40])(Tc)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=0)


def test_log_odds_for_a_binary_ebm():
    model, X = _ebm("binary")
    raw = AdditiveExplainer(model, X.iloc[:30])(X.iloc[:5])
    lo = AdditiveExplainer(model, X.iloc[:30], output="log_odds")(X.iloc[:5])
    np.testing.assert_array_equal(raw.values, lo.values)
    assert lo.output_space == "log_odds"
    multi, _ = _ebm("multiclass")
    with pytest.raises(InputError, match="not additive"):
        AdditiveExplainer(multi, X.iloc[:30], output="log_odds")


def test_explain_picks_additive_with_and_without_background():
    model, X = _ebm("binary")
    T = _rows(X)
    own = whybox.explain(model, T)
    assert own.params["explain_method"] == "additive"
    assert own.params["chosen_by"] == "auto: additive model, the model's own terms (exact)"
    np.testing.assert_allclose(own.values, AdditiveExplainer(model)(T).values, atol=0)
    bg = whybox.explain(model, T, background=X.iloc[:40])
    assert bg.params["explain_method"] == "additive"
    assert bg.method == "additive_interventional"
    # probabilities are not additive in the terms: exact enumeration instead
    prob = whybox.explain(model, T.iloc[:2], background=X.iloc[:20], output="probability")
    assert prob.params["explain_method"] == "exact"
    assert "not additive" in prob.params["chosen_by"]
    hand = whybox.explain(_pure_pair(), np.ones((2, 2)))
    assert hand.params["explain_method"] == "additive"


def test_dask_input_goes_through_explain_dask():
    da = requires("dask.array")
    m = _pure_pair()
    rng = np.random.default_rng(5)
    bg, X = rng.normal(size=(40, 2)), rng.normal(size=(60, 2))
    ex = AdditiveExplainer(m, bg)
    lazy = ex(da.from_array(X, chunks=(20, 2)))
    assert lazy.is_lazy
    done = lazy.compute()
    eager = ex(X)
    np.testing.assert_array_equal(done.values, eager.values)
    np.testing.assert_array_equal(done.base_values, eager.base_values)


def test_a_pygam_model_is_adapted_and_explained_exactly():
    pygam = requires("pygam")
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    gam = pygam.LinearGAM(pygam.s(0) + pygam.te(0, 1) + pygam.s(2)).fit(X, y)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])  # pyGAM reads columns by position
    ex = whybox.explain(gam, frame.iloc[:6], background=frame.iloc[:40])
    assert ex.params["explain_method"] == "additive"
    # against exact enumeration of pyGAM's own predict
    exact = ExactExplainer(
        lambda Z: gam.predict(np.asarray(Z, dtype=float)), X[:40], max_background=None
    )(X[:6])
    np.testing.assert_allclose(ex.values, exact.values, rtol=0, atol=TOL)
