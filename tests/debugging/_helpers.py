"""Helpers shared by the debugging tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def frame(n, seed):
    """``n`` rows: x1 uniform on [0, 1], x2 standard normal, cat one of "a", "b", "c"."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.uniform(0, 1, n),
            "x2": rng.normal(size=n),
            "cat": rng.choice(["a", "b", "c"], size=n),
        }
    )
