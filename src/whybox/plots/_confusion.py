"""The confusion matrix as an annotated heatmap."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.debugging import ConfusionAnalysis
from whybox.plots._common import check_result, figure_and_axes, label_text


def confusion_matrix(result: Any, *, normalize: bool = True, ax: Any = None) -> Any:
    """Draw a confusion matrix as a heatmap with the counts written in the cells.

    Parameters
    ----------
    result : ConfusionAnalysis
        The result of :func:`whybox.debugging.confusion_analysis`.
    normalize : bool, default=True
        Colour the cells by their share of the true class (each row sums to 1) and
        write "count\\n(share %)"; with False colour and write the counts.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: true class, columns: predicted class, both labelled with
        ``result.labels``; one text per cell; a colour bar.

    Raises
    ------
    InputError
        If ``result`` is not a ConfusionAnalysis or ``normalize`` is not a bool.

    Notes
    -----
    Layout as ``sklearn.metrics.ConfusionMatrixDisplay`` (rows: true class), drawn
    here from the counts of the result.
    """
    check_result(
        result,
        ConfusionAnalysis,
        "confusion_matrix",
        "whybox.debugging.confusion_analysis(y_true, y_pred)",
    )
    if not isinstance(normalize, (bool, np.bool_)):
        raise InputError(f"normalize must be True or False, got {normalize!r}.")
    k = len(result.labels)
    counts = result.matrix
    shown = result.normalized if normalize else counts.astype(np.float64)
    vmax = 1.0 if normalize else max(float(counts.max()), 1.0)
    size = max(3.5, 0.7 * k + 2.0)
    fig, ax = figure_and_axes(ax, (size + 1.0, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, aspect="equal")
    for i in range(k):
        for j in range(k):
            text = str(int(counts[i, j]))
            if normalize:
                text += f"\n({100 * result.normalized[i, j]:.0f}%)"
            dark = shown[i, j] > 0.55 * vmax
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else "#1a1a1a",
            )
    ax.set_xticks(
        np.arange(k),
        label_text(result.labels),
        rotation=45 if k > 4 else 0,
        ha="right" if k > 4 else "center",
    )
    ax.set_yticks(np.arange(k), label_text(result.labels))
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(f"accuracy {result.accuracy:.3f} on {result.n_samples} rows", fontsize=10)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of the true class" if normalize else "count")
    return fig
