"""Tables of the fairness results as JSON, and back, column by column.

The results' tables mix integer counts, rates (NaN where undefined), flags and group
names; :func:`whybox._utils.json_value` writes a frame as ``{"index", "columns",
"data"}`` (rows of cells), and :func:`frame_from_json` reads each column back with its
own type (:class:`TableResult` does it for a result's tables). ``GroupMetrics`` writes its
tables as records (one dict per row, as the audit
report shows them): :func:`records` and :func:`from_records`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from whybox._utils import Result, from_json_array, json_value


def json_column(values: list[Any]) -> np.ndarray:
    """One column read back: int64, float64 (None as NaN, ``"inf"``), bool, text, or
    object where numbers and text mix (or the column is empty)."""
    if not values:  # an empty column holds no type: object, as pandas makes it
        return np.array([], dtype=object)
    arr = from_json_array(values)
    if arr.dtype.kind in "US" and not all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    return arr


def frame_from_json(value: dict[str, Any], index_name: str | None = None) -> pd.DataFrame:
    """A frame written by ``json_value`` (``{"index", "columns", "data"}``)."""
    columns = value["columns"]
    cells = value["data"]
    frame = pd.DataFrame(
        {c: json_column([row[j] for row in cells]) for j, c in enumerate(columns)},
        columns=columns,
    )
    index = value["index"]
    if index == list(range(len(index))) and index_name is None:  # the default index
        frame.index = pd.RangeIndex(len(index))
    else:
        frame.index = pd.Index(index, name=index_name)
    return frame


def records(frame: pd.DataFrame, index_name: str | None = None) -> list[dict[str, Any]]:
    """A frame as strict-JSON records, its index as the column ``index_name`` when given."""
    rows = []
    for key, row in frame.iterrows():
        rec = {index_name: json_value(key)} if index_name else {}
        rec.update({str(c): json_value(v) for c, v in row.items()})
        rows.append(rec)
    return rows


def from_records(rows: list[dict[str, Any]], index_name: str | None = None) -> pd.DataFrame:
    """The inverse of :func:`records`."""
    columns = list(rows[0]) if rows else []
    frame = pd.DataFrame({c: json_column([r[c] for r in rows]) for c in columns}, columns=columns)
    return frame.set_index(index_name) if index_name else frame


class TableResult(Result):
    """A result whose tables are read back column by column by ``from_dict``.

    ``TABLES`` names the DataFrame fields, each with the name of its index (None for
    the default one).
    """

    TABLES: ClassVar[dict[str, str | None]] = {}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded)."""
        result = super().from_dict({**d, **dict.fromkeys(cls.TABLES)})
        tables = {f: frame_from_json(d[f], index) for f, index in cls.TABLES.items()}
        return dataclasses.replace(result, **tables)
