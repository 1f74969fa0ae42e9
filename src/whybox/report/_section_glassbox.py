"""The audit's "The model itself: shape functions" section, for glass-box (additive) models.

An EBM or a GAM predicts the sum of its terms, so its terms drawn one by one are the model's
global view: not an approximation of it, as SHAP summaries and partial dependence are for a
black box. The section appears only when the audited model is one whybox reads as an
:class:`~whybox.glassbox.AdditiveModel` (an EBM, or an AdditiveModel such as a pyGAM GAM
read by :func:`~whybox.glassbox.from_pygam`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from whybox import plots
from whybox.glassbox import (
    AdditiveModel,
    ShapeFunctions,
    from_pygam,
    is_ebm,
    is_pygam,
    shape_functions,
)
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text

_TOP_TERMS = 6  # terms drawn in the overview
_TABLE_TERMS = 15  # terms listed in the table
_MAX_OUTPUTS = 3  # outputs (classes) drawn, one overview each
_SPACE = {
    "identity": "the predicted value",
    "logit": "log-odds",
    "mlogit": "one margin per class (softmax gives the probabilities)",
}


def additive_estimator(context: AuditContext) -> Any:
    """The audited estimator when it is a glass-box model (an EBM or an AdditiveModel; a
    pyGAM GAM read with the audited columns' names), else None."""
    estimator = getattr(context.model, "estimator", None)
    if is_pygam(estimator):
        return from_pygam(estimator, feature_names=context.data.feature_names)
    if isinstance(estimator, AdditiveModel) or is_ebm(estimator):
        return estimator
    return None


def _shapes(context: AuditContext, estimator: Any) -> ShapeFunctions:
    """The shape functions, weighted by the training bins an EBM stores, or (function
    terms, which keep no training data) by the rows that stand for the training data."""
    has_function = isinstance(estimator, AdditiveModel) and any(
        not t.is_binned for t in estimator.terms
    )
    if has_function:
        return shape_functions(estimator, context.reference)
    return shape_functions(estimator)


def _weighting(context: AuditContext, shapes: ShapeFunctions) -> str:
    """What the importances are weighted by, in the report's words."""
    if shapes.weighting.endswith("rows of X"):
        n = context.reference.n_samples
        return f"{context.reference_name} ({n} rows)"
    return "the training weight of each bin (EBM's bin_weights_: its term_importances())"


def _local_sentence(context: AuditContext) -> str:
    """What the report's SHAP values are for this model, in one sentence."""
    ex = context.explanation
    method = "" if ex is None else str(ex.method)
    if "additive" in method:
        reference = (
            f"its mean over the {context.background.n_samples} background rows"
            if context.background is not None
            else "its training mean (the bins' stored weights)"
        )
        return (
            "The SHAP values in the summary and in the local explanations are the exact term "
            f"contributions ({method}): each main term's value at the row minus {reference}, "
            "and each pair's value split exactly between its two features, so a row's values "
            "add up to its prediction with no sampling and no approximation."
        )
    return (
        f"The SHAP values elsewhere in this report were computed by {method or 'an explainer'}; "
        "for this model the exact term contributions are available (whybox.explain with "
        "method='additive')."
    )


def _overview(shown: ShapeFunctions, shapes: ShapeFunctions, k: int, top: tuple) -> Figure:
    """The top terms' shape functions for output ``k`` (one figure per class)."""
    label = f" ({shown.output_names[k]})" if len(shown.output_names) > 1 else ""
    return Figure.from_matplotlib(
        plots.shape_functions(shown, max_display=_TOP_TERMS, target=k),
        f"Shape functions of the top {len(top)} terms{label}",
        {
            t.name: {
                "kind": t.kind,
                "edges": list(t.edges),
                "levels": [list(v) for v in t.levels],
                "scores": t.scores[k],
                "lower": None if t.lower is None else t.lower[min(k, t.lower.shape[0] - 1)],
                "upper": None if t.upper is None else t.upper[min(k, t.upper.shape[0] - 1)],
            }
            for t in top
        },
        f"each term's score in the raw space; band: {shapes.band}; grey bars: the data's "
        "density; pairs as heatmaps",
    )


def glassbox_section(context: AuditContext) -> Section | None:
    """The shape functions of a glass-box model (its global view) and their importances,
    or None for a model that is not additive."""
    estimator = additive_estimator(context)
    if estimator is None:
        return None
    shapes = _shapes(context, estimator)
    frame = shapes.to_frame().sort_values(["rank", "term"]).set_index("term")
    n_pairs = sum(len(t.features) == 2 for t in shapes.terms)
    n_main = len(shapes.terms) - n_pairs
    top = shapes.top(_TOP_TERMS)
    intercept = ", ".join(f"{v:.4g}" for v in shapes.intercept)
    names = [context.display.get(o, o) for o in shapes.output_names]
    shown = dataclasses.replace(shapes, output_names=tuple(names))  # display names on the plots
    is_text = (
        f"This model is a glass box: {shapes.source} predicts, in the raw space "
        f"({_SPACE[shapes.link]}), the intercept ({intercept}) plus the sum of its "
        f"{len(shapes.terms)} terms ({n_main} of one feature, {n_pairs} "
        f"{'pair' if n_pairs == 1 else 'pairs'}). The shape "
        "functions below ARE the model, not an approximation of it: a term's curve read at a "
        "row's value is that term's exact contribution to the row's prediction, and the "
        "contributions of all terms plus the intercept are the prediction."
    )
    blocks: list[Any] = [
        Text(is_text),
        Figure.from_matplotlib(
            plots.term_importances(shown, max_display=_TABLE_TERMS),
            "Term importances",
            {"term": [t.name for t in shapes.terms], "importance": shapes.importances},
            f"the mean |term score| weighted by {_weighting(context, shapes)}; pairs in light blue",
        ),
        *(_overview(shown, shapes, k, top) for k in range(min(_MAX_OUTPUTS, len(names)))),
        Table.from_frame(
            frame.head(_TABLE_TERMS),
            f"The terms ranked (top {min(_TABLE_TERMS, len(frame))} of {len(frame)})",
            caption="importance: the weighted mean |term score| (what a term moves the raw "
            "prediction by, on average); kind: numeric (bins), categorical, curve (a "
            "spline or linear function) or pair.",
        ),
        Text(_local_sentence(context)),
    ]
    best = top[0] if top else None
    summary = is_text.split(". ")[0] + (
        ". Its shape functions are its global view: they are the model, not an approximation of it."
    )
    if best is not None:
        summary += (
            f" The most important term is {best.name!r} (importance {best.importance:.3g}"
            f", {float(best.importance / max(np.sum(shapes.importances), 1e-300)):.0%} of "
            "the total)."
        )
    summary += " " + _local_sentence(context)
    return Section(
        "glassbox", "The model itself: shape functions", tuple(blocks), summary,
        results={"shape_functions": shapes},
    )  # fmt: skip
