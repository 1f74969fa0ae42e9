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
        One feature: the PD line (bold) over thin ICE lines, points for a categorical
        feature; two features: a heatmap of the PD with contour lines.

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
    if len(result.feature_names) == 2:
        fig, ax = figure_and_axes(ax, (6.0, 4.8))
        g0, g1 = result.grid_values
        z = result.average[k]
        if result.categorical[0] or result.categorical[1]:
            img = ax.imshow(z.T, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(g0)), label_text([str(v) for v in g0]))
            ax.set_yticks(range(len(g1)), label_text([str(v) for v in g1]))
        else:
            img = ax.pcolormesh(g0, g1, z.T, shading="nearest", cmap="viridis")
            ax.contour(g0, g1, z.T, colors="white", linewidths=0.6, alpha=0.8)
        fig.colorbar(img, ax=ax, label=f"partial dependence, {label}")
        ax.set_xlabel(label_text(result.feature_names[0], TEXT_CHARS // 2))
        ax.set_ylabel(label_text(result.feature_names[1], TEXT_CHARS // 2))
        ax.set_title("two-way partial dependence", fontsize=10)
        return fig
    fig, ax = figure_and_axes(ax, (6.0, 4.2))
    grid = result.grid_values[0]
    x = np.arange(len(grid)) if result.categorical[0] else grid
    if ice and result.individual is not None:
        curves = result.individual[k]
        rng = np.random.default_rng(random_state)
        if len(curves) > max_ice_lines:
            curves = curves[np.sort(rng.choice(len(curves), max_ice_lines, replace=False))]
        for c in curves:
            ax.plot(x, c, color=_ICE_COLOR, linewidth=0.5, alpha=0.35)
        ax.plot([], [], color=_ICE_COLOR, linewidth=0.8, label=f"ICE ({len(curves)} rows)")
    style = "o-" if result.categorical[0] else "-"
    if result.kind != "individual":
        ax.plot(
            x, result.average[k], style, color=_PD_COLOR, linewidth=2.5, label="partial dependence"
        )
    if result.categorical[0]:
        ax.set_xticks(x, label_text([str(v) for v in grid]))
    ax.set_xlabel(label_text(result.feature_names[0], TEXT_CHARS // 2))
    ax.set_ylabel(label)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


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
