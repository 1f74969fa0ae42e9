"""from_ebm: an EBM read into an AdditiveModel predicts exactly as interpret does."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.glassbox._helpers import fit_ebm, mixed_table
from whybox._exceptions import UnsupportedModelError
from whybox.glassbox import from_ebm, is_ebm


def _data(n=400, seed=0):
    return mixed_table(n, seed)


def _test_rows(X):
    T = X.copy().astype(object)
    T.loc[:5, "c"] = "unseen"  # the unknown bin
    T.loc[5:8, "b"] = "text"  # text in a numeric column: the unknown bin
    T.loc[9:12, "d"] = np.nan
    return T


def _fit(kind):
    X, rng = _data()
    return fit_ebm(kind, X, rng), X


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_terms_and_prediction_equal_interpret(kind):
    model, X = _fit(kind)
    am = from_ebm(model)
    assert is_ebm(model)
    assert len(am.terms) == len(model.term_features_) == 7
    assert [t.name for t in am.terms] == list(model.term_names_)
    for D in (_test_rows(X), X, X.to_numpy()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = model.eval_terms(D)
            raw = model.decision_function(D) if kind != "regression" else model.predict(D)
        expected = expected[..., None] if expected.ndim == 2 else expected
        np.testing.assert_allclose(am.term_values(D), expected, rtol=0, atol=1e-12)
        got = am.predict_raw(D)
        np.testing.assert_allclose(got[:, 0] if raw.ndim == 1 else got, raw, rtol=0, atol=1e-12)
        if kind != "regression":
            np.testing.assert_allclose(
                am.predict_proba(D), model.predict_proba(D), rtol=0, atol=1e-12
            )
            np.testing.assert_array_equal(am.predict(D), model.predict(D))


def test_bins_weights_and_bags_are_read():
    model, _ = _fit("multiclass")
    am = from_ebm(model)
    k = len(model.classes_)
    assert am.link == "mlogit" and am.output_names == ("0", "1", "2")
    for t, term in enumerate(am.terms):
        np.testing.assert_array_equal(term.weights, model.bin_weights_[t])
        np.testing.assert_array_equal(term.scores, model.term_scores_[t])
        np.testing.assert_array_equal(term.standard_deviations, model.standard_deviations_[t])
        np.testing.assert_array_equal(term.bagged_scores, model.bagged_scores_[t])
        assert term.scores.shape[-1] == k
    pair = am.terms[4]  # "a & b": the pair uses the second bin level when there is one
    assert pair.features == (0, 1)
    assert len(pair.bins[0].cuts) == len(model.bins_[0][1])
    assert am.terms[2].bins[0].kind == "categorical"


def test_not_an_ebm_is_refused():
    with pytest.raises(UnsupportedModelError, match="from_ebm"):
        from_ebm(object())
