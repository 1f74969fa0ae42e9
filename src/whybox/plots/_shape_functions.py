"""Shape functions of a glass-box model: each term as a step curve, a line, bars or a heatmap,
and the terms ranked by importance."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.glassbox import ShapeFunction, ShapeFunctions
from whybox.plots._common import (
    TEXT_CHARS,
    check_max_display,
    check_result,
    figure_and_axes,
    label_text,
    literal,
    require_matplotlib,
    short_label,
    short_labels,
    target_index,
)

_CURVE = "#08519c"
_DENSITY = "#bdbdbd"
_CALL = "whybox.glassbox.shape_functions(model)"
_DENSITY_BINS = 30  # equal-width bars of a binned numeric term's density
_DENSITY_SHARE = 0.25  # the density bars fill at most this share of the axes' height


def _ylabel(result: ShapeFunctions, k: int) -> str:
    name = short_label(result.output_names[k])
    if result.link == "identity":
        return "term score (prediction)" if name == "prediction" else f"term score ({name})"
    space = "log-odds" if result.link == "logit" else "class margin"
    return f"term score ({space} of {name})"


def _density(ax: Any, x: np.ndarray, weights: np.ndarray | None, width: Any) -> None:
    """The data's weight per bin as light bars along the bottom (a twin axis, no ticks)."""
    if weights is None or not np.any(weights > 0):
        return
    twin = ax.twinx()
    twin.bar(x, weights, width=width, align="edge" if np.ndim(width) else "center",
             color=_DENSITY, alpha=0.6, zorder=0, gid="density")  # fmt: skip
    twin.set_ylim(0, float(np.max(weights)) / _DENSITY_SHARE)
    twin.set_yticks([])
    twin.spines[["top", "right"]].set_visible(False)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)


