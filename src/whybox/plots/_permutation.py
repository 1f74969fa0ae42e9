"""Permutation importance as box plots of the per-repeat drops in score."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.inspection import PermutationImportance
from whybox.plots._common import check_max_display, check_result, figure_and_axes, label_text


def permutation_importance(result: Any, *, max_display: int = 10, ax: Any = None) -> Any:
    """Draw each feature's permutation importances, one box per feature.

    Parameters
    ----------
    result : PermutationImportance
        The result of :func:`whybox.inspection.permutation_importance`;
        ``importances`` has shape (n_features, n_repeats).
    max_display : int, default=10
        The most features to draw, the highest mean importance first; the title
        says how many were left out.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal boxes, sorted by mean importance (largest on top), each over the
        feature's ``n_repeats`` importances, with a line at 0 (no effect). Below each
        box, in red, the mean importance and its confidence interval (gids
        ``"mean:<feature>"`` and ``"ci:<feature>"``), when the result has one.

    Raises
    ------
    InputError
        If ``result`` is not a PermutationImportance or ``max_display`` is not an
        integer >= 1.

    References
    ----------
    .. [1] L. Breiman, "Random Forests", Machine Learning 45, 2001 (permutation
       importance); box plots of the repeats follow scikit-learn's user guide.
    """
    check_result(
        result,
        PermutationImportance,
        "permutation_importance",
        "whybox.inspection.permutation_importance(model, X, y)",
    )
    max_display = check_max_display(max_display)
    imp = np.asarray(result.importances, dtype=np.float64)
    if imp.ndim == 1:
        imp = imp[:, None]
    order = np.argsort(-np.asarray(result.importances_mean, dtype=np.float64), kind="stable")
    shown = order[:max_display]
    left_out = len(order) - len(shown)
    fig, ax = figure_and_axes(ax, (7.0, 0.45 * len(shown) + 1.6))
    # boxplot draws the first box at the bottom: give it the smallest of those shown
    rows = [imp[i] for i in shown[::-1]]
    names = [result.feature_names[i] for i in shown[::-1]]
    parts = ax.boxplot(
        rows,
        orientation="horizontal",
        tick_labels=label_text(names),
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "#9ecae1"},
        medianprops={"color": "#08306b"},
    )
    for name, line, box in zip(names, parts["medians"], parts["boxes"], strict=True):
        line.set_gid(f"median:{name}")  # ids that tests and SVG readers can find
        box.set_gid(f"box:{name}")
    lower = getattr(result, "importances_lower", None)
    upper = getattr(result, "importances_upper", None)
    xlabel = f"{score_change(result.scoring)} when the feature is permuted"
    if lower is not None and upper is not None and np.isfinite(lower).any():
        # below each box: the mean with its confidence interval over the repeats
        mean = np.asarray(result.importances_mean, dtype=np.float64)
        for pos, i in enumerate(shown[::-1], start=1):
            if not (np.isfinite(lower[i]) and np.isfinite(upper[i])):
                continue
            name = result.feature_names[i]
            (line,) = ax.plot(
                [lower[i], upper[i]], [pos - 0.38] * 2, color="#d62728", linewidth=1.5
            )
            line.set_gid(f"ci:{name}")
            (dot,) = ax.plot([mean[i]], [pos - 0.38], "o", color="#d62728", markersize=3)
            dot.set_gid(f"mean:{name}")
        level = getattr(result, "confidence_level", 0.95)
        xlabel += f"\n(red: mean and {level:.0%} interval over the repeats)"
    ax.axvline(0.0, color="#777777", linestyle="--", linewidth=0.8)
    ax.set_xlabel(xlabel)
    if left_out:
        ax.set_title(
            f"top {len(shown)} of {len(order)} features ({left_out} not shown)", fontsize=10
        )
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def score_change(scoring: str) -> str:
    """How a positive importance reads for a scorer: "drop in r2", "rise in log_loss"."""
    if scoring.startswith("neg_"):
        return f"rise in {scoring[4:]}"
    return f"drop in {scoring}"
