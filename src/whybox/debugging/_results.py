"""Result types of the debugging analyses: plain, frozen, JSON-ready.

No plotting library is imported here; :mod:`whybox.plots` draws these results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import Result


# ---------------------------------------------------------------------- confusion
@dataclass(frozen=True)
class ConfusedPair(Result):
    """One off-diagonal cell of a confusion matrix.

    Attributes
    ----------
    true : str
        The true class (display label).
    predicted : str
        The class predicted instead.
    count : int
        How many rows of class ``true`` were predicted as ``predicted``.
    share : float
        ``count`` divided by the number of rows of class ``true``, in [0, 1].
    """

    true: str
    predicted: str
    count: int
    share: float


@dataclass(frozen=True, eq=False)
class ConfusionAnalysis(Result):
    """A confusion matrix with the per-class metrics read from it.

    Attributes
    ----------
    labels : tuple of str
        The classes, as display strings, in the order of the matrix rows and columns.
    matrix : ndarray of shape (n_classes, n_classes), int64
        ``matrix[i, j]`` counts the rows of true class ``labels[i]`` predicted as
        ``labels[j]`` (rows: true class, columns: predicted class).
    normalized : ndarray of shape (n_classes, n_classes), float64
        ``matrix`` divided by its row sums: row ``i`` is the distribution of the
        predictions for true class ``i``. A class with no rows gives a row of zeros.
    precision : ndarray of shape (n_classes,), float64
        True positives over predicted positives; 0 where a class is never predicted.
    recall : ndarray of shape (n_classes,), float64
        True positives over actual positives; 0 where a class never occurs.
    f1 : ndarray of shape (n_classes,), float64
        Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``; 0 where
        the denominator is 0.
    support : ndarray of shape (n_classes,), int64
        The number of rows of each true class.
    accuracy : float
        The share of rows on the diagonal.
    confused_pairs : tuple of ConfusedPair
        Every non-empty off-diagonal cell, largest count first (ties: larger share
        of the true class first, then matrix order).
    """

    labels: tuple[str, ...]
    matrix: np.ndarray
    normalized: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float
    confused_pairs: tuple[ConfusedPair, ...] = ()

    @property
    def n_samples(self) -> int:
        """The number of rows counted in the matrix."""
        return int(self.matrix.sum())

    def to_frame(self) -> pd.DataFrame:
        """Per-class metrics, one row per class.

        Returns
        -------
        DataFrame of shape (n_classes, 4)
            Index: the class labels; columns ``precision``, ``recall``, ``f1``,
            ``support``.
        """
        return pd.DataFrame(
            {
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "support": self.support,
            },
            index=pd.Index(list(self.labels), name="class"),
        )

    def pairs_frame(self) -> pd.DataFrame:
        """The confused pairs as a table with columns true, predicted, count, share."""
        return pd.DataFrame(
            [vars(p) for p in self.confused_pairs],
            columns=["true", "predicted", "count", "share"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data, with ``n_samples``; :meth:`from_dict` reads
        it back."""
        return super().to_dict() | {"n_samples": self.n_samples}


# ---------------------------------------------------------------------- error analysis
@dataclass(frozen=True)
class ClassificationCase(Result):
    """One row of a classifier's predictions worth looking at.

    Attributes
    ----------
    row : int
        Position of the row in ``X`` (use ``X.iloc[row]`` for a DataFrame).
    true : str
        The true class (display label).
    predicted : str
        The predicted class (display label).
    confidence : float
        The predicted probability of the predicted class, in [0, 1].
    """

    row: int
    true: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class RegressionCase(Result):
    """One row of a regressor's predictions with a large error.

    Attributes
    ----------
    row : int
        Position of the row in ``X``.
    true : float
        The target value.
    predicted : float
        The model's prediction.
    error : float
        The residual ``predicted - true`` (positive: over-prediction).
    """

    row: int
    true: float
    predicted: float
    error: float


@dataclass(frozen=True)
class ResidualSummary(Result):
    """Summary of a regressor's residuals ``predicted - true``.

    Attributes
    ----------
    mae : float
        Mean absolute error.
    rmse : float
        Root mean squared error.
    r2 : float
        Coefficient of determination, as ``sklearn.metrics.r2_score`` computes it
        (1.0 for a perfect fit of a constant target, 0.0 for an imperfect one).
    bias : float
        Mean residual (positive: the model over-predicts on average).
    """

    mae: float
    rmse: float
    r2: float
    bias: float


