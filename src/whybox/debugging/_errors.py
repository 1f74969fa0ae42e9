"""Error analysis: which rows a model gets wrong and what sets them apart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from whybox._exceptions import InputError
from whybox._utils import check_int
from whybox.adapters import Dataset
from whybox.debugging._common import labelled_rows, regression_predictions, residual_summary
from whybox.debugging._confusion import _analysis_from_matrix
from whybox.debugging._results import (
    ClassificationCase,
    ErrorAnalysis,
    FeatureBins,
    FeatureShift,
    RegressionCase,
)


def error_analysis(
    model: Any, X: Any, y: Any, *, top_k: int = 10, n_bins: int = 5
) -> ErrorAnalysis:
    """Find the rows a model gets wrong and the features that set them apart.

    Parameters
    ----------
    model : object
        A fitted classifier or regressor that :func:`whybox.adapters.adapt_model`
        accepts (scikit-learn estimator or pipeline, XGBoost, LightGBM, callable).
    X : ndarray of shape (n_samples, n_features) or DataFrame
        The rows to score, with the columns the model was fitted on. Missing values
        (NaN) are allowed where the model accepts them; the statistics ignore them.
    y : array-like of shape (n_samples,)
        The true targets: class labels (numbers or strings, as the model's
        ``classes_``) for a classifier, numbers for a regressor.
    top_k : int, default=10
        How many rows to list in each table of cases.
    n_bins : int, default=5
        Regression only: quantile bins per numeric feature for the error-by-bin
        table (fewer when a feature has fewer distinct values).

    Returns
    -------
    ErrorAnalysis
        Classification: accuracy overall and by true class, the most confident
        errors, the least confident correct predictions, and the features ranked by
        how differently they are distributed among errors and correct rows.
        Regression: MAE, RMSE, R^2 and bias, the largest absolute errors, MAE by
        feature bin, and the same feature ranking with "error" meaning an absolute
        error in the top decile.

    Raises
    ------
    InputError
        If ``X`` does not fit the model, ``y`` has the wrong length or missing
        values, a classifier's ``y`` holds classes the model does not know, a
        regressor's ``y`` is not numeric, or ``top_k``/``n_bins`` is not a positive
        integer.
    UnsupportedModelError
        If the model is not one whybox can call.

    Notes
    -----
    Effect sizes, computed here: for a numeric feature the standardised mean
    difference (Cohen's d with the pooled standard deviation) and the two-sample
    Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``); for a categorical
    feature Cramér's V of the errors-by-category table and the total variation
    distance between the two category distributions. Features are ranked by the
    Kolmogorov-Smirnov statistic or the total variation distance, which share the
    [0, 1] scale (both are a largest or total difference of two distributions).

    References
    ----------
    .. [1] J. Cohen, "Statistical Power Analysis for the Behavioral Sciences",
       2nd ed., 1988 (the standardised mean difference d).
    .. [2] N. Smirnov, "Table for estimating the goodness of fit of empirical
       distributions", Annals of Mathematical Statistics 19(2), 1948 (the
       two-sample Kolmogorov-Smirnov statistic).
    .. [3] H. Cramér, "Mathematical Methods of Statistics", 1946 (Cramér's V).
    .. [4] B. Nushi, E. Kamar, E. Horvitz, "Towards Accountable AI: Hybrid
       Human-Machine Analyses for Characterizing System Failure", HCOMP 2018
       (error analysis by comparing failing and succeeding rows).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from whybox.debugging import error_analysis
    >>> X = np.random.default_rng(1).random((1000, 2))
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> y = np.where(X[:, 1] > 0.8, 1 - y, y)  # the labels flip where x1 > 0.8
    >>> model = LogisticRegression().fit(X, y)
    >>> result = error_analysis(model, X, y, top_k=3)
    >>> result.task, result.n_errors, result.cases_frame().shape
    ('classification', 217, (6, 5))
    >>> result.feature_shifts[0].feature  # the errors differ most in x1
    'x1'
    """
    top_k = check_int(top_k, "top_k", 1, "top_k=10")
    n_bins = check_int(n_bins, "n_bins", 1, "n_bins=5")
    m, data, y_arr = labelled_rows(model, X, y, "give one target per row of X.")
    params = {"top_k": top_k, "n_bins": n_bins}
    if m.task == "classification":
        return _classification(m, data, y_arr, top_k, params)
    return _regression(m, data, y_arr, top_k, n_bins, params)


# ---------------------------------------------------------------------- classification
def _classification(
    m: Any, data: Dataset, y: np.ndarray, top_k: int, params: dict[str, Any]
) -> ErrorAnalysis:
    classes = np.asarray(m.classes)
    index = pd.Index(classes.tolist(), dtype=object)
    y_codes = index.get_indexer(pd.Index(y.tolist(), dtype=object))
    if np.any(y_codes < 0):
        unknown = list(dict.fromkeys(y[y_codes < 0].tolist()))[:5]
        raise InputError(
            f"y holds labels {unknown} that the model does not know (its classes are "
            f"{classes.tolist()[:10]}); give y in the model's class labels."
        )
    proba = m.predict_proba_all(data)
    pred_codes = index.get_indexer(pd.Index(m.predict_label(data).tolist(), dtype=object))
    confidence = proba[np.arange(len(pred_codes)), pred_codes]
    names = [str(c) for c in classes]
    correct = pred_codes == y_codes
    is_error = ~correct
    n = data.n_samples
    present = np.unique(y_codes)
    support = np.array([(y_codes == c).sum() for c in present], dtype=np.int64)
    class_acc = np.array([correct[y_codes == c].mean() for c in present], dtype=np.float64)

    def cases(rows: np.ndarray) -> tuple[ClassificationCase, ...]:
        return tuple(
            ClassificationCase(
                int(r), names[y_codes[r]], names[pred_codes[r]], float(confidence[r])
            )
            for r in rows
        )

    err_rows = np.flatnonzero(is_error)
    err_rows = err_rows[np.argsort(-confidence[err_rows], kind="stable")][:top_k]
    ok_rows = np.flatnonzero(correct)
    ok_rows = ok_rows[np.argsort(confidence[ok_rows], kind="stable")][:top_k]
    notes = []
    if len(present) == 1:
        notes.append(f"y holds a single class ({names[present[0]]!r}).")
    if not is_error.any():
        notes.append("No errors: every prediction is correct, so there is nothing to compare.")
    elif correct.sum() == 0:
        notes.append("Every prediction is wrong: there are no correct rows to compare with.")
    shifts = _feature_shifts(data, is_error)
    return ErrorAnalysis(
        task="classification",
        n_samples=n,
        is_error=is_error,
        error_definition="the predicted class differs from the true class",
        feature_shifts=shifts,
        notes=tuple(notes),
        feature_names=data.feature_names,
        accuracy=float(correct.mean()),
        classes=tuple(names[c] for c in present),
        class_accuracy=class_acc,
        class_support=support,
        confusion=_analysis_from_matrix(
            np.bincount(y_codes * len(names) + pred_codes, minlength=len(names) ** 2)
            .reshape(len(names), len(names))
            .astype(np.int64),
            tuple(names),
        ),
        high_confidence_errors=cases(err_rows),
        low_confidence_correct=cases(ok_rows),
        params=params,
    )


# ---------------------------------------------------------------------- regression
def _regression(
    m: Any, data: Dataset, y: np.ndarray, top_k: int, n_bins: int, params: dict[str, Any]
) -> ErrorAnalysis:
    y_num, pred = regression_predictions(
        m, data, y, "error_analysis", "pass the numeric target (or a classifier for class labels)."
    )
    resid = pred - y_num
    abs_err = np.abs(resid)
    summary = residual_summary(y_num, pred)
    order = np.argsort(-abs_err, kind="stable")[:top_k]
    largest = tuple(
        RegressionCase(int(r), float(y_num[r]), float(pred[r]), float(resid[r])) for r in order
    )
    threshold = float(np.quantile(abs_err, 0.9))
    is_error = abs_err >= threshold if threshold > 0 else abs_err > 0
    notes = []
    if not np.any(abs_err > 0):
        notes.append(
            "No errors: every prediction equals its target, so there is nothing to compare."
        )
    elif is_error.all():
        notes.append(
            "Every row's absolute error reaches the top-decile threshold: there are no "
            "small-error rows to compare with."
        )
    bins = _error_bins(data, abs_err, summary.mae, n_bins)
    return ErrorAnalysis(
        task="regression",
        n_samples=data.n_samples,
        is_error=is_error,
        error_definition=f"absolute error in the top decile (>= {threshold:.4g})",
        feature_shifts=_feature_shifts(data, is_error),
        notes=tuple(notes),
        feature_names=data.feature_names,
        residuals=summary,
        largest_errors=largest,
        error_threshold=threshold,
        feature_bins=bins,
        params=params,
    )


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _numeric_column(data: Dataset, j: int) -> np.ndarray:
    col = data.values[:, j]
    if col.dtype == object:
        return np.asarray(pd.to_numeric(pd.Series(col), errors="coerce"), dtype=np.float64)
    return col.astype(np.float64)


def _error_bins(
    data: Dataset, abs_err: np.ndarray, overall_mae: float, n_bins: int
) -> tuple[FeatureBins, ...]:
    out = []
    for j, name in enumerate(data.feature_names):
        if data.categorical[j]:
            col = pd.Series(data.values[:, j], dtype=object)
            keep = col.notna().to_numpy()
            try:
                codes, uniques = pd.factorize(col[keep], sort=True)
            except TypeError:  # categories of mixed types keep their order of appearance
                codes, uniques = pd.factorize(col[keep], sort=False)
            labels = tuple(str(u) for u in uniques)
            idx = codes
        else:
            x = _numeric_column(data, j)
            keep = ~np.isnan(x)
            xk = x[keep]
            if xk.size == 0:
                continue
            distinct = np.unique(xk)
            if distinct.size <= n_bins:
                idx = np.searchsorted(distinct, xk)
                labels = tuple(_fmt(v) for v in distinct)
            else:
                edges = np.unique(np.quantile(xk, np.linspace(0, 1, n_bins + 1)))
                idx = np.searchsorted(edges[1:-1], xk, side="right")
                labels = tuple(
                    f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}{']' if i == len(edges) - 2 else ')'}"
                    for i in range(len(edges) - 1)
                )
        if len(labels) == 0:
            continue
        err = abs_err[keep]
        count = np.bincount(idx, minlength=len(labels)).astype(np.int64)
        total = np.bincount(idx, weights=err, minlength=len(labels))
        mae = np.divide(total, count, out=np.full(len(labels), np.nan), where=count > 0)
        worst = int(np.nanargmax(mae)) if np.any(count > 0) else 0
        ratio = float(mae[worst] / overall_mae) if overall_mae > 0 else float("nan")
        out.append(FeatureBins(name, labels, count, mae, worst, ratio))
    key = [(-b.worst_ratio if np.isfinite(b.worst_ratio) else np.inf) for b in out]
    order = np.argsort(np.asarray(key, dtype=np.float64), kind="stable")
    return tuple(out[i] for i in order)


# ---------------------------------------------------------------------- effect sizes
def _cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = a.size, b.size
    if na + nb <= 2:
        return float("nan")
    va = a.var(ddof=1) if na > 1 else 0.0
    vb = b.var(ddof=1) if nb > 1 else 0.0
    pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    if pooled == 0:
        return float("nan")
    return float((a.mean() - b.mean()) / pooled)


def _numeric_shift(name: str, x: np.ndarray, is_error: np.ndarray) -> FeatureShift:
    a = x[is_error & ~np.isnan(x)]
    b = x[~is_error & ~np.isnan(x)]
    if a.size == 0 or b.size == 0:
        return FeatureShift(name, "numeric", float("nan"), int(a.size), int(b.size))
    ks = stats.ks_2samp(a, b)
    return FeatureShift(
        name,
        "numeric",
        effect=float(ks.statistic),
        n_errors=int(a.size),
        n_rest=int(b.size),
        cohens_d=_cohens_d(a, b),
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        mean_errors=float(a.mean()),
        mean_rest=float(b.mean()),
    )


def _categorical_shift(name: str, col: np.ndarray, is_error: np.ndarray) -> FeatureShift:
    s = pd.Series(col, dtype=object)
    keep = s.notna().to_numpy()
    codes, uniques = pd.factorize(s[keep], sort=False)
    err = is_error[keep]
    k = len(uniques)
    table = np.zeros((2, max(k, 1)), dtype=np.float64)
    if k:
        np.add.at(table, (err.astype(np.intp), codes), 1.0)
    n_rest, n_err = table.sum(axis=1)
    if n_err == 0 or n_rest == 0:
        return FeatureShift(name, "categorical", float("nan"), int(n_err), int(n_rest))
    p_err, p_rest = table[1] / n_err, table[0] / n_rest
    tvd = 0.5 * float(np.abs(p_err - p_rest).sum())
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(np.sum((table - expected) ** 2 / expected)) if k > 1 else 0.0
    cramers_v = float(np.sqrt(chi2 / n)) if k > 1 else 0.0
    return FeatureShift(
        name,
        "categorical",
        effect=tvd,
        n_errors=int(n_err),
        n_rest=int(n_rest),
        cramers_v=cramers_v,
        tvd=tvd,
        top_category=str(uniques[int(np.argmax(p_err - p_rest))]),
    )


def _feature_shifts(data: Dataset, is_error: np.ndarray) -> tuple[FeatureShift, ...]:
    if not is_error.any() or is_error.all():
        return ()
    shifts = []
    for j, name in enumerate(data.feature_names):
        if data.categorical[j]:
            shifts.append(_categorical_shift(name, data.values[:, j], is_error))
        else:
            shifts.append(_numeric_shift(name, _numeric_column(data, j), is_error))
    key = np.array([-s.effect if np.isfinite(s.effect) else np.inf for s in shifts])
    return tuple(shifts[i] for i in np.argsort(key, kind="stable"))
