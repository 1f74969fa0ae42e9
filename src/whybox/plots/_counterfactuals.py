"""Counterfactuals as a table of the changed features: the row and each counterfactual."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.plots._common import (
    NEGATIVE,
    POSITIVE,
    check_result,
    figure_and_axes,
    format_value,
    label_text,
    literal,
)

_CATEGORY = "#9a9a9a"


def _changed(a: Any, b: Any) -> bool:
    if pd.isna(a) and pd.isna(b):
        return False
    try:
        return not bool(a == b)
    except (TypeError, ValueError):
        return True


def counterfactuals(result: Any, row: int = 0, *, ax: Any = None) -> Any:
    """Draw one row's counterfactuals as a table of the features they change.

    Parameters
    ----------
    result : Counterfactuals
        The result of :class:`whybox.counterfactuals.CounterfactualExplainer`.
    row : int, default=0
        Which explained row to draw.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One line per feature that any counterfactual changes (features left
        unchanged by all are omitted), then a line with the model's prediction. The
        first column holds the row's own values (text gids ``"original:<feature>"``),
        the next ones each counterfactual; a changed cell is shaded red for an
        increase, blue for a decrease, grey for a new category (rectangle gids
        ``"cell:<k>:<feature>"``, ``k`` the counterfactual's index), an unchanged
        cell shows its value in grey. When no counterfactual was found the figure
        says why (text gid ``"status"``).

    Raises
    ------
    InputError
        If ``result`` is not a Counterfactuals or ``row`` is out of range.

    References
    ----------
    .. [1] R. K. Mothilal, A. Sharma and C. Tan, "Explaining machine learning
       classifiers through diverse counterfactual explanations", FAT* 2020 (the
       table of changes as DiCE shows it).
    """
    from whybox.counterfactuals import Counterfactuals

    check_result(
        result,
        Counterfactuals,
        "counterfactuals",
        "whybox.counterfactuals.CounterfactualExplainer(model, background)(X)",
    )
    if (
        isinstance(row, bool)
        or not isinstance(row, (int, np.integer))
        or not (0 <= row < result.n_rows)
    ):
        raise InputError(
            f"row must be an integer in 0..{result.n_rows - 1}, got {row!r}; pick one of the "
            "explained rows."
        )
    cfs = result.counterfactuals[row]
    orig = result.original.iloc[row]
    feats = result.changes(row)
    k = len(cfs)
    n_lines = len(feats) + 1
    fig, ax = figure_and_axes(ax, (1.6 + 1.5 * (k + 1), 0.42 * n_lines + 1.4))
    ax.set_axis_off()
    title = (
        f"row {row}: prediction {format_value(result.original_prediction[row])}, "
        f"desired {format_value(result.desired[row])}"
        if not isinstance(result.desired[row], tuple)
        else f"row {row}: prediction {format_value(result.original_prediction[row])}, "
        f"desired range [{format_value(result.desired[row][0])}, "
        f"{format_value(result.desired[row][1])}]"
    )
    ax.set_title(literal(title), fontsize=10)
    if k == 0:
        text = ax.text(0.5, 0.5, literal(result.status[row]), ha="center", va="center", wrap=True)
        text.set_gid("status")
        return fig
    from matplotlib.patches import Rectangle

    ax.set_xlim(-1.6, k + 1)
    ax.set_ylim(n_lines, -1)
    ax.text(0.5, -0.5, "original", ha="center", va="center", fontweight="bold")
    for c in range(k):
        ax.text(c + 1.5, -0.5, f"cf {c}", ha="center", va="center", fontweight="bold")
    for i, f in enumerate(feats):
        y = i + 0.5
        ax.text(-0.1, y, label_text(f), ha="right", va="center")
        t = ax.text(0.5, y, literal(format_value(orig[f])), ha="center", va="center")
        t.set_gid(f"original:{f}")
        for c in range(k):
            new = cfs[f].iloc[c]
            if _changed(new, orig[f]):
                try:
                    up = float(new) > float(orig[f])
                    color = POSITIVE if up else NEGATIVE
                except (TypeError, ValueError):
                    color = _CATEGORY
                rect = Rectangle((c + 1.05, i + 0.08), 0.9, 0.84, color=color, alpha=0.25, lw=0)
                rect.set_gid(f"cell:{c}:{f}")
                ax.add_patch(rect)
                ax.text(c + 1.5, y, literal(format_value(new)), ha="center", va="center")
            else:
                ax.text(c + 1.5, y, literal(format_value(new)), ha="center", va="center",
                        color=_CATEGORY)  # fmt: skip
    y = len(feats) + 0.5
    ax.axhline(len(feats), color="black", lw=0.8)
    ax.text(-0.1, y, "prediction", ha="right", va="center", fontstyle="italic")
    ax.text(0.5, y, literal(format_value(result.original_prediction[row])), ha="center",
            va="center", fontstyle="italic")  # fmt: skip
    for c in range(k):
        t = ax.text(c + 1.5, y, literal(format_value(cfs["prediction"].iloc[c])), ha="center",
                    va="center", fontstyle="italic")  # fmt: skip
        t.set_gid(f"prediction:{c}")
    return fig
