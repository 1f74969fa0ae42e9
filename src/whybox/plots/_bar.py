"""Global importance as horizontal bars: the mean absolute SHAP value per feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.plots._common import (
    POSITIVE,
    figure_and_axes,
    label_text,
    ranked_features,
    value_label,
)


def bar(explanation: Any, *, max_display: int = 10, target: Any = None, ax: Any = None) -> Any:
    """Draw each feature's global importance, the mean absolute SHAP value, as a bar.

    Parameters
    ----------
    explanation : Explanation
        Axes ("samples", "features", "outputs") or ("samples", "features"): values
        of shape (n_samples, n_features[, n_outputs]), float64.
    max_display : int, default=10
        The most bars to draw. With more features, the ``max_display - 1`` most
        important get their own bar and the rest are summed into one
        "N other features" bar at the bottom.
    target : str or int, optional
        The output to draw (name or position); required when the explanation has
        more than one output.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The bars are horizontal, largest on top; each bar's width is
        ``mean(|values[:, j]|)`` (``Explanation.global_importance``), in the units of
        the explanation's ``output_space``, with the value written at its end.

    Raises
    ------
    InputError
        If the explanation is not a many-row Explanation, ``target`` is missing or
        unknown for a multi-output explanation, or ``max_display`` is not an integer >= 1.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 56-67, 2020 (the SHAP summary plots).

    Examples
    --------
    >>> import whybox
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = make_regression(n_samples=50, n_features=4, random_state=0)
    >>> model = LinearRegression().fit(X, y)
    >>> ex = whybox.explain(model, X, background=X)
    >>> fig = whybox.plots.bar(ex)
    >>> len(fig.axes[0].patches)  # one bar per feature
    4
    >>> fig.savefig("importance.png")  # doctest: +SKIP
    """
    ex, importance, shown, rest = ranked_features(explanation, target, max_display, "bar")
    names = [ex.feature_names[i] for i in shown]
    widths = [float(importance[i]) for i in shown]
    if len(rest):
        names.append(f"{len(rest)} other features")
        widths.append(float(importance[rest].sum()))
    fig, ax = figure_and_axes(ax, (7.0, 0.45 * len(names) + 1.4))
    y = np.arange(len(names))[::-1]  # first (largest) on top
    bars = ax.barh(y, widths, color=POSITIVE, height=0.7)
    if len(rest):
        bars[-1].set_color("#c7c7c7")
    span = max(widths) if widths and max(widths) > 0 else 1.0
    for yi, w in zip(y, widths, strict=True):
        ax.text(w + 0.01 * span, yi, f"{w:.3g}", va="center", ha="left", fontsize=9)
    ax.set_yticks(y, label_text(names))
    ax.set_xlim(0, span * 1.15)
    ax.set_xlabel(f"mean(|{value_label(ex)}|)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
