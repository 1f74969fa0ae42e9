"""The audit's performance sums over a dask X: each partition scores its rows on its
worker and the client merges the pieces, so every metric that is a sum over rows
(accuracy, balanced accuracy, log loss; R², MAE, RMSE) is computed over all rows
without bringing them to one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.distributed._reduce import _aligned, _compute, _once, _parts, _same_length, _vector

__all__ = ["performance_sums"]


def _performance_part(m: Any, X: Any, y: Any, k: int) -> dict[str, Any]:
    """The pieces of partition ``k``: a classifier's confusion matrix (model classes,
    rows: true class) and sum of log losses; a regressor's row count, mean and centred
    sum of squares of y, and sums of absolute and squared residuals."""
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    y_arr = _vector(y, "y")
    _same_length(y_arr, np.empty(data.n_samples), "y", "X", k)
    values = data.values
    if m.task == "classification":
        n_classes = len(m.classes)
        codes = m.class_codes(y_arr)
        # the audit's own rules: predict_label for the labels, predict_proba_all for the loss
        predicted = m.class_codes(m.predict_label(values))
        matrix = np.bincount(codes * n_classes + predicted, minlength=n_classes * n_classes)
        proba = m.predict_proba_all(values)
        eps = np.finfo(proba.dtype).eps
        p_true = np.clip(proba[np.arange(len(codes)), codes], eps, 1 - eps)
        return {
            "n": int(len(codes)),
            "matrix": matrix.reshape(n_classes, n_classes).astype(np.int64),
            "log_loss_sum": float(-np.sum(np.log(p_true))),
        }
    try:
        yf = np.asarray(y_arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"y must hold numbers for a regressor, but partition {k} holds "
            f"{type(y_arr[0]).__name__} values; give the numeric target column."
        ) from None
    residual = yf - m.predict(values)[:, 0]
    mean = float(yf.mean()) if len(yf) else 0.0
    return {
        "n": int(len(yf)),
        "mean": mean,
        "m2": float(np.sum((yf - mean) ** 2)),
        "abs_sum": float(np.sum(np.abs(residual))),
        "sq_sum": float(np.sum(residual**2)),
    }


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Pieces of two disjoint row sets added (the mean and centred sum of squares of y
    by Chan's rule)."""
    if "matrix" in a:
        return {
            "n": a["n"] + b["n"],
            "matrix": a["matrix"] + b["matrix"],
            "log_loss_sum": a["log_loss_sum"] + b["log_loss_sum"],
        }
    n = a["n"] + b["n"]
    if n == 0:
        return dict(a)
    delta = b["mean"] - a["mean"]
    return {
        "n": n,
        "mean": a["mean"] + delta * b["n"] / n,
        "m2": a["m2"] + b["m2"] + delta**2 * a["n"] * b["n"] / n,
        "abs_sum": a["abs_sum"] + b["abs_sum"],
        "sq_sum": a["sq_sum"] + b["sq_sum"],
    }


def performance_sums(model: Any, X: Any, y: Any) -> dict[str, Any]:
    """The sums behind a model's performance metrics over every row of a dask X.

    Parameters
    ----------
    model : Model
        An adapted model (``whybox.adapters.adapt_model``), sent to the workers once.
    X : dask DataFrame or dask Array of shape (n_samples, n_features)
        The model's input columns.
    y : dask Series or dask Array of shape (n_samples,)
        The true targets, in X's partitions; a classifier's in the model's class labels.

    Returns
    -------
    dict
        A classifier: ``n`` (rows), ``matrix`` (ndarray (n_classes, n_classes) int64, the
        confusion counts in the model's class order, rows the true class, columns the
        label of highest probability) and ``log_loss_sum`` (the sum over rows of
        ``-log(clip(p_true, eps, 1 - eps))``, sklearn's ``log_loss`` times ``n``). A
        regressor: ``n``, ``mean`` and ``m2`` (the mean and centred sum of squares of y,
        merged by Chan's rule), ``abs_sum`` and ``sq_sum`` (sums of absolute and squared
        residuals of ``model.predict``). Counts are exact; float sums agree with the
        in-memory ones to rounding.

    Raises
    ------
    InputError
        ``y`` in other partitions than X, missing labels, labels the model does not
        know, a non-numeric regression target, or an empty X.
    """
    import dask

    xp = _parts(X, "X")
    yp = _aligned(X, "X", y, "y")
    key = _once(model)
    pieces = _compute(
        [
            dask.delayed(_performance_part)(key, xk, yk, k)
            for k, (xk, yk) in enumerate(zip(xp, yp, strict=True))
        ]
    )
    total = pieces[0]
    for piece in pieces[1:]:
        total = _merge(total, piece)
    if total["n"] == 0:
        raise InputError("X has no rows; give at least one labelled row.")
    return total
