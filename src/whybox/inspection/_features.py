"""What the global-effect methods share: feature lookup, grids, batched evaluation."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import prepare_model
from whybox.adapters import Dataset, Model, adapt_data

CELL_BUDGET = 1 << 22
"""Cells (rows x columns) of stacked copies per model call when batch_size is None."""


def model_and_data(model: Any, X: Any) -> tuple[Model, Dataset]:
    """The adapted model and ``X`` checked against it (named "X" in messages)."""
    m = prepare_model(model, X)
    return m, m.check_data(adapt_data(X, name="X"), name="X")


def feature_index(data: Dataset, feature: Any, name: str = "features") -> int:
    """The column position of ``feature`` (a name or a position).

    Raises
    ------
    InputError
        No such column; the message lists the closest names.
    """
    names = data.feature_names
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not 0 <= int(feature) < len(names):
            raise InputError(
                f"{name} holds position {int(feature)} but X has {len(names)} columns; give a "
                f"position in 0..{len(names) - 1} or a column name."
            )
        return int(feature)
    if isinstance(feature, str) and feature in names:
        return names.index(feature)
    close = difflib.get_close_matches(str(feature), list(names), n=3)
    hint = f" (closest: {close})" if close else ""
    raise InputError(
        f"{name} names {feature!r}, which is not a column of X{hint}; give one of its "
        f"{len(names)} column names or a position."
    )


def output_space(model: Model, output: str | None) -> str:
    """The output space of a global-effect method: probability for classifiers by default."""
    if output is None:
        return "probability" if model.task == "classification" else "raw"
    return model.resolve_output(output)


def column_values(data: Dataset, j: int) -> np.ndarray:
    """Column ``j`` without missing values (float64 for numeric, object otherwise)."""
    col = data.values[:, j]
    if data.categorical[j]:
        return col[~pd.isna(col)]
    col = col.astype(np.float64)
    return col[~np.isnan(col)]


def check_numeric(data: Dataset, j: int, method: str) -> np.ndarray:
    """The column's values as float64, or an InputError for a categorical column."""
    if data.categorical[j]:
        raise InputError(
            f"feature {data.feature_names[j]!r} is categorical, but {method} needs a numeric "
            "feature; pass it as a categorical feature (its levels are used) or encode it "
            "as numbers."
        )
    return column_values(data, j)


def levels(data: Dataset, j: int) -> np.ndarray:
    """The sorted distinct values of column ``j`` (object array for categories)."""
    values = column_values(data, j)
    if data.categorical[j]:
        try:
            return np.array(sorted(set(values.tolist())), dtype=object)
        except TypeError:  # mixed types: keep first-seen order
            return np.array(list(dict.fromkeys(values.tolist())), dtype=object)
    return np.unique(values)


def check_not_constant(data: Dataset, j: int, values: np.ndarray) -> None:
    if len(values) < 2:
        raise InputError(
            f"feature {data.feature_names[j]!r} takes a single value in X "
            f"({values[0] if len(values) else 'all missing'!r}), so it has no effect to show; "
            "choose a feature that varies."
        )


def chunk_size(n_rows: int, n_columns: int, batch_size: int | None) -> int:
    """How many copies of ``n_rows`` rows go into one model call (at least one)."""
    cells = CELL_BUDGET if batch_size is None else batch_size * n_columns
    return max(1, cells // max(1, n_rows * n_columns))


def predict_copies(
    model: Model,
    data: Dataset,
    columns: Sequence[int],
    settings: np.ndarray,
    output: str,
    batch_size: int | None,
) -> np.ndarray:
    """The model's output on copies of ``rows`` with ``columns`` set, one copy per setting.

    ``settings`` has shape (n_settings, len(columns)); copy s is ``data``'s rows
    with ``rows[:, columns] = settings[s]``. Copies are stacked and evaluated in few
    model calls (``batch_size`` model-input rows per call, None: about four
    million cells). Returns (n_settings, n_rows, n_outputs) float64.
    """
    rows = data.values
    n, d = rows.shape
    cols = list(columns)
    per_call = chunk_size(n, d, batch_size)
    out = []
    for start in range(0, len(settings), per_call):
        part = settings[start : start + per_call]
        stacked = np.repeat(rows[None], len(part), axis=0)
        for k, j in enumerate(cols):
            stacked[:, :, j] = part[:, k][:, None]
        flat = Dataset(stacked.reshape(len(part) * n, d), data.feature_names, data.categorical)
        preds = model.predict(flat, output)
        out.append(preds.reshape(len(part), n, -1))
    return np.concatenate(out, axis=0)


def predict_rows(model: Model, data: Dataset, output: str, batch_size: int | None) -> np.ndarray:
    """The model's output on ``data`` in calls of at most ``batch_size`` rows: (n, k)."""
    n = data.n_samples
    step = n if batch_size is None else max(1, int(batch_size))
    parts = [
        model.predict(data.take(np.arange(start, min(n, start + step))), output)
        for start in range(0, n, step)
    ]
    return np.concatenate(parts, axis=0)
