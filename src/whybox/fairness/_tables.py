"""Tables of the fairness results as JSON records, and back.

The results' tables mix integer counts, rates (NaN where undefined), flags and group
names, so they are written row by row (one dict per row) and read back column by
column, each column with its own type.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import from_json_array, json_value


def records(frame: pd.DataFrame, index_name: str | None = None) -> list[dict[str, Any]]:
    """A frame as strict-JSON records, its index as the column ``index_name`` when given."""
    rows = []
    for key, row in frame.iterrows():
        rec = {index_name: json_value(key)} if index_name else {}
        rec.update({str(c): json_value(v) for c, v in row.items()})
        rows.append(rec)
    return rows


def json_column(values: list[Any]) -> np.ndarray:
    """One column read back: int64, float64 (None as NaN, ``"inf"``), bool, text, or
    object where numbers and text mix."""
    arr = from_json_array(values)
    if arr.dtype.kind in "US" and not all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    return arr


def from_records(rows: list[dict[str, Any]], index_name: str | None = None) -> pd.DataFrame:
    """The inverse of :func:`records`."""
    columns = list(rows[0]) if rows else []
    frame = pd.DataFrame({c: json_column([r[c] for r in rows]) for c in columns}, columns=columns)
    return frame.set_index(index_name) if index_name else frame
