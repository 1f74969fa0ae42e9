"""Shared by the readers' tests: a table of two category columns and its CSV form."""

from __future__ import annotations

import io

import pandas as pd


def category_frame(colour, size, x, size_levels) -> pd.DataFrame:
    """``colour`` and ``size`` as pandas category columns (``size`` in the order
    ``size_levels``) around the number ``x``."""
    return pd.DataFrame(
        {
            "colour": pd.Categorical(colour),
            "x": x,
            "size": pd.Categorical(size, categories=size_levels),
        }
    )


def as_csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame written to CSV and read back with text as object columns."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    buf.seek(0)
    text = pd.read_csv(buf, dtype={"colour": object, "size": object})
    assert text["colour"].dtype == object and text["size"].dtype == object
    return text
