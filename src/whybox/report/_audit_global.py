"""The audit's "Feature effects" and "Where the model fails" sections."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox import plots
from whybox._explain import is_tree_model
from whybox.adapters import Dataset, Model
from whybox.debugging import calibration, find_slices, residual_analysis
from whybox.inspection import (
    accumulated_local_effects,
    global_surrogate,
    h_statistic,
    partial_dependence,
    shap_interaction_matrix,
    top_interaction_pairs,
)
from whybox.report._report import Figure, Section, Table, Text

_EFFECT_ROWS = 500  # rows averaged over for PD/ICE
_ALE_BOOTSTRAP = 50
_H_ROWS = 100
_H_FEATURES = 5
_INTERACTION_ROWS = 200  # rows of SHAP interaction values (tree models)
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


def effects_section(
    m: Model, data: Dataset, top: list[str], rng: np.random.Generator, random_state: Any
) -> tuple[Section, dict[str, Any]]:
    """PD with ICE and ALE with a band for the top features, and H-statistics."""
    rows = data.take(
        np.sort(rng.choice(data.n_samples, min(_EFFECT_ROWS, data.n_samples), replace=False))
    )
    blocks: list[Any] = [
        Text(
            "Partial dependence (PD) averages the model over the data with one feature set to "
            "each value; ICE curves show single rows. Both evaluate combinations of values the "
            "data may never show when features are correlated; accumulated local effects (ALE) "
            "only move each row within its own bin, so prefer ALE where a feature is correlated "
            f"with another (|Spearman rho| > {_CORRELATED})."
        )
    ]
    results: dict[str, Any] = {}
    notes = []
    for feat in top:
        j = data.feature_names.index(feat)
        other, rho = _strongest_correlation(data, j)
        pd_res = partial_dependence(m, rows, feat, kind="both", grid_resolution=20)
        ale = accumulated_local_effects(
            m, data, feat, bins=min(20, max(1, data.n_samples // 4)),
            n_bootstrap=_ALE_BOOTSTRAP, random_state=random_state,
        )  # fmt: skip
        results[feat] = {"partial_dependence": pd_res, "ale": ale}
        advice = (
            f"{feat!r} is correlated with {other!r} (|rho| = {rho:.2f}): trust the ALE curve "
            "over the PD curve."
            if rho > _CORRELATED
            else f"{feat!r} is not strongly correlated with another numeric feature "
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
                f"centred effect with a {_ALE_BOOTSTRAP}-resample bootstrap 95% band",
            )
        )
    h_feats = top[:_H_FEATURES]
    if len(h_feats) >= 2:
        h = h_statistic(m, data, h_feats, n_samples=_H_ROWS, random_state=random_state, pairs="all")
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
        blocks.append(Table.from_frame(h.pairs_frame(), "Pairwise H^2", index=False))
    if is_tree_model(m):
        from whybox.shapley import TreeExplainer

        n_rows = min(_INTERACTION_ROWS, data.n_samples)
        sample = data.take(np.sort(rng.choice(data.n_samples, n_rows, replace=False)))
        inter = TreeExplainer(m.estimator).interaction_values(sample)
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
                top_interaction_pairs(matrix, k=5),
                "Strongest pairs by SHAP interaction",
                index=False,
            )
        )
    summary = f"PD/ICE and ALE for {', '.join(map(repr, top))}." + (
        f" Correlated, read ALE: {', '.join(map(repr, notes))}." if notes else ""
    )
    return Section("effects", "Feature effects", tuple(blocks), summary), results


def failures_section(
    m: Model, data: Dataset, y: np.ndarray, rng: np.random.Generator, random_state: Any
) -> tuple[Section, dict[str, Any]]:
    """Failing slices, calibration (classifiers) or residuals by feature (regressors), and a
    global surrogate with its fidelity."""
    blocks: list[Any] = []
    results: dict[str, Any] = {}
    found = find_slices(m, data, y)
    results["slices"] = found
    blocks.append(
        Figure.from_matplotlib(
            plots.slices(found),
            "Slices where the model fails more often",
            found.to_dict(),
            f"error: {found.error_definition}; exact one-sided tests, false discovery rate "
            f"{found.alpha:g} over {found.n_candidates} candidate slices",
        )
    )
    if found.slices:
        blocks.append(Table.from_frame(found.to_frame(), "Failing slices", index=False))
    if m.task == "classification":
        cal = calibration(m, data, y)
        results["calibration"] = cal
        blocks.append(
            Figure.from_matplotlib(
                plots.calibration(cal),
                "Calibration (reliability diagram)",
                cal.to_dict(),
                "points on the diagonal: predicted probabilities match observed frequencies",
            )
        )
    else:
        res = residual_analysis(m, data, y)
        results["residuals"] = res
        flagged = res.significant
        blocks.append(
            Figure.from_matplotlib(
                plots.residuals(res),
                "Residuals by feature",
                res.to_dict(),
                "mean residual (predicted - true) per bin of the feature whose bins differ most; "
                + (
                    f"significant after Holm's adjustment: {', '.join(map(repr, flagged))}"
                    if flagged
                    else "no feature's bins differ significantly"
                ),
            )
        )
        blocks.append(Table.from_frame(res.to_frame(), "Residuals by feature", index=False))
    order = rng.permutation(data.n_samples)
    half = data.n_samples // 2
    if half >= 20:
        sur = global_surrogate(
            m, data.take(order[:half]), max_depth=3, X_test=data.take(order[half:]),
            random_state=random_state,
        )  # fmt: skip
        results["surrogate"] = sur
        blocks.append(
            Figure.from_matplotlib(
                plots.surrogate_tree(sur),
                "Global surrogate tree",
                sur.to_dict(),
                f"a depth-3 tree fitted to the model's {sur.target} on half the rows; held-out "
                f"fidelity ({sur.fidelity_metric}) {sur.test_fidelity:.3f}: read it as the "
                "model only as far as that number allows",
            )
        )
    n_sl = len(found.slices)
    summary = (
        f"{n_sl} slice(s) with significantly more errors"
        + (f", worst: {found.slices[0].description}" if n_sl else "")
        + (f"; ECE {results['calibration'].ece:.3f}" if "calibration" in results else "")
        + (
            f"; residuals differ across bins of {', '.join(map(repr, results['residuals'].significant))}"
            if "residuals" in results and results["residuals"].significant
            else ""
        )
        + (
            f"; surrogate fidelity {results['surrogate'].test_fidelity:.3f}"
            if "surrogate" in results
            else ""
        )
        + "."
    )
    return Section("failures", "Where the model fails", tuple(blocks), summary), results
