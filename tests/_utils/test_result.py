"""Result: every result type's dict, strict JSON, round trip, frame and notebook view."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from whybox._utils import Result


@dataclass(frozen=True)
class Inner(Result):
    name: str
    score: float


@dataclass(frozen=True, eq=False)
class Outer(Result):
    values: np.ndarray
    counts: np.ndarray
    level: float
    bound: float | None
    parts: tuple[Inner, ...]
    by_name: dict[str, Inner]
    table: pd.DataFrame
    label: str = "x"


def _outer() -> Outer:
    return Outer(
        values=np.array([[0.5, np.nan], [np.inf, -1.0]]),
        counts=np.array([3, 4]),
        level=np.nan,
        bound=None,
        parts=(Inner("a", 1.0), Inner("b", -np.inf)),
        by_name={"c": Inner("c", 2.0)},
        table=pd.DataFrame({"k": [1, 2], "v": [0.1, np.nan]}),
    )


def test_round_trip_through_strict_json():
    r = _outer()
    text = r.to_json()
    assert "NaN" not in text and "Infinity" not in text
    back = Outer.from_dict(json.loads(text))
    np.testing.assert_array_equal(back.values, r.values)
    np.testing.assert_array_equal(back.counts, r.counts)
    assert back.counts.dtype == np.int64
    assert np.isnan(back.level) and back.bound is None
    assert back.parts == r.parts and back.by_name == r.by_name
    pd.testing.assert_frame_equal(back.table, r.table)
    assert back.label == "x"


def test_frame_and_html_show_the_scalar_fields():
    r = _outer()
    frame = r.to_frame()
    assert list(frame.columns) == ["level", "bound", "label"] and len(frame) == 1
    html = r._repr_html_()
    assert html.startswith("<p><b>Outer</b></p>") and "<table" in html


def test_html_notes_rows_beyond_the_first_twenty():
    @dataclass(frozen=True)
    class Long(Result):
        n: int

        def to_frame(self) -> pd.DataFrame:
            return pd.DataFrame({"i": range(self.n)})

    assert "5 more rows" in Long(25)._repr_html_()
    assert "more rows" not in Long(20)._repr_html_()
