"""The beeswarm: every row's SHAP value of every feature, coloured by the feature's value."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.plots._common import (
    CMAP,
    MISSING,
    figure_and_axes,
    label_text,
    numeric_values,
    ranked_features,
    value_label,
)


def swarm_offsets(values: np.ndarray, width: float = 0.4, n_bins: int = 100) -> np.ndarray:
    """Vertical offsets that spread points with similar values, to show density.

    Points are grouped into ``n_bins`` equal bins of value; within a bin they are
    placed alternately above and below the centre line, so a crowded bin grows
    taller. Deterministic (no random jitter).

    Parameters
    ----------
    values : ndarray of shape (n,), float64
    width : float
        The largest offset, in row units.

    Returns
    -------
    ndarray of shape (n,), float64, within [-width, width]
    """
    n = values.shape[0]
    if n == 0:
        return np.zeros(0)
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi > lo:
        b = np.clip(((values - lo) / (hi - lo) * n_bins).astype(np.intp), 0, n_bins - 1)
    else:
        b = np.zeros(n, dtype=np.intp)
    order = np.argsort(b, kind="stable")
    counts = np.bincount(b, minlength=n_bins)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n) - starts[b[order]]
    level = (rank + 1) // 2
    sign = np.where(rank % 2 == 1, 1.0, -1.0)
    top = max(int(level.max()), 1)
    return sign * level * (width / top)


def _points(ax: Any, x: np.ndarray, y: np.ndarray, gid: str, **colour: Any) -> None:
    """One group of beeswarm points (gid ``gid``), coloured by ``colour``'s scatter options."""
    pts = ax.scatter(x, y, s=12, linewidths=0, alpha=0.9, zorder=3, **colour)
    pts.set_gid(gid)


def beeswarm(explanation: Any, *, max_display: int = 10, target: Any = None, ax: Any = None) -> Any:
    """Draw each row's SHAP value of each feature as a point, one row of points per feature.

    Parameters
    ----------
    explanation : Explanation
        Axes ("samples", "features", "outputs") or ("samples", "features"); its
        ``data`` (n_samples, n_features) colours the points.
    max_display : int, default=10
        The most feature rows. With more features, the ``max_display - 1`` largest
        by mean absolute value get their own row and one bottom row shows, per
        sample, the sum of the other features' values (grey).
    target, ax
        As in :func:`whybox.plots.bar`.

    Returns
    -------
    matplotlib.figure.Figure
        Rows sorted by mean absolute value (largest on top), each holding one point
        per sample at x = its value, spread vertically where points crowd. Points are
        coloured from low (blue) to high (red) feature value, scaled between the 5th
        and 95th percentiles, with a colour bar; missing or non-numeric feature
        values (and an explanation without data) are grey.

    Raises
    ------
    InputError
        As :func:`whybox.plots.bar`.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 56-67, 2020 (the beeswarm summary).
    """
    ex, _, shown, rest = ranked_features(explanation, target, max_display, "beeswarm")
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n, _ = ex.values.shape
    n_rows = len(shown) + (1 if len(rest) else 0)
    fig, ax = figure_and_axes(ax, (7.5, 0.45 * n_rows + 1.6))
    norm_all = Normalize(vmin=0.0, vmax=1.0)
    labels = []
    for pos, j in enumerate(shown):
        y = n_rows - 1 - pos
        v = ex.values[:, j]
        yy = y + swarm_offsets(v)
        col = numeric_values(None if ex.data is None else ex.data[:, j], n)
        ok = ~np.isnan(col)
        if ok.any():
            lo, hi = np.nanpercentile(col, [5, 95])
            if hi <= lo:
                lo, hi = np.nanmin(col), np.nanmax(col)
            scaled = (
                np.clip((col[ok] - lo) / (hi - lo), 0, 1) if hi > lo else np.full(ok.sum(), 0.5)
            )
            _points(ax, v[ok], yy[ok], ex.feature_names[j], c=scaled, cmap=CMAP, norm=norm_all)
        if (~ok).any():
            _points(ax, v[~ok], yy[~ok], f"{ex.feature_names[j]}:missing", color=MISSING)
        labels.append(ex.feature_names[j])
    if len(rest):
        v = ex.values[:, rest].sum(axis=1)
        _points(ax, v, swarm_offsets(v), "other features", color=MISSING)
        labels.append(f"Sum of {len(rest)} other features")
    ax.set_yticks(np.arange(n_rows)[::-1], label_text(labels))
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.axvline(0.0, color="#555555", linewidth=0.8, zorder=1)
    ax.set_xlabel(f"{value_label(ex)} (impact on model output)")
    ax.spines[["top", "right", "left"]].set_visible(False)
    cbar = fig.colorbar(ScalarMappable(norm=norm_all, cmap=CMAP), ax=ax, aspect=40, pad=0.02)
    cbar.set_ticks([0.0, 1.0], labels=["Low", "High"])
    cbar.set_label("Feature value")
    cbar.outline.set_visible(False)
    return fig
