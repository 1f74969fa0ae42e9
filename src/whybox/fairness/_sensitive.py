"""Checking a sensitive attribute: one value per row, at least two groups, no missing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError


def check_sensitive(sensitive: Any, n_rows: int, name: str = "sensitive") -> tuple[str, np.ndarray]:
    """The attribute's name and its values as strings, or a clear error.

    Parameters
    ----------
    sensitive : array-like of shape (n_rows,) or Series
    n_rows : int
        The rows of X it must match.

    Returns
    -------
    (str, ndarray of shape (n_rows,), object)
        The Series' name (else ``name``) and the group of each row as a string.

    Raises
    ------
    InputError
        Wrong length, not one-dimensional, missing values, or a single group.
    """
    label = str(sensitive.name) if isinstance(sensitive, pd.Series) and sensitive.name else name
    values = np.asarray(sensitive, dtype=object)
    if values.ndim != 1 or len(values) != n_rows:
        raise InputError(
            f"{name} must hold one group per row of X ({n_rows}), got shape {values.shape}; "
            "pass a column such as df['sex']."
        )
    missing = pd.isna(values)
    if missing.any():
        raise InputError(
            f"{name} ({label!r}) has {int(missing.sum())} missing values; fill them (e.g. "
            "'unknown') or drop those rows."
        )
    groups = values.astype(str)
    if len(np.unique(groups)) < 2:
        raise InputError(
            f"{name} ({label!r}) has a single value ({groups[0]!r}), so there are no groups to "
            "compare; pass an attribute with at least two groups."
        )
    return label, groups
