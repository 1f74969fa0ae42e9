"""The base of every result type: dict, strict JSON, frame and notebook views from its fields."""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import types
import typing
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils._json import (
    from_json_array,
    from_json_frame,
    from_json_number,
    from_json_series,
    json_value,
)

_HTML_ROWS = 20
"""Rows of ``to_frame()`` shown by ``_repr_html_``."""
_HTML_COLUMNS = 12
"""Columns of ``to_frame()`` shown by ``_repr_html_``."""
_HTML_CELL = 100
"""Characters of a text cell (or name) shown by ``_repr_html_``; longer ones are cut."""


class Result:
    """Mixin for whybox's frozen result dataclasses.

    Every result gets, from its dataclass fields:

    - ``to_dict()``: the fields as strict JSON data (NaN as null, infinities as
      ``"inf"``/``"-inf"``: see :mod:`whybox._utils._json`), nested results as dicts;
    - ``to_json()``: that dict as a JSON string (``allow_nan=False``);
    - ``from_dict(d)``: the result rebuilt from ``to_dict()``'s output, each field read
      back by its annotation (arrays, floats with NaN and infinities, tuples and dicts of
      nested results, DataFrames);
    - ``to_frame()``: a one-row DataFrame of the scalar fields (results with a natural
      table override it);
    - ``_repr_html_()``: what Jupyter shows for a result at the end of a cell: the type,
      the key numbers and the first rows of ``to_frame()`` as a compact HTML table
      (escaped, cells cut, at most 20 rows and 12 columns).

    A subclass overrides ``to_dict``/``from_dict`` only when its JSON form is not its
    fields (and then keeps the two inverse to each other).
    """

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as strict-JSON-ready data (see the class docstring)."""
        return {f.name: json_value(getattr(self, f.name)) for f in _init_fields(type(self))}

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as a strict JSON string (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded)."""
        hints = _hints(cls)
        kwargs = {
            f.name: _decode(hints.get(f.name, Any), d[f.name])
            for f in _init_fields(cls)
            if f.name in d
        }
        return cls(**kwargs)

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame of the result's scalar fields (numbers, text, flags)."""
        row = {
            f.name: getattr(self, f.name)
            for f in _init_fields(type(self))
            if _is_scalar(getattr(self, f.name))
        }
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        """What a notebook shows: the type as a title, the key numbers (the scalar
        fields, when ``to_frame`` is a table of its own) and the first rows and columns
        of ``to_frame()``; every text escaped, long cells cut, the size bounded."""
        title = f"<p><b>{html.escape(type(self).__name__)}</b></p>"
        if type(self).to_frame is not Result.to_frame:
            title += _key_numbers(self)
        try:
            frame = self.to_frame()
        except Exception as exc:  # a view must never fail: say why there is no table
            return title + f"<p>(no table: {html.escape(_cut(str(exc)))})</p>"
        return title + html_table(frame)

    @staticmethod
    def _html_table(frame: pd.DataFrame, max_rows: int = _HTML_ROWS) -> str:
        """``frame`` as the bounded, escaped HTML table of ``_repr_html_`` (for
        subclasses that write their own view)."""
        return html_table(frame, max_rows)


def html_table(frame: pd.DataFrame, max_rows: int = _HTML_ROWS) -> str:
    """The first ``max_rows`` rows and :data:`_HTML_COLUMNS` columns of ``frame`` as an
    escaped HTML table, text cells cut to :data:`_HTML_CELL` characters, with a note
    counting what was left out."""
    shown = frame.iloc[:max_rows, :_HTML_COLUMNS].copy()
    shown.columns = [_cut(str(c)) for c in shown.columns]
    shown.index = pd.Index([_cut(str(i)) for i in shown.index], name=shown.index.name)
    for column in range(shown.shape[1]):
        if shown.dtypes.iloc[column].kind == "O":
            shown.isetitem(column, shown.iloc[:, column].map(_cell_text))
    table = shown.to_html(escape=True, float_format=lambda v: f"{v:.4g}", border=0)
    more_rows, more_cols = len(frame) - max_rows, frame.shape[1] - _HTML_COLUMNS
    left = [f"{n} more {w}" for n, w in ((more_rows, "rows"), (more_cols, "columns")) if n > 0]
    note = f"<p>... {', '.join(left)}: <code>.to_frame()</code></p>" if left else ""
    return table + note


def _cut(text: str, limit: int = _HTML_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _cell_text(v: Any) -> Any:
    if isinstance(v, str):
        return _cut(v)
    if isinstance(v, (np.ndarray, list, tuple, dict)):
        return _cut(repr(v))
    return v


def _key_numbers(result: Any) -> str:
    """The scalar fields of ``result`` as one escaped line (at most 8, text cut)."""
    parts = []
    for f in _init_fields(type(result)):
        v = getattr(result, f.name)
        if not _is_scalar(v) or v is None:
            continue
        shown = f"{v:.4g}" if isinstance(v, (float, np.floating)) else _cut(str(v), 60)
        parts.append(f"{html.escape(f.name)}: <code>{html.escape(shown)}</code>")
    return f"<p>{'; '.join(parts[:8])}</p>" if parts else ""


def _init_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.init)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool, int, float, np.integer, np.floating, np.bool_))


def _decode(hint: Any, value: Any) -> Any:
    """Read ``value`` (JSON data) back into the type ``hint`` names."""
    if value is None:
        return _none_as(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _decode(option, value)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if hint is np.ndarray:
        return from_json_array(value)
    if hint is float:
        return from_json_number(value)
    if hint in (int, str, bool):
        return hint(value)
    if hint is pd.DataFrame:
        return from_json_frame(value)
    if hint is pd.Series:
        return from_json_series(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if args:
            return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)
    if origin is list:
        return [_decode(args[0], v) for v in value] if args else list(value)
    if origin is dict:
        inner = args[1] if args else Any
        return {k: _decode(inner, v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Result):
        return hint.from_dict(value)
    return value


def _none_as(hint: Any) -> Any:
    """None read back: NaN for a float field, else None."""
    if hint is float:
        return float("nan")
    return None
