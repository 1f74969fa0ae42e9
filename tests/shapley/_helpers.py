"""Helpers shared by the tests of the model-agnostic Shapley explainers."""

from __future__ import annotations

import numpy as np


def normal_background_and_rows(n_background: int, n_rows: int, n_features: int):
    """Standard normal background rows and rows to explain, drawn with seed 0 (the
    background first)."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(n_background, n_features)), rng.normal(size=(n_rows, n_features))
