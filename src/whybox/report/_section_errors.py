"""The audit's "Error analysis" section."""

from __future__ import annotations

import pandas as pd

from whybox.debugging import error_analysis
from whybox.report._context import AuditContext
from whybox.report._inputs import round4
from whybox.report._report import Section, Table, Text


def errors_section(context: AuditContext) -> Section:
    """The errors of the model: high-confidence errors (classification) or the largest
    errors and the error by feature bin (regression), and the features that differ most
    between the errors and the rest."""
    model, display = context.model, context.display
    errors = error_analysis(model, context.data, context.y)
    blocks: list = [Text(n) for n in errors.notes]
    if model.task == "classification":
        cases = errors.cases_frame()
        for col in ("true", "predicted"):
            cases[col] = [display.get(str(v), str(v)) for v in cases[col]]
        cases["kind"] = cases["kind"].str.replace("_", " ")
        cases["row"] = [context.row_label(r) for r in cases["row"]]
        if len(cases):
            blocks.append(
                Table.from_frame(
                    cases,
                    "High-confidence errors and low-confidence correct predictions",
                    caption="row: position in the audited data; confidence: predicted probability "
                    "of the predicted class",
                    with_index=False,
                )  # fmt: skip
            )
    else:
        res = errors.residuals
        blocks.append(
            Table(
                "Residuals",
                ("metric", "value"),
                tuple((k, round4(v)) for k, v in res.to_dict().items()),
            )  # fmt: skip
        )
        largest = errors.cases_frame()
        largest["row"] = [context.row_label(r) for r in largest["row"]]
        blocks.append(Table.from_frame(largest, "Largest errors", with_index=False))
        if errors.feature_bins:
            bins = pd.DataFrame(
                [
                    {
                        "feature": b.feature,
                        "worst bin": b.labels[b.worst_bin],
                        "MAE in worst bin": b.mae[b.worst_bin],
                        "worst bin MAE / overall MAE": b.worst_ratio,
                    }
                    for b in errors.feature_bins[:10]
                ]
            )
            blocks.append(Table.from_frame(bins, "Error by feature bin", with_index=False))
    if errors.feature_shifts:
        shifts = errors.to_frame().head(10)
        keep = [c for c in ("kind", "effect", "ks_pvalue", "cohens_d", "cramers_v",
                            "mean_errors", "mean_rest") if c in shifts]  # fmt: skip
        shifts = shifts[keep].dropna(axis=1, how="all")
        blocks.append(
            Table.from_frame(
                shifts,
                "Features that differ most between errors and the rest",
                caption=f"errors: {errors.error_definition}; effect: the two-sample "
                "Kolmogorov-Smirnov statistic for numbers (ks_pvalue: its p-value, not "
                "corrected for testing every feature), the total variation distance for "
                "categories, both from 0 (same distribution) to 1; cohens_d: the "
                "standardised difference of the means",
            )  # fmt: skip
        )
    summary = (
        f"{errors.n_errors} of {errors.n_samples} rows count as errors ({errors.error_definition})."
    )
    if errors.feature_shifts:
        top = errors.feature_shifts[0]
        summary += f" The feature that differs most among them is {top.feature!r}."
    return Section("errors", "Error analysis", tuple(blocks), summary, results={"errors": errors})
