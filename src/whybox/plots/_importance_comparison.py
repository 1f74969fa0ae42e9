"""Impurity, permutation and SHAP importance as grouped bars, with the warnings."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from whybox.inspection import ImportanceComparison
from whybox.plots._common import (
    check_max_display,
    check_result,
    figure_and_axes,
    label_text,
    literal,
)

COLORS = {"mdi": "#969696", "permutation": "#3182bd", "shap": "#e6550d"}
LABELS = {
    "mdi": "impurity (MDI, training data)",
    "permutation": "permutation (given data)",
    "shap": "mean |SHAP|",
}


def importance_comparison(result: Any, *, max_display: int = 10, ax: Any = None) -> Any:
    """Draw MDI, permutation and mean |SHAP| importance side by side, per feature.

    Each importance is shown as shares (its positive values sum to 1), so the three
    scales compare; the permutation bar carries its confidence interval as a
    whisker. Features are sorted by permutation importance, the largest on top.
    The result's warnings (e.g. a feature high by MDI but not by permutation
    importance) are written above the bars.

    Parameters
    ----------
    result : ImportanceComparison
        The result of :func:`whybox.inspection.importance_comparison`.
    max_display : int, default=10
        The most features to draw; the title says how many were left out.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, three per feature (two when the model has no MDI), with
        gids ``"bar:<kind>:<feature>"`` (kind mdi, permutation or shap) and
        ``"ci:<feature>"`` for the whiskers.

    Raises
    ------
    InputError
        If ``result`` is not an ImportanceComparison or ``max_display`` is not an
        integer >= 1.

    References
    ----------
    .. [1] C. Strobl, A.-L. Boulesteix, A. Zeileis and T. Hothorn, "Bias in random
       forest variable importance measures", BMC Bioinformatics 8, 2007.
    """
    check_result(
        result,
        ImportanceComparison,
        "importance_comparison",
        "whybox.inspection.importance_comparison(model, X, y)",
    )
    max_display = check_max_display(max_display)
    s = result.shares()
    kinds = [k for k in ("mdi", "permutation", "shap") if s[k] is not None]
    mean = np.asarray(result.permutation.importances_mean, dtype=np.float64)
    order = np.argsort(-mean, kind="stable")
    shown = order[:max_display]
    left_out = len(order) - len(shown)
    wrapped = [textwrap.fill(f"Warning: {w}", 95) for w in result.warnings]
    n_lines = sum(w.count("\n") + 1 for w in wrapped)
    height = 0.28 * len(kinds) * len(shown) + 1.8 + 0.16 * n_lines
    fig, ax = figure_and_axes(ax, (8.0, height))
    bar_h = 0.8 / len(kinds)
    y = np.arange(len(shown))[::-1].astype(np.float64)  # the first feature on top
    names = [result.feature_names[i] for i in shown]
    for t, kind in enumerate(kinds):
        offset = (len(kinds) - 1) / 2 * bar_h - t * bar_h
        width = np.nan_to_num(np.asarray(s[kind], dtype=np.float64)[shown], nan=0.0)
        bars = ax.barh(y + offset, width, height=bar_h, color=COLORS[kind], label=LABELS[kind])
        for name, patch in zip(names, bars.patches, strict=True):
            patch.set_gid(f"bar:{kind}:{name}")
        if kind == "permutation":
            lo = np.asarray(s["permutation_lower"], dtype=np.float64)[shown]
            hi = np.asarray(s["permutation_upper"], dtype=np.float64)[shown]
            for k, name in enumerate(names):
                if np.isfinite(lo[k]) and np.isfinite(hi[k]):
                    (line,) = ax.plot(
                        [lo[k], hi[k]], [y[k] + offset] * 2, color="#08306b", linewidth=1.2
                    )
                    line.set_gid(f"ci:{name}")
    ax.set_yticks(y, label_text(names))
    ax.axvline(0.0, color="#777777", linestyle="--", linewidth=0.8)
    level = result.permutation.confidence_level
    ax.set_xlabel(
        f"share of each importance (positive values sum to 1); whisker: {level:.0%} interval"
    )
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    title = "Feature importance by three methods"
    if left_out:
        title += f": top {len(shown)} of {len(order)} features ({left_out} not shown)"
    if wrapped:
        title += "\n" + "\n".join(literal(wrapped))
    ax.set_title(title, fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