def shape_function(result: Any, term: Any, *, target: Any = None, ax: Any = None) -> Any:
    """Draw one term of a glass-box model: the model's own curve for its feature(s).

    Parameters
    ----------
    result : ShapeFunctions
        The result of :func:`whybox.glassbox.shape_functions`.
    term : str or int
        The term drawn: its name (e.g. ``"age"``, ``"age & income"``, ``"s(x0)"``) or its
        position among the model's terms.
    target : str or int, optional
        The output drawn (class name or position) of a multiclass model; default the
        first.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        A binned numeric term (EBM): its score per bin as a step curve, ± one standard
        deviation across the bags shaded; a function term (pyGAM spline, linear): a line
        with its confidence band; a categorical term: one bar per level with the band as
        error bars. Under each, the data's density as light grey bars (a binned numeric
        term: its bin weights summed over 30 equal widths; otherwise the weight per level
        or grid point).
        A pair: its scores as a heatmap (diverging colours centred at 0, a colour bar;
        categorical axes as levels). Scores are in the raw space (the y label says which).

    Raises
    ------
    InputError
        A result of another type, an unknown ``term`` or ``target``, or an ``ax`` that is
        not a matplotlib Axes.
    """
    check_result(result, ShapeFunctions, "shape_function", _CALL)
    shape = result.term(term)
    k = target_index(result.output_names, target)
    if shape.kind == "pair":
        return _heatmap(result, shape, k, ax)
    fig, ax = figure_and_axes(ax, (6.0, 4.2))
    scores = shape.scores[k]
    band = shape.lower is not None and shape.upper is not None
    lower = shape.lower[min(k, shape.lower.shape[0] - 1)] if band else None
    upper = shape.upper[min(k, shape.upper.shape[0] - 1)] if band else None
    if shape.kind == "categorical":
        x = np.arange(len(scores))
        _density(ax, x, shape.weights, 0.8)
        err = np.abs(np.stack([scores - lower, upper - scores])) if band else None
        colors = np.where(scores >= 0, "#d62728", "#1f77b4")
        ax.bar(x, scores, yerr=err, color=colors, capsize=3, width=0.6, gid="scores")
        ax.set_xticks(x, label_text(list(shape.levels[0])))
    elif shape.kind == "numeric":
        edges = shape.edges[0]
        if shape.weights is not None:
            # EBM's bins hold about equal weights by design: the weights summed over equal
            # widths show the density
            mids = (edges[:-1] + edges[1:]) / 2
            hist, coarse = np.histogram(mids, bins=_DENSITY_BINS, weights=shape.weights,
                                        range=(edges[0], edges[-1]))  # fmt: skip
            _density(ax, coarse[:-1], hist, np.diff(coarse))
        ax.stairs(scores, edges, baseline=None, color=_CURVE, linewidth=1.8, label="score",
                  gid="scores")  # fmt: skip
        if band:
            ax.stairs(upper, edges, baseline=lower, fill=True, color=_CURVE, alpha=0.2,
                      label="± 1 s.d. across the bags", gid="band")  # fmt: skip
    else:
        grid = shape.edges[0]
        width = np.diff(grid).mean() if len(grid) > 1 else 1.0
        _density(ax, grid, shape.weights, width)
        ax.plot(grid, scores, "-", color=_CURVE, linewidth=1.8, label="score", gid="scores")
        if band:
            ax.fill_between(grid, lower, upper, color=_CURVE, alpha=0.2,
                            label="confidence interval", gid="band")  # fmt: skip
    ax.axhline(0.0, color="#777777", linestyle="--", linewidth=0.8)
    ax.set_xlabel(label_text(shape.features[0], TEXT_CHARS // 2))
    ax.set_ylabel(_ylabel(result, k))
    ax.set_title(literal(f"{short_label(shape.name)} (importance {shape.importance:.3g})"),
                 fontsize=10)  # fmt: skip
    if shape.kind != "categorical":
        ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _axis_values(shape: ShapeFunction, p: int) -> tuple[np.ndarray, list[str] | None]:
    """A heatmap axis: its cell boundaries (or grid points) and its level labels."""
    if shape.levels[p]:
        n = len(shape.levels[p])
        return np.arange(n + 1) - 0.5, short_labels(list(shape.levels[p]))
    return np.asarray(shape.edges[p], dtype=np.float64), None


def _heatmap(result: ShapeFunctions, shape: ShapeFunction, k: int, ax: Any) -> Any:
    require_matplotlib()
    from matplotlib.colors import Normalize

    fig, ax = figure_and_axes(ax, (6.4, 5.0))
    x, xlabels = _axis_values(shape, 0)
    y, ylabels = _axis_values(shape, 1)
    z = shape.scores[k].T  # rows: the second feature (y), columns: the first (x)
    top = float(np.nanmax(np.abs(z))) if z.size else 1.0
    top = top if top > 0 else 1.0
    # binned axes and levels are cell boundaries; a function term's grid is the cells' centres
    shading = "flat" if (len(x) == z.shape[1] + 1 and len(y) == z.shape[0] + 1) else "nearest"
    mesh = ax.pcolormesh(x, y, z, shading=shading, cmap="RdBu_r", norm=Normalize(-top, top))
    mesh.set_gid("heatmap")
    if xlabels is not None:
        ax.set_xticks(np.arange(len(xlabels)), label_text(xlabels))
    if ylabels is not None:
        ax.set_yticks(np.arange(len(ylabels)), label_text(ylabels))
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(_ylabel(result, k))
    ax.set_xlabel(label_text(shape.features[0], TEXT_CHARS // 2))
    ax.set_ylabel(label_text(shape.features[1], TEXT_CHARS // 2))
    ax.set_title(literal(f"{short_label(shape.name)} (importance {shape.importance:.3g})"),
                 fontsize=10)  # fmt: skip
    return fig


def term_importances(result: Any, *, max_display: int = 10, ax: Any = None) -> Any:
    """Draw the terms of a glass-box model ranked by importance.

    Parameters
    ----------
    result : ShapeFunctions
        The result of :func:`whybox.glassbox.shape_functions`.
    max_display : int, default=10
        The most terms drawn (the rest are summed into one bar).
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal bar per term, most important on top: the weighted mean |score|
        (EBM's ``term_importances()``), pairs in a lighter colour.

    Raises
    ------
    InputError
        A result of another type, ``max_display`` below 1, or an ``ax`` that is not a
        matplotlib Axes.
    """
    check_result(result, ShapeFunctions, "term_importances", _CALL)
    max_display = check_max_display(max_display)
    imp = result.importances
    order = np.argsort(-imp, kind="stable")
    shown = list(order[:max_display])
    labels = [result.terms[i].name for i in shown]
    values = [float(imp[i]) for i in shown]
    colors = ["#9ecae1" if len(result.terms[i].features) == 2 else _CURVE for i in shown]
    rest = order[max_display:]
    if len(rest):
        labels.append(f"{len(rest)} other terms")
        values.append(float(imp[rest].sum()))
        colors.append("#d9d9d9")
    fig, ax = figure_and_axes(ax, (6.0, 0.4 * len(values) + 1.2))
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=colors, gid="importances")
    ax.set_yticks(y, label_text(labels))
    ax.set_xlabel("importance: weighted mean |term score|")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def shape_functions(result: Any, *, max_display: int = 6, target: Any = None) -> Any:
    """Draw the most important terms of a glass-box model side by side.

    Parameters
    ----------
    result : ShapeFunctions
        The result of :func:`whybox.glassbox.shape_functions`.
    max_display : int, default=6
        The most terms drawn, by importance (three panels per row).
    target : str or int, optional
        The output drawn (class name or position); default the first.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per term as :func:`shape_function` draws it, most important first.

    Raises
    ------
    InputError
        A result of another type, ``max_display`` below 1, or an unknown ``target``.
    """
    check_result(result, ShapeFunctions, "shape_functions", _CALL)
    max_display = check_max_display(max_display)
    target_index(result.output_names, target)
    require_matplotlib()
    from matplotlib.figure import Figure

    top = result.top(max_display)
    cols = min(3, len(top))
    rows = max(1, -(-len(top) // cols))
    fig = Figure(figsize=(4.6 * cols, 3.6 * rows), layout="constrained")
    names = [t.name for t in result.terms]
    for i, shape in enumerate(top):
        ax = fig.add_subplot(rows, cols, i + 1)
        shape_function(result, names.index(shape.name), target=target, ax=ax)
    return fig
