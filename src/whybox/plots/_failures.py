"""Where a model fails: slices by error rate, reliability diagrams, surrogate trees."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.debugging import Calibration, SliceAnalysis
from whybox.inspection import GlobalSurrogate
from whybox.plots._common import (
    LABEL_CHARS,
    check_max_display,
    check_result,
    figure_and_axes,
    label_text,
    literal,
)


def slices(result: Any, *, max_display: int = 10, ax: Any = None) -> Any:
    """Draw the error rate of each slice found against the overall error rate.

    Parameters
    ----------
    result : SliceAnalysis
        The result of :func:`whybox.debugging.find_slices`.
    max_display : int, default=10
        The most slices drawn, in the order of ``result.slices``.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per slice (its error rate, with the 95% interval of its difference
        from the other rows as a whisker), and a dashed line at the overall rate.

    Raises
    ------
    InputError
        A result of another type or bad ``max_display``.
    """
    check_result(result, SliceAnalysis, "slices", "whybox.debugging.find_slices(model, X, y)")
    shown = result.slices[: check_max_display(max_display)]
    fig, ax = figure_and_axes(ax, (7.5, 0.45 * max(1, len(shown)) + 1.6))
    ypos = np.arange(len(shown))[::-1]
    rates = [s.error_rate for s in shown]
    err = np.array([[s.difference - s.ci_low, s.ci_high - s.difference] for s in shown]).T
    if shown:
        ax.barh(ypos, rates, color="#fb6a4a", xerr=err if err.size else None, capsize=3)
        ax.set_yticks(
            ypos, label_text([f"{s.description} (n={s.n})" for s in shown], 2 * LABEL_CHARS)
        )
    ax.axvline(result.overall_error_rate, color="#555555", linestyle="--", linewidth=1)
    ax.set_xlabel(f"error rate ({result.error_definition})")
    title = (
        f"{len(result.slices)} slice(s) with more errors (FDR {result.significance:g}, "
        f"{result.n_candidates} tested)"
        if result.slices
        else f"no slice with significantly more errors ({result.n_candidates} tested)"
    )
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def calibration(result: Any, *, curves: Any = None, ax: Any = None) -> Any:
    """Draw a reliability diagram: predicted probability against observed frequency.

    Parameters
    ----------
    result : Calibration
        The result of :func:`whybox.debugging.calibration`.
    curves : sequence of int, optional
        Which curves to draw (positions in ``result.curves``); default the first
        (the positive class, or the top label of a multi-class model).
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The curves with markers sized by bin count, the diagonal of perfect
        calibration, and the ECE and Brier score in the title.

    Raises
    ------
    InputError
        A result of another type or a curve position out of range.
    """
    check_result(result, Calibration, "calibration", "whybox.debugging.calibration(model, X, y)")
    chosen = [0] if curves is None else list(curves)
    if any(not 0 <= c < len(result.curves) for c in chosen):
        raise InputError(f"curves must hold positions below {len(result.curves)}, got {curves!r}.")
    fig, ax = figure_and_axes(ax, (5.2, 5.0))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#777777", linewidth=1, label="perfect")
    for c in chosen:
        cur = result.curves[c]
        sizes = 20 + 180 * cur.counts / cur.counts.max()
        line = ax.plot(cur.mean_predicted, cur.observed, "-", label=label_text(cur.label))[0]
        ax.scatter(cur.mean_predicted, cur.observed, s=sizes, color=line.get_color(), zorder=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(
        f"ECE {result.ece:.3f}, Brier {result.brier_score:.3f} ({result.n_bins} "
        f"{result.strategy} bins)",
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8)
    return fig


def surrogate_tree(result: Any, *, ax: Any = None, fontsize: int = 8) -> Any:
    """Draw a global surrogate tree with its fidelity in the title.

    Parameters
    ----------
    result : GlobalSurrogate
        The result of :func:`whybox.inspection.global_surrogate`.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.
    fontsize : int, default=8
        The font size of the node text.

    Returns
    -------
    matplotlib.figure.Figure
        ``sklearn.tree.plot_tree`` of the tree, titled with the fidelity (and the
        held-out fidelity when measured): the tree is never shown without it.

    Raises
    ------
    InputError
        A result of another type.
    """
    from sklearn.tree import plot_tree

    check_result(
        result, GlobalSurrogate, "surrogate_tree", "whybox.inspection.global_surrogate(model, X)"
    )
    leaves = result.tree.get_n_leaves()
    fig, ax = figure_and_axes(ax, (max(6.0, 1.6 * leaves), 1.8 * result.tree.get_depth() + 1.5))
    if not hasattr(fig.canvas, "get_renderer"):  # plot_tree measures its boxes with a renderer
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    plot_tree(
        result.tree,
        feature_names=label_text(list(result.feature_names)),
        class_names=label_text([str(c) for c in getattr(result.tree, "classes_", [])]) or None,
        filled=True,
        impurity=False,
        rounded=True,
        fontsize=fontsize,
        ax=ax,
    )
    held = "" if result.test_fidelity is None else f", held-out {result.test_fidelity:.3f}"
    ax.set_title(
        f"surrogate of the {literal(result.target)}: fidelity "
        f"({result.fidelity_metric}) {result.fidelity:.3f}{held}",
        fontsize=10,
    )
    return fig