@dataclass(frozen=True)
class FeatureShift(Result):
    """How differently one feature is distributed among the error rows and the rest.

    Attributes
    ----------
    feature : str
        The feature's name.
    kind : {"numeric", "categorical"}
    effect : float
        The ranking effect size in [0, 1]: the Kolmogorov-Smirnov statistic for a
        numeric feature, the total variation distance between the category
        distributions for a categorical one. NaN when a group has no observed value.
    n_errors, n_rest : int
        Non-missing values in the error group and in the rest.
    cohens_d : float or None
        Numeric only: ``(mean_errors - mean_rest) / pooled standard deviation``
        (positive: larger values among errors). NaN when the pooled deviation is 0.
    ks_statistic, ks_pvalue : float or None
        Numeric only: the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).
    mean_errors, mean_rest : float or None
        Numeric only: the group means.
    cramers_v : float or None
        Categorical only: Cramér's V of the 2 x n_categories contingency table.
    tvd : float or None
        Categorical only: total variation distance, ``0.5 * sum |p_errors - p_rest|``.
    top_category : str or None
        Categorical only: the category whose share grows most among the errors.
    """

    feature: str
    kind: str
    effect: float
    n_errors: int
    n_rest: int
    cohens_d: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    mean_errors: float | None = None
    mean_rest: float | None = None
    cramers_v: float | None = None
    tvd: float | None = None
    top_category: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureShift:
        """Rebuild the shift from :meth:`to_dict`'s output.

        JSON writes NaN and None alike (null); a statistic of the shift's own kind that
        was computed (``ks_statistic`` or ``tvd`` present) reads back null as NaN, the
        other kind's statistics as None.
        """
        out = super().from_dict(d)
        own = _NUMERIC_STATS if out.kind == "numeric" else _CATEGORICAL_STATS
        if getattr(out, own[0]) is None:  # not computed: a group without values
            return out
        nan = {k: float("nan") for k in own if getattr(out, k) is None}
        return dataclasses.replace(out, **nan) if nan else out


_NUMERIC_STATS = ("ks_statistic", "ks_pvalue", "cohens_d", "mean_errors", "mean_rest")
_CATEGORICAL_STATS = ("tvd", "cramers_v")


@dataclass(frozen=True, eq=False)
class FeatureBins(Result):
    """A regressor's mean absolute error in bins of one feature.

    Attributes
    ----------
    feature : str
        The feature's name.
    labels : tuple of str
        One label per bin: ``"[lo, hi)"`` for quantile bins (the last one closed),
        the value itself for a feature with few distinct values or a category.
    count : ndarray of shape (n_bins,), int64
        Rows in each bin (rows where the feature is missing are left out).
    mae : ndarray of shape (n_bins,), float64
        Mean absolute error of the rows in each bin.
    worst_bin : int
        Index of the bin with the largest MAE.
    worst_ratio : float
        ``mae[worst_bin]`` over the overall MAE (NaN when the overall MAE is 0).
    """

    feature: str
    labels: tuple[str, ...]
    count: np.ndarray
    mae: np.ndarray
    worst_bin: int
    worst_ratio: float

    def to_frame(self) -> pd.DataFrame:
        """One row per bin: its label, row count and mean absolute error."""
        return pd.DataFrame({"bin": list(self.labels), "count": self.count, "mae": self.mae})


