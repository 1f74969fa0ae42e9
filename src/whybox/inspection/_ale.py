"""Accumulated local effects (ALE), first order, with bootstrap confidence bands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.adapters import Dataset, adapt_data
from whybox.inspection._features import (
    check_not_constant,
    feature_index,
    levels,
    output_space,
    predict_rows,
)
from whybox.shapley._masking import json_safe, prepare_model


@dataclass(frozen=True, eq=False)
class AccumulatedLocalEffects:
    """The first-order ALE of one feature.

    Attributes
    ----------
    feature_name : str
    grid_values : ndarray of shape (n_grid,)
        Numeric: the bin edges z_0 < ... < z_K (float64); categorical: the levels in
        the order the effects accumulate along (object).
    effect : ndarray of shape (n_outputs, n_grid), float64
        The centred ALE at each grid value, in the units of the output space: its
        mean over the rows is 0.
    lower, upper : ndarray of shape (n_outputs, n_grid) or None
        The bootstrap percentile confidence band (None without bootstrap).
    counts : ndarray of shape (n_bins,), int64
        Rows per bin (numeric: n_grid - 1 bins, the rows in (z_{k-1}, z_k]; the first
        bin includes z_0) or per level (categorical).
    categorical : bool
    output_names : tuple of str
    output_space : str
    params : dict
    """

    feature_name: str
    grid_values: np.ndarray
    effect: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    counts: np.ndarray
    categorical: bool
    output_names: tuple[str, ...]
    output_space: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per grid value and output: effect and band."""
        frames = []
        for k, name in enumerate(self.output_names):
            cols: dict[str, Any] = {self.feature_name: self.grid_values, "output": name}
            cols["effect"] = self.effect[k]
            if self.lower is not None:
                cols["lower"], cols["upper"] = self.lower[k], self.upper[k]
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "feature_name": self.feature_name,
            "grid_values": json_safe(self.grid_values.tolist()),
            "effect": self.effect.tolist(),
            "lower": None if self.lower is None else self.lower.tolist(),
            "upper": None if self.upper is None else self.upper.tolist(),
            "counts": self.counts.tolist(),
            "categorical": self.categorical,
            "output_names": list(self.output_names),
            "output_space": self.output_space,
            "params": self.params,
        }


