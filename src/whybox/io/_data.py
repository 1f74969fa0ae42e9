"""Reading data files: tables (CSV, Parquet) and arrays (.npz)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import shorten
from whybox.io._text import short_error as _short


def load_data(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table from a CSV or Parquet file.

    Raises
    ------
    InputError
        If the file is missing, of another kind, unreadable or has no rows.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"data file '{p}' does not exist; check the path given to --data.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".gz"):
            # the header as written: pandas renames a repeated name ('income' -> 'income.1')
            header = pd.read_csv(p, header=None, nrows=1, dtype=str).iloc[0].tolist()
            _check_header(header, p.name)
            frame = pd.read_csv(p)
        elif suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            _check_header(pq.read_schema(p).names, p.name)
            frame = pd.read_parquet(p)
        else:
            raise InputError(
                f"data file '{p.name}' has the unknown suffix '{suffix}'; give a .csv or "
                ".parquet file."
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"data file '{p.name}' could not be read ({_short(exc)}); check it is a valid "
            f"{'CSV' if suffix != '.parquet' else 'Parquet'} file."
        ) from None
    if frame.shape[0] == 0:
        raise InputError(f"data file '{p.name}' has no rows; give a file with at least one row.")
    return frame


def _check_header(names: list, file_name: str) -> None:
    """Refuse a column name that appears more than once in a file's header."""
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str):  # an empty CSV header cell: pandas names it 'Unnamed: k'
            continue
        if name in seen:
            raise InputError(
                f"column {shorten(name)} appears twice in the header of {shorten(file_name)[1:-1]}; "
                "rename or drop one of them."
            )
        seen.add(name)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the named arrays of a NumPy ``.npz`` file (images and labels, say).

    Raises
    ------
    InputError
        If the file is missing, not an .npz file, unreadable or empty.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"data file '{p}' does not exist; check the path given to --data.")
    if p.suffix.lower() != ".npz":
        raise InputError(
            f"data file '{p.name}' must be an .npz file of arrays (np.savez('data.npz', "
            "images=X, labels=y)) for a PyTorch model."
        )
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise InputError(
            f"data file '{p.name}' could not be read as .npz ({_short(exc)}); write it with "
            "np.savez."
        ) from None
    if not arrays:
        raise InputError(f"data file '{p.name}' holds no arrays; save the images and labels.")
    return arrays
