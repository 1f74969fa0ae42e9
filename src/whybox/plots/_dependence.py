"""The dependence plot: a feature's value against its SHAP value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.plots._common import (
    CMAP,
    MISSING,
    NEGATIVE,
    TEXT_CHARS,
    figure_and_axes,
    label_text,
    samples_by_features,
    value_label,
)


def _feature_index(ex: Any, feature: Any, name: str) -> int:
    names = list(ex.feature_names)
    if isinstance(feature, str):
        if feature not in names:
            raise InputError(
                f"{name}={feature!r} is not a feature of this explanation; choose one of "
                f"{names[:20]}."
            )
        return names.index(feature)
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not -len(names) <= feature < len(names):
            raise InputError(
                f"{name}={feature} is out of range for {len(names)} features; give an index "
                f"in 0..{len(names) - 1} or a feature name."
            )
        return int(feature) % len(names)
    raise InputError(
        f"{name} must be a feature name or index, got {type(feature).__name__}; choose one "
        f"of {names[:20]}."
    )


def _as_plot_numbers(column: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
    """Numbers to plot for a column, and the category names when it is not numeric.

    Numeric columns keep their values (NaN for missing). A text or categorical
    column is coded 0, 1, ... in order of appearance, missing values as NaN.
    """
    col = np.asarray(column)
    if col.dtype.kind in "biuf":
        return col.astype(np.float64), None
    s = pd.Series(col, dtype=object)
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() == s.notna().sum():
        return num.to_numpy(dtype=np.float64), None
    codes, uniques = pd.factorize(s, sort=False)
    out = codes.astype(np.float64)
    out[codes < 0] = np.nan
    return out, [str(u) for u in uniques]


def dependence(
    explanation: Any, feature: Any, *, color: Any = None, target: Any = None, ax: Any = None
) -> Any:
    """Scatter a feature's value against its SHAP value, one point per row.

    Parameters
    ----------
    explanation : Explanation
        Axes ("samples", "features", "outputs") or ("samples", "features"), with
        ``data`` of shape (n_samples, n_features).
    feature : str or int
        The feature on the x axis (name or index).
    color : str or int, optional
        A feature whose value colours the points (with a colour bar); missing
        values are grey. Default: one colour.
    target, ax
        As in :func:`whybox.plots.bar`.

    Returns
    -------
    matplotlib.figure.Figure
        x: the feature's value (text categories are placed at 0, 1, ... and named
        on the ticks), y: its value in the explanation. Rows whose feature value is
        missing are left out.

    Raises
    ------
    InputError
        If the explanation has no ``data``, ``feature`` or ``color`` names no
        feature, or ``target`` is missing or unknown for a multi-output explanation.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 56-67, 2020 (the dependence plot).
    """
    ex = samples_by_features(explanation, target, "dependence")
    j = _feature_index(ex, feature, "feature")
    if ex.data is None:
        raise InputError(
            "dependence needs the feature values but the explanation has no data; explain "
            "the rows with an explainer that records data, or build the Explanation with data=X."
        )
    x, cats = _as_plot_numbers(ex.data[:, j])
    y = ex.values[:, j]
    keep = ~np.isnan(x)
    fig, ax = figure_and_axes(ax, (6.5, 4.5))
    if color is None:
        ax.scatter(x[keep], y[keep], color=NEGATIVE, s=14, linewidths=0, alpha=0.8)
    else:
        c = _feature_index(ex, color, "color")
        cv, ccats = _as_plot_numbers(ex.data[:, c])
        has = keep & ~np.isnan(cv)
        none = keep & np.isnan(cv)
        if has.any():
            pts = ax.scatter(x[has], y[has], c=cv[has], cmap=CMAP, s=14, linewidths=0, alpha=0.8)
            cbar = fig.colorbar(pts, ax=ax, aspect=40, pad=0.02)
            cbar.set_label(label_text(ex.feature_names[c], TEXT_CHARS // 2))
            if ccats is not None:
                cbar.set_ticks(np.arange(len(ccats)), labels=label_text(ccats))
        if none.any():
            ax.scatter(x[none], y[none], color=MISSING, s=14, linewidths=0, alpha=0.8)
    if cats is not None:
        ax.set_xticks(np.arange(len(cats)), label_text(cats))
    ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=0)
    ax.set_xlabel(label_text(ex.feature_names[j], TEXT_CHARS // 2))
    ax.set_ylabel(f"{value_label(ex)} for {label_text(ex.feature_names[j])}")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
