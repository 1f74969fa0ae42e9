"""Fixtures shared by the tests of whybox.evaluate."""

from __future__ import annotations

import pytest
from _requires import requires
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier


@pytest.fixture(scope="module")
def digits():
    """The digits CNN and its data (torch)."""
    requires("torch")
    from whybox.datasets import load_digits_cnn

    return load_digits_cnn()


@pytest.fixture(scope="module")
def cancer():
    """(X, y, model): 240 rows of breast cancer and a gradient-boosted classifier."""
    d = load_breast_cancer(as_frame=True)
    X, y = d.data.iloc[:240], d.target.iloc[:240]
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    return X, y, model
