"""Checks of the fairness inputs: a sensitive attribute (one value per row, at least two
groups, no missing value), the SHAP values read, the output chosen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import shorten


def check_sensitive(
    sensitive: Any, n_rows: int, name: str = "sensitive_features"
) -> tuple[str, np.ndarray]:
    """The attribute's name and its values as strings, or a clear error.

    Parameters
    ----------
    sensitive : array-like of shape (n_rows,) or Series
    n_rows : int
        The rows of X it must match.

    Returns
    -------
    (str, ndarray of shape (n_rows,), object)
        The Series' name (else ``"sensitive"``) and the group of each row as a string.

    Raises
    ------
    InputError
        Wrong length, not one-dimensional, missing values, or a single group.
    """
    # an unnamed attribute is called "sensitive" in results and sentences
    label = (
        str(sensitive.name) if isinstance(sensitive, pd.Series) and sensitive.name else "sensitive"
    )
    values = np.asarray(sensitive, dtype=object)
    if values.ndim != 1 or len(values) != n_rows:
        raise InputError(
            f"{name} must hold one group per row of X ({n_rows}), got shape {values.shape}; "
            "pass a column such as df['sex']."
        )
    missing = pd.isna(values)
    if missing.any():
        raise InputError(
            f"{name} ({shorten(label)}) has {int(missing.sum())} missing values; fill them (e.g. "
            "'unknown') or drop those rows."
        )
    groups = values.astype(str)
    if len(np.unique(groups)) < 2:
        raise InputError(
            f"{name} ({shorten(label)}) has a single value ({shorten(groups[0])}), so there are no groups to "
            "compare; pass an attribute with at least two groups."
        )
    return label, groups


def is_shap_table(explanation: Any) -> bool:
    """Whether ``explanation`` is an Explanation of one value per (row, feature, output)."""
    return isinstance(explanation, Explanation) and explanation.axes == (
        "samples",
        "features",
        "outputs",
    )


def target_position(target: Any, names: Any) -> int:
    """The position of the output ``target`` names (a name or a position; None: the
    first, for a binary classifier its positive class), or an InputError."""
    names = list(names)
    if target is None:
        return 0
    if target in names:
        return names.index(target)
    if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(names):
        return int(target)
    raise InputError(f"target must be one of {names} or a position, got {target!r}.")


#: the most groups an attribute may form before it must be binned or merged
MAX_GROUPS = 20


def _suggested_edges(values: np.ndarray) -> str:
    """Bin edges at the quartiles (two significant digits), open at both ends."""
    inner = np.quantile(values, [0.25, 0.5, 0.75])
    rounded = sorted({float(f"{q:.2g}") for q in inner})
    return ",".join(["-inf", *(f"{e:g}" for e in rounded), "inf"])


def check_group_count(values: Any, label: str, *, cli: bool = False) -> None:
    """Refuse an attribute with more than :data:`MAX_GROUPS` distinct values.

    A continuous attribute (age, income) makes one group per value; the message says
    how to bin it, in the CLI's syntax (``--sensitive age:bins=...``) or the library's
    (``pd.cut``).

    Parameters
    ----------
    values : array-like of shape (n_rows,)
        The attribute, one value per row.
    label : str
        Its name (a column name).
    cli : bool, default=False
        Phrase the fix as ``whybox audit`` options instead of Python.

    Raises
    ------
    InputError
        With the number of distinct values and how to bin or merge them.
    """
    series = pd.Series(np.asarray(values, dtype=object)).dropna()
    n_groups = series.nunique()
    if n_groups <= MAX_GROUPS:
        return
    numbers = pd.to_numeric(series, errors="coerce")
    shown = shorten(label)
    if numbers.notna().all():
        edges = _suggested_edges(numbers.to_numpy(dtype=np.float64))
        if cli:
            fix = (
                f"bin it with --sensitive {shown[1:-1]}:bins={edges} (your own edges) or "
                f"--sensitive {shown[1:-1]}:quantiles=4 (four groups of equal size)"
            )
        else:
            py_edges = edges.replace("-inf", "-np.inf").replace(",inf", ",np.inf")
            fix = (
                f"bin it, e.g. sensitive_features=pd.cut(X[{shown}], bins=[{py_edges.replace(',', ', ')}])"
                f".astype(str) (your own edges) or pd.qcut(X[{shown}], 4).astype(str) (four "
                "groups of equal size)"
            )
        raise InputError(
            f"sensitive attribute {shown} is continuous ({n_groups} distinct values), too many "
            f"groups to compare (at most {MAX_GROUPS}); {fix}."
        )
    raise InputError(
        f"sensitive attribute {shown} has {n_groups} distinct values, too many groups to "
        f"compare (at most {MAX_GROUPS}); merge rare values into fewer groups (e.g. 'other') "
        "in the data."
    )


def bin_numeric(
    values: Any, label: str, *, bins: Any = None, quantiles: int | None = None, option: str = "bins"
) -> pd.Series:
    """A numeric attribute as labelled bins (explicit edges or quantiles).

    Bins are closed on the right, the first also on the left (``[18, 25]``,
    ``(25, 40]``, ...); an infinite end gives ``<= 25`` or ``> 65``.

    Parameters
    ----------
    values : array-like of shape (n_rows,)
        The attribute's numbers.
    label : str
        Its name, kept as the Series' name.
    bins : sequence of float, optional
        Increasing edges (at least two).
    quantiles : int, optional
        Number of groups of (about) equal size; ties can merge some.
    option : str, default="bins"
        How the caller names this binning in messages (``--sensitive age:bins=...``).

    Returns
    -------
    Series of str, named ``label``

    Raises
    ------
    InputError
        Non-numeric or missing values, edges not increasing, values outside the edges,
        or fewer than two groups.
    """
    numbers = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    raw = pd.Series(np.asarray(values, dtype=object))
    bad = numbers.isna() & raw.notna()
    if bad.any():
        raise InputError(
            f"{option} needs a column of numbers, but {shorten(label)} holds text such as "
            f"{shorten(raw[bad].iloc[0])}; bin text columns in the data itself."
        )
    if numbers.isna().any():
        raise InputError(
            f"{shorten(label)} has {int(numbers.isna().sum())} missing values, which fall in no bin; "
            "fill them or drop those rows."
        )
    x = numbers.to_numpy(dtype=np.float64)
    if quantiles is not None:
        edges = np.unique(np.quantile(x, np.linspace(0, 1, int(quantiles) + 1)))
    else:
        edges = np.asarray(list(bins), dtype=np.float64)
        if len(edges) < 2 or np.any(np.isnan(edges)) or np.any(np.diff(edges) <= 0):
            raise InputError(
                f"{option} needs at least two increasing edges, got "
                f"{[float(e) for e in edges][:10]}; give them in order, e.g. 18,25,40,65."
            )
    outside = (x < edges[0]) | (x > edges[-1])
    if outside.any():
        raise InputError(
            f"{option} leaves {int(outside.sum())} rows of {shorten(label)} outside the edges "
            f"{edges[0]:g} to {edges[-1]:g} (its values run from {x.min():g} to {x.max():g}); "
            "widen the first or last edge, or use -inf and inf."
        )
    codes = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(edges) - 2)
    names = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        if np.isinf(lo):
            names.append(f"<= {hi:g}")
        elif np.isinf(hi):
            names.append(f"> {lo:g}")
        else:
            names.append(f"{'[' if k == 0 else '('}{lo:g}, {hi:g}]")
    groups = np.asarray(names, dtype=object)[codes]
    if len(np.unique(codes)) < 2:
        raise InputError(
            f"{option} puts every row of {shorten(label)} in one group ({groups[0]}); choose edges "
            "that split its values."
        )
    return pd.Series(groups, name=label)
