"""The audit's "Confusion analysis" section (tabular and image classifiers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox import plots
from whybox.debugging import confusion_analysis
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text


def confusion_of(
    classes: Any,
    y: np.ndarray,
    pred: np.ndarray,
    class_names: Sequence[str] | None,
    analysis: Any = None,
) -> Section:
    """The confusion matrix, per-class metrics and most-confused pairs of ``y`` and ``pred``,
    labelled by ``class_names`` (one per class, in ``classes``' order) or the labels;
    ``analysis``, when given, is shown instead (the counts of all rows of a dask X)."""
    if analysis is None:
        labels = [str(c) for c in classes]
        display = dict(zip(labels, class_names or labels, strict=True))
        analysis = confusion_analysis(
            [display[str(v)] for v in y], [display[str(v)] for v in pred],
            labels=[display[c] for c in labels],
        )  # fmt: skip
    blocks: list = [
        Figure.from_matplotlib(
            plots.confusion_matrix(analysis),
            "Confusion matrix",
            analysis.to_dict(),
            "rows: true class, columns: predicted class; colour: share of the true class",
        ),
        Table.from_frame(analysis.to_frame(), "Per-class precision, recall and F1"),
    ]
    pairs = analysis.pairs_frame()
    if len(pairs):
        blocks.append(Table.from_frame(pairs.head(10), "Most-confused pairs", with_index=False))
    else:
        blocks.append(Text("No class was confused with another on this data."))
    summary = f"Accuracy {analysis.accuracy:.3f}; " + (
        f"the most frequent confusion is {pairs.iloc[0]['true']} predicted as "
        f"{pairs.iloc[0]['predicted']} ({int(pairs.iloc[0]['count'])} rows)."
        if len(pairs)
        else "no confusions."
    )
    return Section(
        "confusion", "Confusion analysis", tuple(blocks), summary, results={"confusion": analysis}
    )


def confusion_section(context: AuditContext) -> Section | None:
    """The confusion analysis of a classifier on the audited rows (None for a regressor)."""
    if context.task != "classification":
        return None
    full = context.full.confusion if context.full is not None else None
    return confusion_of(
        context.model.classes, context.y, context.pred, context.class_names, analysis=full
    )
