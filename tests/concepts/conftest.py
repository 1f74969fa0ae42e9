"""Fixtures of the concept tests."""

import pytest

from tests._requires import requires
from tests.concepts._helpers import U, W


@pytest.fixture(scope="module")
def quad():
    """f(h) = w.h + (u.h)^2 / 2 behind an identity encoder, in float64 and eval mode."""
    requires("torch")
    from tests.concepts._helpers import QuadraticHead

    return QuadraticHead(W, U).double().eval()


@pytest.fixture(scope="module")
def text_demo():
    """whybox's own text demo: a transformer called on integer token ids."""
    requires("torch")
    from whybox.datasets import load_text_transformer

    return load_text_transformer(random_state=0)
