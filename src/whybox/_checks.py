"""Argument checks shared across modules (each raises a one-sentence InputError)."""

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
