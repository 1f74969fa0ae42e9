"""Background data summaries: a random sample, or weighted k-means centres.

Model-agnostic Shapley explainers cost ``n_background`` model rows per coalition, so
a large background is summarised first. A random sample keeps the data's joint
distribution exactly in expectation; weighted k-means keeps its bulk with fewer rows
(each centre weighted by the share of rows in its cluster), at the price of
smoothing the tails (the summary KernelSHAP's authors proposed, Lundberg & Lee 2017).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, check_random_state, from_json_array
from whybox.adapters import adapt_data

SUMMARIES = ("kmeans", "sample")


@dataclass(frozen=True, eq=False)
class WeightedBackground(Result):
    """Background rows with a weight each, accepted wherever a background is.

    A :class:`~whybox._utils.Result`: ``to_dict``/``to_json``/``from_dict`` round-trip it
    (a DataFrame as its values, index and columns; dtypes are not kept), and
    ``to_frame`` is the rows with their weights.

    Attributes
    ----------
    data : ndarray of shape (n_rows, n_features) or DataFrame
        The rows, in the container (and with the column names) of the data summarised.
    weights : ndarray of shape (n_rows,), float64
        Non-negative, summing to one: the share of the data each row stands for.
    """

    data: pd.DataFrame | np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64)
        n = self.data.shape[0]
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise InputError(
                f"weights must be {n} finite non-negative numbers (one per row) with a "
                f"positive sum, got an array of shape {w.shape}; give one weight per row."
            )
        object.__setattr__(self, "weights", w / w.sum())

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WeightedBackground:
        """Rebuild from ``to_dict()``'s output, the weights exactly as written (they
        are already normalised; normalising again could move them by a rounding)."""
        out = super().from_dict(d)
        object.__setattr__(out, "weights", from_json_array(d["weights"], dtype=np.float64))
        return out

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (columns ``x0``, ``x1``, ... for an array) with a
        ``weight`` column."""
        frame = pd.DataFrame(self.data).copy()
        if not isinstance(self.data, pd.DataFrame):
            frame.columns = [f"x{j}" for j in range(frame.shape[1])]
        frame["weight"] = self.weights
        return frame


def summarize_background(
    X: Any, n_rows: int = 100, *, method: str = "kmeans", random_state: Any = 0
) -> WeightedBackground:
    """Summarise data into at most ``n_rows`` weighted background rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        The data to summarise (e.g. the training data). Text and categorical
        columns are allowed.
    n_rows : int, default=100
        The number of rows of the summary (all of ``X`` when it has no more rows).
    method : {"kmeans", "sample"}, default="kmeans"
        ``"kmeans"``: k-means on the standardised numeric columns and the one-hot
        encoded categorical ones (scikit-learn's ``KMeans``); each centre's numeric
        values are snapped to the closest value seen in the cluster's column (so an
        integer or binary feature keeps a value it can take), its categorical values
        are the cluster's most frequent level, and its weight is the cluster's share
        of the rows. ``"sample"``: a uniform random sample without replacement,
        equal weights.
    random_state : int, numpy Generator or None, default=0
        Seeds the sample or the k-means initialisation.
        None draws fresh entropy (results then differ between runs).

    Returns
    -------
    WeightedBackground
        ``data`` in ``X``'s container (a DataFrame stays a DataFrame with its
        dtypes), ``weights`` summing to one.

    Raises
    ------
    InputError
        If ``n_rows`` is not a positive integer or ``method`` is unknown.
    """
    random_state = check_random_state(random_state)
    n_rows = check_int(n_rows, "n_rows", 1, "n_rows=100")
    if method not in SUMMARIES:
        raise InputError(f"method must be one of {SUMMARIES}, got {method!r}; use method='kmeans'.")
    data = adapt_data(X, name="X")
    n = data.n_samples
    rng = np.random.default_rng(random_state)
    if n <= n_rows:
        return WeightedBackground(_rows(X, np.arange(n)), np.full(n, 1.0 / n))
    if method == "sample":
        idx = np.sort(rng.choice(n, size=int(n_rows), replace=False))
        return WeightedBackground(_rows(X, idx), np.full(idx.size, 1.0 / idx.size))
    from sklearn.cluster import KMeans

    cat = data.categorical
    frame = data.to_frame()
    parts = []
    num = [c for c, is_cat in zip(frame.columns, cat, strict=True) if not is_cat]
    if num:
        z = frame[num].to_numpy(dtype=np.float64)
        mean = np.nanmean(z, axis=0)
        std = np.nanstd(z, axis=0)
        z = np.where(np.isnan(z), mean, z)
        parts.append((z - mean) / np.where(std > 0, std, 1.0))
    cats = [c for c, is_cat in zip(frame.columns, cat, strict=True) if is_cat]
    if cats:
        parts.append(pd.get_dummies(frame[cats].astype(str)).to_numpy(dtype=np.float64))
    design = np.hstack(parts)
    seed = int(rng.integers(2**31 - 1))
    labels = KMeans(n_clusters=int(n_rows), n_init=4, random_state=seed).fit_predict(design)
    clusters = np.unique(labels)
    rows = np.empty((clusters.size, data.n_features), dtype=data.values.dtype)
    weights = np.empty(clusters.size)
    for r, c in enumerate(clusters):
        member = labels == c
        weights[r] = member.sum()
        block = data.values[member]
        for j in range(data.n_features):
            col = block[:, j]
            if cat[j]:
                rows[r, j] = pd.Series(col, dtype=object).mode(dropna=False).iloc[0]
            else:
                x = col.astype(np.float64)
                seen = x[~np.isnan(x)]
                if seen.size == 0:
                    rows[r, j] = np.nan
                else:
                    centre = seen.mean()
                    rows[r, j] = seen[np.argmin(np.abs(seen - centre))]
    if isinstance(X, pd.DataFrame):
        out = pd.DataFrame(rows, columns=X.columns).astype(X.dtypes.to_dict())
    else:
        out = rows
    return WeightedBackground(out, weights)


def _rows(X: Any, idx: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True)
    return np.asarray(X)[idx]
