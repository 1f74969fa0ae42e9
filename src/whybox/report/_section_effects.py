"""The audit's "Feature effects" section: PD with ICE, ALE, H-statistics, SHAP interactions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox import plots
from whybox._explain import is_tree_model
from whybox.adapters import Dataset
from whybox.inspection import (
    accumulated_local_effects,
    h_statistic,
    partial_dependence,
    shap_interaction_matrix,
    top_interaction_pairs,
)
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text

_EFFECT_ROWS = 500  # rows averaged over for PD/ICE
_ALE_BOOTSTRAP = 50
_H_ROWS = 100
_H_FEATURES = 5
_INTERACTION_ROWS = 200  # rows of SHAP interaction values (tree models)
_TOP_PAIRS = 5
_CORRELATED = 0.5  # |Spearman rho| above which ALE is the effect to trust


def _strongest_correlation(data: Dataset, j: int) -> tuple[str | None, float]:
    """The numeric feature most correlated with numeric column j (|Spearman rho|)."""
    if data.categorical[j]:
        return None, 0.0
    frame = pd.DataFrame(
        {n: data.values[:, i] for i, n in enumerate(data.feature_names) if not data.categorical[i]}
    ).astype(np.float64)
    rho = frame.corr(method="spearman")[data.feature_names[j]].drop(data.feature_names[j]).abs()
    rho = rho.dropna()
    if rho.empty:
        return None, 0.0
    return str(rho.idxmax()), float(rho.max())


def effects_section(context: AuditContext) -> Section:
    """PD with ICE and ALE with a band for the top features, H-statistics, and the SHAP
    interaction values of a tree model.

    PD, ICE, ALE and H-statistics are computed over the rows that stand for the training
    distribution (``context.reference``: the training sample, else the audited rows), so
    their grids and bins come from the data the model learned from; the SHAP interaction
    values explain audited rows.
    """
    m, data, random_state, rng = context.model, context.data, context.random_state, context.rng
    reference = context.reference
    top = list(context.top_features)
    rows = reference.take(
        np.sort(
            rng.choice(reference.n_samples, min(_EFFECT_ROWS, reference.n_samples), replace=False)
        )
    )
    blocks: list[Any] = [
        Text(
            f"Computed over {context.reference_name} ({reference.n_samples} rows): partial "
            "dependence (PD) averages the model over those rows with one feature set to each "
            "value of a grid drawn from them; ICE curves show single rows. Both evaluate "
            "combinations of values the data may never show when features are correlated; "
            "accumulated local effects (ALE) only move each row within its own bin, so prefer "
            f"ALE where a feature is correlated with another (|Spearman rho| > {_CORRELATED})."
        )
    ]
    results: dict[str, Any] = {}
    notes = []
    has_h = len(top[:_H_FEATURES]) >= 2
    bar = context.bar(len(top) + has_h + is_tree_model(m), "feature effects", unit="plot")
    for feat in top:
        j = reference.feature_names.index(feat)
        other, rho = _strongest_correlation(reference, j)
        pd_res = partial_dependence(m, rows, feat, kind="both", grid_resolution=20)
        ale = accumulated_local_effects(
            m, reference, feat, n_bins=min(20, max(1, reference.n_samples // 4)),
            n_bootstrap=_ALE_BOOTSTRAP, random_state=random_state,
        )  # fmt: skip
        results[feat] = {"partial_dependence": pd_res, "ale": ale}
        if reference.categorical[j]:
            advice = (
                f"{feat!r} is categorical: one point per level (the mean over the rows with "
                "the level set) and the ICE values as dots; no line joins levels that have no "
                "order."
            )
        elif rho > _CORRELATED:
            advice = (
                f"{feat!r} is correlated with {other!r} (|rho| = {rho:.2f}): trust the ALE "
                "curve over the PD curve."
            )
        else:
            advice = (
                f"{feat!r} is not strongly correlated with another numeric feature "
                f"(largest |rho| = {rho:.2f}): PD and ALE should tell the same story."
            )
        if rho > _CORRELATED:
            notes.append(feat)
        blocks.append(
            Figure.from_matplotlib(
                plots.partial_dependence(pd_res, max_ice_lines=50),
                f"Partial dependence and ICE: {feat}",
                pd_res.to_dict() | {"individual": None},
                advice,
            )
        )
        blocks.append(
            Figure.from_matplotlib(
                plots.ale(ale),
                f"Accumulated local effects: {feat}",
                ale.to_dict(),
                ("levels ordered by how alike their rows are, " if reference.categorical[j] else "")
                + f"centred effect with a {_ALE_BOOTSTRAP}-resample bootstrap 95% band",
            )
        )
        bar.update()
    h_feats = top[:_H_FEATURES]
    if has_h:
        h = h_statistic(
            m, reference, h_feats, max_samples=_H_ROWS, random_state=random_state, pairs="all"
        )
        results["h_statistic"] = h
        blocks.append(
            Figure.from_matplotlib(
                plots.h_statistic(h),
                "Interaction strength (Friedman's H^2)",
                h.to_dict(),
                f"share of the output's variance due to each feature's interactions, from "
                f"{h.params['n_samples']} rows (noisy with few rows)",
            )
        )
        blocks.append(Table.from_frame(h.pairs_frame(), "Pairwise H^2", with_index=False))
        bar.update()
    if is_tree_model(m):
        from whybox.shapley import TreeExplainer

        n_rows = min(_INTERACTION_ROWS, data.n_samples)
        sample = data.take(np.sort(rng.choice(data.n_samples, n_rows, replace=False)))
        inter = TreeExplainer(m.estimator, progress=context.inner_progress).interaction_values(
            sample
        )
        matrix = shap_interaction_matrix(inter)
        results["shap_interaction_matrix"] = matrix
        blocks.append(
            Figure.from_matplotlib(
                plots.shap_interactions(inter),
                "SHAP interaction values",
                {"features": list(matrix.index), "mean_abs_interaction": matrix.to_numpy()},
                f"mean |SHAP interaction| of each pair over {n_rows} rows, in units of "
                f"{inter.output_space} (path-dependent TreeSHAP); unlike H^2 it is in the "
                "units of the output, so it also shows how much the pair moves it",
            )
        )
        blocks.append(
            Table.from_frame(
                top_interaction_pairs(matrix, top_k=_TOP_PAIRS),
                "Strongest pairs by SHAP interaction",
                with_index=False,
            )
        )
        bar.update()
    bar.close()
    summary = f"PD/ICE and ALE for {', '.join(map(repr, top))}." + (
        f" Correlated, read ALE: {', '.join(map(repr, notes))}." if notes else ""
    )
    return Section(
        "effects", "Feature effects", tuple(blocks), summary, results={"effects": results}
    )
