"""The disagreement matrix: how much each pair of explanation methods agrees."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.evaluate import Agreement
from whybox.plots._common import check_result, figure_and_axes, label_text

_LABELS = {
    "feature_agreement": "feature agreement (share of top-{k} features in common)",
    "rank_agreement": "rank agreement (same feature at the same top-{k} rank)",
    "sign_agreement": "sign agreement (common top-{k} features with the same sign)",
    "signed_rank_agreement": "signed rank agreement (same feature, rank and sign)",
    "rank_correlation": "rank correlation (Spearman, |attributions|)",
}


def disagreement_matrix(
    result: Any,
    metric: str = "feature_agreement",
    ax: Any = None,
    *,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Draw the method x method matrix of one agreement metric as an annotated heatmap.

    Parameters
    ----------
    result : Agreement
        The result of :func:`whybox.evaluate.agreement`.
    metric : str, default="feature_agreement"
        One of ``"feature_agreement"``, ``"rank_agreement"``, ``"sign_agreement"``,
        ``"signed_rank_agreement"``, ``"rank_correlation"``; the values are averaged
        over the explained rows.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.
    figsize : (float, float), optional
        Size of a new figure in inches; default grows with the number of methods.

    Returns
    -------
    matplotlib.figure.Figure
        The heatmap (gid ``"matrix"``) on a [0, 1] colour scale ([-1, 1] for the rank
        correlation) with each cell's value written in it (text gids
        ``"cell:<method a>:<method b>"``) and a colour bar.

    Raises
    ------
    InputError
        ``result`` is not an Agreement or ``metric`` is unknown.

    References
    ----------
    .. [1] S. Krishna et al., "The disagreement problem in explainable machine
       learning: a practitioner's perspective", arXiv:2202.01602, 2022.
    """
    check_result(
        result,
        Agreement,
        "disagreement_matrix",
        "whybox.evaluate.agreement({'SHAP': shap_ex, 'LIME': lime_ex})",
    )
    if metric not in _LABELS:
        raise InputError(
            f"metric must be one of {tuple(_LABELS)}, got {metric!r}; e.g. metric='feature_agreement'."
        )
    mat = result.matrix(metric).to_numpy()
    names = list(result.methods)
    m = len(names)
    if figsize is None:
        side = 2.2 + 0.75 * m
        figsize = (side + 1.2, side)
    fig, ax = figure_and_axes(ax, figsize)
    lo = -1.0 if metric == "rank_correlation" else 0.0
    image = ax.imshow(mat, cmap="viridis", vmin=lo, vmax=1.0)
    image.set_gid("matrix")
    for i in range(m):
        for j in range(m):
            v = mat[i, j]
            bright = np.isfinite(v) and (v - lo) / (1.0 - lo) > 0.6
            text = ax.text(
                j,
                i,
                "n/a" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                color="black" if bright else "white",
            )
            text.set_gid(f"cell:{names[i]}:{names[j]}")
    ax.set_xticks(np.arange(m), label_text(names), rotation=30, ha="right")
    ax.set_yticks(np.arange(m), label_text(names))
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(_LABELS[metric].format(k=result.k), fontsize=8)
    ax.set_title(
        f"Agreement of explanations over {result.n_rows} rows (top {result.k})",
        fontsize=9,
        loc="left",
    )
    return fig
