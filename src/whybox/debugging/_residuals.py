"""Regression residual analysis: where, along each feature, a regressor is biased."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from whybox._exceptions import InputError
from whybox._utils import Result, check_int
from whybox.adapters import Dataset
from whybox.debugging._common import (
    check_significance,
    labelled_rows,
    regression_predictions,
    residual_summary,
)
from whybox.debugging._results import ResidualSummary

_TESTS = ("welch", "anova", "kruskal")
_TEST_NAMES = {
    "welch": "Welch's one-way ANOVA",
    "anova": "one-way ANOVA F-test",
    "kruskal": "Kruskal-Wallis H-test",
}
MISSING_LABEL = "missing"
# Residuals whose spread is below this fraction of the predictions' scale are rounding
# noise (an exact model): they are not tested.
_ROUNDING = 1e-9


@dataclass(frozen=True, eq=False)
class FeatureResiduals(Result):
    """A regressor's residuals in the bins (or categories) of one feature.

    Residuals are ``predicted - true``: a positive mean residual means the model
    over-predicts in that bin.

    Attributes
    ----------
    feature : str
    kind : {"numeric", "categorical"}
    labels : tuple of str
        One label per bin: ``"[lo, hi)"`` for quantile bins (the last one closed),
        the value itself for a numeric feature with at most ``n_bins`` distinct
        values, the level for a categorical feature, and ``"missing"`` for the rows
        where the feature is missing (the last bin, present only when some are).
    count : ndarray of shape (n_bins_used,), int64
        Rows per bin.
    mean_residual : ndarray of shape (n_bins_used,), float64
        The bias in each bin (mean of ``predicted - true``).
    mae : ndarray of shape (n_bins_used,), float64
        Mean absolute error in each bin.
    std_residual : ndarray of shape (n_bins_used,), float64
        Sample standard deviation (``ddof=1``) of the residuals in each bin; NaN for
        a bin of one row.
    statistic : float
        The test statistic (F for the ANOVAs, H for Kruskal-Wallis); NaN when the
        test cannot be run (fewer than two bins, or no variation in the residuals).
    p_value : float
        p-value of "the bins' residuals differ" (NaN when the test cannot be run).
    adjusted_p_value : float
        ``p_value`` adjusted by Holm's step-down method over all features tested.
    effect_size : float
        Eta squared: the share of the residuals' variance explained by the bins'
        mean residuals (``SS_between / SS_total``), in [0, 1].
    test : str
        The test that produced ``p_value`` (see :func:`residual_analysis`).
    """

    feature: str
    kind: str
    labels: tuple[str, ...]
    count: np.ndarray
    mean_residual: np.ndarray
    mae: np.ndarray
    std_residual: np.ndarray
    statistic: float
    p_value: float
    adjusted_p_value: float
    effect_size: float
    test: str

    @property
    def test_name(self) -> str:
        """The test in words (e.g. "Welch's one-way ANOVA"), for titles and captions."""
        return _TEST_NAMES.get(self.test.split(" ")[0], self.test)

    @property
    def worst_bin(self) -> int:
        """Index of the bin with the largest absolute mean residual."""
        return int(np.nanargmax(np.abs(self.mean_residual)))

    def to_frame(self) -> pd.DataFrame:
        """One row per bin: label, count, mean residual, MAE, standard deviation."""
        return pd.DataFrame(
            {
                "bin": list(self.labels),
                "count": self.count,
                "mean_residual": self.mean_residual,
                "mae": self.mae,
                "std_residual": self.std_residual,
            }
        )


@dataclass(frozen=True, eq=False)
class ResidualAnalysis(Result):
    """A regressor's residuals by feature, features ranked by how much the bins differ.

    Attributes
    ----------
    features : tuple of FeatureResiduals
        Smallest p-value first (ties, such as p-values that underflow to 0, broken by
        the larger effect size); features whose test could not be run come last.
    summary : ResidualSummary
        MAE, RMSE, R^2 and bias (mean residual) over all rows.
    residuals : ndarray of shape (n_samples,), float64
        ``predicted - true`` per row.
    test : str
        The test asked for: ``"welch"``, ``"anova"`` or ``"kruskal"``.
    significance : float
        The family-wise error rate at which ``significant`` features are flagged
        (Holm-adjusted p-value <= significance).
    notes : tuple of str
        Why some or all tests could not be run, if so.
    params : dict
        The settings (``n_bins``, ``test``, ``significance``) to reproduce the result.
    """

    features: tuple[FeatureResiduals, ...]
    summary: ResidualSummary
    residuals: np.ndarray
    test: str
    significance: float
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.residuals.shape[0])

    @property
    def significant(self) -> tuple[str, ...]:
        """Features whose Holm-adjusted p-value is at most ``significance``, in rank order."""
        return tuple(f.feature for f in self.features if f.adjusted_p_value <= self.significance)

    def __getitem__(self, feature: str) -> FeatureResiduals:
        for f in self.features:
            if f.feature == feature:
                return f
        names = [f.feature for f in self.features]
        raise KeyError(f"no feature {feature!r}; the features are {names[:20]}")

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, in rank order.

        Columns: ``feature``, ``kind``, ``n_bins``, ``statistic``, ``p_value``,
        ``adjusted_p_value``, ``effect_size``, ``worst_bin`` (label of the bin with
        the largest absolute bias) and ``worst_bias`` (that bin's mean residual).
        """
        rows = []
        for f in self.features:
            w = f.worst_bin if np.any(np.isfinite(f.mean_residual)) else 0
            rows.append(
                {
                    "feature": f.feature,
                    "kind": f.kind,
                    "n_bins": len(f.labels),
                    "statistic": f.statistic,
                    "p_value": f.p_value,
                    "adjusted_p_value": f.adjusted_p_value,
                    "effect_size": f.effect_size,
                    "worst_bin": f.labels[w],
                    "worst_bias": float(f.mean_residual[w]),
                }
            )
        return pd.DataFrame(rows)

    def bins_frame(self) -> pd.DataFrame:
        """One row per feature and bin (the features in rank order)."""
        parts = [f.to_frame().assign(feature=f.feature) for f in self.features]
        if not parts:
            return pd.DataFrame(
                columns=["feature", "bin", "count", "mean_residual", "mae", "std_residual"]
            )
        out = pd.concat(parts, ignore_index=True)
        return out[["feature", "bin", "count", "mean_residual", "mae", "std_residual"]]

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data, with ``n_samples``; :meth:`from_dict` reads it
        back."""
        return super().to_dict() | {"n_samples": self.n_samples}


# ---------------------------------------------------------------------- binning
def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _groups(data: Dataset, j: int, n_bins: int) -> tuple[str, tuple[str, ...], np.ndarray]:
    """(kind, labels, bin index of every row); missing values get the last bin."""
    col = data.values[:, j]
    n = col.shape[0]
    idx = np.empty(n, dtype=np.int64)
    if data.categorical[j]:
        series = pd.Series(col, dtype=object)
        missing = series.isna().to_numpy()
        try:
            codes, uniques = pd.factorize(series[~missing], sort=True)
        except TypeError:  # levels of mixed types keep their order of appearance
            codes, uniques = pd.factorize(series[~missing], sort=False)
        labels = [str(u) for u in uniques]
        kind = "categorical"
    else:
        x = (
            col.astype(np.float64)
            if col.dtype != object
            else pd.to_numeric(pd.Series(col), errors="coerce").to_numpy(dtype=np.float64)
        )
        missing = np.isnan(x)
        xk = x[~missing]
        kind = "numeric"
        if xk.size == 0:
            codes, labels = np.empty(0, dtype=np.int64), []
        else:
            distinct = np.unique(xk)
            if distinct.size <= n_bins:
                codes = np.searchsorted(distinct, xk)
                labels = [_fmt(v) for v in distinct]
            else:
                edges = np.unique(np.quantile(xk, np.linspace(0.0, 1.0, n_bins + 1)))
                codes = np.searchsorted(edges[1:-1], xk, side="right")
                last = len(edges) - 2
                labels = [
                    f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}{']' if i == last else ')'}"
                    for i in range(len(edges) - 1)
                ]
    idx[~missing] = codes
    if missing.any():
        idx[missing] = len(labels)
        labels.append(MISSING_LABEL)
    return kind, tuple(labels), idx


# ---------------------------------------------------------------------- tests
def _one_way(
    test: str,
    idx: np.ndarray,
    k: int,
    resid: np.ndarray,
    ranks: np.ndarray,
    tie_correction: float,
    tiny_var: float = 0.0,
) -> tuple[float, float, str]:
    """(statistic, p-value, test used) comparing the residuals of ``k`` groups.

    Everything comes from per-group sums (``np.bincount``), so one pass over the
    rows serves each feature.
    """
    count = np.bincount(idx, minlength=k).astype(np.float64)
    used = count > 0
    if used.sum() < 2:
        return float("nan"), float("nan"), test
    n = count.sum()
    s1 = np.bincount(idx, weights=resid, minlength=k)
    mean = np.divide(s1, count, out=np.zeros(k), where=used)
    ss_within_g = np.bincount(idx, weights=(resid - mean[idx]) ** 2, minlength=k)
    if test == "kruskal":
        if tie_correction <= 0:  # every residual equal
            return float("nan"), float("nan"), test
        r = np.bincount(idx, weights=ranks, minlength=k)
        h = 12.0 / (n * (n + 1)) * np.sum(r[used] ** 2 / count[used]) - 3.0 * (n + 1)
        h /= tie_correction
        dof = int(used.sum()) - 1
        return float(h), float(stats.chi2.sf(h, dof)), test
    groups = int(used.sum())
    var = np.divide(ss_within_g, count - 1, out=np.full(k, np.nan), where=count > 1)
    if test == "welch" and np.all(count[used] > 1) and np.all(var[used] > tiny_var):
        w = count[used] / var[used]
        mu = mean[used]
        grand = np.sum(w * mu) / w.sum()
        a = np.sum(w * (mu - grand) ** 2) / (groups - 1)
        lam = np.sum((1 - w / w.sum()) ** 2 / (count[used] - 1))
        b = 1 + 2 * (groups - 2) / (groups**2 - 1) * lam
        f = a / b
        dof2 = (groups**2 - 1) / (3 * lam)
        return float(f), float(stats.f.sf(f, groups - 1, dof2)), test
    # Classic ANOVA (also Welch's fallback when a bin has one row or no spread, where
    # Welch's weights n / s^2 are undefined).
    used_test = test if test == "anova" else "anova (welch undefined: a bin of 1 row or no spread)"
    grand = s1.sum() / n
    ss_between = np.sum(count[used] * (mean[used] - grand) ** 2)
    ss_within = ss_within_g.sum()
    dof1, dof2 = groups - 1, n - groups
    if dof2 <= 0:
        return float("nan"), float("nan"), used_test
    if ss_within == 0:
        if ss_between == 0:
            return float("nan"), float("nan"), used_test
        return float("inf"), 0.0, used_test
    f = (ss_between / dof1) / (ss_within / dof2)
    return float(f), float(stats.f.sf(f, dof1, dof2)), used_test


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN p-values stay NaN and are not counted."""
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
    adj = np.empty(m)
    adj[order] = np.minimum(stepped, 1.0)
    out[ok] = adj
    return out


