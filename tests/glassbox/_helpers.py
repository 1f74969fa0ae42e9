"""Shared data for the glass-box tests: a table an EBM bins in every way it can."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from tests._requires import requires


def mixed_table(
    n: int = 300, seed: int = 0, *, uniform: bool = False
) -> tuple[pd.DataFrame, np.random.Generator]:
    """Two normal columns ("a" with 10% missing), a text column "c" (x/y/z, 10% missing),
    a small-integer column "d" and, with ``uniform``, a uniform column "e"; and the
    generator, for targets drawn after the table."""
    rng = np.random.default_rng(seed)
    columns = {
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "c": rng.choice(["x", "y", "z"], size=n),
        "d": rng.integers(0, 5, n).astype(float),
    }
    if uniform:
        columns["e"] = rng.uniform(size=n)
    X = pd.DataFrame(columns)
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "c"] = None
    return X, rng


def fit_ebm(
    kind: str,
    X: pd.DataFrame,
    rng: np.random.Generator,
    *,
    labels: Any = (0, 1),
    max_rounds: int = 100,
) -> Any:
    """A small EBM with three pairs on :func:`mixed_table`'s columns: ``kind`` "binary"
    (labels ``labels``), "multiclass" (three classes) or "regression"."""
    glassbox = requires("interpret.glassbox")
    if kind == "binary":
        y = np.where(X.a.fillna(0) + X.b * (X.c == "x") > 0, labels[1], labels[0])
        cls = glassbox.ExplainableBoostingClassifier
    elif kind == "multiclass":
        y = rng.integers(0, 3, len(X))
        cls = glassbox.ExplainableBoostingClassifier
    else:
        y = X.b + rng.normal(size=len(X))
        cls = glassbox.ExplainableBoostingRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(
            interactions=[(0, 1), (1, 2), (2, 3)], outer_bags=2, max_rounds=max_rounds,
            random_state=0,
        ).fit(X, y)  # fmt: skip
