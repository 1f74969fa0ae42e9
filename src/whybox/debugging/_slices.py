"""Slice discovery: the subgroups of the data where a model fails more often."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, json_value
from whybox.adapters import Dataset, adapt_data, adapt_model
from whybox.debugging._common import check_significance
from whybox.debugging._confusion import _as_label_vector

_LARGE_ERROR_QUANTILE = 0.9


@dataclass(frozen=True, eq=False)
class Slice(Result):
    """One subgroup where the error rate is significantly higher than in the rest.

    Attributes
    ----------
    description : str
        The conditions joined by "and", e.g. ``"age > 52 and region == 'north'"``.
    conditions : tuple of str
        The one or two conditions, each as text.
    n : int
        Rows in the slice.
    support : float
        ``n`` as a fraction of all rows.
    error_rate, rest_error_rate : float
        The error rate in the slice and in the other rows.
    difference : float
        ``error_rate - rest_error_rate`` (the effect size slices are ranked by).
    ci_low, ci_high : float
        A 95% Wald interval of ``difference``.
    p_value : float
        One-sided exact (hypergeometric, Fisher) p-value of "more errors in the slice".
    adjusted_p_value : float
        Benjamini-Hochberg adjusted over every candidate slice tested.
    """

    description: str
    conditions: tuple[str, ...]
    n: int
    support: float
    error_rate: float
    rest_error_rate: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    adjusted_p_value: float


@dataclass(frozen=True, eq=False)
class SliceAnalysis(Result):
    """The slices found, with what was tested to find them.

    Attributes
    ----------
    slices : tuple of Slice
        Significant slices, largest ``difference`` first (empty: none found).
    overall_error_rate : float
        The error rate over all rows.
    error_definition : str
        What counts as an error ("misclassified", or an absolute error above the
        90th percentile for a regressor).
    n_candidates : int
        Candidate slices tested (every condition and conjunction with enough
        support): the count the false discovery rate is controlled over.
    significance : float
        The false discovery rate the slices were selected at.
    params : dict
        The settings (``max_conditions``, ``min_support`` and the ``min_rows`` it
        gives, ``n_bins``, ``max_slices``, ``max_overlap``).
    """

    slices: tuple[Slice, ...]
    overall_error_rate: float
    error_definition: str
    n_candidates: int
    significance: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per slice, in rank order."""
        cols = [
            "description", "n", "support", "error_rate", "rest_error_rate", "difference",
            "ci_low", "ci_high", "p_value", "adjusted_p_value",
        ]  # fmt: skip
        return pd.DataFrame([[getattr(s, c) for c in cols] for s in self.slices], columns=cols)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else repr(v)


def _conditions(data: Dataset, n_bins: int) -> tuple[list[str], list[int], np.ndarray]:
    """Every single condition: (descriptions, feature of each, membership (n, c) bool)."""
    names, owners, masks = [], [], []
    for j, name in enumerate(data.feature_names):
        col = data.values[:, j]
        missing = pd.isna(col)
        if missing.any():
            names.append(f"{name} is missing")
            owners.append(j)
            masks.append(missing)
        if data.categorical[j]:
            for level in pd.unique(col[~missing]):
                names.append(f"{name} == {level!r}")
                owners.append(j)
                masks.append(col == level)
            continue
        x = col.astype(np.float64)
        edges = np.unique(np.nanquantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]))
        for e in edges:
            for text, mask in ((f"{name} <= {_fmt(e)}", x <= e), (f"{name} > {_fmt(e)}", x > e)):
                names.append(text)
                owners.append(j)
                masks.append(mask)
        for lo, hi in itertools.pairwise(edges):
            names.append(f"{_fmt(lo)} < {name} <= {_fmt(hi)}")
            owners.append(j)
            masks.append((x > lo) & (x <= hi))
    return names, owners, np.column_stack(masks)


