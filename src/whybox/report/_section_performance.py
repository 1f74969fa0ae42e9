"""The audit's "Model performance" section."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.report._context import AuditContext
from whybox.report._inputs import sample_rows
from whybox.report._report import Section, Table

_MAX_TRAIN_SCORED = 10000  # training rows scored for the training performance
SAMPLE_SUFFIX = " (sample)"  # a metric's name when it was computed on the sample of a dask X


def metrics_table(rows: list[tuple[str, float]]) -> Table:
    """The "Metrics" table: each value to 4 significant digits."""
    return Table("Metrics", ("metric", "value"), tuple((m, float(f"{v:.4g}")) for m, v in rows))


def _metrics(model: Any, values: np.ndarray, y: np.ndarray, pred: np.ndarray) -> list:
    """(name, value) of each metric of ``pred`` (and the probabilities of ``values``)
    against ``y``."""
    from sklearn import metrics

    rows: list[tuple[str, float]] = []
    if model.task == "classification":
        proba = model.predict_proba_all(values)
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
    else:
        yf = y.astype(float)
        rows.append(("R²", metrics.r2_score(yf, pred)))
        rows.append(("mean absolute error", metrics.mean_absolute_error(yf, pred)))
        rows.append(
            ("root mean squared error", float(np.sqrt(metrics.mean_squared_error(yf, pred))))
        )
    return rows


def _training_table(
    held_out: list[tuple[str, float]], training: list[tuple[str, float]], n_train: int
) -> Table:
    """The training scores beside the held-out ones and their gap (training - held-out)."""
    train = dict(training)
    rows = []
    for name, value in held_out:
        t = train.get(name.removesuffix(SAMPLE_SUFFIX))
        rows.append(
            (
                name,
                None if t is None else float(f"{t:.4g}"),
                float(f"{value:.4g}"),
                None if t is None else float(f"{t - value:.4g}"),
            )
        )
    return Table(
        "Training and held-out performance",
        ("metric", "training", "held-out", "gap (training - held-out)"),
        tuple(rows),
        caption=f"the same metrics on {n_train} training rows (y_train) and on the audited "
        "rows; a training score much better than the held-out one (accuracy, AUC or R² "
        "higher, a loss or error lower) is the mark of overfitting",
    )


def performance_section(context: AuditContext) -> Section:
    """Accuracy, balanced accuracy, ROC AUC and log loss (classification), or R², MAE and
    RMSE (regression), on the audited rows; with training targets, the same metrics on
    (up to 10,000 sampled) training rows beside them, and the gap."""
    model, y, pred = context.model, context.y, context.pred
    full = context.full
    if full is None:
        rows = _metrics(model, context.data.values, y, pred)
        n_scored, table = len(y), metrics_table(rows)
    else:  # a dask X: the sums over all rows, computed on the cluster
        rows, n_scored = full.metrics, full.n_rows
        table = metrics_table(rows)
        table = Table(
            table.title, table.columns, table.rows,
            caption=f"on all {full.n_rows} rows"
            + (
                f"; ROC AUC, which is not a sum over rows, on the sample of {full.n_sample} rows"
                if any(name.startswith("ROC AUC") for name, _ in rows)
                else ""
            ),
        )  # fmt: skip
    if model.task == "classification":
        summary = f"Accuracy {rows[0][1]:.3f} on {n_scored} rows."
    else:
        summary = f"R² {rows[0][1]:.3f}, MAE {rows[1][1]:.4g} on {n_scored} rows."
    blocks: list[Table] = [table]
    results: dict[str, Any] = {}
    train, y_train = context.train, context.y_train
    if train is not None and y_train is not None:
        scored = sample_rows(train.n_samples, _MAX_TRAIN_SCORED, context.rng)
        values, y_scored = train.values[scored], y_train[scored]
        if model.task == "classification":
            train_pred = model.predict_label(values)
        else:
            train_pred = model.predict(values)[:, 0]
        training = _metrics(model, values, y_scored, train_pred)
        blocks.append(_training_table(rows, training, len(scored)))
        name, held_out_value = rows[0]
        train_value = dict(training)[name]
        summary += (
            f" On {len(scored)} training rows {name} is {train_value:.3f} (gap "
            f"{train_value - held_out_value:+.3f})."
        )
        results["training_performance"] = dict(training)
    return Section("performance", "Model performance", tuple(blocks), summary, results=results)
