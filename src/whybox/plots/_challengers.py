"""The audited model beside its interpretable challengers: the headline metric with intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.plots._common import NEGATIVE, POSITIVE, check_result, figure_and_axes, literal

_AUDITED = "#333333"


def challengers(result: Any, ax: Any = None) -> Any:
    """Draw each model's held-out headline metric with its bootstrap interval.

    Parameters
    ----------
    result : Challengers
        The result of :func:`whybox.glassbox.challengers`.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One row per model (the audited model on top), on the x axis the headline metric
        (accuracy or R², in the result's units, 0-1) with its percentile bootstrap interval
        over the held-out rows. The audited model is a black diamond (gid
        ``"audited"``) with a dashed vertical line at its value (``"audited_line"``); the
        challengers are circles (``"challengers"``), blue where the challenger is at least
        as good, red where it is worse; the intervals are error bars (``"intervals"``).
        Each challenger's label carries its gap to the audited model in points (audited
        minus challenger: positive when the challenger is worse) and the gap's paired
        bootstrap interval.

    Raises
    ------
    InputError
        If ``result`` is not a Challengers result, or ``ax`` is not a matplotlib Axes.
    """
    from whybox.glassbox import Challengers

    check_result(
        result,
        Challengers,
        "challengers",
        "whybox.glassbox.challengers(model, X_train, y_train, X, y)",
    )
    table, metric = result.table, result.metric
    n = len(table)
    fig, ax = figure_and_axes(ax, (6.4, 1.2 + 0.55 * n))
    value = table[metric].to_numpy(dtype=np.float64)
    low = table[f"{metric} low"].to_numpy(dtype=np.float64)
    high = table[f"{metric} high"].to_numpy(dtype=np.float64)
    position = np.arange(n)[::-1].astype(float)  # the audited model (first row) on top
    err = np.vstack([np.clip(value - low, 0, None), np.clip(high - value, 0, None)])
    bars = ax.errorbar(value, position, xerr=err, fmt="none", ecolor="#7f7f7f", capsize=3, lw=1.2)
    for collection in bars.lines[2]:  # the horizontal bars
        collection.set_gid("intervals")
    audited = (table["role"] == "audited").to_numpy()
    worse = table["gap"].to_numpy(dtype=np.float64) > 0
    colors = [POSITIVE if w else NEGATIVE for w in worse[~audited]]
    dots = ax.scatter(value[~audited], position[~audited], c=colors, s=45, zorder=3)
    dots.set_gid("challengers")
    mark = ax.scatter(value[audited], position[audited], marker="D", color=_AUDITED, s=60, zorder=4)
    mark.set_gid("audited")
    if audited.any():
        line = ax.axvline(value[audited][0], color=_AUDITED, ls="--", lw=1, alpha=0.6)
        line.set_gid("audited_line")
    labels = []
    for name, row in table.iterrows():
        if row["role"] == "audited":
            labels.append(str(name))
        else:
            labels.append(
                f"{name}\ngap {row['gap']:+.1f} pts [{row['gap low']:+.1f}, {row['gap high']:+.1f}]"
            )
    ax.set_yticks(position, [literal(label) for label in labels], fontsize="small")
    ax.set_ylim(-0.7, n - 0.3)
    level = round(100 * result.confidence_level)
    ax.set_xlabel(
        literal(f"{metric} on {result.n_test} held-out rows ({level}% bootstrap interval)"),
        fontsize="small",
    )
    ax.set_title("What would an interpretable model cost?")
    ax.grid(True, axis="x", alpha=0.3)
    return fig
