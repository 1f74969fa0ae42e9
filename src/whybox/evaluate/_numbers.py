"""Small helpers shared by the evaluate modules: NaN-aware means, the output chosen."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError


def nanmean(a: Any, axis: Any = None) -> Any:
    """Mean ignoring NaN, NaN (without a warning) where every entry is NaN."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(~np.isnan(a), axis=axis)
        total = np.nansum(a, axis=axis)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def output_position(
    target: Any, names: tuple[str, ...], name: str, *, strict: bool = False
) -> int | None:
    """The output chosen by ``target`` (a name or position), None when not given.

    Unless ``strict``, an unknown name on a single-output explanation (a gradient map,
    named after its target) selects that output, so methods can be compared by one name.
    """
    k = len(names)
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -k <= target < k:
            raise InputError(
                f"target={target} is out of range for {name} with {k} output(s); choose an "
                f"index in 0..{k - 1} or a name from {list(names)}."
            )
        return int(target) % k
    if isinstance(target, str):
        if target not in names:
            if k == 1 and not strict:
                return 0  # a single-output explanation (e.g. a gradient map) has one choice
            raise InputError(
                f"target={target!r} is not an output of {name}; choose one of {list(names)} "
                "(by name or position)."
            )
        return names.index(target)
    raise InputError(
        f"target must be None, an output name or a position, got {type(target).__name__}; "
        f"choose one of {list(names)}."
    )


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
