"""The audit: one model and one labelled dataset in, one :class:`Report` out.

The audit only orchestrates public library calls (explain, permutation_importance,
confusion_analysis, error_analysis, the plots): whatever it shows, a user can
reproduce with a few lines of the library.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox import plots
from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_random_state, shorten
from whybox._version import __version__
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.counterfactuals import CounterfactualExplainer
from whybox.debugging import confusion_analysis, error_analysis
from whybox.fairness import reason_codes
from whybox.inspection import ImportanceComparison, importance_comparison, permutation_importance
from whybox.plots._permutation import score_change
from whybox.report._audit_fairness import fairness_section, split_sensitive
from whybox.report._audit_global import effects_section, failures_section
from whybox.report._audit_quality import quality_section
from whybox.report._report import Figure, Report, Section, Table, Text

_MAX_EXPLAINED_ROWS = 1000
_MAX_IMPORTANCE_ROWS = 5000
_BACKGROUND_ROWS = 100
_KERNEL_EVALS = 512  # KernelSHAP coalitions per row (more than 12 features, not a tree model)
_TOP_FEATURES = 3


def _check_target(y: Any, n_rows: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"y must be 1-D with one label per row, got shape {y.shape}.")
    if len(y) != n_rows:
        raise InputError(
            f"y has {len(y)} values but X has {n_rows} rows; give one target value per row."
        )
    if pd.isna(pd.Series(y)).any():
        raise InputError(
            f"y has {int(pd.isna(pd.Series(y)).sum())} missing values; drop those rows first."
        )
    return y


def _check_rows(rows: Sequence[int] | None, n_rows: int) -> list[int] | None:
    if rows is None:
        return None
    out: list[int] = []
    for r in rows:
        if (
            not isinstance(r, (int, np.integer))
            or isinstance(r, (bool, np.bool_))
            or not 0 <= r < n_rows
        ):
            raise InputError(
                f"rows must be row positions between 0 and {n_rows - 1}, got {shorten(r)}; "
                "choose rows that exist in the data."
            )
        if int(r) in out:
            raise InputError(f"rows lists row {int(r)} twice; give each row once, e.g. rows={out}.")
        out.append(int(r))
    if not out:
        raise InputError(
            "rows is empty; give at least one row position, or leave rows out to let the "
            "audit choose."
        )
    return out


_MIN_ROWS = 10  # the fewest rows every step needs (ALE's bootstrap band: 10)


def _check_enough(m: Model, y: np.ndarray, n_rows: int) -> None:
    """Refuse data too small to audit, a classifier's target with a single class and a
    constant regression target."""
    if n_rows < _MIN_ROWS:
        raise InputError(
            f"the audit needs at least {_MIN_ROWS} labelled rows, got {n_rows}; give more "
            "rows (held-out data, ideally hundreds)."
        )
    if m.task == "classification":
        present = pd.unique(pd.Series(y)).tolist()  # Python scalars, for the message
        if len(present) < 2:
            raise InputError(
                f"the target holds a single class ({shorten(present[0])}) in all {n_rows} "
                "rows, but auditing a classifier needs at least two classes present; give "
                "rows of several classes (check --target names the label column)."
            )
    else:
        values = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce")
        if values.notna().all() and values.nunique() < 2:
            raise InputError(
                f"the target is constant ({shorten(float(values.iloc[0]))} in all {n_rows} rows), so "
                "R² and permutation importance are undefined; audit rows where the target "
                "varies (check --target names the target column)."
            )


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def _labels_match(model: Model, y: np.ndarray) -> np.ndarray:
    """Map y onto the model's class labels (a Booster's classes are 0..k-1)."""
    classes = model.classes
    if set(pd.unique(y)).issubset(set(classes.tolist())):
        return y
    as_str = {str(c): c for c in classes}
    if set(map(str, pd.unique(y))).issubset(as_str):
        return np.array([as_str[str(v)] for v in y])
    unknown = [shorten(v) for v in sorted(set(map(str, pd.unique(y))) - set(as_str))[:5]]
    raise InputError(
        f"the target holds labels [{', '.join(unknown)}] that the model does not predict (its "
        f"classes are {[str(c) for c in classes][:10]}); check the --target column."
    )


def _default_rows(model: Model, data: Dataset, y: np.ndarray, pred: np.ndarray) -> list[int]:
    """Up to three rows worth reading: a confident error, a confident correct one and the
    most uncertain one (classification); the largest, smallest and median error (regression)."""
    if model.task == "classification":
        conf = model.predict_proba_all(data.values).max(axis=1)
        wrong = np.flatnonzero(pred != y)
        right = np.flatnonzero(pred == y)
        picks = []
        if len(wrong):
            picks.append(int(wrong[np.argmax(conf[wrong])]))
        if len(right):
            picks.append(int(right[np.argmax(conf[right])]))
        picks.append(int(np.argmin(conf)))
    else:
        err = np.abs(pred - y.astype(float))
        order = np.argsort(err, kind="stable")
        picks = [int(order[-1]), int(order[0]), int(order[len(order) // 2])]
    return list(dict.fromkeys(picks))


def _performance(model: Model, data: Dataset, y: np.ndarray, pred: np.ndarray) -> Section:
    from sklearn import metrics

    rows: list[tuple[str, float]] = []
    if model.task == "classification":
        proba = model.predict_proba_all(data.values)
        rows.append(("accuracy", metrics.accuracy_score(y, pred)))
        rows.append(("balanced accuracy", metrics.balanced_accuracy_score(y, pred)))
        position = {c: i for i, c in enumerate(model.classes.tolist())}
        y_idx = np.array([position[v] for v in y.tolist()])
        if len(np.unique(y_idx)) == proba.shape[1] and proba.shape[1] == 2:
            rows.append(("ROC AUC", metrics.roc_auc_score(y_idx, proba[:, 1])))
        elif len(np.unique(y_idx)) == proba.shape[1]:
            rows.append(
                ("ROC AUC (one-vs-rest)", metrics.roc_auc_score(y_idx, proba, multi_class="ovr"))
            )
        rows.append(("log loss", metrics.log_loss(y_idx, proba, labels=np.arange(proba.shape[1]))))
        summary = f"Accuracy {rows[0][1]:.3f} on {len(y)} rows."
    else:
        yf = y.astype(float)
        rows.append(("R²", metrics.r2_score(yf, pred)))
        rows.append(("mean absolute error", metrics.mean_absolute_error(yf, pred)))
        rows.append(
            ("root mean squared error", float(np.sqrt(metrics.mean_squared_error(yf, pred))))
        )
        summary = f"R² {rows[0][1]:.3f}, MAE {rows[1][1]:.4g} on {len(y)} rows."
    table = Table("Metrics", ("metric", "value"), tuple((m, float(f"{v:.4g}")) for m, v in rows))
    return Section("performance", "Model performance", (table,), summary)


def _confusion_sections(classes: Any, y: np.ndarray, pred: np.ndarray, class_names) -> Section:
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
        blocks.append(Table.from_frame(pairs.head(10), "Most-confused pairs", index=False))
    else:
        blocks.append(Text("No class was confused with another on this data."))
    summary = f"Accuracy {analysis.accuracy:.3f}; " + (
        f"the most frequent confusion is {pairs.iloc[0]['true']} predicted as "
        f"{pairs.iloc[0]['predicted']} ({int(pairs.iloc[0]['count'])} rows)."
        if len(pairs)
        else "no confusions."
    )
    return Section("confusion", "Confusion analysis", tuple(blocks), summary), analysis


def _error_section(model: Model, data: Dataset, y: np.ndarray, display: dict) -> Section:
    errors = error_analysis(model, data, y)
    blocks: list = [Text(n) for n in errors.notes]
    if model.task == "classification":
        cases = errors.cases_frame()
        for col in ("true", "predicted"):
            cases[col] = [display.get(str(v), str(v)) for v in cases[col]]
        cases["kind"] = cases["kind"].str.replace("_", " ")
        if len(cases):
            blocks.append(
                Table.from_frame(
                    cases,
                    "High-confidence errors and low-confidence correct predictions",
                    caption="row: position in the audited data; confidence: predicted probability "
                    "of the predicted class",
                    index=False,
                )  # fmt: skip
            )
    else:
        res = errors.residuals
        blocks.append(
            Table(
                "Residuals",
                ("metric", "value"),
                tuple((k, _round(v)) for k, v in res.to_dict().items()),
            )  # fmt: skip
        )
        blocks.append(Table.from_frame(errors.cases_frame(), "Largest errors", index=False))
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
            blocks.append(Table.from_frame(bins, "Error by feature bin", index=False))
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
    return Section("errors", "Error analysis", tuple(blocks), summary), errors


def _units(model: Model, ex: Explanation, data: Dataset) -> str:
    """What the SHAP values are measured in, in words (e.g. "log-odds of 'benign'")."""
    if model.task == "regression":
        return "the predicted value"
    target = f"{ex.output_names[0]!r}" if len(ex.output_names) == 1 else "each class"
    if ex.output_space == "probability":
        return f"probability of {target}"
    if ex.output_space == "raw" and len(ex.output_names) == 1:
        # a binary margin that is the log-odds (logistic boosting, logistic regression)
        probe = data.values[: min(data.n_samples, 50)]
        if np.allclose(model.predict(probe, "raw"), model.predict(probe, "log_odds"), atol=1e-6):
            return f"log-odds of {target}"
    if ex.output_space == "log_odds":
        return f"log-odds of {target}"
    return f"the raw margin of {target}"


def _round(v: Any) -> Any:
    return float(f"{v:.4g}") if isinstance(v, (float, np.floating)) else v


def _importance_section(
    m: Model, data: Dataset, y: np.ndarray, ex: Explanation, perm: Any, units: str
) -> tuple[Section, pd.DataFrame, ImportanceComparison]:
    comparison = importance_comparison(m, data, y, permutation=perm, shap_values=ex)
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
    disagree = top[top["rank difference"].abs() >= 3].index.tolist()
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
            f"mean |SHAP value| in units of {units}",
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
    return Section("importance", "Global importance", tuple(blocks), summary), table, comparison


def _mean_over_outputs(ex: Explanation) -> Explanation:
    """A one-output view whose |values| average the per-class |values| (for the bar plot)."""
    from dataclasses import replace

    return replace(
        ex,
        values=np.abs(ex.values).mean(axis=2, keepdims=True),
        base_values=ex.base_values.mean(axis=1, keepdims=True),
        output_names=("mean over classes",),
        model_output=None,
    )


def _shap_section(ex: Explanation, top_features: list[str], units: str) -> Section:
    multi = len(ex.output_names) > 1
    blocks = []
    for out in list(ex.output_names)[:3]:
        k = ex.output_names.index(out)
        label = f" ({out})" if multi else ""
        blocks.append(
            Figure.from_matplotlib(
                plots.beeswarm(ex, output=out),
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
                    plots.dependence(ex, feat, output=out),
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
        f"SHAP values by {ex.method} for {ex.values.shape[0]} rows, in units of {units}. "
        f"Top features: {', '.join(map(repr, top_features))}."
    )
    return Section("shap", "SHAP values: summary and dependence", tuple(blocks), summary)


def _local_section(
    model: Model, ex: Explanation, positions: dict[int, int], rows: list[int],
    y: np.ndarray, pred: np.ndarray, display: dict[str, str], units: str,
    lime_ex: Explanation, anchors: list[Any] | None,
    reasons: Any = None, cfs: Any = None,
) -> Section:  # fmt: skip
    blocks = []
    for i, r in enumerate(rows):
        # multi-class: the predicted class's output; otherwise the single output
        out = display.get(str(pred[r]), str(pred[r])) if len(ex.output_names) > 1 else 0
        row_ex = ex[positions[r], :, out]
        out = row_ex.output_names[0]
        f_x = float(row_ex.values.sum() + row_ex.base_values)
        truth = display.get(str(y[r]), y[r]) if model.task == "classification" else _round(y[r])
        predicted = (
            display.get(str(pred[r]), pred[r])
            if model.task == "classification"
            else _round(pred[r])
        )
        blocks.append(
            Figure.from_matplotlib(
                plots.waterfall(row_ex),
                f"Row {r}: true {truth}, predicted {predicted}",
                {
                    "row": r,
                    "output": out,
                    "base_value": float(row_ex.base_values),
                    "model_output": f_x,
                    "feature_names": list(row_ex.feature_names),
                    "feature_values": None if row_ex.data is None else row_ex.data,
                    "shap_values": row_ex.values,
                },
                f"SHAP waterfall for output {out!r} in units of {units}: from the base "
                f"value E[f(X)] = {float(row_ex.base_values):.4g} to f(x) = {f_x:.4g}",
            )
        )
        blocks.append(_lime_figure(lime_ex, i, r, out))
        if anchors is not None:
            blocks.append(_anchor_table(anchors[i], r))
        if reasons is not None:
            blocks.append(_reasons_table(reasons, positions[r], r))
        if cfs is not None:
            blocks.append(_counterfactual_block(_named_classes(cfs, display), i, r))
    summary = (
        f"Rows {', '.join(map(str, rows))} explained one by one: each SHAP bar is one "
        "feature's contribution to this prediction; beside it, LIME's local linear "
        "surrogate (weights of the row's feature conditions, with its local R² as "
        "fidelity: a low R² means the surrogate, not the model, is being read)"
        + (
            " and the anchor: an IF-THEN rule under which the model keeps its prediction "
            "with the stated precision on perturbed rows, and the share of rows it covers."
            if anchors is not None
            else "."
        )
        + (
            " Reason codes: the features that lowered the score of the positive class most "
            "(adverse-action style); counterfactuals: small changes that flip the decision, "
            "each checked by calling the model."
            if cfs is not None
            else ""
        )
    )
    return Section("local", "Local explanations", tuple(blocks), summary)


def _reasons_table(reasons: Any, position: int, r: int) -> Table:
    """The reason codes of row ``r`` (at ``position`` in the explanation)."""
    table = reasons.table[reasons.table["row"] == position]
    return Table.from_frame(
        table[["rank", "feature", "value", "shap_value", "reason"]],
        f"Row {r}: reason codes for {reasons.output!r}",
        caption="the features that lowered the score the most (negative SHAP values, "
        f"{reasons.output_space}); none when every feature raised it",
        index=False,
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
        f"units ({lime_ex.params.get('n_samples')} perturbations, local R² = {r2:.2f})",
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


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    rows: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    random_state: int | None = 0,
    progress: bool = True,
    source: str = "",
    sensitive: Any = None,
) -> Report:
    """Audit a fitted model on labelled, held-out data.

    Runs, through the public library: performance metrics; confusion and error
    analysis; SHAP values (``whybox.explain``: TreeSHAP for tree models, exact or
    permutation estimates otherwise) and permutation importance side by side; SHAP
    beeswarm and dependence plots; feature effects of the top features (partial
    dependence with ICE, ALE with a bootstrap band, H-statistics); where the model
    fails (significant failing slices, calibration, a global surrogate tree with its
    held-out fidelity); with ``sensitive``, fairness (group metrics and disparities,
    proxies, flip tests); for each chosen row a SHAP waterfall, LIME, an anchor and,
    for a binary classifier, reason codes and counterfactuals; and the additivity
    error of the explanation.

    Parameters
    ----------
    model : object
        A fitted model that ``whybox.adapters.adapt_model`` accepts, or a PyTorch
        image classifier (``torch.nn.Module``), audited by
        :func:`~whybox.report.audit_images` (X: images (n, C, H, W), y: class indices).
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The model's input columns (held-out data).
    y : array-like of shape (n_samples,)
        The true targets.
    rows : sequence of int, optional
        Row positions to explain one by one. Default: a confident error, a confident
        correct prediction and the least certain row (classification), or the
        largest, smallest and median error (regression).
    class_names : sequence of str, optional
        Display names for the classes, in the model's class order.
    random_state : int or None, default=0
        Seeds every stochastic step (row sampling, permutations).
    progress : bool, default=True
        Show a progress bar on stderr.
    source : str, optional
        Where the model and data came from, shown in the report.
    sensitive : str, sequence of str, Series or DataFrame, optional
        Sensitive attributes to audit the model for fairness: column names of ``X``
        (a column the model was not fitted on is left out of its input) or the
        attributes themselves, one value per row, or a list mixing both. Adds the
        "Fairness" section (group metrics and disparities with bootstrap intervals, the
        intersections of several attributes, proxy detection, and a flip test for
        attributes the model takes). An attribute with more than 20 distinct values is
        refused: bin a continuous one first, e.g.
        ``pd.cut(X["age"], bins=[18, 25, 40, 65]).astype(str)``.

    Returns
    -------
    Report
        ``report.save(path)`` writes the HTML and its JSON as a pair.

    Raises
    ------
    InputError
        Empty data, a length mismatch between X and y, columns the model does not
        take, missing values it cannot handle, unknown labels, rows out of range or
        repeated, fewer than 10 rows, or a classifier's target with a single class.
    """
    random_state = check_random_state(random_state)
    from whybox._utils import is_torch_model
    from whybox.report._audit_images import audit_images

    if is_torch_model(model):
        if sensitive is not None:
            raise InputError(
                "sensitive applies to tabular models; a PyTorch image model has no columns to "
                "audit for fairness."
            )
        return audit_images(
            model, X, y, rows=rows, class_names=class_names, random_state=random_state,
            progress=progress, source=source,
        )  # fmt: skip
    from tqdm.auto import tqdm

    from whybox._explain import explain, is_tree_model
    from whybox.anchors import AnchorTabular
    from whybox.lime import LimeTabularExplainer

    t0 = time.perf_counter()
    m = adapt_model(model, class_names=class_names)
    X, sensitive_frame, sensitive_inputs = split_sensitive(m, X, sensitive)
    data = m.check_data(adapt_data(X))
    y = _check_target(y, data.n_samples)
    _check_enough(m, y, data.n_samples)
    row_list = _check_rows(rows, data.n_samples)
    rng = np.random.default_rng(random_state)
    steps = ["predict", "confusion", "errors", "shap", "importance", "effects", "failures",
             "plots", "local", "quality"]  # fmt: skip
    bar = tqdm(total=len(steps), desc="whybox audit", disable=not progress, leave=False)
    try:
        timings: dict[str, float] = {}
        current = ["", time.perf_counter()]

        def step(name: str) -> None:
            now = time.perf_counter()
            timings[current[0]] = timings.get(current[0], 0.0) + now - current[1]
            current[:] = [name, now]
            bar.set_postfix_str(name)

        step("predict")
        if m.task == "classification":
            y = _labels_match(m, y)
            pred = m.predict_label(data.values)
        else:
            y = y.astype(np.float64)
            pred = m.predict(data.values)[:, 0]
        if row_list is None:
            row_list = _default_rows(m, data, y, pred)
        display = {str(c): str(n) for c, n in zip(m.classes, class_names or m.classes, strict=True)} if m.task == "classification" else {}  # fmt: skip
        sections = [_performance(m, data, y, pred)]
        bar.update()

        results: dict[str, Any] = {}
        if m.task == "classification":
            step("confusion")
            section, results["confusion"] = _confusion_sections(m.classes, y, pred, class_names)
            sections.append(section)
        bar.update()
        step("errors")
        section, results["errors"] = _error_section(m, data, y, display)
        sections.append(section)
        bar.update()

        step("shap")
        explained = np.union1d(_sample(data.n_samples, _MAX_EXPLAINED_ROWS, rng), row_list)
        # Tree models get path-dependent TreeSHAP (no background needed, exact and fast);
        # other models interventional SHAP values against a sample of the audited rows.
        background = None
        if not is_tree_model(m):
            background = data.take(_sample(data.n_samples, _BACKGROUND_ROWS, rng))
        ex = explain(
            m,
            data.take(explained),
            background=background,
            random_state=random_state,
            max_evals=max(_KERNEL_EVALS, 4 * data.n_features),
            progress=False if not progress else None,
        )
        results["explanation"] = ex
        bar.update()

        step("importance")
        # log loss for classifiers: a proper score that moves with every probability,
        # where accuracy only moves when a label flips
        scoring = "neg_log_loss" if m.task == "classification" else "r2"
        perm = permutation_importance(
            m, data, y, scoring=scoring, n_repeats=5, random_state=random_state,
            max_samples=min(data.n_samples, _MAX_IMPORTANCE_ROWS),
        )  # fmt: skip
        results["permutation_importance"] = perm
        bar.update()

        units = _units(m, ex, data)
        importance, table, results["importance_comparison"] = _importance_section(
            m, data, y, ex, perm, units
        )
        top = table.index[:_TOP_FEATURES].tolist()
        step("effects")
        effects, results["effects"] = effects_section(m, data, top, rng, random_state)
        bar.update()
        step("failures")
        failures, results["failures"] = failures_section(m, data, y, rng, random_state)
        bar.update()

        step("plots")
        sections.append(failures)
        sections.append(importance)
        sections.append(_shap_section(ex, top, units))
        sections.append(effects)
        if sensitive_frame is not None:
            section, results["fairness"] = fairness_section(
                m, data, y, pred, ex, explained, sensitive_frame, sensitive_inputs, random_state
            )
            sections.append(section)
        bar.update()
        step("local")
        positions = {int(r): i for i, r in enumerate(explained)}
        lime_ex = LimeTabularExplainer(m, data, random_state=random_state)(data.take(row_list))
        anchors = None
        if m.task == "classification":
            anchor_explainer = AnchorTabular(m, data, random_state=random_state)
            anchors = [anchor_explainer.explain(data.values[r]) for r in row_list]
        reasons = cfs = None
        if m.task == "classification" and len(m.classes) == 2:
            reasons = reason_codes(
                ex, rows=[positions[r] for r in row_list], k=min(4, data.n_features)
            )
            # a sensitive attribute the model takes is never a lever of a counterfactual
            cfs = CounterfactualExplainer(
                m, data, immutable=sensitive_inputs, random_state=random_state
            )(data.take(row_list), n_counterfactuals=3, random_state=random_state)
            results["reason_codes"], results["counterfactuals"] = reasons, cfs
        sections.append(
            _local_section(
                m, ex, positions, row_list, y, pred, display, units, lime_ex, anchors, reasons, cfs
            )
        )
        bar.update()
        step("quality")

        # stability and sanity: the SHAP values of other rows (or of a refitted model), with
        # the same explainer settings
        def explain_fn(rows: Any, model: Any = m) -> Explanation:
            return explain(
                model, rows, background=background, random_state=random_state,
                max_evals=max(_KERNEL_EVALS, 4 * data.n_features), progress=False,
            )  # fmt: skip

        def lime_factory(seed: int) -> Any:
            return LimeTabularExplainer(m, data, random_state=seed)

        section, results["quality"] = quality_section(
            m, data, ex, lime_ex, ex[[positions[r] for r in row_list]], data.take(row_list), units,
            explain_fn, lime_factory, random_state, y,
        )  # fmt: skip
        sections.append(section)
        bar.update()
    finally:
        # closed on every exit, so an error is not printed inside the bar
        bar.close()
    step("")

    meta = {
        "subtitle": source or "model audit",
        "model": type(m.estimator).__name__,
        "task": m.task,
        "outputs": ", ".join(m.output_names),
        "rows": data.n_samples,
        "features": data.n_features,
        "explainer": ex.method,
        "random_state": random_state,
        "whybox version": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "audit time (s)": round(time.perf_counter() - t0, 2),
        "explanation quality checks (s)": round(timings["quality"], 2),
    }
    return Report("whybox audit", meta, tuple(sections), results)
