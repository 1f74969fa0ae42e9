"""Recourse: costs of actions and the actions said as plain sentences."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.counterfactuals._constraints import FeatureSpace, resolve_feature


def format_number(v: Any) -> str:
    """A number for a sentence: whole numbers with thousands separators, else 6
    significant digits (``32000.0 -> "32,000"``, ``0.12345678 -> "0.123457"``)."""
    v = float(v)
    if math.isfinite(v) and v == round(v) and abs(v) < 1e15:
        return f"{int(round(v)):,}"
    return f"{v:,.6g}"


def action_sentence(name: str, old: Any, new: Any, categorical: bool) -> str:
    """One change as a sentence: ``"increase income from 32,000 to 41,500"``.

    Categorical features read ``"change job from 'clerk' to 'manager'"``.
    """
    if categorical:
        return f"change {name} from {old!r} to {new!r}"
    verb = "increase" if float(new) > float(old) else "decrease"
    return f"{verb} {name} from {format_number(old)} to {format_number(new)}"


def cost_weights(space: FeatureSpace, costs: Mapping[Any, Any] | None) -> np.ndarray:
    """The per-feature cost of a change: ``costs`` where given, else one per MAD.

    Numeric and integer features: the cost per unit of change; categorical ones:
    the cost of changing level. A feature not in ``costs`` costs ``1/MAD`` per unit
    (one per change when categorical), so one typical deviation costs 1.

    Raises
    ------
    InputError
        ``costs`` is not a dict, names an unknown or immutable feature, or holds a
        value that is not a positive finite number.
    """
    w = space.default_weights()
    if costs is None:
        return w
    if not isinstance(costs, Mapping):
        raise InputError(
            f"costs must be a dict of feature -> cost per unit of change, got "
            f"{type(costs).__name__}; e.g. costs={{'income': 0.001, 'debt': 0.01}}."
        )
    for key, c in costs.items():
        j = resolve_feature(key, space.names, "costs")
        if space.immutable[j]:
            raise InputError(
                f"costs gives a cost for the immutable feature {space.names[j]!r}, which never "
                "changes; remove it from costs or from immutable."
            )
        if (
            isinstance(c, bool)
            or not isinstance(c, (int, float, np.integer, np.floating))
            or not (math.isfinite(float(c)) and float(c) > 0)
        ):
            raise InputError(
                f"costs[{space.names[j]!r}] must be a positive finite number (cost per unit "
                f"of change), got {c!r}; e.g. 0.01."
            )
        w[j] = float(c)
    return w
