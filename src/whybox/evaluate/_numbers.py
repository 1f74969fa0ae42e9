"""Small helpers shared by the evaluate modules: NaN-aware means, the output chosen,
number checks and calls of the user's functions."""

from __future__ import annotations

from collections.abc import Callable
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


def check_number(
    value: Any, name: str, allowed: str, ok: Callable[[float], bool], example: str
) -> float:
    """``value`` as a float when it is a finite number for which ``ok`` holds, else an
    InputError: ``"{name} must be {allowed}, got {value!r}; e.g. {example}."``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.number))
        or not np.isfinite(value)
        or not ok(float(value))
    ):
        raise InputError(f"{name} must be {allowed}, got {value!r}; e.g. {example}.")
    return float(value)


def call_user(fn: Callable[..., Any], *args: Any, failure: Callable[[str], str]) -> Any:
    """``fn(*args)``, a function the user gave (or the model): an InputError passes
    through, any other exception becomes an InputError with the message
    ``failure(reason)``, ``reason`` being the first line of the error."""
    try:
        return fn(*args)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(failure(first_line(exc))) from None