def _errors(m: Any, data: Dataset, y: Any) -> tuple[np.ndarray, str]:
    if m.task == "classification":
        pred = m.predict_label(data)
        y_arr = _as_label_vector(y, "y")
        known = set(np.asarray(m.classes).tolist())
        unknown = [v for v in pd.unique(y_arr) if v not in known]
        if unknown:
            raise InputError(
                f"y holds labels {unknown[:5]} that the model does not know (classes "
                f"{sorted(known, key=str)[:10]}); give y in the model's labels."
            )
        return np.asarray(pred != y_arr), "misclassified"
    y_vec = _as_label_vector(y, "y")  # refuses missing values
    try:
        y_arr = np.asarray(pd.to_numeric(pd.Series(y_vec)), dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("y must hold numbers for a regressor; pass the numeric target.") from None
    abs_err = np.abs(y_arr - m.predict(data, "raw")[:, 0])
    cut = np.quantile(abs_err, _LARGE_ERROR_QUANTILE)
    # ">=" as in error_analysis, so rows tied at the cut (a group sharing one large
    # error) count; a cut of 0 (most rows exact) keeps ">" so exact rows are not errors.
    large = abs_err >= cut if cut > 0 else abs_err > 0
    return large, f"absolute error at or above its 90th percentile ({cut:.4g})"


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values."""
    n = len(p)
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def find_slices(
    model: Any,
    X: Any,
    y: Any,
    *,
    max_conditions: int = 2,
    min_support: float | int = 0.02,
    n_bins: int = 4,
    significance: float = 0.05,
    max_slices: int = 10,
    max_overlap: float = 0.8,
) -> SliceAnalysis:
    """Find the subgroups where the model's error rate is significantly higher.

    Candidate slices are single conditions — a numeric feature below or above one
    of its quantiles (``n_bins`` quantile bins) or inside one bin, a category
    level, a missing value — and, with ``max_conditions=2``, every conjunction of
    two conditions on different features. Each candidate with at least
    ``min_support`` rows is tested against the other rows with a one-sided exact
    test (hypergeometric, i.e. Fisher's exact test: more errors in the slice than
    chance allows), and the Benjamini-Hochberg procedure controls the false
    discovery rate at ``significance`` over all candidates tested, so on data whose
    errors fall at random no slice is reported with probability at least
    ``1 - significance``.
    A conjunction is kept only when its error rate is above both of its single
    conditions' (it must add something), and a slice overlapping a higher-ranked
    one by more than ``max_overlap`` (Jaccard) is dropped as a repeat. The
    membership counts are matrix products over boolean condition masks.

    Parameters
    ----------
    model : object
        A fitted classifier or regressor whybox can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows.
    y : array-like of shape (n_samples,)
        True labels (classifier) or values (regressor).
    max_conditions : {1, 2}, default=2
        The most conditions in a slice: single conditions only, or also the
        conjunctions of two conditions on different features.
    min_support : float or int, default=0.02
        Smallest slice: a fraction of the rows in (0, 1) or a row count >= 1.
    n_bins : int, default=4
        Quantile bins per numeric feature (>= 2).
    significance : float, default=0.05
        False discovery rate, in (0, 1).
    max_slices : int, default=10
        The most slices reported (>= 1), largest ``difference`` first.
    max_overlap : float, default=0.8
        A slice whose rows overlap a higher-ranked slice's by more than this Jaccard
        index (shared rows over rows in either) is dropped as a repeat.

    Returns
    -------
    SliceAnalysis
        Error for a classifier: misclassified; for a regressor: an absolute error
        above its 90th percentile over the rows (so 10% of rows overall).

    Raises
    ------
    InputError
        ``y`` of the wrong length or with unknown labels, ``min_support``,
        ``max_conditions``, ``n_bins``, ``significance`` or ``max_slices`` out of range.

    References
    ----------
    .. [1] Y. Chung, T. Kraska, N. Polyzotis, K. Tae, S. E. Whang, "Slice Finder:
       automated data slicing for model validation", ICDE 2019.
    .. [2] Y. Benjamini, Y. Hochberg, "Controlling the false discovery rate", JRSS-B
       57(1), 1995.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from whybox.debugging import find_slices
    >>> X = np.random.default_rng(1).uniform(0, 1, size=(1000, 2))
    >>> # the labels are x0 > 0.5, flipped where x1 > 0.8
    >>> y = np.where(X[:, 1] > 0.8, X[:, 0] <= 0.5, X[:, 0] > 0.5).astype(int)
    >>> model = LogisticRegression().fit(X, y)
    >>> result = find_slices(model, X, y)
    >>> result.slices[0].description  # the worst slice: x1 above its 75th percentile
    'x1 > 0.7613'
    >>> result.to_frame()[["n", "error_rate"]].iloc[0].round(2).tolist()
    [250.0, 0.86]
    """
    if max_conditions not in (1, 2):
        raise InputError(f"max_conditions must be 1 or 2, got {max_conditions!r}.")
    n_bins = check_int(n_bins, "n_bins", 2, "n_bins=4")
    significance = check_significance(significance)
    max_slices = check_int(max_slices, "max_slices", 1, "max_slices=10")
    m = adapt_model(model)
    data = m.check_data(adapt_data(X, name="X"), name="X")
    n = data.n_samples
    if not hasattr(y, "__len__") or len(y) != n:
        given = len(y) if hasattr(y, "__len__") else f"no ({type(y).__name__})"
        raise InputError(f"y has {given} values but X has {n} rows; give one target per row.")
    if isinstance(min_support, (float, np.floating)) and 0 < min_support < 1:
        min_n = int(np.ceil(min_support * n))
    elif (
        isinstance(min_support, (int, np.integer))
        and not isinstance(min_support, bool)
        and 1 <= min_support <= n
    ):
        min_n = int(min_support)
    else:
        raise InputError(
            f"min_support must be a fraction in (0, 1) or a row count in 1..{n}, got "
            f"{min_support!r}; e.g. min_support=0.02."
        )
    err, definition = _errors(m, data, y)
    names, owners, M = _conditions(data, int(n_bins))
    e = err.astype(np.float64)
    Mf = M.astype(np.float64)
    size1, err1 = Mf.sum(axis=0), e @ Mf
    cands = [((a,), size1[a], err1[a]) for a in range(len(names))]
    if max_conditions == 2:
        size2 = Mf.T @ Mf
        err2 = (Mf * e[:, None]).T @ Mf
        a_idx, b_idx = np.triu_indices(len(names), k=1)
        owners_arr = np.asarray(owners)
        keep = (owners_arr[a_idx] != owners_arr[b_idx]) & (size2[a_idx, b_idx] >= min_n)
        for a, b in zip(a_idx[keep], b_idx[keep], strict=True):
            cands.append(((int(a), int(b)), size2[a, b], err2[a, b]))
    cands = [c for c in cands if min_n <= c[1] < n]
    total_err = e.sum()
    if not cands or total_err == 0:
        return SliceAnalysis((), float(e.mean()), definition, len(cands), significance, {})
    sizes = np.array([c[1] for c in cands])
    errs = np.array([c[2] for c in cands])
    p = stats.hypergeom.sf(errs - 1, n, total_err, sizes)
    adj = _bh(p)
    rate = errs / sizes
    rest = (total_err - errs) / (n - sizes)
    diff = rate - rest
    se = np.sqrt(rate * (1 - rate) / sizes + rest * (1 - rest) / (n - sizes))
    single_rate = err1 / np.maximum(size1, 1)
    # A conjunction must add something over each of its conditions: its error rate
    # must be significantly higher than in the rest of each parent (one-sided
    # hypergeometric test inside the parent), adjusted by Benjamini-Hochberg over all
    # conjunctions tested, so a subset that is worse only by chance is dropped.
    parent_adj = np.zeros(len(cands))
    pair = np.array([len(c[0]) == 2 for c in cands])
    if pair.any():
        pa = np.array([c[0][0] for c in cands if len(c[0]) == 2])
        pb = np.array([c[0][1] for c in cands if len(c[0]) == 2])
        p_in_a = stats.hypergeom.sf(errs[pair] - 1, size1[pa], err1[pa], sizes[pair])
        p_in_b = stats.hypergeom.sf(errs[pair] - 1, size1[pb], err1[pb], sizes[pair])
        parent_adj[pair] = _bh(np.maximum(p_in_a, p_in_b))
    chosen: list[Slice] = []
    kept_masks: list[np.ndarray] = []
    for i in np.argsort(-diff, kind="stable"):
        if adj[i] > significance or diff[i] <= 0:
            continue
        conds = cands[i][0]
        if len(conds) == 2 and (
            rate[i] <= max(single_rate[conds[0]], single_rate[conds[1]])
            or parent_adj[i] > significance
        ):
            continue
        mask = M[:, conds].all(axis=1)
        if any((mask & k).sum() / (mask | k).sum() > max_overlap for k in kept_masks):
            continue
        kept_masks.append(mask)
        chosen.append(
            Slice(
                description=" and ".join(names[c] for c in conds),
                conditions=tuple(names[c] for c in conds),
                n=int(sizes[i]),
                support=float(sizes[i] / n),
                error_rate=float(rate[i]),
                rest_error_rate=float(rest[i]),
                difference=float(diff[i]),
                ci_low=float(diff[i] - 1.96 * se[i]),
                ci_high=float(diff[i] + 1.96 * se[i]),
                p_value=float(p[i]),
                adjusted_p_value=float(adj[i]),
            )
        )
        if len(chosen) == max_slices:
            break
    return SliceAnalysis(
        slices=tuple(chosen),
        overall_error_rate=float(e.mean()),
        error_definition=definition,
        n_candidates=len(cands),
        significance=significance,
        params={
            "max_conditions": int(max_conditions),
            "min_support": json_value(min_support),
            "min_rows": min_n,
            "n_bins": int(n_bins),
            "max_slices": int(max_slices),
            "max_overlap": float(max_overlap),
        },
    )
