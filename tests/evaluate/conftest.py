"""Fixtures shared by the tests of whybox.evaluate."""

from __future__ import annotations

import pytest

from tests._requires import requires
from tests.evaluate._helpers import cancer_case


@pytest.fixture(scope="module")
def digits():
    """The digits CNN and its data (torch)."""
    requires("torch")
    from whybox.datasets import load_digits_cnn

    return load_digits_cnn()


@pytest.fixture(scope="module")
def cancer():
    """(X, y, model): 240 rows of breast cancer and a gradient-boosted classifier."""
    return cancer_case(240)
