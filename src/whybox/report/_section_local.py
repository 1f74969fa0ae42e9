"""The audit's "Local explanations" section: each chosen row by SHAP, LIME, an anchor,
reason codes and counterfactuals."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from whybox import plots
from whybox._explanation import Explanation
from whybox.report._context import AuditContext
from whybox.report._inputs import round4
from whybox.report._report import Figure, Section, Table, Text

_MAX_REASONS = 4  # reason codes per row
_N_COUNTERFACTUALS = 3


def local_section(context: AuditContext) -> Section:
    """For each chosen row: the SHAP waterfall of its predicted class, LIME, an anchor
    (classifiers), reason codes and counterfactuals (binary classifiers)."""
    from whybox.anchors import AnchorTabular
    from whybox.counterfactuals import CounterfactualExplainer
    from whybox.fairness import reason_codes

    m, data, rows = context.model, context.data, list(context.rows)
    reference = context.reference  # the training sample, else the audited rows
    positions = context.positions
    anchors = None
    binary = m.task == "classification" and len(m.classes) == 2
    # the step's bar: an anchor per row, the counterfactuals, the figures of each row
    n_units = (m.task == "classification") * len(rows) + binary + len(rows)
    bar = context.bar(n_units, "local explanations", unit="part")
    if m.task == "classification":
        anchor_explainer = AnchorTabular(m, reference, random_state=context.random_state)
        anchors = []
        for r in rows:
            bar.set_postfix_str(f"anchor of row {context.row_label(r)}")
            anchors.append(anchor_explainer(data.values[r])[0])
            bar.update()
    reasons = cfs = None
    results: dict[str, Any] = {"lime": context.lime}
    if binary:
        bar.set_postfix_str("counterfactuals")
        reasons = reason_codes(
            context.explanation,
            rows=[positions[r] for r in rows],
            top_k=min(_MAX_REASONS, data.n_features),
        )
        # a sensitive attribute the model takes is never a lever of a counterfactual
        cfs = CounterfactualExplainer(
            m, reference, immutable=list(context.sensitive_inputs),
            random_state=context.random_state,
        )(data.take(rows), n_counterfactuals=_N_COUNTERFACTUALS)  # fmt: skip
        results |= {"reason_codes": reasons, "counterfactuals": cfs}
        bar.update()
    bar.set_postfix_str("figures")
    blocks = []
    for i, r in enumerate(rows):
        waterfall, out = _waterfall(context, r)
        blocks.append(waterfall)
        shown = context.row_label(r)  # the row's position in all of X
        blocks.append(_lime_figure(context.lime, i, shown, out))
        if anchors is not None:
            blocks.append(_anchor_table(anchors[i], shown))
        if reasons is not None:
            blocks.append(_reasons_table(reasons, positions[r], shown))
        if cfs is not None:
            blocks.append(_counterfactual_block(_named_classes(cfs, context.display), i, shown))
        bar.update()
    bar.close()
    summary = (
        f"Rows {', '.join(str(context.row_label(r)) for r in rows)} explained one by one: each SHAP bar is one "
        "feature's contribution to this prediction; beside it, LIME's local linear "
        "surrogate (weights of the row's feature conditions, with its local R² as "
        "fidelity: a low R² means the surrogate, not the model, is being read; its "
        f"perturbations are drawn from {context.reference_name})"
        + (
            " and the anchor: an IF-THEN rule under which the model keeps its prediction "
            "with the stated precision on perturbed rows, and the share of the rows of "
            f"{context.reference_name} it covers."
            if anchors is not None
            else "."
        )
        + (
            " Reason codes: the features that lowered the score of the positive class most "
            "(adverse-action style); counterfactuals: small changes that flip the decision, "
            "each checked by calling the model, kept within the ranges of "
            f"{context.reference_name} and scored for plausibility against its rows."
            if cfs is not None
            else ""
        )
    )
    return Section("local", "Local explanations", tuple(blocks), summary, results=results)


def _waterfall(context: AuditContext, r: int) -> tuple[Figure, str]:
    """The SHAP waterfall of row ``r`` and the name of the output it explains."""
    ex, y, pred, display = context.explanation, context.y, context.pred, context.display
    classification = context.task == "classification"
    # multi-class: the predicted class's output; otherwise the single output
    out = display.get(str(pred[r]), str(pred[r])) if len(ex.output_names) > 1 else 0
    row_ex = ex[context.positions[r], :, out]
    out = row_ex.output_names[0]
    f_x = float(row_ex.values.sum() + row_ex.base_values)
    truth = display.get(str(y[r]), y[r]) if classification else round4(y[r])
    predicted = display.get(str(pred[r]), pred[r]) if classification else round4(pred[r])
    figure = Figure.from_matplotlib(
        plots.waterfall(row_ex),
        f"Row {context.row_label(r)}: true {truth}, predicted {predicted}",
        {
            "row": context.row_label(r),
            "output": out,
            "base_value": float(row_ex.base_values),
            "model_output": f_x,
            "feature_names": list(row_ex.feature_names),
            "feature_values": None if row_ex.data is None else row_ex.data,
            "shap_values": row_ex.values,
        },
        f"SHAP waterfall for output {out!r} in units of {context.units}: from the base "
        f"value E[f(X)] = {float(row_ex.base_values):.4g} to f(x) = {f_x:.4g}",
    )
    return figure, out


def _reasons_table(reasons: Any, position: int, r: int) -> Table:
    """The reason codes of row ``r`` (at ``position`` in the explanation)."""
    table = reasons.table[reasons.table["row"] == position]
    return Table.from_frame(
        table[["rank", "feature", "value", "shap_value", "reason"]],
        f"Row {r}: reason codes for {reasons.output!r}",
        caption="the features that lowered the score the most (negative SHAP values, "
        f"{reasons.output_space}); none when every feature raised it",
        with_index=False,
    )


def _named_classes(cfs: Any, display: dict[str, str]) -> Any:
    """Counterfactuals whose predicted and desired classes read as class names."""
    if not display:
        return cfs

    def name(v: Any) -> Any:
        return display.get(str(v), v)

    frames = tuple(
        f.assign(prediction=f["prediction"].map(name)) if "prediction" in f else f
        for f in cfs.counterfactuals
    )
    return dataclasses.replace(
        cfs,
        original_prediction=tuple(name(v) for v in cfs.original_prediction),
        desired=tuple(name(v) for v in cfs.desired),
        counterfactuals=frames,
    )


def _counterfactual_block(cfs: Any, i: int, r: int) -> Figure | Text:
    """The counterfactuals of the ``i``-th chosen row (row ``r``), or why there are none."""
    status = cfs.status[i]
    if not cfs.counterfactuals[i].shape[0]:
        return Text(f"Row {r}: counterfactuals: {status}.")
    metrics = cfs.metrics.iloc[i]
    changes = cfs.to_frame()
    changes = changes[changes["row"] == i].astype(object)
    return Figure.from_matplotlib(
        plots.counterfactuals(cfs, row=i),
        f"Row {r}: counterfactuals ({status})",
        {
            "row": r,
            "changes": changes.to_dict(orient="list"),
            "status": status,
        },
        f"changed features only; desired {cfs.desired[i]!r}; mean features changed "
        f"{metrics['sparsity']:.2g}, every counterfactual re-checked with the model",
    )


def _lime_figure(lime_ex: Explanation, i: int, r: int, out: str) -> Figure:
    """The LIME bar chart of the ``i``-th chosen row (row ``r``), for output ``out``."""
    from whybox.lime import conditions

    row = lime_ex[i, :, out if len(lime_ex.output_names) > 1 else 0]
    r2 = float(row.quality["local_r2"])
    selected = np.flatnonzero(row.values != 0)
    return Figure.from_matplotlib(
        plots.lime_bar(row),
        f"Row {r}: LIME",
        {
            "row": r,
            "output": row.output_names[0],
            "output_space": lime_ex.output_space,
            "conditions": [str(c) for c in conditions(row)[selected]],
            "weights": row.values[selected],
            "intercept": float(row.base_values),
            "local_r2": r2,
        },
        f"LIME weights for output {row.output_names[0]!r} in {lime_ex.output_space} "
        f"units ({lime_ex.params.get('n_perturbations')} perturbations, local R² = {r2:.2f})",
    )


def _anchor_table(anchor: Any, r: int) -> Table:
    """The anchor rule of row ``r`` as a one-row table."""
    lo, hi = anchor.precision_bounds
    rule = " AND ".join(anchor.conditions) if anchor.conditions else "(any row)"
    caption = (
        f"Precision: the share of perturbed rows satisfying the rule on which the model "
        f"still predicts {anchor.prediction!r} (KL confidence bounds {lo:.3f}-{hi:.3f}, "
        f"{anchor.n_precision_samples} samples); coverage: the share of the data the "
        "rule applies to."
    )
    if not anchor.meets_threshold:
        caption += " No rule reached the requested precision; the most precise found is shown."
    row = (
        rule,
        anchor.prediction,
        round(anchor.precision, 3),
        round(anchor.coverage, 3),
        anchor.n_model_calls,
        round(anchor.time_seconds, 2),
    )
    columns = ("IF", "THEN predict", "precision", "coverage", "model calls", "time (s)")
    return Table(f"Row {r}: anchor", columns, (row,), caption)
