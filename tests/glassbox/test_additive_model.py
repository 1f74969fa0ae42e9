"""AdditiveModel, Term and Binning: binning conventions and hand-built closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whybox._exceptions import InputError
from whybox.glassbox import AdditiveModel, Binning, Term


def test_numeric_binning_missing_first_unknown_last():
    b = Binning("numeric", cuts=[0.0, 1.0])
    assert b.n_bins == 5 and b.unknown == 4
    got = b.index(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan, -np.inf, np.inf]))
    # a value equal to a cut goes to the bin above it
    np.testing.assert_array_equal(got, [1, 2, 2, 3, 3, 0, 1, 3])
    text = b.index(np.array(["0.5", "abc", None, 7], dtype=object))
    np.testing.assert_array_equal(text, [2, 4, 0, 3])


def test_categorical_binning_texts_numbers_bools():
    b = Binning("categorical", levels={"x": 1, "y": 2, "3": 3, "1": 4, "2.5": 5})
    assert b.n_bins == 7
    col = np.array(["x", "y", "new", None, np.nan, 3.0, True, 2.5, 3], dtype=object)
    np.testing.assert_array_equal(b.index(col), [1, 2, 6, 0, 0, 3, 4, 5, 3])
    cat = pd.Series(["y", "x", None], dtype="category")
    np.testing.assert_array_equal(b.index(cat), [2, 1, 0])


def _pair_model(c=2.0, t=0.0, s=1.0):
    a = Binning("numeric", cuts=[t])
    b = Binning("numeric", cuts=[s])
    scores = np.zeros((4, 4))
    scores[2, 2] = c  # a > t and b > s (bins: 0 missing, 1 below, 2 above, 3 unknown)
    pair = Term((0, 1), "a & b", bins=(a, b), scores=scores, weights=np.ones((4, 4)))
    main = Term((0,), "a", function=lambda cols: 3.0 * np.asarray(cols[0], dtype=float))
    return AdditiveModel(("a", "b"), (main, pair), np.array([0.5]), "identity", ("y",), "hand")


def test_term_values_and_predict_raw_closed_form():
    m = _pair_model()
    X = np.array([[1.0, 2.0], [-1.0, 2.0], [1.0, 0.0], [2.0, 5.0]])
    tv = m.term_values(X)
    assert tv.shape == (4, 2, 1)
    np.testing.assert_array_equal(tv[:, 0, 0], 3.0 * X[:, 0])
    np.testing.assert_array_equal(tv[:, 1, 0], [2.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(m.predict_raw(X)[:, 0], 0.5 + 3.0 * X[:, 0] + tv[:, 1, 0])
    frame = pd.DataFrame(X[:, ::-1], columns=["b", "a"])  # matched by name
    np.testing.assert_array_equal(m.predict_raw(frame), m.predict_raw(X))


def test_links_give_probabilities():
    bins = (Binning("numeric", cuts=[0.0]),)
    t = Term((0,), "a", bins=bins, scores=np.array([0.0, -1.0, 1.0, 0.0]))
    m = AdditiveModel(("a",), (t,), [0.0], "logit", ("1",), "hand", classes=np.array([0, 1]))
    p = m.predict_proba(np.array([[1.0], [-1.0]]))
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp([-1.0, 1.0])), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(m.predict(np.array([[1.0], [-1.0]])), [1, 0])


def test_bad_terms_are_refused_in_one_sentence():
    with pytest.raises(InputError, match="scores of shape"):
        Term((0,), "a", bins=(Binning("numeric", cuts=[0.0]),), scores=np.zeros(3))
    with pytest.raises(InputError, match="one or two"):
        Term((0, 1, 2), "abc", function=lambda c: c[0])
    with pytest.raises(InputError, match="strictly increasing"):
        Binning("numeric", cuts=[1.0, 0.0])
    with pytest.raises(InputError, match="2-D"):
        _pair_model().predict_raw(np.zeros((3, 5)))
