"""The one JSON rule of whybox: strict JSON, lossless for floats.

Every result's ``to_dict`` and every report goes through :func:`json_value`, so NaN and
infinities are written the same way everywhere and read back by :func:`from_json_number`
and :func:`from_json_array`:

- NaN is ``null``;
- plus and minus infinity are the strings ``"inf"`` and ``"-inf"``;
- numpy scalars become Python numbers, arrays nested lists, tuples lists, and dict keys
  strings;
- a DataFrame is ``{"index", "columns", "data", "index_name"}`` (pandas' "split" form), a
  Series ``{"index", "data", "name", "index_name"}``;
- anything else JSON cannot hold (an estimator, a function) becomes its ``repr``.

``json.dumps(..., allow_nan=False)`` accepts everything :func:`json_value` returns.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pandas as pd

INFINITIES = {"inf": math.inf, "-inf": -math.inf}


def json_number(value: Any) -> Any:
    """A float as strict JSON: the float, ``None`` for NaN, ``"inf"``/``"-inf"``."""
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def json_value(value: Any) -> Any:
    """``value`` as strict JSON data (see the module docstring for the rule).

    Parameters
    ----------
    value : object
        A number, string, None, bool, numpy scalar or array, list, tuple, dict, a
        result with ``to_dict``, or any other object (written as its ``repr``).

    Returns
    -------
    None, bool, int, float, str, list or dict
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_number(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu":
            return value.tolist()
        return [json_value(v) for v in value.tolist()] if value.ndim else json_value(value.item())
    if isinstance(value, pd.DataFrame):
        return json_value({**value.to_dict(orient="split"), "index_name": value.index.name})
    if isinstance(value, pd.Series):
        return json_value(
            {
                "index": value.index.tolist(),
                "data": value.tolist(),
                "name": value.name,
                "index_name": value.index.name,
            }
        )
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if hasattr(value, "to_dict") and dataclasses.is_dataclass(value):
        return value.to_dict()
    return repr(value)


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_value`, refusing anything that is not strict JSON."""
    return json.dumps(json_value(value), allow_nan=False, **kwargs)


def from_json_number(value: Any) -> float:
    """Read back a float written by :func:`json_number` (None is NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        if value in INFINITIES:
            return INFINITIES[value]
        return float(value)
    return float(value)


def from_json_array(value: Any, dtype: Any = None) -> np.ndarray:
    """Read back an array written by :func:`json_value`.

    Parameters
    ----------
    value : nested lists
    dtype : numpy dtype, optional
        The dtype to read into. By default: int64 when every entry is an int, float64
        when every entry is a number, None, ``"inf"`` or ``"-inf"``, else the entries as
        they are (object or str).

    Returns
    -------
    ndarray
    """
    if dtype is not None and np.dtype(dtype).kind == "f":
        return np.vectorize(from_json_number, otypes=[np.float64])(np.array(value, dtype=object))
    if dtype is not None:
        return np.asarray(value, dtype=dtype)
    arr = np.array(value, dtype=object)
    flat = arr.ravel()
    if flat.size and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in flat
    ):
        return arr.astype(np.int64)
    if all(
        v is None
        or (isinstance(v, (int, float)) and not isinstance(v, bool))
        or (isinstance(v, str) and v in INFINITIES)
        for v in flat
    ):
        if flat.size == 0:
            return np.asarray(value, dtype=np.float64)
        return np.vectorize(from_json_number, otypes=[np.float64])(arr)
    return np.asarray(value)


def from_json_column(values: list[Any]) -> np.ndarray:
    """Read back one column of a table: bool, int64, float64 (NaN, infinities) or object."""
    if values and all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if any(isinstance(v, bool) for v in values):
        return np.array(values, dtype=object)
    arr = from_json_array(values)
    return arr if arr.dtype.kind in "if" else np.array(values, dtype=object)


def from_json_frame(value: dict[str, Any]) -> pd.DataFrame:
    """Read back a DataFrame written by :func:`json_value`, column by column."""
    columns = value["columns"]
    cells = list(zip(*value["data"], strict=True)) if value["data"] else [[] for _ in columns]
    frame = pd.DataFrame(
        {i: from_json_column(list(col)) for i, col in enumerate(cells)},
        index=pd.Index(value["index"], name=value.get("index_name")),
    )
    frame.columns = pd.Index(columns)
    return frame


def from_json_series(value: dict[str, Any]) -> pd.Series:
    """Read back a Series written by :func:`json_value`."""
    return pd.Series(
        from_json_column(list(value["data"])),
        index=pd.Index(value["index"], name=value.get("index_name")),
        name=value.get("name"),
    )
