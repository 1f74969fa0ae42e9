"""The audit's "Global importance" section: SHAP, permutation and impurity importance."""

from __future__ import annotations

import pandas as pd

from whybox import plots
from whybox.inspection import importance_comparison
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table

_DISAGREE = 3  # a rank difference from which SHAP and permutation importance disagree


def score_change(scoring: str) -> str:
    """How a positive importance reads for a scorer: "drop in r2", "rise in log_loss"."""
    if scoring.startswith("neg_"):
        return f"rise in {scoring[4:]}"
    return f"drop in {scoring}"


def importance_section(context: AuditContext) -> Section:
    """Mean |SHAP value|, permutation importance (with its interval) and, for tree
    ensembles, impurity importance (MDI), side by side with their ranks."""
    ex, perm = context.explanation, context.permutation
    comparison = importance_comparison(
        context.model, context.data, context.y, permutation=perm, shap_values=ex
    )
    shap_imp = ex.global_importance().mean(axis=1)
    perm_frame = perm.to_frame()
    columns = {
        "mean |SHAP value|": shap_imp,
        "SHAP rank": shap_imp.rank(ascending=False, method="min").astype(int),
        "permutation importance": perm_frame["importance_mean"],
        f"{perm.confidence_level:.0%} interval": pd.Series(
            [f"{lo:.3g} to {hi:.3g}" for lo, hi in perm_frame[["ci_lower", "ci_upper"]].to_numpy()],
            index=perm_frame.index,
        ),
        "permutation rank": perm_frame["importance_mean"]
        .rank(ascending=False, method="min")
        .astype(int),
    }
    if comparison.mdi is not None:
        mdi = pd.Series(comparison.mdi, index=list(comparison.feature_names))
        columns["MDI"] = mdi
        columns["MDI rank"] = mdi.rank(ascending=False, method="min").astype(int)
    table = pd.DataFrame(columns).loc[shap_imp.index]
    table.index.name = "feature"
    table["rank difference"] = table["SHAP rank"] - table["permutation rank"]
    top = table.head(10)
    disagree = top[top["rank difference"].abs() >= _DISAGREE].index.tolist()
    rho = float(table["SHAP rank"].corr(table["permutation rank"], method="spearman"))
    methods = (
        "impurity (MDI), permutation and SHAP"
        if comparison.mdi is not None
        else ("permutation and SHAP")
    )
    blocks = [
        Figure.from_matplotlib(
            plots.importance_comparison(comparison),
            f"Global importance by {methods}",
            comparison.to_dict(),
            f"each importance as shares of its total; MDI: {comparison.mdi_source}; "
            f"mean |SHAP value| in units of {context.units}",
        ),
        Figure.from_matplotlib(
            plots.permutation_importance(perm),
            "Permutation importance",
            perm.to_dict(),
            f"{score_change(perm.scoring)} when the feature is shuffled, "
            f"{perm.n_repeats_done} repeats, with the {perm.confidence_level:.0%} interval of "
            "the mean (permutation noise only)",
        ),
        Table.from_frame(
            top,
            "The importances side by side (top 10 by SHAP)",
            caption="SHAP measures how much a feature moves the predictions; permutation "
            "importance how much the score drops without it; MDI how much the splits on it "
            "cleaned the training data. A feature high in one and low in the other is worth a "
            "look (correlated features share or steal importance; MDI favours features with "
            "many distinct values).",
        ),
    ]
    summary = f"Spearman rank correlation between SHAP and permutation importance: {rho:.2f}. "
    summary += (
        f"They disagree (rank differs by 3 or more) on {', '.join(map(repr, disagree))}."
        if disagree
        else "They agree on the ranking of the top features."
    )
    if comparison.warnings:
        summary += " " + " ".join(comparison.warnings)
    return Section(
        "importance", "Global importance", tuple(blocks), summary,
        results={"permutation_importance": perm, "importance_comparison": comparison},
    )  # fmt: skip
