"""A regressor's mean residual (bias) per bin of one feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.debugging import ResidualAnalysis
from whybox.plots._common import TEXT_CHARS, check_result, figure_and_axes, label_text

# The tests residual_analysis runs, by the name it records in ``test``.
_TEST_NAMES = {
    "welch": "Welch's one-way ANOVA",
    "anova": "one-way ANOVA F-test",
    "kruskal": "Kruskal-Wallis H-test",
}


def residuals(result: Any, feature: Any = None, *, ax: Any = None) -> Any:
    """Draw one feature's mean residual per bin, with 95% intervals and a line at 0.

    Parameters
    ----------
    result : ResidualAnalysis
        The result of :func:`whybox.debugging.residual_analysis`.
    feature : str or int, optional
        A feature name, or a position in the ranking (``result.features``); default
        0, the feature whose bins differ most significantly.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per bin: its mean residual ``predicted - true`` (above 0: the model
        over-predicts there), with whiskers of ``1.96 * std / sqrt(count)`` (none
        for a bin of one row), bin counts under the labels, and the test, its
        p-value and Holm-adjusted p-value in the title.

    Raises
    ------
    InputError
        A result of another type, an unknown feature name or a position out of range.
    """
    check_result(
        result, ResidualAnalysis, "residuals", "whybox.debugging.residual_analysis(model, X, y)"
    )
    names = [f.feature for f in result.features]
    if feature is None:
        feature = 0
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not 0 <= feature < len(names):
            raise InputError(
                f"feature must be a position below {len(names)} or a feature name, got "
                f"{feature!r}; e.g. feature=0 for the top-ranked feature."
            )
        fr = result.features[int(feature)]
    elif isinstance(feature, str) and feature in names:
        fr = result[feature]
    else:
        raise InputError(
            f"feature must be one of the analysed features {names[:10]} or a position, got "
            f"{feature!r}; pass a name from result.to_frame()['feature']."
        )
    k = len(fr.labels)
    fig, ax = figure_and_axes(ax, (max(5.0, 0.9 * k + 2.0), 3.8))
    half = 1.96 * np.divide(fr.std_residual, np.sqrt(fr.count), out=np.zeros(k), where=fr.count > 1)
    half = np.nan_to_num(half)
    colors = np.where(fr.mean_residual >= 0, "#d62728", "#1f77b4")
    ax.bar(np.arange(k), fr.mean_residual, yerr=half, color=colors, capsize=3)
    ax.axhline(0.0, color="#555555", linewidth=1)
    ax.set_xticks(
        np.arange(k),
        label_text([f"{lab}\nn={c}" for lab, c in zip(fr.labels, fr.count, strict=True)]),
        fontsize=8,
    )
    ax.set_xlabel(label_text(fr.feature, TEXT_CHARS // 2))
    ax.set_ylabel("mean residual (predicted - true)")
    test = _TEST_NAMES.get(fr.test.split(" ")[0], fr.test)
    if fr.test != result.test:  # Welch's test was undefined for this feature
        test += " (Welch undefined)"
    if np.isfinite(fr.p_value):
        stat = f"{test}: p = {fr.p_value:.2g}, Holm-adjusted {fr.adjusted_p_value:.2g}"
    else:
        stat = f"{test}: not testable"
    ax.set_title(f"{label_text(fr.feature)} — {stat}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
