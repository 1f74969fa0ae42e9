"""Feature-effect plots: partial dependence with ICE, H-statistic bars, SHAP interaction
heatmaps (ALE: ``_ale.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._utils import check_int, check_random_state
from whybox.inspection import HStatistic, PartialDependence, shap_interaction_matrix
from whybox.plots._common import (
    TEXT_CHARS,
    check_max_display,
    check_result,
    figure_and_axes,
    label_text,
    target_index,
)

_PD_COLOR = "#08306b"
_ICE_COLOR = "#6baed6"


def partial_dependence(
    result: Any,
    *,
    target: Any = None,
    ice: bool = True,
    max_ice_lines: int = 100,
    random_state: Any = 0,
    ax: Any = None,
) -> Any:
    """Draw a partial dependence curve over its ICE curves, or a two-way heatmap.

    Parameters
    ----------
    result : PartialDependence
        The result of :func:`whybox.inspection.partial_dependence`.
    target : str or int, optional
        The output drawn (class name or position); default the first.
    ice : bool, default=True
        Draw the ICE curves (when the result has them) under the average.
    max_ice_lines : int, default=100
        At most this many ICE curves, a random sample of the rows (``random_state``).
    random_state : None, int or numpy Generator, default=0
        Seed of the sample of ICE curves drawn.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One numeric feature: the PD line (bold) over thin ICE lines. One categorical
        feature (flagged in ``result.categorical``, or a grid of text): the levels have
        no order, so nothing joins them: the PD is a point with a short bar per level
        (gid ``"pd:points"``), the ICE values a strip of dots per level (gid
        ``"ice:points"``). Two numeric features: a heatmap of the PD with contour lines;
        a categorical and a numeric feature: one PD line over the numeric feature per
        level (up to 8 levels, else a heatmap); two categorical features: a heatmap of
        cells.

    Raises
    ------
    InputError
        A result of another type, an unknown ``target``, bad ``max_ice_lines``.
    """
    check_result(
        result,
        PartialDependence,
        "partial_dependence",
        "whybox.inspection.partial_dependence(model, X, feature)",
    )
    max_ice_lines = check_int(max_ice_lines, "max_ice_lines", 1, "max_ice_lines=100")
    random_state = check_random_state(random_state)
    k = target_index(result.output_names, target)
    centred = "centred " if result.centered else ""
    label = f"{centred}{result.output_space} output ({result.output_names[k]})"
    categorical = [_is_categorical(result, j) for j in range(len(result.feature_names))]
    if len(result.feature_names) == 2:
        return _two_way(result, k, label, categorical, ax)
    fig, ax = figure_and_axes(ax, (6.0, 4.2))
    grid = result.grid_values[0]
    rng = np.random.default_rng(random_state)
    curves = None
    if ice and result.individual is not None:
        curves = result.individual[k]
        if len(curves) > max_ice_lines:
            curves = curves[np.sort(rng.choice(len(curves), max_ice_lines, replace=False))]
    if categorical[0]:
        _categorical_pd(ax, result, k, grid, curves, rng)
    else:
        if curves is not None:
            for c in curves:
                ax.plot(grid, c, color=_ICE_COLOR, linewidth=0.5, alpha=0.35)
            ax.plot([], [], color=_ICE_COLOR, linewidth=0.8, label=f"ICE ({len(curves)} rows)")
        if result.kind != "individual":
            ax.plot(grid, result.average[k], "-", color=_PD_COLOR, linewidth=2.5,
                    label="partial dependence", gid="pd:line")  # fmt: skip
    ax.set_xlabel(label_text(result.feature_names[0], TEXT_CHARS // 2))
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _is_categorical(result: PartialDependence, j: int) -> bool:
    """Whether feature j's grid holds categories: flagged so, or values that are not
    numbers (a result read back from JSON keeps its levels as text)."""
    if result.categorical[j]:
        return True
    grid = np.asarray(result.grid_values[j])
    return grid.dtype.kind not in "biuf"


def _categorical_pd(
    ax: Any,
    result: PartialDependence,
    k: int,
    grid: np.ndarray,
    curves: np.ndarray | None,
    rng: np.random.Generator,
) -> None:
    """One point (with a short bar) per level for the PD, the ICE values as a strip of
    dots per level: the levels have no order, so nothing joins them."""
    x = np.arange(len(grid))
    if curves is not None:
        jitter = rng.uniform(-0.18, 0.18, size=curves.shape)
        ax.scatter((x[None, :] + jitter).ravel(), curves.ravel(), s=6, color=_ICE_COLOR,
                   alpha=0.45, linewidths=0, label=f"ICE ({len(curves)} rows)",
                   gid="ice:points")  # fmt: skip
    if result.kind != "individual":
        avg = result.average[k]
        ax.hlines(avg, x - 0.3, x + 0.3, color=_PD_COLOR, linewidth=2.5, gid="pd:bars")
        ax.plot(x, avg, linestyle="none", marker="D", markersize=7, color=_PD_COLOR,
                label="partial dependence", gid="pd:points")  # fmt: skip
    ax.set_xticks(x, label_text([str(v) for v in grid]))
    ax.set_xlim(-0.6, len(grid) - 0.4)
    if len(grid) > 5:
        ax.tick_params(axis="x", labelrotation=30)


_MAX_LEVEL_LINES = 8  # a category against a number: one line per level up to this many


def _two_way(
    result: PartialDependence, k: int, label: str, categorical: list[bool], ax: Any
) -> Any:
    """Two features: a heatmap; a category against a number: one PD line of the number
    per level (up to ``_MAX_LEVEL_LINES`` levels)."""
    g0, g1 = result.grid_values
    z = result.average[k]
    names = [label_text(n, TEXT_CHARS // 2) for n in result.feature_names]
    if categorical[0] != categorical[1]:
        c = 0 if categorical[0] else 1  # the categorical feature
        levels, numbers = result.grid_values[c], result.grid_values[1 - c]
        if len(levels) <= _MAX_LEVEL_LINES:
            fig, ax = figure_and_axes(ax, (6.0, 4.2))
            lines = z if c == 0 else z.T  # (levels, numbers)
            for level, line in zip(levels, lines, strict=True):
                ax.plot(numbers, line, "-", linewidth=2.0, gid="pd:level",
                        label=label_text(str(level), TEXT_CHARS // 2))  # fmt: skip
            ax.set_xlabel(names[1 - c])
            ax.set_ylabel(f"partial dependence, {label}")
            ax.legend(title=names[c], frameon=False, fontsize=8)
            ax.set_title("two-way partial dependence", fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
            return fig
    fig, ax = figure_and_axes(ax, (6.0, 4.8))
    if categorical[0] or categorical[1]:
        img = ax.imshow(z.T, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(g0)), label_text([_tick(v) for v in g0]))
        ax.set_yticks(range(len(g1)), label_text([_tick(v) for v in g1]))
    else:
        img = ax.pcolormesh(g0, g1, z.T, shading="nearest", cmap="viridis")
        ax.contour(g0, g1, z.T, colors="white", linewidths=0.6, alpha=0.8)
    fig.colorbar(img, ax=ax, label=f"partial dependence, {label}")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("two-way partial dependence", fontsize=10)
    return fig


def _tick(value: Any) -> str:
    """A grid value as a tick label (numbers to 3 significant digits)."""
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def h_statistic(
    result: Any,
    *,
    target: Any = None,
    pairwise: bool = False,
    max_display: int = 10,
    ax: Any = None,
) -> Any:
    """Draw Friedman's H^2: overall bars per feature, or the pairwise matrix.

    Parameters
    ----------
    result : HStatistic
        The result of :func:`whybox.inspection.h_statistic`.
    target : str or int, optional
        The output drawn (class name or position); default the first.
    pairwise : bool, default=False
        Draw the pairwise H^2 as a heatmap (pairs not computed left blank).
    max_display : int, default=10
        The most features drawn (highest overall H^2 first).
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        A result of another type, an unknown ``target``, bad ``max_display``.
    """
    check_result(result, HStatistic, "h_statistic", "whybox.inspection.h_statistic(model, X)")
    max_display = check_max_display(max_display)
    k = target_index(result.output_names, target)
    order = np.argsort(-result.overall[k], kind="stable")[:max_display]
    names = [result.feature_names[i] for i in order]
    if pairwise:
        fig, ax = figure_and_axes(ax, (5.5, 4.8))
        sub = result.pairwise[k][np.ix_(order, order)]
        img = ax.imshow(np.ma.masked_invalid(sub), cmap="Reds", vmin=0)
        ax.set_xticks(range(len(names)), label_text(names), rotation=45, ha="right")
        ax.set_yticks(range(len(names)), label_text(names))
        fig.colorbar(img, ax=ax, label="pairwise H^2")
        return fig
    fig, ax = figure_and_axes(ax, (6.0, 0.4 * len(order) + 1.4))
    ax.barh(range(len(order))[::-1], result.overall[k][order], color="#cb181d")
    ax.set_yticks(range(len(order))[::-1], label_text(names))
    ax.set_xlabel("overall H^2 (share of the output's variance from interactions)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def shap_interactions(
    explanation: Any, *, target: Any = None, max_display: int = 10, ax: Any = None
) -> Any:
    """Draw the mean |SHAP interaction value| of each pair of features as a heatmap.

    Parameters
    ----------
    explanation : Explanation
        SHAP interaction values (axes "samples", "features", "features", "outputs"),
        e.g. ``TreeExplainer(model).interaction_values(X)``.
    target : str or int, optional
        The output drawn (name or position); None: the mean over the outputs.
    max_display : int, default=10
        The most features drawn: those with the largest total interaction.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Off the diagonal, :func:`whybox.inspection.shap_interaction_matrix` (the mean
        of ``|phi_ij + phi_ji|`` over the rows, units of the output space); the
        diagonal (main effects) is left blank so the interactions keep the colour
        scale. The image has gid ``"shap_interactions"``.

    Raises
    ------
    InputError
        An explanation without interaction values, an unknown ``target``, bad
        ``max_display``.
    """
    max_display = check_max_display(max_display)
    matrix = shap_interaction_matrix(explanation, target=target)
    values = matrix.to_numpy().copy()
    np.fill_diagonal(values, np.nan)
    order = np.argsort(-np.nansum(values, axis=1), kind="stable")[:max_display]
    names = [matrix.index[i] for i in order]
    fig, ax = figure_and_axes(ax, (0.45 * len(order) + 3.0, 0.4 * len(order) + 2.2))
    img = ax.imshow(np.ma.masked_invalid(values[np.ix_(order, order)]), cmap="Reds", vmin=0)
    img.set_gid("shap_interactions")
    ax.set_xticks(range(len(names)), label_text(names), rotation=45, ha="right")
    ax.set_yticks(range(len(names)), label_text(names))
    fig.colorbar(img, ax=ax, label=f"mean |SHAP interaction| ({explanation.output_space})")
    left_out = matrix.shape[0] - len(order)
    ax.set_title(
        "SHAP interaction values (main effects left out)"
        + (f"; {left_out} features not shown" if left_out else ""),
        fontsize=9,
    )
    return fig
