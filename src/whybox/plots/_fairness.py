"""Group fairness plots: per-group metrics as grouped bars, disparities with their intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.fairness import GroupMetrics
from whybox.plots._common import LABEL_CHARS, check_result, figure_and_axes, label_text, literal

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_SMALL_HATCH = "///"


_SOURCE = "whybox.fairness.group_metrics(y_true, y_pred, sensitive_features)"


def fairness(result: Any, metrics: Any = None, ax: Any = None) -> Any:
    """Draw chosen metrics of each group as grouped horizontal bars.

    Parameters
    ----------
    result : GroupMetrics
        The result of :func:`whybox.fairness.group_metrics`.
    metrics : sequence of str or str, optional
        Columns of ``result.by_group`` to draw. Default: ``("selection_rate",
        "tpr", "fpr")`` for a classification, ``("mean_prediction", "mae",
        "mean_residual")`` for a regression.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One block of bars per group (first group on top), one bar per metric, bar
        length = the group's value of the metric (gid ``"bar:<metric>:<group>"``;
        an undefined value draws no bar and an "n/a" mark, gid
        ``"na:<metric>:<group>"``). The overall value of each metric is a dashed
        vertical line in the metric's colour (gid ``"overall:<metric>"``). Groups
        with fewer than ``min_group_size`` rows are hatched and their label says
        ``(n=...)``.

    Raises
    ------
    InputError
        If ``result`` is not a GroupMetrics, or a metric is not a numeric column
        of ``result.by_group``.

    References
    ----------
    .. [1] M. Hardt, E. Price, N. Srebro, "Equality of opportunity in supervised
       learning", NeurIPS 2016 (the rates compared).
    """
    result = check_result(result, GroupMetrics, "plots.fairness", _SOURCE)
    if metrics is None:
        metrics = (
            ("selection_rate", "tpr", "fpr")
            if result.task == "classification"
            else ("mean_prediction", "mae", "mean_residual")
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    frame = result.by_group
    allowed = [c for c in frame.columns if c not in ("count", "small_group")]
    unknown = [m for m in metrics if m not in allowed]
    if unknown or not metrics:
        raise InputError(
            f"metrics {unknown or list(metrics)} are not per-group metrics of this result; "
            f"choose from {allowed}."
        )
    groups = list(frame.index)
    small = np.asarray(frame["small_group"], dtype=bool)
    counts = np.asarray(frame["count"])
    k, g = len(metrics), len(groups)
    fig, ax = figure_and_axes(ax, (7.0, 0.3 * g * k + 0.4 * g + 1.4))
    height = 0.8 / k
    centers = np.arange(g)[::-1].astype(float)  # first group on top
    for j, metric in enumerate(metrics):
        color = _COLORS[j % len(_COLORS)]
        values = np.asarray(frame[metric], dtype=np.float64)
        y = centers + 0.4 - height * (j + 0.5)
        labelled = False
        for i, group in enumerate(groups):
            if not np.isfinite(values[i]):
                text = ax.text(0.0, y[i], " n/a", va="center", fontsize=7, color="#777777")
                text.set_gid(f"na:{metric}:{group}")
                continue
            (bar,) = ax.barh(
                y[i],
                values[i],
                height=height * 0.9,
                color=color,
                hatch=_SMALL_HATCH if small[i] else None,
                edgecolor="white" if small[i] else color,
                label=None if labelled else label_text(metric),
            )
            labelled = True
            bar.set_gid(f"bar:{metric}:{group}")
        overall = float(result.overall.get(metric, np.nan))
        if np.isfinite(overall):
            line = ax.axvline(overall, color=color, linestyle="--", linewidth=1.0)
            line.set_gid(f"overall:{metric}")
    labels = [
        f"{name} (n={int(c)})" if is_small else str(name)
        for name, c, is_small in zip(groups, counts, small, strict=True)
    ]
    ax.set_yticks(centers, label_text(labels))
    for tick, is_small in zip(ax.get_yticklabels(), small, strict=True):
        if is_small:
            tick.set_color("#b22222")
    ax.axvline(0.0, color="#444444", linewidth=0.8)
    ax.set_xlabel("value in the group (dashed: over all rows)")
    title = ", ".join(result.sensitive_names)
    if small.any():
        title += f"\nhatched, red: fewer than {result.min_group_size} rows (unreliable)"
    ax.set_title(literal(title), fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="best", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def disparities(result: Any, ax: Any = None) -> Any:
    """Draw each disparity (largest minus smallest group value) with its interval.

    Parameters
    ----------
    result : GroupMetrics
        The result of :func:`whybox.fairness.group_metrics`.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal bar per row of ``result.disparities`` (first on top), of
        length the difference (gid ``"difference:<metric>"``), with its bootstrap
        interval as a whisker (gid ``"ci:<metric>"``) when there is one; the label
        names the groups with the smallest and largest value. For a
        classification, the demographic-parity row also shows the selection-rate
        ratio as a diamond (gid ``"ratio:demographic_parity"``) against the
        four-fifths threshold 0.8 (dotted, gid ``"four_fifths"``), red when the
        rule fails.

    Raises
    ------
    InputError
        If ``result`` is not a GroupMetrics.

    References
    ----------
    .. [1] US EEOC, Uniform Guidelines on Employee Selection Procedures, 29 CFR
       1607.4(D) (the four-fifths rule).
    """
    result = check_result(result, GroupMetrics, "plots.disparities", _SOURCE)
    disp = result.disparities
    m = len(disp)
    fig, ax = figure_and_axes(ax, (7.0, 0.5 * m + 1.6))
    ys = np.arange(m)[::-1].astype(float)
    level = result.confidence_level
    for y, (_, row) in zip(ys, disp.iterrows(), strict=True):
        name = row["metric"]
        diff = float(row["difference"])
        if not np.isfinite(diff):
            text = ax.text(0.0, y, " undefined", va="center", fontsize=8, color="#777777")
            text.set_gid(f"na:{name}")
            continue
        (bar,) = ax.barh(y, diff, height=0.55, color="#9ecae1", edgecolor="#3182bd")
        bar.set_gid(f"difference:{name}")
        lo, hi = float(row["difference_ci_low"]), float(row["difference_ci_high"])
        if np.isfinite(lo) and np.isfinite(hi):
            (whisker,) = ax.plot([lo, hi], [y, y], color="#08306b", linewidth=1.5)
            whisker.set_gid(f"ci:{name}")
            for x in (lo, hi):
                ax.plot([x, x], [y - 0.12, y + 0.12], color="#08306b", linewidth=1.5)
    ff = result.four_fifths
    if ff is not None and "demographic_parity" in set(disp["metric"]):
        y = ys[list(disp["metric"]).index("demographic_parity")]
        ratio = ff["ratio"]
        threshold = ax.plot(
            [ff["threshold"], ff["threshold"]], [y - 0.4, y + 0.4], color="#555555", linestyle=":"
        )[0]
        threshold.set_gid("four_fifths")
        if ratio is not None and np.isfinite(ratio):
            color = "#2ca02c" if ff["passed"] else "#d62728"
            (dot,) = ax.plot([ratio], [y], marker="D", color=color, linestyle="none", markersize=6)
            dot.set_gid("ratio:demographic_parity")
            verdict = "passes" if ff["passed"] else "fails"
            ax.annotate(
                f"ratio {ratio:.3g} {verdict} four-fifths ({ff['threshold']:g})",
                (ratio, y),
                xytext=(4, 6),
                textcoords="offset points",
                fontsize=7,
                color=color,
            )
    labels = [
        f"{row['metric']}\n({row['min_group']} .. {row['max_group']})"
        if row["min_group"] is not None
        else str(row["metric"])
        for _, row in disp.iterrows()
    ]
    ax.set_yticks(ys, label_text(labels, 2 * LABEL_CHARS), fontsize=8)
    ax.axvline(0.0, color="#444444", linewidth=0.8)
    has_ci = np.isfinite(np.asarray(disp["difference_ci_low"], dtype=np.float64)).any()
    xlabel = "largest minus smallest group value"
    if has_ci:
        xlabel += f" (whiskers: {level:.0%} bootstrap interval)"
    ax.set_xlabel(xlabel)
    ax.set_title(literal(", ".join(result.sensitive_names)), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
