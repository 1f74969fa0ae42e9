"""Fixtures shared by the inspection tests: small fitted models and their data."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] ** 2 + X[:, 1] * X[:, 2] + rng.normal(0, 0.1, 300)
    return GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def multiclass():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y), X
