"""Accumulated local effects: a curve with its band, points per level, or a 2-D heatmap."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.inspection import AccumulatedLocalEffects
from whybox.plots._common import (
    TEXT_CHARS,
    check_result,
    figure_and_axes,
    label_text,
    literal,
    short_label,
    target_index,
)

_ALE_COLOR = "#a63603"
_RUG_COLOR = "#555555"


def _rug(ax: Any, values: np.ndarray, axis: str) -> None:
    """Tick marks at ``values`` along the bottom (x) or left (y) edge of the axes."""
    if axis == "x":
        trans = ax.get_xaxis_transform()
        ax.plot(values, np.zeros(len(values)), "|", color=_RUG_COLOR, markersize=9,
                transform=trans, clip_on=False, label="bin edges", gid="rug:x")  # fmt: skip
    else:
        trans = ax.get_yaxis_transform()
        ax.plot(np.zeros(len(values)), values, "_", color=_RUG_COLOR, markersize=9,
                transform=trans, clip_on=False, gid="rug:y")  # fmt: skip


def ale(result: Any, *, target: Any = None, contours: bool = True, ax: Any = None) -> Any:
    """Draw accumulated local effects: a curve, points per level, or a 2-D heatmap.

    Parameters
    ----------
    result : AccumulatedLocalEffects
        The result of :func:`whybox.inspection.accumulated_local_effects`.
    target : str or int, optional
        The output drawn (class name or position); default the first.
    contours : bool, default=True
        Second order: draw labelled contour lines over the heatmap.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        First order, numeric: the centred effect at the bin edges, the bootstrap
        band shaded and the edges as a rug along the x axis. First order,
        categorical: a point per level (in the accumulation order) with the band as
        error bars. Second order: the pure interaction effect as a heatmap over the
        2-D grid of bin edges (diverging colours centred at 0, with a colour bar),
        contour lines and the edges of both features as rugs. The y label (colour
        bar label for a heatmap) names the output space and output.

    Raises
    ------
    InputError
        A result of another type, an unknown ``target`` or an ``ax`` that is not a
        matplotlib Axes.

    References
    ----------
    .. [1] D. W. Apley, J. Zhu, "Visualizing the effects of predictor variables in
       black box supervised learning models", JRSS Series B 82(4), 2020.
    """
    check_result(
        result,
        AccumulatedLocalEffects,
        "ale",
        "whybox.inspection.accumulated_local_effects(model, X, features)",
    )
    k = target_index(result.output_names, target)
    label = f"ALE, {result.output_space} output ({result.output_names[k]})"
    if result.order == 2:
        return _heatmap(result, k, label, contours, ax)
    fig, ax = figure_and_axes(ax, (6.0, 4.2))
    effect = result.effect[k]
    grid = result.grids[0]
    band = result.lower is not None and result.upper is not None
    level = f"{round(100 * float(result.params.get('confidence_level', 0.95)), 1):g}%"
    if result.categorical:
        x = np.arange(len(grid))
        err = None
        if band:
            err = np.abs(np.stack([effect - result.lower[k], result.upper[k] - effect]))
        ax.errorbar(
            x, effect, yerr=err, fmt="o", color=_ALE_COLOR, capsize=3,
            label=f"ALE ({level} bootstrap band)" if band else "ALE",
        )  # fmt: skip
        ax.set_xticks(x, label_text([str(v) for v in grid]))
    else:
        ax.plot(grid, effect, "-", color=_ALE_COLOR, linewidth=2.0, label="ALE", gid="ale")
        if band:
            ax.fill_between(
                grid, result.lower[k], result.upper[k], color=_ALE_COLOR, alpha=0.2,
                label=f"{level} bootstrap band",
            )  # fmt: skip
        _rug(ax, grid, "x")
    ax.axhline(0.0, color="#777777", linestyle="--", linewidth=0.8)
    ax.set_xlabel(label_text(result.feature_names[0], TEXT_CHARS // 2))
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _heatmap(result: AccumulatedLocalEffects, k: int, label: str, contours: bool, ax: Any):
    from matplotlib.colors import Normalize

    fig, ax = figure_and_axes(ax, (6.4, 5.0))
    g1, g2 = result.grids
    z = result.effect[k].T  # rows: the second feature (y), columns: the first (x)
    top = float(np.nanmax(np.abs(z)))
    top = top if top > 0 else 1.0
    mesh = ax.pcolormesh(
        g1, g2, z, shading="gouraud", cmap="RdBu_r", norm=Normalize(-top, top)
    )  # fmt: skip
    mesh.set_gid("ale:heatmap")
    if contours and np.ptp(z) > 1e-12 * top:
        lines = ax.contour(g1, g2, z, levels=7, colors="black", linewidths=0.7)
        ax.clabel(lines, fontsize=7, inline=True)
    _rug(ax, g1, "x")
    _rug(ax, g2, "y")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(label)
    ax.set_xlabel(label_text(result.feature_names[0], TEXT_CHARS // 2))
    ax.set_ylabel(label_text(result.feature_names[1], TEXT_CHARS // 2))
    ax.set_title(
        literal(
            f"pure interaction of {short_label(result.feature_names[0])} and "
            f"{short_label(result.feature_names[1])}"
        ),
        fontsize=10,
    )
    return fig
