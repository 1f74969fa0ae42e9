"""Helpers shared by the inspection tests."""

from __future__ import annotations

import numpy as np


def additive(X):
    """An additive model of the first three columns: sin(x0) + x1^2 + 0.5 x2."""
    X = np.asarray(X, dtype=np.float64)
    return np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]