# ---------------------------------------------------------------------- numeric
def quantile_edges(x: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges at the ``k / bins`` quantiles (inverse empirical CDF), duplicates removed."""
    q = np.quantile(x, np.linspace(0.0, 1.0, bins + 1), method="inverted_cdf")
    return np.unique(np.concatenate([[x.min()], q]))


def _numeric_deltas(m, data, j, edges, space, batch_size):
    """Per-row local effects f(z_k, x_-j) - f(z_{k-1}, x_-j) and each row's bin.

    Rows outside [z_0, z_K] are left out (bin -1).
    """
    x = data.values[:, j].astype(np.float64)
    inside = (x >= edges[0]) & (x <= edges[-1])
    bin_of = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(edges) - 2)
    bin_of = np.where(inside, bin_of, -1)
    b = bin_of[inside]
    # both edges of every row in one batch: the lower edges first, then the upper ones
    both = np.concatenate([data.values[inside], data.values[inside]])
    n = len(b)
    both[:n, j], both[n:, j] = edges[b], edges[b + 1]
    preds = predict_rows(m, Dataset(both, data.feature_names, data.categorical), space, batch_size)
    return preds[n:] - preds[:n], b


def _accumulate_numeric(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Centred ALE at the edges from per-bin sums (..., K, k) and counts (..., K).

    Bins without rows add 0. Centred as ALEPlot: minus the count-weighted mean of
    the bin midpoints' values (the mean of the two edges of each bin).
    """
    c = counts[..., None]
    means = np.divide(sums, c, out=np.zeros_like(sums), where=c > 0)
    acc = np.concatenate([np.zeros_like(means[..., :1, :]), np.cumsum(means, axis=-2)], axis=-2)
    mid = (acc[..., 1:, :] + acc[..., :-1, :]) / 2
    centre = (mid * c).sum(axis=-2, keepdims=True) / c.sum(axis=-2, keepdims=True)
    return acc - centre


# ---------------------------------------------------------------------- categorical
def _level_distances(data: Dataset, j: int, codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Sum over the other features of the distance between levels' distributions.

    Numeric features: the Kolmogorov-Smirnov distance between the feature's values
    in the two levels; categorical ones: the total variation distance between their
    category shares (Apley & Zhu 2020, section 3.3).
    """
    D = np.zeros((n_levels, n_levels))
    for other in range(data.n_features):
        if other == j:
            continue
        col = data.values[:, other]
        if data.categorical[other]:
            cats, inv = np.unique(pd.Series(col).astype(str).to_numpy(), return_inverse=True)
            table = np.zeros((n_levels, len(cats)))
            np.add.at(table, (codes, inv), 1.0)
            shares = table / table.sum(axis=1, keepdims=True)
            D += np.abs(shares[:, None, :] - shares[None, :, :]).sum(axis=2) / 2
        else:
            v = col.astype(np.float64)
            points = np.unique(v[~np.isnan(v)])
            cdf = np.stack(
                [
                    np.searchsorted(np.sort(v[(codes == g) & ~np.isnan(v)]), points, "right")
                    / max(1, np.sum((codes == g) & ~np.isnan(v)))
                    for g in range(n_levels)
                ]
            )
            D += np.abs(cdf[:, None, :] - cdf[None, :, :]).max(axis=2)
    return D


def order_levels(data: Dataset, j: int) -> np.ndarray:
    """The levels of categorical column ``j`` ordered by similarity.

    An ordered pandas Categorical keeps its order; otherwise the levels are placed
    along the first coordinate of classical multidimensional scaling of
    :func:`_level_distances` (Apley & Zhu 2020), oriented so that the
    first level in sorted order comes first.
    """
    lv = levels(data, j)
    codes = pd.Index(lv.tolist(), dtype=object).get_indexer(data.values[:, j].tolist())
    keep = codes >= 0
    sub = data.take(np.flatnonzero(keep))
    D = _level_distances(sub, j, codes[keep], len(lv))
    L = len(lv)
    J = np.eye(L) - 1.0 / L
    B = -0.5 * J @ (D**2) @ J
    vals, vecs = np.linalg.eigh(B)
    coord = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    if coord[0] > coord[-1]:
        coord = -coord
    return lv[np.argsort(coord, kind="stable")]


def _categorical_deltas(m, data, j, order, space, batch_size):
    """Local effects between adjacent levels (as ALEPlot for factors).

    A row of level k gives f(level k+1) - f(level k), counted for the step into
    k+1, and f(level k) - f(level k-1), counted for the step into k. Returns the
    deltas (m, k), the step each belongs to (1..L-1), and each row's level.
    """
    codes = pd.Index(order.tolist(), dtype=object).get_indexer(data.values[:, j].tolist())
    L = len(order)
    up = np.flatnonzero((codes >= 0) & (codes < L - 1))
    down = np.flatnonzero(codes > 0)
    rows = np.concatenate([up, up, down, down])
    values = data.values[rows].copy()
    k = len(up)
    settings = np.concatenate([codes[up] + 1, codes[up], codes[down], codes[down] - 1])
    values[:, j] = order[settings]
    preds = predict_rows(
        m, Dataset(values, data.feature_names, data.categorical), space, batch_size
    )
    d_up = preds[:k] - preds[k : 2 * k]
    d_down = preds[2 * k : 2 * k + len(down)] - preds[2 * k + len(down) :]
    deltas = np.concatenate([d_up, d_down])
    step = np.concatenate([codes[up] + 1, codes[down]])
    owner = np.concatenate([up, down])
    return deltas, step, owner, codes


def _accumulate_categorical(sums, counts, level_counts):
    """Centred ALE per level: cumulative mean steps, minus their level-weighted mean."""
    c = counts[..., None]
    means = np.divide(sums, c, out=np.zeros_like(sums), where=c > 0)
    acc = np.cumsum(means, axis=-2)  # step 0 (into level 0) is 0
    w = level_counts[..., None]
    return acc - (acc * w).sum(axis=-2, keepdims=True) / w.sum(axis=-2, keepdims=True)


# ---------------------------------------------------------------------- public
def _check_args(bins: Any, n_bootstrap: Any, confidence_level: Any) -> None:
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise InputError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}; e.g. 100.")
    if n_bootstrap < 0 or n_bootstrap == 1:
        raise InputError(
            f"n_bootstrap must be 0 (no band) or at least 2 resamples, got {n_bootstrap}; "
            "e.g. n_bootstrap=100."
        )
    if not isinstance(confidence_level, (float, int)) or not 0 < confidence_level < 1:
        raise InputError(
            f"confidence_level must be in (0, 1), got {confidence_level!r}; e.g. 0.95."
        )
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise InputError(f"bins must be an integer >= 1 or bin edges, got {bins!r}; e.g. 20.")
        return
    edges = np.asarray(bins, dtype=np.float64) if not isinstance(bins, bool) else np.array([])
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise InputError(
            "bins must be an integer >= 1 or at least two strictly increasing bin edges, "
            f"got {bins!r}; e.g. bins=20."
        )


def accumulated_local_effects(
    model: Any,
    X: Any,
    feature: Any,
    *,
    bins: Any = 20,
    output: str | None = None,
    n_bootstrap: int = 0,
    confidence_level: float = 0.95,
    random_state: Any = None,
    batch_size: int | None = None,
) -> AccumulatedLocalEffects:
    """First-order accumulated local effects of one feature (Apley & Zhu 2020).

    Numeric feature: the range is cut at quantiles into bins (z_{k-1}, z_k]; each
    row in bin k contributes the local effect ``f(z_k, x_-j) - f(z_{k-1}, x_-j)``,
    its other features kept as they are; the mean effect per bin is accumulated
    along the bins and centred so that its mean over the rows is 0 (ALEPlot's
    estimator). Because each row only moves within its own bin, the model is
    evaluated near the data, which makes ALE trustworthy under correlated
    features where partial dependence extrapolates to combinations the data never
    shows. Categorical feature: the levels are ordered by how similar the other
    features are within them, and the effects of stepping between adjacent levels
    are accumulated. All model evaluations go into few batched calls.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        The data (training data or a sample of it).
    feature : str or int
        The feature (numeric or categorical).
    bins : int or sequence of float, default=20
        Numeric only: the number of quantile bins (fewer when values repeat: the
        edges are the distinct ``k / bins`` quantiles, inverse empirical CDF, with
        the minimum), or the bin edges themselves (rows outside them are left out).
    output : {"raw", "probability", "log_odds"}, optional
        The output space; default probability for classifiers, the value for
        regressors.
    n_bootstrap : int, default=0
        Bootstrap resamples of the rows for a percentile confidence band. The
        per-row local effects are computed once and resampled, so the band costs
        no model calls; the bins stay fixed.
    confidence_level : float, default=0.95
    random_state : int, numpy Generator or None
        Seeds the bootstrap.
    batch_size : int, optional
        Model-input rows per call; never changes the result.

    Returns
    -------
    AccumulatedLocalEffects
        ``effect`` (n_outputs, n_grid) at the bin edges (numeric) or levels
        (categorical), in the units of the output space, with ``lower``/``upper``.

    Raises
    ------
    InputError
        An unknown or constant feature, bins that are not a count or increasing
        edges, fewer than 2 rows per bin on average (too few rows for the bins),
        fewer than 10 rows for a bootstrap, bad ``n_bootstrap`` or
        ``confidence_level``.

    References
    ----------
    .. [1] D. W. Apley, J. Zhu, "Visualizing the effects of predictor variables in
       black box supervised learning models", JRSS Series B 82(4), 2020.
    """
    _check_args(bins, n_bootstrap, confidence_level)
    m = prepare_model(model, X)
    data = m.check_data(adapt_data(X, name="X"), name="X")
    j = feature_index(data, feature, "feature")
    name = data.feature_names[j]
    check_not_constant(data, j, levels(data, j))
    space = output_space(m, output)
    n = data.n_samples
    if n_bootstrap and n < 10:
        raise InputError(
            f"a bootstrap band needs at least 10 rows, X has {n}; give more rows or n_bootstrap=0."
        )
    categorical = bool(data.categorical[j])
    if categorical:
        grid = order_levels(data, j)
        deltas, step, owner, codes = _categorical_deltas(m, data, j, grid, space, batch_size)
        n_slots = len(grid)
        slot, row_of = step, owner
    else:
        x = data.values[:, j].astype(np.float64)
        x = x[~np.isnan(x)]
        if isinstance(bins, (int, np.integer)):
            if n < 2 * bins and n < 2 * len(np.unique(x)):
                raise InputError(
                    f"bins={bins} needs at least {2 * bins} rows (2 per bin), X has {n}; "
                    f"use bins <= {max(1, n // 2)}."
                )
            grid = quantile_edges(x, int(bins))
        else:
            grid = np.asarray(bins, dtype=np.float64)
        deltas, slot = _numeric_deltas(m, data, j, grid, space, batch_size)
        row_of = np.flatnonzero(
            (data.values[:, j].astype(np.float64) >= grid[0])
            & (data.values[:, j].astype(np.float64) <= grid[-1])
        )
        n_slots = len(grid) - 1

    def ale(weights: np.ndarray) -> np.ndarray:
        """Centred ALE for row weights (B, n) (bootstrap multiplicities): (B, n_grid, k)."""
        w = weights[:, row_of]  # (B, m)
        onehot = np.zeros((len(slot), n_slots))
        onehot[np.arange(len(slot)), slot] = 1.0
        counts = w @ onehot  # (B, n_slots)
        sums = np.stack([(w * deltas[:, k]) @ onehot for k in range(deltas.shape[1])], axis=-1)
        if categorical:
            level_w = np.zeros((n, n_slots))
            level_w[codes >= 0, codes[codes >= 0]] = 1.0
            return _accumulate_categorical(sums, counts, weights @ level_w)
        return _accumulate_numeric(sums, counts)

    effect = ale(np.ones((1, n)))[0]
    counts = np.bincount(slot if not categorical else codes[codes >= 0], minlength=n_slots)
    lower = upper = None
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        draws = np.stack(
            [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_bootstrap)]
        )
        boot = ale(draws.astype(np.float64))
        alpha = (1 - confidence_level) / 2
        lower, upper = np.quantile(boot, [alpha, 1 - alpha], axis=0)
        lower, upper = lower.T, upper.T
    return AccumulatedLocalEffects(
        feature_name=name,
        grid_values=grid,
        effect=effect.T,
        lower=lower,
        upper=upper,
        counts=counts.astype(np.int64),
        categorical=categorical,
        output_names=m.output_names,
        output_space=space,
        params={
            "bins": json_safe(bins if isinstance(bins, (int, np.integer)) else list(grid)),
            "n_bootstrap": int(n_bootstrap),
            "confidence_level": float(confidence_level),
            "random_state": json_safe(random_state),
            "n_samples": n,
            "batch_size": json_safe(batch_size),
        },
    )
