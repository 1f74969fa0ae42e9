"""Fixtures of the io tests."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    return X, (X.a + 0.5 * X.b > 0).astype(int)
