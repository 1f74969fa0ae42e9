"""Small numeric helpers shared by the evaluate modules: NaN-aware means, JSON values."""

from __future__ import annotations

from typing import Any

import numpy as np


def json_list(a: Any) -> Any:
    """An array as nested lists, float NaN as None (strict JSON)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        return np.where(np.isnan(arr), None, arr).tolist()
    return arr.tolist()


def json_float(v: Any) -> float | None:
    """A number as a float, NaN as None."""
    v = float(v)
    return None if np.isnan(v) else v


def nanmean(a: Any, axis: Any = None) -> Any:
    """Mean ignoring NaN, NaN (without a warning) where every entry is NaN."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(~np.isnan(a), axis=axis)
        total = np.nansum(a, axis=axis)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
