"""The waterfall: how one prediction is built from the base value, feature by feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.plots._common import (
    NEGATIVE,
    POSITIVE,
    check_explanation,
    check_max_display,
    figure_and_axes,
    format_value,
    label_text,
    one_row,
    top_features,
    value_label,
)


def waterfall(
    explanation: Any, *, max_display: int = 10, target: Any = None, ax: Any = None
) -> Any:
    """Draw one prediction as steps from the base value E[f(X)] to the output f(x).

    Parameters
    ----------
    explanation : Explanation
        One row: axes ("features", "outputs") or ("features",), e.g. ``ex[0]``; an
        explanation of exactly one row is accepted as well.
    max_display : int, default=10
        The most bars. With more features, the ``max_display - 1`` largest in
        absolute value get their own bar and the others are summed into one
        "N other features" bar, drawn first (just above the base value).
    target : str or int, optional
        The output to draw (name or position); required when the row has more than one
        output.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal bar per feature, largest absolute contribution on top. Each
        bar starts where the previous one ended (the bottom one at the base value)
        and its signed width is the feature's value (red: pushes the output up,
        blue: down), so the top bar ends at ``f(x) = base value + sum of values``.
        Labels read "feature = value"; dashed lines mark E[f(X)] and f(x).

    Raises
    ------
    InputError
        If the explanation holds more than one row (fix: pass ``ex[i]``), has more
        than one output and no ``target``, or ``max_display`` is not an integer >= 1.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 56-67, 2020 (the waterfall plot).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> model = Ridge().fit(X, y)
    >>> import whybox
    >>> ex = whybox.explain(model, X.iloc[:5], background=X)
    >>> fig = whybox.plots.waterfall(ex[0], max_display=4)  # the first row
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][0]  # the bottom bar
    '7 other features'

    """
    max_display = check_max_display(max_display)
    ex = one_row(check_explanation(explanation, "waterfall"), target, "waterfall")
    values = np.asarray(ex.values, dtype=np.float64)
    base = float(np.asarray(ex.base_values).reshape(-1)[0])
    fx = base + float(values.sum())
    shown, rest = top_features(np.abs(values), max_display)
    labels, contrib = [], []
    if len(rest):  # drawn first, just above the base value
        labels.append(f"{len(rest)} other features")
        contrib.append(float(values[rest].sum()))
    for j in shown[::-1]:  # smallest first, so the largest sits on top
        name = ex.feature_names[j]
        labels.append(name if ex.data is None else f"{name} = {format_value(ex.data[j])}")
        contrib.append(float(values[j]))
    fig, ax = figure_and_axes(ax, (7.5, 0.5 * len(labels) + 1.6))
    starts = base + np.concatenate([[0.0], np.cumsum(contrib)[:-1]])
    colours = [POSITIVE if c >= 0 else NEGATIVE for c in contrib]
    ax.barh(np.arange(len(labels)), contrib, left=starts, color=colours, height=0.6)
    ends = starts + np.asarray(contrib)
    lo = min(base, fx, float(np.min(np.minimum(starts, ends))))
    hi = max(base, fx, float(np.max(np.maximum(starts, ends))))
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    for i, c in enumerate(contrib):
        x = max(starts[i], ends[i]) + 0.01 * span
        ax.text(x, i, f"{c:+.3g}", va="center", ha="left", fontsize=9)
    ax.set_yticks(np.arange(len(labels)), label_text(labels, 40))
    ax.set_ylim(-0.8, len(labels) - 0.2)
    ax.set_xlim(lo - 0.05 * span, hi + 0.15 * span)
    ax.axvline(base, color="#777777", linestyle="--", linewidth=0.8)
    ax.axvline(fx, color="#777777", linestyle=":", linewidth=0.8)
    mid = (lo + hi) / 2
    ax.text(
        base,
        -0.75,
        f" E[f(X)] = {base:.4g} ",
        ha="left" if base <= mid else "right",
        va="bottom",
        fontsize=9,
    )
    ax.text(
        fx,
        len(labels) - 0.25,
        f" f(x) = {fx:.4g} ",
        ha="left" if fx <= mid else "right",
        va="top",
        fontsize=9,
    )
    ax.set_xlabel(f"{value_label(ex)} ({ex.output_space} output)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
