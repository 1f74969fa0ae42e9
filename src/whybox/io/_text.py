"""Short forms of error texts for one-line messages."""

from __future__ import annotations


def short_error(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when it has none), cut in
    the middle to at most ``limit`` characters (a message may quote a whole cell)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if len(line) <= limit:
        return line
    head = (limit - 3) // 2
    return f"{line[:head]}...{line[len(line) - (limit - 3 - head) :]}"
