"""Argument checks shared by every subpackage, each raising a one-sentence InputError."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError


def check_confidence_level(value: Any) -> float:
    """``value`` as a probability in (0, 1), or a clear error naming ``confidence_level``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0.0 < float(value) < 1.0
    ):
        raise InputError(
            f"confidence_level must be a probability in (0, 1), got {value!r}; e.g. "
            "confidence_level=0.95."
        )
    return float(value)


def shorten(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut in the middle to at most ``limit`` characters, for messages."""
    text = repr(value)
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return f"{text[:head]}...{text[len(text) - (limit - 3 - head) :]}"


_SEED_TYPES = (
    np.random.Generator,
    np.random.RandomState,
    np.random.SeedSequence,
    np.random.BitGenerator,
)


def check_random_state(value: Any, name: str = "random_state") -> Any:
    """Check a seed argument and return it unchanged.

    Parameters
    ----------
    value : None, int, numpy Generator, RandomState, SeedSequence or BitGenerator
        What ``numpy.random.default_rng`` accepts as a seed: None (fresh entropy), a
        non-negative int, or a numpy random object.
    name : str, default="random_state"
        The argument's name, used in the error message.

    Returns
    -------
    object
        ``value`` itself (an ``np.integer`` as a Python int), so that results record the
        seed the user gave.

    Raises
    ------
    InputError
        If ``value`` is of any other type (a string, a float, a bool) or a negative int.
    """
    if value is None or isinstance(value, _SEED_TYPES):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value >= 0:
            return int(value)
    raise InputError(
        f"{name} must be None, a non-negative int or a numpy Generator, got "
        f"{shorten(value)}; pass e.g. {name}=0 for reproducible results."
    )


def check_int(value: Any, name: str, minimum: int = 1, example: str | None = None) -> int:
    """``value`` as an int of at least ``minimum``, or an InputError naming ``name``.

    Parameters
    ----------
    value : object
        The user's argument; a bool is refused (``True`` is not a count).
    name : str
        The argument's name, used in the error message.
    minimum : int, default=1
        The smallest value allowed.
    example : str, optional
        A valid call shown in the message (default ``f"{name}={max(minimum, 1)}"``).

    Raises
    ------
    InputError
        If ``value`` is not an integer or is below ``minimum``.
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        example = example or f"{name}={max(minimum, 1)}"
        wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise InputError(f"{name} must be {wanted}, got {shorten(value)}; e.g. {example}.")
    return int(value)


def check_batch_size(batch_size: Any) -> int | None:
    """``batch_size``: the most model-input rows in one model call, or None for one call.

    Raises
    ------
    InputError
        If ``batch_size`` is neither None nor a positive integer (``True`` included).
    """
    if batch_size is None:
        return None
    return check_int(batch_size, "batch_size", 1, "batch_size=10000, or None for one call")


def as_float_array(value: Any, message: str) -> np.ndarray:
    """``value`` as a float64 array, or an InputError with ``message`` (one sentence) when it
    does not convert to numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(message) from None


def rows_to_draw(max_samples: Any, n: int) -> int:
    """How many of ``n`` rows ``max_samples`` asks for: all for None, at most ``n`` for a
    number of rows, ``max(1, floor(fraction * n))`` for a fraction in (0, 1] (scikit-learn's
    rule in ``permutation_importance``)."""
    if max_samples is None:
        return n
    if isinstance(max_samples, (int, np.integer)) and not isinstance(max_samples, bool):
        if max_samples >= 1:
            return min(int(max_samples), n)
    elif isinstance(max_samples, (float, np.floating)) and 0.0 < float(max_samples) <= 1.0:
        return max(1, int(float(max_samples) * n))
    raise InputError(
        f"max_samples must be None, a number of rows (an integer >= 1) or a fraction in "
        f"(0, 1], got {shorten(repr(max_samples))}; e.g. max_samples=1000."
    )