@dataclass(frozen=True, eq=False)
class ErrorAnalysis(Result):
    """Where and on which rows a model fails.

    Attributes
    ----------
    task : {"classification", "regression"}
    n_samples : int
        Rows analysed.
    is_error : ndarray of shape (n_samples,), bool
        The rows counted as errors: misclassified rows, or for regression the rows
        whose absolute error is in the top decile (see ``error_threshold``).
    error_definition : str
        In words, what ``is_error`` marks.
    feature_shifts : tuple of FeatureShift
        Every feature, ranked by ``effect`` (largest first, undefined last); empty
        when there are no errors or no correct rows to compare them with.
    notes : tuple of str
        Plain-language remarks, e.g. that every prediction is correct.
    accuracy : float or None
        Classification: the share of correct predictions.
    classes : tuple of str or None
        Classification: the true classes present in ``y`` (display labels), sorted.
    class_accuracy : ndarray of shape (n_classes,), float64, or None
        Classification: accuracy (recall) within each true class of ``classes``.
    class_support : ndarray of shape (n_classes,), int64, or None
        Classification: rows of each true class.
    confusion : ConfusionAnalysis or None
        Classification: the confusion matrix over the model's classes (the same as
        ``confusion_analysis(y, predictions, labels=model.classes)``).
    high_confidence_errors : tuple of ClassificationCase
        Classification: up to ``top_k`` wrong predictions, most confident first.
    low_confidence_correct : tuple of ClassificationCase
        Classification: up to ``top_k`` correct predictions, least confident first.
    residuals : ResidualSummary or None
        Regression: MAE, RMSE, R^2 and bias.
    largest_errors : tuple of RegressionCase
        Regression: up to ``top_k`` rows with the largest absolute error.
    error_threshold : float or None
        Regression: the absolute error at or above which a row counts as a large error
        (the 90th percentile of the absolute errors).
    feature_bins : tuple of FeatureBins
        Regression: MAE by bin of each feature, ranked by ``worst_ratio`` (largest first).
    feature_names : tuple of str
        The analysed features, in the model's column order.
    params : dict
        The settings (``top_k``, ``n_bins``) to reproduce the result.
    """

    task: str
    n_samples: int
    is_error: np.ndarray
    error_definition: str
    feature_shifts: tuple[FeatureShift, ...]
    notes: tuple[str, ...]
    feature_names: tuple[str, ...]
    accuracy: float | None = None
    classes: tuple[str, ...] | None = None
    class_accuracy: np.ndarray | None = None
    class_support: np.ndarray | None = None
    confusion: ConfusionAnalysis | None = None
    high_confidence_errors: tuple[ClassificationCase, ...] = ()
    low_confidence_correct: tuple[ClassificationCase, ...] = ()
    residuals: ResidualSummary | None = None
    largest_errors: tuple[RegressionCase, ...] = ()
    error_threshold: float | None = None
    feature_bins: tuple[FeatureBins, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_errors(self) -> int:
        """The number of rows counted as errors."""
        return int(self.is_error.sum())

    @property
    def has_errors(self) -> bool:
        """False when no row counts as an error (e.g. every prediction is correct)."""
        return self.n_errors > 0

    def to_frame(self) -> pd.DataFrame:
        """The feature shifts as a table, one row per feature, ranked.

        Returns
        -------
        DataFrame
            Index: feature names; columns: the fields of :class:`FeatureShift`.
        """
        cols = [
            "kind",
            "effect",
            "n_errors",
            "n_rest",
            "cohens_d",
            "ks_statistic",
            "ks_pvalue",
            "mean_errors",
            "mean_rest",
            "cramers_v",
            "tvd",
            "top_category",
        ]
        rows = [{c: getattr(s, c) for c in cols} for s in self.feature_shifts]
        return pd.DataFrame(
            rows,
            columns=cols,
            index=pd.Index([s.feature for s in self.feature_shifts], name="feature"),
        )

    def cases_frame(self) -> pd.DataFrame:
        """The rows worth looking at as one table.

        Returns
        -------
        DataFrame
            Classification: the high-confidence errors then the low-confidence
            correct rows, with a ``kind`` column saying which. Regression: the
            largest errors.
        """
        if self.task == "regression":
            return pd.DataFrame(
                [vars(c) for c in self.largest_errors],
                columns=["row", "true", "predicted", "error"],
            )
        rows = [{"kind": "high_confidence_error", **vars(c)} for c in self.high_confidence_errors]
        rows += [{"kind": "low_confidence_correct", **vars(c)} for c in self.low_confidence_correct]
        return pd.DataFrame(rows, columns=["kind", "row", "true", "predicted", "confidence"])

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data, with ``n_errors``; :meth:`from_dict` reads it
        back."""
        return super().to_dict() | {"n_errors": self.n_errors}
