"""Bins of feature values with readable conditions, shared by LIME and anchors.

A numeric feature is cut at quantiles of the background data (quartiles by default);
a categorical feature keeps its levels. Each row then reads as one condition per
feature — ``"age <= 31"``, ``"31 < age <= 45"``, ``"color = red"`` — which is the
interpretable representation of tabular LIME (Ribeiro, Singh & Guestrin 2016) and the
predicate vocabulary of anchors (Ribeiro, Singh & Guestrin 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.adapters import Dataset, adapt_data

DISCRETIZERS = {"quartile": (25, 50, 75), "decile": tuple(range(10, 100, 10))}
"""Name -> the percentiles of the background data where numeric features are cut."""

MISSING = -1
"""The bin code of a missing value (NaN) or of a category unseen in the background."""


@dataclass(frozen=True, eq=False)
class Discretizer:
    """Bins for every feature, fitted on background data (typically the training data).

    Attributes
    ----------
    feature_names : tuple of str
    categorical : ndarray of shape (n_features,), bool
    edges : tuple of ndarray
        For each numeric feature, its sorted, distinct interior cut points (float64);
        bin ``b`` holds ``edges[b-1] < x <= edges[b]``. Empty for categorical features.
    levels : tuple of ndarray or None
        For each categorical feature, its levels (object) in order of first
        appearance; None for numeric features.
    kind : str
        The discretizer's name (a key of :data:`DISCRETIZERS`).
    """

    feature_names: tuple[str, ...]
    categorical: np.ndarray
    edges: tuple[np.ndarray, ...]
    levels: tuple[np.ndarray | None, ...]
    kind: str

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def n_bins(self, j: int) -> int:
        """The number of bins (or levels) of feature ``j``, not counting missing."""
        lv = self.levels[j]
        return len(lv) if lv is not None else len(self.edges[j]) + 1

    def transform(self, X: Any) -> np.ndarray:
        """The bin of every value.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame

        Returns
        -------
        ndarray of shape (n_samples, n_features), int64
            Bin codes ``0 .. n_bins(j) - 1``; :data:`MISSING` (-1) for a missing
            value or an unseen category.

        Raises
        ------
        InputError
            If ``X`` does not have ``n_features`` columns.
        """
        values = _values(X, self.n_features)
        out = np.empty(values.shape, dtype=np.int64)
        for j in range(self.n_features):
            col = values[:, j]
            lv = self.levels[j]
            if lv is not None:
                codes = pd.Index(lv).get_indexer(pd.Series(col, dtype=object))
                out[:, j] = codes  # -1 for unseen / missing
            else:
                x = col.astype(np.float64)
                codes = np.searchsorted(self.edges[j], x, side="left")
                out[:, j] = np.where(np.isnan(x), MISSING, codes)
        return out

    def describe(self, j: int, b: int, last: int | None = None) -> str:
        """The condition that bin ``b`` of feature ``j`` stands for, e.g. ``"2.5 < x <= 4"``;
        with ``last``, the numeric bins ``b`` to ``last`` together (``"x > 2"``)."""
        name = self.feature_names[j]
        if b == MISSING:
            return f"{name} is missing" if self.levels[j] is None else f"{name} is other"
        lv = self.levels[j]
        if lv is not None:
            return f"{name} = {lv[b]}"
        e = self.edges[j]
        last = b if last is None else last
        if len(e) == 0:
            return f"{name} is any value"
        if b == 0:
            return f"{name} <= {_fmt(e[last])}"
        if last == len(e):
            return f"{name} > {_fmt(e[b - 1])}"
        return f"{_fmt(e[b - 1])} < {name} <= {_fmt(e[last])}"

    def describe_row(self, codes: np.ndarray) -> list[str]:
        """One condition per feature for a row of bin codes of shape (n_features,)."""
        return [self.describe(j, int(b)) for j, b in enumerate(codes)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the bins (for an explanation's ``params``)."""
        return {
            "kind": self.kind,
            "edges": {
                n: [float(v) for v in e]
                for n, e, lv in zip(self.feature_names, self.edges, self.levels, strict=True)
                if lv is None
            },
            "levels": {
                n: [str(v) for v in lv]
                for n, lv in zip(self.feature_names, self.levels, strict=True)
                if lv is not None
            },
        }


