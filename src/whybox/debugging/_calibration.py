"""Calibration of a classifier's probabilities: reliability diagram, ECE, Brier score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, is_dask_collection
from whybox.debugging._common import labelled_rows

_STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True, eq=False)
class ReliabilityCurve(Result):
    """Predicted probability against observed frequency, per bin (non-empty bins only).

    Attributes
    ----------
    label : str
        What the probability is of: a class ("P(class = c)") or "top label".
    mean_predicted : ndarray of shape (n_bins_used,)
        Mean predicted probability (confidence) in each bin.
    observed : ndarray of shape (n_bins_used,)
        Fraction of positives (or of correct top labels) in each bin.
    counts : ndarray of shape (n_bins_used,), int64
    ece, mce : float
        Expected calibration error (count-weighted mean of ``|observed -
        mean_predicted|``) and maximum calibration error (its largest value).
    """

    label: str
    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float
    mce: float

    def to_frame(self) -> pd.DataFrame:
        """One row per non-empty bin: mean predicted probability, observed frequency,
        count."""
        return pd.DataFrame(
            {
                "mean_predicted": np.asarray(self.mean_predicted, dtype=np.float64),
                "observed": np.asarray(self.observed, dtype=np.float64),
                "count": np.asarray(self.counts, dtype=np.int64),
            }
        )


@dataclass(frozen=True, eq=False)
class Calibration(Result):
    """A classifier's calibration on labelled rows.

    Attributes
    ----------
    curves : tuple of ReliabilityCurve
        Binary: one curve, the positive class. Multi-class: the top-label curve
        first, then one one-vs-rest curve per class.
    ece : float
        The expected calibration error of the first curve (the positive class, or
        the top label), in probability units.
    brier_score : float
        Mean over rows of the squared distance between the probability vector and
        the one-hot label (binary: of the positive class's probability), as
        scikit-learn's ``brier_score_loss``; 0 is perfect.
    classes : tuple
        The model's classes, in the order of its probabilities.
    n_bins : int
        Bins asked for (the curves keep the non-empty ones).
    strategy : str
        "uniform" or "quantile".
    params : dict
        ``n_samples``: the rows scored.
    """

    curves: tuple[ReliabilityCurve, ...]
    ece: float
    brier_score: float
    classes: tuple[Any, ...]
    n_bins: int
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per curve and bin."""
        columns = ["curve", "mean_predicted", "observed", "count"]
        parts = [c.to_frame().assign(curve=c.label)[columns] for c in self.curves]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)


def reliability_curve(
    prob: np.ndarray, hit: np.ndarray, n_bins: int, strategy: str, label: str
) -> ReliabilityCurve:
    """Bin ``prob`` (uniform on [0, 1] or at its quantiles) and compare with ``hit``.

    The bins are those of ``sklearn.calibration.calibration_curve``: each holds
    the probabilities above its lower edge up to and including its upper edge
    (the first also its lower edge), with ``strategy="quantile"`` edges at the
    quantiles.
    """
    if strategy == "quantile":
        edges = np.percentile(prob, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], prob)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    sum_p = np.bincount(idx, weights=prob, minlength=len(edges) - 1)
    sum_h = np.bincount(idx, weights=hit.astype(np.float64), minlength=len(edges) - 1)
    return _curve_from_sums(label, counts, sum_p, sum_h)


def _curve_from_sums(
    label: str, counts: np.ndarray, sum_p: np.ndarray, sum_h: np.ndarray
) -> ReliabilityCurve:
    """The reliability curve of bins given by their counts and their sums of predicted
    probabilities and of hits (empty bins left out)."""
    used = counts > 0
    mean_p, obs = sum_p[used] / counts[used], sum_h[used] / counts[used]
    gap = np.abs(obs - mean_p)
    return ReliabilityCurve(
        label=label,
        mean_predicted=mean_p,
        observed=obs,
        counts=counts[used].astype(np.int64),
        ece=float((gap * counts[used]).sum() / counts.sum()),
        mce=float(gap.max()),
    )


