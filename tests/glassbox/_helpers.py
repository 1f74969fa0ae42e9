"""Shared data for the glass-box tests: a table an EBM bins in every way it can."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
