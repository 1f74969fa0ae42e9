"""Groups of correlated features, for grouped (clustered) permutation importance."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.adapters import adapt_data

_METHODS = ("spearman", "pearson")
_LINKAGES = ("complete", "average", "single")


def check_threshold(value: Any, name: str) -> float:
    """``value`` as a correlation threshold in (0, 1], or a clear error naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0.0 < float(value) <= 1.0
    ):
        raise InputError(
            f"{name} must be a correlation in (0, 1], got {value!r}; e.g. {name}=0.7 groups "
            "columns with |rho| >= 0.7."
        )
    return float(value)


def correlation_matrix(values: np.ndarray, method: str) -> np.ndarray:
    """|Correlation| between the columns of a float array, NaN rows skipped pairwise.

    A constant column (or a pair with fewer than three rows both present) has
    correlation 0 with every other column; the diagonal is 1.
    """
    import pandas as pd

    values = np.asarray(values, dtype=np.float64)
    d = values.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.isnan(values).any():
            corr = pd.DataFrame(values).corr(method=method, min_periods=3).to_numpy()
        else:
            if method == "spearman":
                from scipy.stats import rankdata

                values = rankdata(values, axis=0)  # average ranks for ties
            corr = np.corrcoef(values, rowvar=False).reshape(d, d)
    corr = np.abs(np.nan_to_num(corr, nan=0.0))
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, 0.0, 1.0)


def correlated_feature_groups(
    X: Any,
    correlation_threshold: float = 0.7,
    method: str = "spearman",
    *,
    linkage: str = "complete",
) -> dict[str, list[str]]:
    """Cluster the columns of ``X`` into groups of strongly correlated features.

    Hierarchical (agglomerative) clustering of the distance ``1 - |rho|`` between
    columns, cut at ``1 - correlation_threshold``. With the default complete linkage
    every two columns of a group have ``|rho| >= correlation_threshold``, and any two
    groups together hold a pair with ``|rho| < correlation_threshold``. The result can
    be passed as ``feature_groups`` to :func:`whybox.inspection.permutation_importance`,
    so correlated features are permuted together: permuting one of two near-copies alone leaves the model the
    other copy and understates both (Strobl et al. 2008; the scikit-learn user guide
    on multicollinear features).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        The rows (e.g. the held-out data of the permutation importance).
        Categorical and text columns are not clustered: each is a group of its own.
    correlation_threshold : float in (0, 1], default=0.7
        The smallest absolute correlation that joins two columns.
    method : {"spearman", "pearson"}, default="spearman"
        Spearman's rank correlation (monotone relations, robust to outliers; ties
        get average ranks) or Pearson's linear correlation. Rows with missing values
        are skipped pair by pair; a constant column correlates with nothing.
    linkage : {"complete", "average", "single"}, default="complete"
        How the distance between two groups is measured
        (``scipy.cluster.hierarchy.linkage``): complete = the largest pairwise
        distance, average = the mean, single = the smallest (chains of correlations).

    Returns
    -------
    dict of str to list of str
        Every column in exactly one group, groups ordered by their first column;
        a group of several columns is named by joining its column names with "+"
        (``"x1+x2"``), a group of one column by the column's name.

    Raises
    ------
    InputError
        If ``correlation_threshold``, ``method`` or ``linkage`` is out of range, or ``X`` is empty.

    References
    ----------
    .. [1] C. Strobl, A.-L. Boulesteix, T. Kneib, T. Augustin and A. Zeileis,
       "Conditional variable importance for random forests", BMC Bioinformatics 9, 2008.
    .. [2] C. Spearman, "The proof and measurement of association between two things",
       American Journal of Psychology 15, 1904.
    """
    check_threshold(correlation_threshold, "correlation_threshold")
    if method not in _METHODS:
        raise InputError(
            f"method must be one of {_METHODS}, got {method!r}; use method='spearman'."
        )
    if linkage not in _LINKAGES:
        raise InputError(
            f"linkage must be one of {_LINKAGES}, got {linkage!r}; use linkage='complete'."
        )
    data = adapt_data(X, name="X")
    names = data.feature_names
    numeric = np.flatnonzero(~np.asarray(data.categorical, dtype=bool))
    labels = np.arange(len(names))  # one group per column unless clustered below
    if len(numeric) >= 2:
        from scipy.cluster.hierarchy import fcluster
        from scipy.cluster.hierarchy import linkage as scipy_linkage
        from scipy.spatial.distance import squareform

        values = np.asarray(data.values[:, numeric], dtype=np.float64)
        dist = 1.0 - correlation_matrix(values, method)
        dist = (dist + dist.T) / 2.0
        np.fill_diagonal(dist, 0.0)
        tree = scipy_linkage(squareform(dist, checks=False), method=linkage)
        # a small slack so that |rho| == correlation_threshold, up to rounding, still joins
        cut = fcluster(tree, t=1.0 - float(correlation_threshold) + 1e-12, criterion="distance")
        labels[numeric] = len(names) + cut
    groups: dict[str, list[str]] = {}
    seen: dict[int, list[str]] = {}
    for j, lab in enumerate(labels):
        seen.setdefault(int(lab), []).append(names[j])
    for members in seen.values():  # dicts keep insertion order: by first column
        name = "+".join(members)
        while name in groups:  # a column already named like a joined group
            name += "'"
        groups[name] = members
    return groups
