"""Short forms of error texts for one-line messages."""

from __future__ import annotations


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
