"""The audit's "Fairness" section: group metrics, disparities, proxies and flip tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox import plots
from whybox._exceptions import InputError
from whybox.adapters import Model
from whybox.adapters._model import _made_up
from whybox.fairness import check_group_count, flip_test, group_metrics, proxy_detection
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text


def split_sensitive(
    m: Model, X: Any, sensitive_features: Any
) -> tuple[Any, pd.DataFrame | None, list[str]]:
    """Separate the sensitive attributes from the model's input.

    Parameters
    ----------
    m : Model
    X : DataFrame or ndarray
        The audited rows as given.
    sensitive_features : None, str, sequence of str and Series, Series or DataFrame
        Column names of ``X`` or the attributes themselves (one value per row), or a
        list mixing both (``["sex", pd.cut(X["age"], [18, 40, 65]).astype(str)]``).

    Returns
    -------
    X : the model's input (named columns the model was not fitted on are dropped)
    frame : DataFrame of the attributes as strings, or None
    model_inputs : the attributes that are also model inputs (flip-testable)

    Raises
    ------
    InputError
        A name that is not a column of X, or attributes of the wrong length.
    """
    if sensitive_features is None:
        return X, None, []
    n = len(X)
    if isinstance(sensitive_features, (pd.Series, pd.DataFrame)) or (
        isinstance(sensitive_features, np.ndarray) and sensitive_features.dtype != object
    ):
        frame = pd.DataFrame(sensitive_features).reset_index(drop=True)
        if isinstance(sensitive_features, pd.Series):
            frame.columns = [str(sensitive_features.name or "sensitive")]
        elif not isinstance(sensitive_features, pd.DataFrame):
            frame.columns = [f"sensitive_{i}" for i in range(frame.shape[1])]
        if len(frame) != n:
            raise InputError(
                f"sensitive_features must hold one value per row of X ({n}), got {len(frame)}; pass "
                "the attribute of the audited rows."
            )
        for column in frame.columns:
            check_group_count(frame[column], str(column))
        return X, frame.astype(object), []
    items = (
        [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    )
    given = [s for s in items if isinstance(s, pd.Series)]  # e.g. a binned column
    names = [s for s in items if not isinstance(s, pd.Series)]
    columns = [str(c) for c in getattr(X, "columns", [])]
    missing = [s for s in names if s not in columns]
    if missing:
        raise InputError(
            f"sensitive_features names {missing}, which {'is' if len(missing) == 1 else 'are'} not a "
            f"column of X (columns: {columns[:10]}); give column names of X or the attribute "
            "values as a Series."
        )
    frame = X[names].reset_index(drop=True).astype(object)
    for k, series in enumerate(given):
        if len(series) != n:
            raise InputError(
                f"sensitive_features must hold one value per row of X ({n}), got {len(series)}; pass "
                "the attribute of the audited rows."
            )
        frame[str(series.name or f"sensitive_{k}")] = series.to_numpy(dtype=object)
    for column in frame.columns:
        check_group_count(frame[column], str(column))
    fitted = m.feature_names
    if fitted is not None and _made_up(fitted):
        # names the library made up (LightGBM's Column_i, pandas' 0, 1, ...) are
        # positions: every column of X is a model input
        fitted = None
    model_inputs = [s for s in names if fitted is None or s in fitted]
    dropped = [s for s in names if s not in model_inputs]
    return (X.drop(columns=dropped) if dropped else X), frame, model_inputs


_SHOWN = {
    "classification": [
        "count",
        "share",
        "selection_rate",
        "base_rate",
        "accuracy",
        "tpr",
        "fpr",
        "precision",
        "mean_probability",
        "small_group",
    ],  # fmt: skip
    "regression": [
        "count",
        "share",
        "mean_prediction",
        "mean_true",
        "mean_residual",
        "mae",
        "rmse",
        "small_group",
    ],  # fmt: skip
}


def _dp(gm: Any) -> tuple[float, float, float]:
    """The demographic parity difference of a classification and its interval."""
    row = gm.disparities.set_index("metric").loc["demographic_parity"]
    return (
        float(row["difference"]),
        float(row["difference_ci_low"]),
        float(row["difference_ci_high"]),
    )


def _disparity_sentence(gm: Any) -> str:
    """The headline of a GroupMetrics in words."""
    if gm.four_fifths is not None:
        ff = gm.four_fifths
        if ff["passed"] is None:
            return "The selection-rate ratio is undefined (no group is ever selected)."
        verdict = "passes" if ff["passed"] else "fails"
        return (
            f"Selection rate: {ff['lowest_rate']:.3f} in group {ff['lowest_group']!r} against "
            f"{ff['highest_rate']:.3f} in {ff['highest_group']!r} (ratio {ff['ratio']:.2f}, "
            f"{gm.confidence_level:.0%} interval {ff['ci_low']:.2f} to {ff['ci_high']:.2f}): it "
            f"{verdict} the four-fifths rule."
        )
    row = gm.disparities.set_index("metric").loc["mean_prediction"]
    return (
        f"Mean prediction: {row['difference']:.3g} apart between {row['min_group']!r} and "
        f"{row['max_group']!r} ({gm.confidence_level:.0%} interval {row['difference_ci_low']:.3g} "
        f"to {row['difference_ci_high']:.3g})."
    )


def fairness_section(context: AuditContext) -> Section | None:
    """Group metrics and disparities (the intersection of all attributes), proxy detection
    per attribute, and a flip test for each attribute the model takes (None without
    sensitive features)."""
    if context.sensitive_features is None:
        return None
    m, data, y, pred = context.model, context.data, context.y, context.pred
    ex, explained, random_state = context.explanation, context.explained, context.random_state
    frame, model_inputs = context.sensitive_features, context.sensitive_inputs

    results: dict[str, Any] = {}
    y_prob, pos_label = None, None
    if m.task == "classification" and len(m.classes) == 2:
        y_prob = m.predict(data, "probability")[:, 0]
        pos_label = m.classes[1]
    per_class: dict[str, Any] = {}
    full = context.full
    if full is not None and full.group_metrics_by_class:  # all rows of a dask X
        per_class = full.group_metrics_by_class
        worst = max(per_class, key=lambda c: np.nan_to_num(_dp(per_class[c])[0], nan=-1.0))
        gm = per_class[worst]
        results["group_metrics_by_class"] = per_class
    elif full is not None:
        gm = full.group_metrics
    elif m.task == "classification" and len(m.classes) > 2:
        # each class against the rest; the tables and plots show the class whose selection
        # rates differ most between groups
        for c in m.classes:
            label = c.item() if isinstance(c, np.generic) else c
            per_class[str(c)] = group_metrics(
                y, pred, frame, task="classification", pos_label=label, random_state=random_state
            )
        worst = max(per_class, key=lambda c: np.nan_to_num(_dp(per_class[c])[0], nan=-1.0))
        gm = per_class[worst]
        results["group_metrics_by_class"] = per_class
    else:
        gm = group_metrics(
            y, pred, frame, y_prob=y_prob, task=m.task, pos_label=pos_label,
            random_state=random_state,
        )  # fmt: skip
    results["group_metrics"] = gm
    names = ", ".join(map(repr, gm.sensitive_names))
    blocks: list[Any] = [
        Text(
            f"Each group's metrics on {'all' if full is not None else 'the audited'} rows, "
            "and the gaps between groups "
            "(largest minus smallest, and smallest over largest) with percentile bootstrap "
            f"intervals ({gm.confidence_level:.0%}, resampling within each group). "
            + (
                "Demographic parity compares selection rates; equal opportunity compares true "
                "positive rates; equalized odds the larger of the TPR and FPR gaps. The "
                "four-fifths rule (US EEOC) asks the lowest selection rate to be at least 0.8 "
                "of the highest. "
                if m.task == "classification"
                else ""
            )
            + (
                "Several attributes: groups are their intersections. "
                if len(frame.columns) > 1
                else ""
            )
            + (
                "Over all rows of a dask X, a regression's intervals come from a Poisson "
                "bootstrap (each row weighted by a Poisson(1) draw per replicate, on its "
                "worker). "
                if full is not None and gm.task == "regression"
                else ""
            )
        )
    ]
    if per_class:
        rows = []
        for c, g in per_class.items():
            diff, low, high = _dp(g)
            ff = g.four_fifths or {}
            rows.append((c, diff, low, high, ff.get("ratio"), ff.get("passed")))
        blocks.append(
            Table(
                "Demographic parity by class (each class against the rest)",
                (
                    "class",
                    "selection-rate difference",
                    "CI low",
                    "CI high",
                    "ratio",
                    "four-fifths passed",
                ),  # fmt: skip
                tuple(rows),
                f"the tables below show class {worst!r}, the largest difference",
            )
        )
    shown = [c for c in _SHOWN[gm.task] if c in gm.by_group.columns]
    blocks.append(Table.from_frame(gm.by_group[shown], f"Metrics by group ({names})"))
    if gm.task == "classification":
        blocks.append(
            Figure.from_matplotlib(
                plots.fairness(gm),
                "Metrics by group",
                gm.to_dict(),
                "bars: each group; line: all rows; small groups marked",
            )  # fmt: skip
        )
    blocks.append(
        Figure.from_matplotlib(
            plots.disparities(gm),
            "Disparities between groups",
            gm.to_dict(),
            f"largest minus smallest group value with its {gm.confidence_level:.0%} interval",
        )  # fmt: skip
    )
    blocks.append(Table.from_frame(gm.disparities, "Disparities", with_index=False))
    for name, marginal in gm.marginals.items():
        blocks.append(Table.from_frame(marginal[shown], f"Metrics by {name} alone"))
    summary = [_disparity_sentence(gm)] + list(gm.warnings)
    if per_class:
        summary.insert(0, f"Class {worst!r} against the rest:")
    results["proxies"] = {}
    ex_rows = data.take(explained)
    for name in frame.columns:
        proxies = proxy_detection(
            m, ex_rows, pd.Series(frame[name].to_numpy()[explained], name=name), shap_values=ex,
            random_state=random_state,
        )  # fmt: skip
        results["proxies"][name] = proxies
        table = proxies.table.head(8).copy()
        blocks.append(
            Table.from_frame(
                table,
                f"Proxies for {name!r}",
                caption="auc: how well the feature alone predicts the attribute (out of fold); "
                "reliance: its share of the model's mean |SHAP value|; gap: how much it moves "
                f"each group's mean output ({proxies.output_space}). The model's own output "
                f"reveals the attribute with rank AUC {proxies.output_auc:.2f} "
                f"({proxies.params['confidence_level']:.0%} interval "
                f"{proxies.output_auc_interval[0]:.2f} to {proxies.output_auc_interval[1]:.2f}).",
            )
        )
        summary += list(proxies.findings) or [f"No proxy for {name!r} found."]
    results["flip_tests"] = {}
    for name in model_inputs:
        flip = flip_test(m, data, name)
        results["flip_tests"][name] = flip
        blocks.append(
            Table.from_frame(
                flip.flip_rate,
                f"Flip test: {name!r}",
                caption="share of rows whose decision changes when only this attribute is "
                f"changed (from row to column); overall {flip.overall:.1%}",
            )
        )
        summary.append(
            f"Changing only {name!r} changes {flip.overall:.1%} of the decisions."
            if m.task == "classification"
            else f"Changing only {name!r} moves the prediction by {flip.overall:.3g} on average."
        )
    return Section(
        "fairness", "Fairness", tuple(blocks), " ".join(summary), results={"fairness": results}
    )
