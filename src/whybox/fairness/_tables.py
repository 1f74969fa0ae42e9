"""Tables of the fairness results as JSON, and back.

:func:`whybox._utils.json_value` writes a frame as ``{"index", "columns", "data",
"index_name"}`` and :func:`whybox._utils.from_json_frame` reads it back column by column;
:class:`TableResult` does it for a result's tables, an empty table included.
``GroupMetrics`` writes its tables as records (one dict per row, as the audit report shows
them): :func:`records` and :func:`from_records`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pandas as pd

from whybox._utils import Result, from_json_column, from_json_frame, json_value


def frame_from_json(value: dict[str, Any]) -> pd.DataFrame:
    """A frame written by ``json_value``; without rows, pandas' empty frame of its columns
    (no cell to read a column's type from)."""
    if not value["data"]:
        return pd.DataFrame(columns=value["columns"])
    return from_json_frame(value)


def records(frame: pd.DataFrame, index_name: str | None = None) -> list[dict[str, Any]]:
    """A frame as strict-JSON records, its index as the column ``index_name`` when given."""
    rows = []
    for key, row in frame.iterrows():
        rec = {index_name: json_value(key)} if index_name else {}
        rec.update({str(c): json_value(v) for c, v in row.items()})
        rows.append(rec)
    return rows


def from_records(rows: list[dict[str, Any]], index_name: str | None = None) -> pd.DataFrame:
    """The inverse of :func:`records`, column by column."""
    columns = list(rows[0]) if rows else []
    frame = pd.DataFrame(
        {c: from_json_column([r[c] for r in rows]) for c in columns}, columns=columns
    )
    return frame.set_index(index_name) if index_name else frame


class TableResult(Result):
    """A result whose tables (``TABLES``, DataFrame field names) may have no rows."""

    TABLES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded)."""
        result = super().from_dict({**d, **dict.fromkeys(cls.TABLES)})
        tables = {f: frame_from_json(d[f]) for f in cls.TABLES}
        return dataclasses.replace(result, **tables)