def fit_discretizer(
    data: Any, *, kind: str = "quartile", categorical: Any = None, name: str = "background"
) -> Discretizer:
    """Fit quantile bins to numeric features and list the levels of categorical ones.

    Parameters
    ----------
    data : array-like of shape (n_samples, n_features), DataFrame or Dataset
        Training data.
    kind : {"quartile", "decile"}, default="quartile"
        Where numeric features are cut: at the 25/50/75th or the 10th..90th
        percentiles (ties merged, so a feature with few distinct values gets fewer bins).
    categorical : sequence of (str or int), optional
        Columns (names or positions) to treat as categorical in addition to those the
        data marks as categorical (pandas category/object/bool columns, text).
    name : str
        The argument's name, for error messages.

    Returns
    -------
    Discretizer

    Raises
    ------
    InputError
        If ``kind`` is unknown or ``categorical`` names an unknown column.
    """
    if kind not in DISCRETIZERS:
        raise InputError(
            f"discretizer must be one of {sorted(DISCRETIZERS)}, got {kind!r}; "
            "use discretizer='quartile'."
        )
    ds = data if isinstance(data, Dataset) else adapt_data(data, name=name)
    is_cat = resolve_categorical(categorical, ds)
    edges: list[np.ndarray] = []
    levels: list[np.ndarray | None] = []
    for j in range(ds.n_features):
        col = ds.values[:, j]
        if is_cat[j]:
            present = pd.Series(col, dtype=object).dropna()
            levels.append(np.asarray(pd.unique(present), dtype=object))
            edges.append(np.empty(0))
            continue
        x = col.astype(np.float64)
        x = x[~np.isnan(x)]
        if x.size == 0:
            cuts = np.empty(0)
        else:
            cuts = _nonempty_cuts(np.unique(np.percentile(x, DISCRETIZERS[kind])), x)
        edges.append(cuts.astype(np.float64))
        levels.append(None)
    return Discretizer(ds.feature_names, is_cat, tuple(edges), tuple(levels), kind)


def resolve_categorical(categorical: Any, data: Dataset) -> np.ndarray:
    """The categorical mask: the data's own, plus the columns ``categorical`` names.

    Raises
    ------
    InputError
        If a name or position does not match a column.
    """
    mask = np.asarray(data.categorical, dtype=bool).copy()
    if categorical is None:
        return mask
    if isinstance(categorical, (str, int, np.integer)):
        categorical = [categorical]
    d = data.n_features
    for c in categorical:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not -d <= int(c) < d:
                raise InputError(
                    f"categorical_features names column position {int(c)} but the data has "
                    f"{d} columns; use positions 0..{d - 1} or column names."
                )
            mask[int(c) % d] = True
        elif str(c) in data.feature_names:
            mask[data.feature_names.index(str(c))] = True
        else:
            raise InputError(
                f"categorical_features names the column {c!r}, which is not one of the data's "
                f"columns {list(data.feature_names)[:10]}; fix the column name."
            )
    return mask


def _values(X: Any, n_features: int) -> np.ndarray:
    values = X.values if isinstance(X, Dataset) else adapt_data(X).values
    if values.shape[1] != n_features:
        raise InputError(
            f"X has {values.shape[1]} columns but the discretizer was fitted on {n_features}; "
            "give rows with the background's columns."
        )
    return values


def _nonempty_cuts(cuts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The cuts that leave every bin holding at least one background value."""
    kept: list[float] = []
    lower = -np.inf
    for c in cuts:
        if c < x.max() and np.any((x > lower) & (x <= c)):
            kept.append(c)
            lower = c
    return np.asarray(kept, dtype=np.float64)


def _fmt(v: float) -> str:
    return f"{v:.4g}"
