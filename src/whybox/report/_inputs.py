"""The audit's input checks: labels, rows, enough data, and the rows chosen by default.

A leaf of ``whybox.report``: both the tabular audit and the image audit use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import shorten
from whybox.adapters import Dataset, Model, adapt_data

MIN_ROWS = 10
"""The fewest rows every step of the audit needs (ALE's bootstrap band: 10)."""


def check_target(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n_rows`` values without missing ones."""
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


def check_rows(rows: Sequence[int] | None, n_rows: int) -> list[int] | None:
    """``rows`` as distinct row positions in ``0..n_rows - 1`` (None stays None)."""
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


def check_enough(m: Model, y: np.ndarray, n_rows: int) -> None:
    """Refuse data too small to audit, a classifier's target with a single class and a
    constant regression target."""
    if n_rows < MIN_ROWS:
        raise InputError(
            f"the audit needs at least {MIN_ROWS} labelled rows, got {n_rows}; give more "
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


def labels_match(model: Model, y: np.ndarray) -> np.ndarray:
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


def default_rows(model: Model, data: Dataset, y: np.ndarray, pred: np.ndarray) -> list[int]:
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


def sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``0..n - 1`` when ``n <= size``, else ``size`` of them, sorted, drawn by ``rng``."""
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def round4(v: Any) -> Any:
    """A float to 4 significant digits (for tables); anything else as it is."""
    return float(f"{v:.4g}") if isinstance(v, (float, np.floating)) else v


def _kind(categorical: bool) -> str:
    return "text or categorical" if categorical else "numeric"


def check_train(
    m: Model, X: Any, X_train: Any, y_train: Any, ignored: Sequence[str] = ()
) -> tuple[Dataset | None, np.ndarray | None]:
    """The training rows in the model's column order and their targets (or None).

    ``X_train`` must hold the columns of ``X`` (the model's input, after the sensitive
    attributes the model does not take were split off), with the same kind (numeric, or
    text/categorical) each; the ``ignored`` columns (those attributes) are dropped from
    ``X_train`` when it has them. ``y_train`` needs ``X_train`` and one value per row.
    """
    if X_train is None:
        if y_train is not None:
            raise InputError(
                "y_train was given without X_train; give the training rows as X_train too, "
                "or leave y_train out."
            )
        return None, None
    if isinstance(X_train, pd.DataFrame) and ignored:
        X_train = X_train.drop(columns=[c for c in ignored if c in X_train.columns])
    audited = adapt_data(X, name="X")
    train = adapt_data(X_train, name="X_train")
    kinds = dict(zip(audited.feature_names, audited.categorical.tolist(), strict=True))
    train_kinds = dict(zip(train.feature_names, train.categorical.tolist(), strict=True))
    missing = [c for c in audited.feature_names if c not in train_kinds]
    extra = [c for c in train.feature_names if c not in kinds]
    differ = [c for c in audited.feature_names if c in train_kinds and train_kinds[c] != kinds[c]]
    parts = []
    if missing:
        parts.append(f"it lacks {', '.join(shorten(c) for c in missing[:5])}")
    if extra:
        parts.append(f"it has {', '.join(shorten(c) for c in extra[:5])} that X has not")
    if differ:
        c = differ[0]
        parts.append(
            f"{shorten(c)} is {_kind(train_kinds[c])} in X_train but {_kind(kinds[c])} in X"
            + (f" (and {len(differ) - 1} more columns differ in kind)" if len(differ) > 1 else "")
        )
    if parts:
        raise InputError(
            f"X_train must hold the columns of X with the same kinds, but {'; '.join(parts)}; "
            "give the training rows with the audited columns."
        )
    train = m.check_data(train, name="X_train")
    if y_train is None:
        return train, None
    y_train = np.asarray(y_train)
    if y_train.ndim != 1 or len(y_train) != train.n_samples:
        raise InputError(
            f"y_train must hold one target value per row of X_train ({train.n_samples} rows), "
            f"got shape {y_train.shape}; give the training targets in the rows' order."
        )
    n_missing = int(pd.isna(pd.Series(y_train)).sum())
    if n_missing:
        raise InputError(
            f"y_train has {n_missing} missing values; drop those rows from X_train and y_train."
        )
    if m.task == "classification":
        return train, labels_match(m, y_train)
    return train, y_train.astype(np.float64)
