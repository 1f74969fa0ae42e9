"""The audit's "Model performance" section."""

from __future__ import annotations

import numpy as np

from whybox.report._context import AuditContext
from whybox.report._report import Section, Table


def metrics_table(rows: list[tuple[str, float]]) -> Table:
    """The "Metrics" table: each value to 4 significant digits."""
    return Table("Metrics", ("metric", "value"), tuple((m, float(f"{v:.4g}")) for m, v in rows))


def performance_section(context: AuditContext) -> Section:
    """Accuracy, balanced accuracy, ROC AUC and log loss (classification), or R², MAE and
    RMSE (regression), on the audited rows."""
    from sklearn import metrics

    model, y, pred = context.model, context.y, context.pred
    rows: list[tuple[str, float]] = []
    if model.task == "classification":
        proba = model.predict_proba_all(context.data.values)
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
    return Section("performance", "Model performance", (metrics_table(rows),), summary)
