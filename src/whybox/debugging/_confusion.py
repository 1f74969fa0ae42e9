"""Confusion analysis: the confusion matrix and the per-class metrics read from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import is_dask_collection
from whybox.debugging._results import ConfusedPair, ConfusionAnalysis


def _as_label_vector(y: Any, name: str) -> np.ndarray:
    """A 1-D label array from a list, array, Series or one-column DataFrame.

    Raises
    ------
    InputError
        If ``y`` is not one-dimensional, is empty or holds a missing value.
    """
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InputError(
                f"{name} must be one column of labels but is a DataFrame with {y.shape[1]} "
                "columns; pass the target column, e.g. df['label']."
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        arr = y.to_numpy(dtype=object) if not pd.api.types.is_numeric_dtype(y) else y.to_numpy()
    else:
        try:
            arr = np.asarray(y)
            if arr.dtype.kind in "US" and not isinstance(y, np.ndarray):
                # numpy turns [0, "a"] into strings; keep the given types to catch the mix
                if not all(isinstance(v, (str, np.str_)) for v in y):
                    arr = np.asarray(y, dtype=object)
        except Exception as exc:
            raise InputError(
                f"{name} could not be read as a 1-D array of labels ({exc}); give a list, "
                "array or pandas Series."
            ) from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(
            f"{name} must be 1-D (n_samples,) but has shape {arr.shape}; pass one label per row."
        )
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty; give at least one label.")
    missing = pd.isna(arr)
    if np.any(missing):
        raise InputError(
            f"{name} has {int(np.sum(missing))} missing labels (NaN/None) at rows "
            f"{np.flatnonzero(missing)[:5].tolist()}; drop those rows or fill them in."
        )
    return arr


def _sorted_labels(*arrays: np.ndarray) -> list[Any]:
    """The sorted union of the labels in ``arrays``, as Python scalars."""
    seen: set[Any] = set()
    for a in arrays:
        seen.update(a.tolist())
    try:
        return sorted(seen)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in seen})
        raise InputError(
            f"the labels mix types {kinds} that cannot be ordered; give labels of one type "
            "(e.g. all strings) or pass labels= in the order to show."
        ) from None


def _encode(y: np.ndarray, labels: pd.Index, name: str) -> np.ndarray:
    """Positions of ``y``'s labels in ``labels``.

    Raises
    ------
    InputError
        If a label of ``y`` is not in ``labels``.
    """
    codes = labels.get_indexer(pd.Index(y.tolist() if y.dtype == object else y, dtype=object))
    if np.any(codes < 0):
        unknown = list(dict.fromkeys(np.asarray(y, dtype=object)[codes < 0].tolist()))[:5]
        raise InputError(
            f"{name} holds labels {unknown} that are not in labels {list(labels)[:10]}; add "
            "them to labels or leave labels out to use every label found."
        )
    return codes.astype(np.intp)


def _check_labels(labels: Any) -> list[Any] | None:
    """``labels`` as a list of distinct classes, or None.

    Raises
    ------
    InputError
        If ``labels`` is a string, empty or repeats a class.
    """
    if labels is None:
        return None
    if isinstance(labels, (str, bytes)):
        raise InputError(
            f"labels must be a sequence of classes, got the string {labels!r}; "
            f"pass a list such as [{labels!r}]."
        )
    classes = list(np.asarray(labels, dtype=object).tolist())
    if len(classes) == 0:
        raise InputError("labels is empty; give at least one class or leave labels out.")
    if len(set(classes)) != len(classes):
        dup = sorted({str(c) for c in classes if classes.count(c) > 1})
        raise InputError(f"labels repeats the classes {dup}; give each class once.")
    return classes


def confusion_analysis(
    y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None
) -> ConfusionAnalysis:
    """Count a classifier's predictions by true and predicted class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        The true labels: a list, numpy array or pandas Series (numbers, strings or
        booleans); or a dask Array/Series (with a dask ``y_pred``): pairs counted per
        partition on the workers, the counts added exactly on the client.
    y_pred : array-like of shape (n_samples,)
        The predicted labels, of the same kind as ``y_true``.
    labels : sequence, optional
        The classes in the order of the matrix. Default: every label found in
        ``y_true`` or ``y_pred``, sorted. A class listed here but never seen gets
        a row and a column of zeros.

    Returns
    -------
    ConfusionAnalysis
        Counts (rows: true class), the row-normalised matrix, per-class precision,
        recall, F1 and support (equal to
        ``sklearn.metrics.precision_recall_fscore_support(..., zero_division=0)``),
        accuracy and the most-confused pairs.

    Raises
    ------
    InputError
        If the inputs are not 1-D, are empty, differ in length, hold missing
        labels, mix label types that cannot be ordered, or hold a label missing from
        ``labels``; or if ``labels`` is empty or repeats a class.

    Notes
    -----
    Computed here from the counts: precision ``TP / (TP + FP)``, recall
    ``TP / (TP + FN)``, F1 ``2 TP / (2 TP + FP + FN)``, each 0 when its
    denominator is 0 (no warning is raised).

    References
    ----------
    .. [1] C. J. van Rijsbergen, "Information Retrieval", 2nd ed., 1979 (the F
       measure).
    .. [2] scikit-learn, ``sklearn.metrics.confusion_matrix`` and
       ``precision_recall_fscore_support``: the conventions followed here (rows are
       the true class; ``zero_division=0``).
    """
    if is_dask_collection(y_true) or is_dask_collection(y_pred):
        from whybox.distributed import confusion_counts

        classes, matrix = confusion_counts(y_true, y_pred, _check_labels(labels))
        return _analysis_from_matrix(matrix, tuple(str(c) for c in classes))
    t = _as_label_vector(y_true, "y_true")
    p = _as_label_vector(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise InputError(
            f"y_true has {t.shape[0]} labels but y_pred has {p.shape[0]}; give one "
            "prediction per true label."
        )
    classes = _check_labels(labels)
    if classes is None:
        classes = _sorted_labels(t, p)
    index = pd.Index(classes, dtype=object)
    ti = _encode(t, index, "y_true")
    pi = _encode(p, index, "y_pred")
    k = len(classes)
    matrix = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k).astype(np.int64)
    return _analysis_from_matrix(matrix, tuple(str(c) for c in classes))


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _analysis_from_matrix(matrix: np.ndarray, labels: tuple[str, ...]) -> ConfusionAnalysis:
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    normalized = _safe_divide(matrix, support[:, None])
    total = matrix.sum()
    accuracy = float(tp.sum() / total) if total else 0.0
    off = ~np.eye(len(labels), dtype=bool) & (matrix > 0)
    ti, pi = np.nonzero(off)
    counts = matrix[ti, pi]
    shares = normalized[ti, pi]
    order = np.lexsort((pi, ti, -shares, -counts))
    pairs = tuple(
        ConfusedPair(labels[ti[o]], labels[pi[o]], int(counts[o]), float(shares[o])) for o in order
    )
    metrics = (precision, recall, f1, support.astype(np.int64))
    return ConfusionAnalysis(labels, matrix, normalized, *metrics, accuracy, pairs)
