"""Dask collections, recognised without importing dask.

whybox's core is dask-free: dask is the optional extra ``whybox[dask]``. A dask
collection can only exist once dask has been imported, so :func:`is_dask_collection`
looks in ``sys.modules`` first and never imports dask itself.
"""

from __future__ import annotations

import sys
from typing import Any

from whybox._exceptions import InputError


def is_dask_collection(X: Any) -> bool:
    """Whether ``X`` is exactly a ``dask.array.Array`` or ``dask.dataframe.DataFrame``
    (or a dask ``Series``).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
        False whenever dask has not been imported (no dask collection can exist then).
    """
    if "dask" not in sys.modules:
        return False
    types: list[type] = []
    array = sys.modules.get("dask.array")
    if array is not None:
        types.append(array.Array)
    frame = sys.modules.get("dask.dataframe")
    if frame is not None:
        types.extend((frame.DataFrame, frame.Series))
    return type(X) in types


def require_dask(purpose: str) -> Any:
    """Import and return ``dask``, or raise one sentence saying how to install it.

    Parameters
    ----------
    purpose : str
        What needs dask, e.g. ``"--scheduler"``, for the message.

    Raises
    ------
    InputError
        If dask (with ``distributed``) is not installed.
    """
    try:
        import dask
        import distributed  # noqa: F401
    except ImportError:
        raise InputError(
            f"{purpose} needs dask and distributed, which are not installed; install them "
            "with pip install 'whybox[dask]'."
        ) from None
    return dask