def residual_analysis(
    model: Any,
    X: Any,
    y: Any,
    *,
    n_bins: int = 5,
    test: str = "welch",
    significance: float = 0.05,
) -> ResidualAnalysis:
    """Find the features along which a regressor's residuals are biased.

    The residuals ``predicted - true`` are grouped by each feature: a numeric
    feature into ``n_bins`` quantile bins (its distinct values when it has at
    most ``n_bins``), a categorical one by level, missing values into a bin of
    their own. Each bin gets its count, mean residual (the bias: positive means
    over-prediction), mean absolute error and standard deviation; a one-way test
    asks whether the bins' residuals differ, and features are ranked by its
    p-value. A model that misses a term in a feature (a quadratic, a category's
    offset) shows a systematic pattern in that feature's bin means; a
    well-specified one has bin means that differ only by chance.

    The p-values are adjusted over the features with Holm's step-down method, so
    the chance that any feature of a well-specified model is flagged
    (``ResidualAnalysis.significant``) is at most ``significance``.

    Parameters
    ----------
    model : object
        A fitted regressor (one output) whybox can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows (on the training rows a flexible model's residuals are
        shrunk towards 0). A model's estimation error is a real bias too: a
        correctly specified model fitted on few rows can be flagged on many
        held-out rows.
    y : array-like of shape (n_samples,)
        True values, numeric.
    n_bins : int, default=5
        Quantile bins per numeric feature (>= 2). Tied quantiles merge bins.
    test : {"welch", "anova", "kruskal"}, default="welch"
        ``"welch"``: Welch's heteroscedastic one-way ANOVA on the bin means, the
        direct test of "the mean residual differs between bins" that stays valid
        when the noise grows along the feature (falls back to the classic F-test
        for a feature with a bin of one row or a bin without spread, and says so
        in ``FeatureResiduals.test``). ``"anova"``: the classic F-test (equal
        variances). ``"kruskal"``: the Kruskal-Wallis rank test, robust to
        outliers but sensitive to any difference in the bins' distributions,
        not only their means.
    significance : float, default=0.05
        Family-wise error rate for ``significant`` (in (0, 1)).

    Returns
    -------
    ResidualAnalysis
        Per feature a :class:`FeatureResiduals` (bins, bias, MAE, test statistic,
        p-value, Holm-adjusted p-value, eta squared), ranked; the overall MAE,
        RMSE, R^2 and bias; the per-row residuals. All values are in the units of
        the model's output (its raw prediction).

    Raises
    ------
    InputError
        A classifier; a model with more than one output; ``y`` of the wrong length
        or not numeric; ``n_bins`` < 2; an unknown ``test``; ``significance`` outside
        (0, 1).

    References
    ----------
    .. [1] B. L. Welch, "On the comparison of several mean values: an alternative
       approach", Biometrika 38(3/4), 1951.
    .. [2] W. H. Kruskal, W. A. Wallis, "Use of ranks in one-criterion variance
       analysis", JASA 47(260), 1952.
    .. [3] S. Holm, "A simple sequentially rejective multiple test procedure",
       Scandinavian Journal of Statistics 6(2), 1979.
    .. [4] N. R. Draper, H. Smith, "Applied Regression Analysis", 3rd ed., 1998,
       ch. 2 (examining residuals against each predictor).
    """
    n_bins = check_int(n_bins, "n_bins", 2, "n_bins=5")
    if test not in _TESTS:
        raise InputError(f"test must be one of {_TESTS}, got {test!r}; e.g. test='welch'.")
    significance = check_significance(significance)
    m, data, y_arr = labelled_rows(
        model, X, y, "give one target per row of X.", "regression",
        "residual_analysis needs a regressor, but the model is a classifier; use "
        "whybox.debugging.calibration or find_slices for a classifier's errors.",
    )  # fmt: skip
    y_num, pred = regression_predictions(
        m, data, y_arr, "residual_analysis", "pass the numeric target."
    )
    resid = pred - y_num
    abs_err = np.abs(resid)
    summary = residual_summary(y_num, pred)
    ranks = stats.rankdata(resid)
    n = resid.size
    _, ties = np.unique(resid, return_counts=True)
    tie_correction = 1.0 - float(np.sum(ties**3 - ties)) / (n**3 - n) if n > 1 else 0.0
    total_ss = float(np.sum((resid - resid.mean()) ** 2))
    notes: list[str] = []
    scale = max(float(np.mean(np.abs(y_num))), float(np.mean(np.abs(pred))))
    testable = float(np.std(resid)) > _ROUNDING * scale
    if not testable:
        notes.append(
            "The residuals do not vary (beyond rounding): no test was run, every p-value is NaN."
        )

    per_feature = []
    for j, name in enumerate(data.feature_names):
        kind, labels, idx = _groups(data, j, n_bins)
        k = len(labels)
        if k == 0:
            continue
        count = np.bincount(idx, minlength=k)
        s1 = np.bincount(idx, weights=resid, minlength=k)
        mean = s1 / np.maximum(count, 1)
        dev2 = np.bincount(idx, weights=(resid - mean[idx]) ** 2, minlength=k)
        std = np.sqrt(np.divide(dev2, count - 1, out=np.full(k, np.nan), where=count > 1))
        mae = np.bincount(idx, weights=abs_err, minlength=k) / np.maximum(count, 1)
        if testable:
            stat, p, used = _one_way(
                test, idx, k, resid, ranks, tie_correction, (_ROUNDING * scale) ** 2
            )
        else:
            stat, p, used = float("nan"), float("nan"), test
        between = float(np.sum(count * (mean - resid.mean()) ** 2))
        eta2 = between / total_ss if testable and total_ss > 0 else float("nan")
        per_feature.append(
            (name, kind, labels, count.astype(np.int64), mean, mae, std, stat, p, eta2, used)
        )
    p_all = np.array([row[8] for row in per_feature], dtype=np.float64)
    adj = _holm(p_all)
    features = [
        FeatureResiduals(
            feature=name,
            kind=kind,
            labels=labels,
            count=count,
            mean_residual=mean,
            mae=mae,
            std_residual=std,
            statistic=stat,
            p_value=p,
            adjusted_p_value=float(a),
            effect_size=float(eta2),
            test=used,
        )
        for (name, kind, labels, count, mean, mae, std, stat, p, eta2, used), a in zip(
            per_feature, adj, strict=True
        )
    ]
    key = np.array(
        [
            (f.p_value if np.isfinite(f.p_value) else np.inf, -np.nan_to_num(f.effect_size))
            for f in features
        ],
        dtype=np.float64,
    ).reshape(-1, 2)
    order = np.lexsort((key[:, 1], key[:, 0])) if len(features) else np.array([], dtype=int)
    return ResidualAnalysis(
        features=tuple(features[i] for i in order),
        summary=summary,
        residuals=resid,
        test=test,
        significance=significance,
        notes=tuple(notes),
        params={"n_bins": n_bins, "test": test, "significance": significance},
    )