def calibration(
    model: Any, X: Any, y: Any, *, n_bins: int = 10, strategy: str = "uniform"
) -> Calibration:
    """How well a classifier's predicted probabilities match observed frequencies.

    Rows are binned by predicted probability; in each bin the mean predicted
    probability is compared with the fraction of positives (a reliability
    diagram). The expected calibration error (ECE) is the count-weighted mean gap
    over the bins, the maximum calibration error (MCE) the largest. For a
    multi-class model the headline curve is the *top-label* one: the probability
    of the predicted class against whether it was right (Guo et al. 2017), with
    one one-vs-rest curve per class after it.

    Parameters
    ----------
    model : object
        A fitted classifier with probabilities (``predict_proba``), that whybox
        can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows; or a dask Array/DataFrame (with a dask ``y``): per-bin counts
        and sums on the workers, added on the client. With ``strategy="quantile"``
        the edges are the exact quantiles of all rows' probabilities (equal to
        ``numpy.percentile`` on the same rows): each partition predicts once and keeps
        its probabilities sorted on its worker while a few counting passes find the
        edges (``whybox.distributed.calibration_sums``).
    y : array-like of shape (n_samples,)
        True labels, in the model's classes.
    n_bins : int, default=10
        Bins (>= 2).
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or bins holding equal numbers of rows.

    Returns
    -------
    Calibration
        Curves, ECE and MCE in probability units, and the Brier score.

    Raises
    ------
    InputError
        A regressor, ``y`` of the wrong length or with labels the model does not
        know, ``n_bins`` < 2, an unknown ``strategy``.

    References
    ----------
    .. [1] M. P. Naeini, G. F. Cooper, M. Hauskrecht, "Obtaining well calibrated
       probabilities using Bayesian binning", AAAI 2015 (ECE, MCE).
    .. [2] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern
       neural networks", ICML 2017 (top-label reliability diagrams).
    .. [3] G. W. Brier, "Verification of forecasts expressed in terms of
       probability", Monthly Weather Review 78(1), 1950.
    """
    n_bins = check_int(n_bins, "n_bins", 2, "n_bins=10")
    if strategy not in _STRATEGIES:
        raise InputError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}.")
    if is_dask_collection(X):
        return _calibration_dask(model, X, y, n_bins, strategy)
    m, data, y_arr = labelled_rows(
        model, X, y, "give one label per row.", "classification",
        "calibration needs a classifier with probabilities, but the model is a regressor; "
        "use whybox.debugging.error_analysis for a regressor's errors.",
    )  # fmt: skip
    classes = list(np.asarray(m.classes).tolist())
    codes = m.class_codes(y_arr)
    proba = m.predict_proba_all(data)
    onehot = np.eye(len(classes))[codes]
    if len(classes) == 2:
        curves = (
            reliability_curve(
                proba[:, 1], codes == 1, n_bins, strategy, f"P(class = {classes[1]})"
            ),
        )
        brier = float(np.mean((proba[:, 1] - onehot[:, 1]) ** 2))
    else:
        top = proba.argmax(axis=1)
        curves = (
            reliability_curve(proba.max(axis=1), top == codes, n_bins, strategy, "top label"),
            *(
                reliability_curve(proba[:, k], codes == k, n_bins, strategy, f"P(class = {c})")
                for k, c in enumerate(classes)
            ),
        )
        brier = float(np.mean(((proba - onehot) ** 2).sum(axis=1)))
    return Calibration(
        curves=curves,
        ece=curves[0].ece,
        brier_score=brier,
        classes=tuple(classes),
        n_bins=int(n_bins),
        strategy=strategy,
        params={"n_samples": data.n_samples},
    )


def _calibration_dask(model: Any, X: Any, y: Any, n_bins: int, strategy: str) -> Calibration:
    """:func:`calibration` of a dask ``X`` and ``y``: per-partition bin counts and sums on
    the workers (``whybox.distributed.calibration_sums``, or
    with ``strategy="quantile"`` exact quantile edges), added on the client."""
    from whybox.adapters import adapt_model
    from whybox.distributed import calibration_sums

    m = adapt_model(model)
    if m.task != "classification":
        raise InputError(
            "calibration needs a classifier with probabilities, but the model is a regressor; "
            "use whybox.debugging.error_analysis for a regressor's errors."
        )
    classes = list(np.asarray(m.classes).tolist())
    sums = calibration_sums(m, X, y, n_bins, strategy)
    names = [f"P(class = {classes[1]})"] if len(classes) == 2 else ["top label"]
    if len(classes) > 2:
        names += [f"P(class = {c})" for c in classes]
    curves = [
        _curve_from_sums(label, counts, sum_p, sum_h)
        for label, (counts, sum_p, sum_h) in zip(names, sums["bins"], strict=True)
    ]
    return Calibration(
        curves=tuple(curves),
        ece=curves[0].ece,
        brier_score=sums["brier_sum"] / sums["n"],
        classes=tuple(classes),
        n_bins=int(n_bins),
        strategy=strategy,
        params={"n_samples": sums["n"]},
    )
