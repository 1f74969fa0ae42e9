"""The audit's "SHAP values: summary and dependence" section."""

from __future__ import annotations

import numpy as np

from whybox import plots
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section

_MAX_OUTPUTS = 3  # outputs drawn (one beeswarm and dependence plots each)


def shap_section(context: AuditContext) -> Section:
    """A beeswarm per output (the first three) and the dependence plots of the top
    features."""
    ex, top_features = context.explanation, list(context.top_features)
    multi = len(ex.output_names) > 1
    blocks = []
    for out in list(ex.output_names)[:_MAX_OUTPUTS]:
        k = ex.output_names.index(out)
        label = f" ({out})" if multi else ""
        blocks.append(
            Figure.from_matplotlib(
                plots.beeswarm(ex, target=out),
                f"SHAP summary (beeswarm){label}",
                {
                    "feature_names": list(ex.feature_names),
                    "mean_abs_shap": np.abs(ex.values[:, :, k]).mean(axis=0),
                },
                "one dot per row; position: SHAP value; colour: the feature's value",
            )
        )
        for feat in top_features:
            col = ex.feature_names.index(feat)
            blocks.append(
                Figure.from_matplotlib(
                    plots.dependence(ex, feat, target=out),
                    f"Dependence: {feat}{label}",
                    {
                        "feature": feat,
                        "feature_value": None if ex.data is None else ex.data[:, col],
                        "shap_value": ex.values[:, col, k],
                    },
                    "each dot is a row: the feature's value against its SHAP value",
                )
            )
    summary = (
        f"SHAP values by {ex.method} for {ex.values.shape[0]} rows, in units of "
        f"{context.units}. Top features: {', '.join(map(repr, top_features))}."
    )
    return Section(
        "shap", "SHAP values: summary and dependence", tuple(blocks), summary,
        results={"explanation": ex},
    )  # fmt: skip
