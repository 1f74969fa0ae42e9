"""The audit: one model and one labelled dataset in, one :class:`Report` out.

The audit only orchestrates public library calls (explain, permutation_importance,
confusion_analysis, error_analysis, the plots): whatever it shows, a user can
reproduce with a few lines of the library.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

import whybox
from whybox import plots
from whybox._exceptions import InputError
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.debugging import confusion_analysis, error_analysis
from whybox.inspection import permutation_importance
from whybox.report._report import Figure, Report, Section, Table, Text

_MAX_EXPLAINED_ROWS = 1000
_MAX_IMPORTANCE_ROWS = 5000
_BACKGROUND_ROWS = 100
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
    out = []
    for r in rows:
        if not isinstance(r, (int, np.integer)) or not -n_rows <= r < n_rows:
            raise InputError(
                f"rows must be row positions between 0 and {n_rows - 1}, got {r!r}; "
                "choose rows that exist in the data."
            )
        out.append(int(r) % n_rows)
    return out


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
    unknown = sorted(set(map(str, pd.unique(y))) - set(as_str))[:5]
    raise InputError(
        f"the target holds labels {unknown} that the model does not predict (its classes are "
        f"{[str(c) for c in classes][:10]}); check the --target column."
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
            rows.append(("ROC AUC (one-vs-rest)", metrics.roc_auc_score(y_idx, proba, multi_class="ovr")))
        rows.append(("log loss", metrics.log_loss(y_idx, proba, labels=np.arange(proba.shape[1]))))
        summary = f"Accuracy {rows[0][1]:.3f} on {len(y)} rows."
    else:
        yf = y.astype(float)
        rows.append(("R²", metrics.r2_score(yf, pred)))
        rows.append(("mean absolute error", metrics.mean_absolute_error(yf, pred)))
        rows.append(("root mean squared error", float(np.sqrt(metrics.mean_squared_error(yf, pred)))))
        summary = f"R² {rows[0][1]:.3f}, MAE {rows[1][1]:.4g} on {len(y)} rows."
    table = Table("Metrics", ("metric", "value"), tuple((m, float(f"{v:.4g}")) for m, v in rows))
    return Section("performance", "Model performance", (table,), summary)
