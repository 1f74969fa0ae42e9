"""Progress bars over explained rows (tqdm)."""

from __future__ import annotations

from typing import Any

AUTO_PROGRESS_ROWS = 100
"""With ``progress=None`` a bar is shown from this many rows on."""


def progress_bar(n_rows: int, show: bool | None, desc: str) -> Any:
    """A tqdm bar over ``n_rows`` rows: shown when ``show`` is True, or for 100+ rows
    when ``show`` is None; the bar disappears when done."""
    from tqdm.auto import tqdm

    disable = (n_rows < AUTO_PROGRESS_ROWS) if show is None else not show
    return tqdm(total=n_rows, desc=desc, unit="row", disable=disable, leave=False)
