"""Accumulated local effects (ALE): first order (numeric or categorical) and second order
(the pure interaction of two numeric features), with bootstrap confidence bands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from whybox._exceptions import InputError
from whybox._utils import (
    Result,
    check_batch_size,
    check_confidence_level,
    check_int,
    check_random_state,
    is_dask_collection,
    json_value,
)
from whybox.adapters import Dataset, adapt_data
from whybox.inspection._features import (
    check_not_constant,
    feature_index,
    levels,
    model_and_data,
    output_space,
    predict_rows,
)

_BOOT_CELLS = 1 << 22
"""Row weights x outputs per block of bootstrap resamples (memory bound)."""


@dataclass(frozen=True, eq=False)
class AccumulatedLocalEffects(Result):
    """Accumulated local effects of one feature (first order) or a pair (second order).

    Attributes
    ----------
    feature_names : tuple of str
        One name (first order) or two (second order).
    grids : tuple of ndarray
        One per feature. Numeric: the bin edges z_0 < ... < z_K (float64);
        categorical: the levels in the order the effects accumulate along (object).
    effect : ndarray of shape (n_outputs, n_grid) or (n_outputs, n_grid1, n_grid2), float64
        The centred ALE at each grid value (first order) or grid node (second order:
        the pure interaction effect, both main effects removed), in the units of the
        output space. Centred so that its mean over the rows is 0 (the mean of each
        bin's or cell's corner values, weighted by its rows).
    lower, upper : ndarray shaped like ``effect``, or None
        The bootstrap percentile confidence band (None without bootstrap).
    counts : ndarray of shape (n_bins,) or (n_bins1, n_bins2), int64
        Rows per bin (numeric: n_grid - 1 bins, the rows in (z_{k-1}, z_k]; the first
        bin includes z_0), per level (categorical) or per cell (second order).
    categorical : bool
        True for a first-order ALE of a categorical feature.
    output_names : tuple of str
        One name per output (a binary classifier: the positive class).
    output_space : str
        "raw", "probability" or "log_odds".
    params : dict
        The arguments, JSON-ready, ``n_samples`` (the rows of X), and for second
        order ``n_empty_cells``: cells without rows whose local effect was filled
        from the nearest non-empty cell.
    """

    feature_names: tuple[str, ...]
    grids: tuple[np.ndarray, ...]
    effect: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    counts: np.ndarray
    categorical: bool
    output_names: tuple[str, ...]
    output_space: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> int:
        """1 for the ALE of one feature, 2 for the interaction of a pair."""
        return len(self.feature_names)

    @property
    def feature_name(self) -> str:
        """First order: the feature's name (for a pair use ``feature_names``)."""
        self._first_order_only("feature_name", "feature_names")
        return self.feature_names[0]

    @property
    def grid_values(self) -> np.ndarray:
        """First order: the bin edges or ordered levels (for a pair use ``grids``)."""
        self._first_order_only("grid_values", "grids")
        return self.grids[0]

    def _first_order_only(self, name: str, instead: str) -> None:
        if self.order != 1:
            raise InputError(
                f"{name} is the shorthand of a first-order ALE but this one is of the pair "
                f"{list(self.feature_names)}; read {instead} instead."
            )

    def to_frame(self) -> pd.DataFrame:
        """One row per grid value (or node of the 2-D grid) and output: effect and band."""
        if self.order == 1:
            keys: dict[str, Any] = {self.feature_names[0]: self.grids[0]}
        else:
            g1, g2 = np.meshgrid(self.grids[0], self.grids[1], indexing="ij")
            keys = {self.feature_names[0]: g1.ravel(), self.feature_names[1]: g2.ravel()}
        frames = []
        for k, name in enumerate(self.output_names):
            cols = dict(keys)
            cols["output"] = name
            cols["effect"] = self.effect[k].ravel()
            if self.lower is not None and self.upper is not None:
                cols["lower"], cols["upper"] = self.lower[k].ravel(), self.upper[k].ravel()
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------- numeric
def quantile_edges(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges at the ``k / n_bins`` quantiles (inverse empirical CDF), duplicates removed."""
    q = np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1), method="inverted_cdf")
    return np.unique(np.concatenate([[x.min()], q]))


def _bin_of(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin: k for (z_k, z_{k+1}] (the first bin closed), -1 outside or NaN."""
    inside = (x >= edges[0]) & (x <= edges[-1])
    b = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(edges) - 2)
    return np.where(inside, b, -1)


def _accumulate_numeric(means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Centred first-order ALE at the edges from bin means (B, K, k) and counts (B, K).

    Centred as ALEPlot: minus the count-weighted mean of the bins' midpoint values
    (the mean of the two edges of each bin).
    """
    c = counts[..., None]
    acc = np.concatenate([np.zeros_like(means[:, :1]), np.cumsum(means, axis=1)], axis=1)
    mid = (acc[:, 1:] + acc[:, :-1]) / 2
    return acc - (mid * c).sum(axis=1, keepdims=True) / c.sum(axis=1, keepdims=True)


def _strip_average(delta: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-weighted mean over axis 2 of the cell averages of ``delta`` (B, K1, K2+1, k).

    A strip without rows (possible with given edges or in a resample) weights its
    cells equally.
    """
    cell = (delta[:, :, :-1] + delta[:, :, 1:]) / 2  # (B, K1, K2, k)
    total = b.sum(axis=2, keepdims=True)
    w = np.where(total > 0, b, 1.0)
    return (cell * w[..., None]).sum(axis=2) / w.sum(axis=2)[..., None]


def _accumulate_pair(means: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Centred pure interaction at the grid nodes from cell means (B, K1, K2, k).

    ALEPlot's second-order estimator (Apley & Zhu 2020, eqs. 13-15): the mean
    second-order differences are summed over both axes, the result's own
    first-order ALE along each axis is removed, and the surface is centred so the
    row-weighted mean of the cells' corner averages is 0.
    """
    B, K1, K2, k = means.shape
    f = np.zeros((B, K1 + 1, K2 + 1, k))
    f[:, 1:, 1:] = np.cumsum(np.cumsum(means, axis=1), axis=2)
    main1 = _strip_average(np.diff(f, axis=1), b)  # (B, K1, k)
    main2 = _strip_average(np.diff(f, axis=2).swapaxes(1, 2), b.swapaxes(1, 2))
    zero = np.zeros((B, 1, k))
    f1 = np.concatenate([zero, np.cumsum(main1, axis=1)], axis=1)
    f2 = np.concatenate([zero, np.cumsum(main2, axis=1)], axis=1)
    f = f - f1[:, :, None] - f2[:, None, :]
    corners = (f[:, :-1, :-1] + f[:, :-1, 1:] + f[:, 1:, :-1] + f[:, 1:, 1:]) / 4
    centre = (corners * b[..., None]).sum(axis=(1, 2)) / b.sum(axis=(1, 2))[..., None]
    return f - centre[:, None, None]


def _fill_empty_cells(means: np.ndarray, counts: np.ndarray, centres: np.ndarray) -> None:
    """Give each cell without rows the mean of the nearest cell with rows (in place).

    ``means`` (B, K1, K2, k), ``counts`` (B, K1, K2), ``centres`` (K1 * K2, 2): the
    cells' centres, each coordinate divided by the feature's range (ALEPlot's
    rule). Ties go to the first cell in row-major order.
    """
    B, K1, K2, k = means.shape
    flat = means.reshape(B, K1 * K2, k)
    for r in range(B):
        empty = np.flatnonzero(counts[r].ravel() == 0)
        if len(empty) == 0:
            continue
        full = np.flatnonzero(counts[r].ravel() > 0)
        step = max(1, (1 << 20) // max(1, len(full)))
        for s in range(0, len(empty), step):
            part = empty[s : s + step]
            d = ((centres[part, None, :] - centres[None, full, :]) ** 2).sum(axis=2)
            flat[r, part] = flat[r, full[np.argmin(d, axis=1)]]


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


def order_levels(data: Dataset, j: int, given: list[Any] | None = None) -> np.ndarray:
    """The levels of categorical column ``j`` ordered by similarity.

    ``given`` (the categories of an ordered pandas Categorical) keeps its order,
    restricted to the levels present; otherwise the levels are placed along the
    first coordinate of classical multidimensional scaling of
    :func:`_level_distances` (Apley & Zhu 2020), oriented so that the first level
    in sorted order comes first.
    """
    lv = levels(data, j)
    if given is not None:
        present = set(lv.tolist())
        return np.array([v for v in given if v in present], dtype=object)
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


def _categorical_deltas(m, data, j, order, space, batch_size, flags):
    """Local effects between adjacent levels (as ALEPlot for factors).

    A row of level k gives f(level k+1) - f(level k), counted for the step into
    k+1, and f(level k) - f(level k-1), counted for the step into k. Returns the
    deltas (m, k), the step each belongs to (1..L-1), the row each comes from, and
    each row's level (-1 when missing).
    """
    codes = pd.Index(order.tolist(), dtype=object).get_indexer(data.values[:, j].tolist())
    L = len(order)
    up = np.flatnonzero((codes >= 0) & (codes < L - 1))
    down = np.flatnonzero(codes > 0)
    rows = np.concatenate([up, up, down, down])
    values = data.values[rows].copy()  # float64 levels stay float64 (categorical_features)
    k = len(up)
    settings = np.concatenate([codes[up] + 1, codes[up], codes[down], codes[down] - 1])
    values[:, j] = order[settings]
    preds = predict_rows(m, Dataset(values, data.feature_names, flags), space, batch_size)
    d_up = preds[:k] - preds[k : 2 * k]
    d_down = preds[2 * k : 2 * k + len(down)] - preds[2 * k + len(down) :]
    deltas = np.concatenate([d_up, d_down])
    step = np.concatenate([codes[up] + 1, codes[down]])
    owner = np.concatenate([up, down])
    return deltas, step, owner, codes


def _accumulate_categorical(means, level_counts):
    """Centred ALE per level: cumulative mean steps, minus their level-weighted mean."""
    acc = np.cumsum(means, axis=1)  # step 0 (into level 0) is 0
    w = level_counts[..., None]
    return acc - (acc * w).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- shared
class _Slots:
    """Sums and counts of per-row local effects in slots (bins, cells or steps).

    ``owner[i]`` is the row of X that local effect ``i`` comes from and ``slot[i]``
    its slot; the statistics are computed for row weights (B, n) (bootstrap
    multiplicities; all ones for the estimate) with one sparse product.
    """

    def __init__(
        self, owner: np.ndarray, slot: np.ndarray, n_slots: int, deltas: np.ndarray | None = None
    ):
        self.owner, self.n_slots, self.deltas = owner, n_slots, deltas
        m = len(owner)
        self.matrix = sparse.csr_matrix(
            (np.ones(m), (slot, np.arange(m))), shape=(n_slots, m)
        )  # fmt: skip

    def counts(self, weights: np.ndarray) -> np.ndarray:
        """Weighted rows per slot: (B, n_slots)."""
        return np.asarray(self.matrix @ weights[:, self.owner].T).T

    def sums(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted sums of the local effects per slot (B, n_slots, k), and counts."""
        w = weights[:, self.owner]  # (B, m)
        B, k = len(w), self.deltas.shape[1]
        counts = np.asarray(self.matrix @ w.T).T
        prod = (w.T[:, :, None] * self.deltas[:, None, :]).reshape(len(self.owner), B * k)
        sums = np.asarray(self.matrix @ prod).reshape(self.n_slots, B, k).transpose(1, 0, 2)
        return sums, counts

    def means(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean local effect per slot (B, n_slots, k), 0 where empty, and counts."""
        sums, counts = self.sums(weights)
        c = counts[..., None]
        return np.divide(sums, c, out=np.zeros_like(sums), where=c > 0), counts


def _check_bootstrap(n_bootstrap: Any) -> int:
    """``n_bootstrap``: 0 (no band) or at least 2 resamples."""
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 0, "n_bootstrap=100")
    if n_bootstrap == 1:
        raise InputError(
            "n_bootstrap must be 0 (no band) or at least 2 resamples, got 1; e.g. n_bootstrap=100."
        )
    return n_bootstrap


def _check_bins(n_bins: Any, what: str) -> int | np.ndarray:
    """An int >= 1 or strictly increasing edges (float64)."""
    if isinstance(n_bins, (int, np.integer)) and not isinstance(n_bins, bool):
        if n_bins < 1:
            raise InputError(
                f"{what} must be an integer >= 1 or bin edges, got {n_bins!r}; e.g. 20."
            )
        return int(n_bins)
    try:
        edges = np.asarray(n_bins, dtype=np.float64) if not isinstance(n_bins, bool) else None
    except (TypeError, ValueError):
        edges = None
    if (
        edges is None
        or edges.ndim != 1
        or len(edges) < 2
        or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) <= 0)
    ):
        raise InputError(
            f"{what} must be an integer >= 1 or at least two strictly increasing finite bin "
            f"edges, got {n_bins!r}; e.g. n_bins=20."
        )
    return edges


def _split_bins(n_bins: Any, order: int) -> list[int | np.ndarray]:
    """One ``n_bins`` specification per feature."""
    if order == 1:
        return [_check_bins(n_bins, "n_bins")]
    if isinstance(n_bins, (int, np.integer)) and not isinstance(n_bins, bool):
        return [_check_bins(n_bins, "n_bins")] * 2
    if not isinstance(n_bins, (tuple, list)) or len(n_bins) != 2:
        raise InputError(
            f"n_bins for a pair of features must be an integer or a pair (one integer or "
            f"sequence of edges per feature), got {n_bins!r}; e.g. n_bins=10 or "
            "n_bins=(10, 20)."
        )
    return [_check_bins(b, f"n_bins[{i}]") for i, b in enumerate(n_bins)]


def _features(data: Dataset, features: Any) -> list[int]:
    if isinstance(features, (tuple, list, np.ndarray)):
        items = list(features)
        if not 1 <= len(items) <= 2:
            raise InputError(
                f"features must be one feature or a pair, got {len(items)} ({items!r}); give "
                "e.g. 'age' or ('age', 'income')."
            )
    else:
        items = [features]
    idx = [feature_index(data, f, "features") for f in items]
    if len(idx) == 2 and idx[0] == idx[1]:
        raise InputError(
            f"features names {data.feature_names[idx[0]]!r} twice; a second-order ALE needs two "
            "different features."
        )
    return idx


def _mark_categorical(data: Dataset, categorical_features: Any) -> Dataset:
    if categorical_features is None:
        return data
    if isinstance(categorical_features, (str, int, np.integer)):
        categorical_features = [categorical_features]
    flags = data.categorical.copy()
    for f in categorical_features:
        flags[feature_index(data, f, "categorical_features")] = True
    return Dataset(data.values, data.feature_names, flags)


def _ordered_categories(X: Any, name: str) -> list[Any] | None:
    """The categories of column ``name`` of a DataFrame when it is an ordered Categorical."""
    if isinstance(X, pd.DataFrame) and name in X.columns:
        dtype = X[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
            return list(dtype.categories)
    return None


def _edges_for(data: Dataset, j: int, spec: int | np.ndarray) -> np.ndarray:
    x = data.values[:, j].astype(np.float64)
    x = x[~np.isnan(x)]
    if isinstance(spec, np.ndarray):
        return spec
    if len(x) < 2 * spec and len(x) < 2 * len(np.unique(x)):
        raise InputError(
            f"n_bins={spec} needs at least {2 * spec} rows (2 per bin) with a value of "
            f"{data.feature_names[j]!r}, X has {len(x)}; use n_bins <= {max(1, len(x) // 2)}."
        )
    return quantile_edges(x, spec)


def _result(
    m: Any,
    space: str,
    names: tuple[str, ...],
    grids: Any,
    effect: np.ndarray,
    boot: np.ndarray | None,
    counts: np.ndarray,
    categorical: bool,
    confidence_level: float,
    *,
    n_bins: Any,
    n_bootstrap: int,
    categorical_features: Any,
    random_state: Any,
    n: int,
    batch_size: Any,
    **extra: Any,
) -> AccumulatedLocalEffects:
    """The result from the effect (*grid, n_outputs) and the bootstrap replicates
    (n_bootstrap, *grid, n_outputs) or None: the band is their percentile interval."""
    lower = upper = None
    if boot is not None:
        alpha = (1 - confidence_level) / 2
        lower, upper = (np.moveaxis(q, -1, 0) for q in np.quantile(boot, [alpha, 1 - alpha], 0))
    return AccumulatedLocalEffects(
        feature_names=names,
        grids=grids,
        effect=np.moveaxis(effect, -1, 0),
        lower=lower,
        upper=upper,
        counts=np.rint(counts).astype(np.int64),
        categorical=categorical,
        output_names=m.output_names,
        output_space=space,
        params={
            "n_bins": n_bins,
            "n_bootstrap": int(n_bootstrap),
            "confidence_level": float(confidence_level),
            "categorical_features": categorical_features,
            "random_state": json_value(random_state),
            "n_samples": int(n),
            "batch_size": json_value(batch_size),
            **extra,
        },
    )


def accumulated_local_effects(
    model: Any,
    X: Any,
    features: Any,
    *,
    n_bins: Any = 20,
    output: str | None = None,
    n_bootstrap: int = 0,
    confidence_level: float = 0.95,
    categorical_features: Any = None,
    random_state: Any = 0,
    batch_size: int | None = None,
) -> AccumulatedLocalEffects:
    """Accumulated local effects of one feature, or the interaction of a pair (Apley & Zhu 2020).

    First order, numeric feature: the range is cut at quantiles into bins
    (z_{k-1}, z_k]; each row in bin k contributes the local effect
    ``f(z_k, x_-j) - f(z_{k-1}, x_-j)``, its other features kept as they are; the
    mean effect per bin is accumulated along the bins and centred so that its mean
    over the rows is 0 (ALEPlot's estimator; PyALE gives the same numbers on the
    same bins). Because each row only moves within its own bin, the model is
    evaluated near the data, which makes ALE trustworthy under correlated
    features where partial dependence extrapolates to combinations the data never
    shows. A bin without rows (possible with given edges) adds nothing.

    First order, categorical feature: the levels are ordered by how similar the
    other features are within them (the sum over the other features of the
    Kolmogorov-Smirnov distance, numeric, or the total variation distance of the
    category shares, categorical, then the first coordinate of classical
    multidimensional scaling), or kept in order for an ordered pandas Categorical;
    the effects of stepping between adjacent levels are averaged over the rows of
    both levels and accumulated.

    Second order, a pair of numeric features: the 2-D grid of both features'
    quantile bins; each row in cell (k, l) contributes the second-order difference
    ``f(z_k, w_l) - f(z_k, w_{l-1}) - f(z_{k-1}, w_l) + f(z_{k-1}, w_{l-1})``; the
    mean per cell is accumulated over both axes, the surface's own first-order
    effects along each axis are removed and the rest is centred: the pure
    interaction effect, 0 everywhere for a model additive in the pair. A cell
    without rows takes the mean of the nearest cell with rows (distances between
    cell centres, each feature scaled by its range; ALEPlot's rule), counted in
    ``params["n_empty_cells"]``.

    All model evaluations (both edges, or the four corners, of every row) go into
    one batched call (at most ``batch_size`` rows each).

    Parameters
    ----------
    model : object
        The fitted model: a scikit-learn estimator or Pipeline, an XGBoost, LightGBM
        or CatBoost model, a callable ``f(X)``, or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        The data (training data or a sample of it); or a dask Array/DataFrame: the
        features' columns are gathered for the edges, local effects summed per bin
        (or cell) on the workers: one numeric feature, a pair, or a categorical
        feature given as an ordered pandas Categorical (ordering unordered levels by
        similarity needs every row at once). Its ``n_bootstrap`` band is a
        Poisson bootstrap: each row gets a Poisson(1) weight per replicate, drawn on
        its worker from ``default_rng([seed, partition])`` with ``seed`` drawn from
        ``random_state``, and the bins' weighted sums are added (Hanley & MacGibbon
        2006); its replicates differ from the in-memory multinomial resamples (same
        spread to O(1/n)), and the same ``random_state`` and partitions give the
        same band.
    features : str or int, or a pair of them
        One feature (numeric or categorical), or two numeric features for the
        second-order interaction.
    n_bins : int or sequence of float, default=20
        Numeric features: the number of quantile bins (fewer when values repeat: the
        edges are the distinct ``k / n_bins`` quantiles, inverse empirical CDF, with
        the minimum), or the bin edges themselves (rows outside them are left out).
        For a pair: one integer for both, or a pair with an integer or edges each.
    output : {"raw", "probability", "log_odds"}, optional
        The output space; default probability for classifiers, the value for
        regressors. One curve per output (a binary classifier: the positive class).
    n_bootstrap : int, default=0
        Bootstrap resamples of the rows for a percentile confidence band. The
        per-row local effects are computed once and resampled, so the band costs
        no model calls; the bins stay fixed and each resample goes through the same
        estimator (empty bins, empty cells) as the data.
    confidence_level : float, default=0.95
        The band's coverage: the ``(1 - level) / 2`` and ``(1 + level) / 2``
        percentiles of the resampled curves.
    categorical_features : str, int or sequence of them, optional
        Columns to treat as categorical although numeric (e.g. integer codes).
        pandas category, text and bool columns are categorical anyway.
    random_state : int, numpy Generator or None, default=0
        Seeds the bootstrap.
    batch_size : int, optional
        Model-input rows per call (None: one call); never changes the result.

    Returns
    -------
    AccumulatedLocalEffects
        ``effect`` of shape (n_outputs, n_grid) at the bin edges (numeric) or levels
        (categorical), or (n_outputs, n_grid1, n_grid2) at the nodes of the 2-D
        grid, float64 in the units of the output space, with ``lower``/``upper``.

    Raises
    ------
    InputError
        An unknown, repeated or constant feature, more than two features, a
        categorical feature in a pair, ``n_bins`` that is not a count or increasing
        edges, fewer than 2 rows per bin on average (too few rows for the bins),
        fewer than 10 rows for a bootstrap, bad ``n_bootstrap`` or
        ``confidence_level``.

    References
    ----------
    .. [1] D. W. Apley, J. Zhu, "Visualizing the effects of predictor variables in
       black box supervised learning models", JRSS Series B 82(4), 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> from whybox.inspection import accumulated_local_effects
    >>> X, y = make_regression(n_samples=200, n_features=3, random_state=0)
    >>> model = LinearRegression().fit(X, y)
    >>> result = accumulated_local_effects(model, X, 0, n_bins=4)
    >>> result.effect.shape, result.counts.tolist()  # (outputs, bin edges), rows per bin
    ((1, 5), [50, 50, 50, 50])
    >>> slopes = (result.effect[0][1:] - result.effect[0][:-1]) / (
    ...     result.grid_values[1:] - result.grid_values[:-1]
    ... )
    >>> bool(abs(slopes - model.coef_[0]).max() < 1e-9)  # a linear model: its coefficient
    True
    """
    random_state = check_random_state(random_state)
    n_bootstrap = _check_bootstrap(n_bootstrap)
    confidence_level = check_confidence_level(confidence_level)
    batch_size = check_batch_size(batch_size)
    if is_dask_collection(X):
        return _ale_dask(
            model, X, features, n_bins, output, n_bootstrap, confidence_level,
            categorical_features, random_state, batch_size,
        )  # fmt: skip
    m, data = model_and_data(model, X)
    model_flags = data.categorical  # what the model is handed keeps the data's own dtypes
    data = _mark_categorical(data, categorical_features)
    idx = _features(data, features)
    names = tuple(data.feature_names[j] for j in idx)
    specs = _split_bins(n_bins, len(idx))
    for j in idx:
        check_not_constant(data, j, levels(data, j))
    if len(idx) == 2 and data.categorical[idx].any():
        cat = names[int(np.flatnonzero(data.categorical[idx])[0])]
        raise InputError(
            f"feature {cat!r} is categorical, but a second-order ALE needs two numeric "
            "features; ask for the first-order ALE of each, or encode it as numbers."
        )
    space = output_space(m, output)
    n = data.n_samples
    if n_bootstrap and n < 10:
        raise InputError(
            f"a bootstrap band needs at least 10 rows, X has {n}; give more rows or n_bootstrap=0."
        )
    extra: dict[str, Any] = {}
    categorical = bool(len(idx) == 1 and data.categorical[idx[0]])
    if categorical:
        j = idx[0]
        grids = (order_levels(data, j, _ordered_categories(X, names[0])),)
        deltas, step, owner, codes = _categorical_deltas(
            m, data, j, grids[0], space, batch_size, model_flags
        )
        slots = _Slots(owner, step, len(grids[0]), deltas)
        has_level = np.flatnonzero(codes >= 0)
        level_slots = _Slots(has_level, codes[has_level], len(grids[0]))
        counts = level_slots.counts(np.ones((1, n)))[0]

        def estimate(w: np.ndarray) -> np.ndarray:
            means, _ = slots.means(w)
            return _accumulate_categorical(means, level_slots.counts(w))

    elif len(idx) == 1:
        j = idx[0]
        grids = (_edges_for(data, j, specs[0]),)
        b = _bin_of(data.values[:, j].astype(np.float64), grids[0])
        owner = np.flatnonzero(b >= 0)
        both = np.concatenate([data.values[owner], data.values[owner]])
        k = len(owner)
        both[:k, j], both[k:, j] = grids[0][b[owner]], grids[0][b[owner] + 1]
        preds = predict_rows(m, Dataset(both, data.feature_names, model_flags), space, batch_size)
        slots = _Slots(owner, b[owner], len(grids[0]) - 1, preds[k:] - preds[:k])
        counts = slots.counts(np.ones((1, n)))[0]

        def estimate(w: np.ndarray) -> np.ndarray:
            return _accumulate_numeric(*slots.means(w))

    else:
        grids = tuple(_edges_for(data, j, s) for j, s in zip(idx, specs, strict=True))
        K1, K2 = len(grids[0]) - 1, len(grids[1]) - 1
        b1 = _bin_of(data.values[:, idx[0]].astype(np.float64), grids[0])
        b2 = _bin_of(data.values[:, idx[1]].astype(np.float64), grids[1])
        owner = np.flatnonzero((b1 >= 0) & (b2 >= 0))
        c1, c2 = b1[owner], b2[owner]
        k = len(owner)
        corners = np.concatenate([data.values[owner]] * 4)
        for q, (d1, d2) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            corners[q * k : (q + 1) * k, idx[0]] = grids[0][c1 + d1]
            corners[q * k : (q + 1) * k, idx[1]] = grids[1][c2 + d2]
        p = predict_rows(
            m, Dataset(corners, data.feature_names, model_flags), space, batch_size
        ).reshape(4, k, -1)
        slots = _Slots(owner, c1 * K2 + c2, K1 * K2, (p[3] - p[2]) - (p[1] - p[0]))
        counts = slots.counts(np.ones((1, n)))[0].reshape(K1, K2)
        mids = [(g[1:] + g[:-1]) / 2 / (g[-1] - g[0]) for g in grids]
        centres = np.stack(np.meshgrid(mids[0], mids[1], indexing="ij"), axis=-1).reshape(-1, 2)
        extra["n_empty_cells"] = int((counts == 0).sum())

        def estimate(w: np.ndarray) -> np.ndarray:
            means, cnt = slots.means(w)
            means = means.reshape(len(w), K1, K2, -1)
            cnt = cnt.reshape(len(w), K1, K2)
            _fill_empty_cells(means, cnt, centres)
            return _accumulate_pair(means, cnt)

    bins_param = [s if isinstance(s, int) else s.tolist() for s in specs]
    effect = estimate(np.ones((1, n)))[0]
    boot = None
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        per_block = max(1, _BOOT_CELLS // max(n, len(slots.owner) * effect.shape[-1]))
        boot = []
        for start in range(0, n_bootstrap, per_block):
            # resample multiplicities, drawn in the same order whatever the block size
            draws = np.stack(
                [
                    np.bincount(rng.integers(0, n, n), minlength=n)
                    for _ in range(min(per_block, n_bootstrap - start))
                ]
            )
            boot.append(estimate(draws.astype(np.float64)))
        boot = np.concatenate(boot)
    return _result(
        m, space, names, grids, effect, boot, counts, categorical, confidence_level,
        n_bins=bins_param if len(idx) == 2 else bins_param[0], n_bootstrap=n_bootstrap,
        categorical_features=json_value(
            categorical_features
            if categorical_features is None
            or isinstance(categorical_features, (str, int, np.integer))
            else list(categorical_features)
        ),
        random_state=random_state, n=n, batch_size=batch_size, **extra,
    )  # fmt: skip


# ---------------------------------------------------------------------- dask
def _ale_partition(
    m: Any,
    X: Any,
    part: int,
    cols: list[int],
    grids: list[np.ndarray],
    space: str,
    batch_size: int | None,
    n_boot: int,
    seed: int,
    categorical: bool = False,
) -> tuple[np.ndarray, ...]:
    """One partition's sums of local effects per slot (S, k) (bins of one feature, the
    cells of a pair, ``c1 * K2 + c2``, or the steps into each level of a categorical
    feature), rows per slot (S,), rows, the Poisson bootstrap's weighted sums
    (n_boot, S, k) and counts (n_boot, S) (weights from
    ``whybox.distributed.poisson_weights(..., [seed, part])``), and, for a categorical
    feature, rows per level (L,) and their bootstrap counts (n_boot, L) (empty
    otherwise). The local effects are the in-memory call's: the bin's two edges, the
    cell's four corners or the adjacent levels, the rest of the row kept."""
    data = m.check_data(adapt_data(X, name="X"), name="X")
    flags = data.categorical
    level_slots = None
    if categorical:
        order = grids[0]
        deltas, slot, owner, codes = _categorical_deltas(
            m, data, cols[0], order, space, batch_size, flags
        )
        n_slots = len(order)
        has_level = np.flatnonzero(codes >= 0)
        level_slots = _Slots(has_level, codes[has_level], n_slots)
    elif len(cols) == 1:
        j, edges = cols[0], grids[0]
        b = _bin_of(data.values[:, j].astype(np.float64), edges)
        owner = np.flatnonzero(b >= 0)
        both = np.concatenate([data.values[owner], data.values[owner]])
        k = len(owner)
        both[:k, j], both[k:, j] = edges[b[owner]], edges[b[owner] + 1]
        preds = predict_rows(m, Dataset(both, data.feature_names, flags), space, batch_size)
        deltas, slot, n_slots = preds[k:] - preds[:k], b[owner], len(edges) - 1
    else:
        K1, K2 = len(grids[0]) - 1, len(grids[1]) - 1
        b1 = _bin_of(data.values[:, cols[0]].astype(np.float64), grids[0])
        b2 = _bin_of(data.values[:, cols[1]].astype(np.float64), grids[1])
        owner = np.flatnonzero((b1 >= 0) & (b2 >= 0))
        c1, c2 = b1[owner], b2[owner]
        k = len(owner)
        corners = np.concatenate([data.values[owner]] * 4)
        for q, (d1, d2) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            corners[q * k : (q + 1) * k, cols[0]] = grids[0][c1 + d1]
            corners[q * k : (q + 1) * k, cols[1]] = grids[1][c2 + d2]
        p = predict_rows(m, Dataset(corners, data.feature_names, flags), space, batch_size).reshape(
            4, k, -1
        )
        deltas, slot, n_slots = (p[3] - p[2]) - (p[1] - p[0]), c1 * K2 + c2, K1 * K2
    sums = np.stack(
        [
            np.bincount(slot, weights=deltas[:, q], minlength=n_slots)
            for q in range(deltas.shape[1])
        ],
        axis=1,
    )
    n_levels = n_slots if level_slots is not None else 0
    boot_sums = np.zeros((n_boot, n_slots, deltas.shape[1]))
    boot_counts = np.zeros((n_boot, n_slots))
    boot_levels = np.zeros((n_boot, n_levels))
    if n_boot:
        from whybox.distributed import poisson_weights

        slots = _Slots(owner, slot, n_slots, deltas)
        at = 0
        for w in poisson_weights(data.n_samples, n_boot, [seed, part]):
            boot_sums[at : at + len(w)], boot_counts[at : at + len(w)] = slots.sums(w)
            if level_slots is not None:
                boot_levels[at : at + len(w)] = level_slots.counts(w)
            at += len(w)
    counts = np.bincount(slot, minlength=n_slots)
    level_counts = np.zeros(n_levels)
    if level_slots is not None:
        level_counts = level_slots.counts(np.ones((1, data.n_samples)))[0]
    n = int(data.n_samples)
    return sums, counts, n, boot_sums, boot_counts, level_counts, boot_levels


def _ale_dask(
    model: Any,
    X: Any,
    features: Any,
    n_bins: Any,
    output: str | None,
    n_bootstrap: int,
    confidence_level: float,
    categorical_features: Any,
    random_state: Any,
    batch_size: int | None,
) -> AccumulatedLocalEffects:
    """ALE of one numeric feature, or the second-order ALE of two, over a dask ``X``:
    the features' columns are gathered for the quantile edges, then each partition sums
    its local effects per bin (or cell) on a worker
    (``whybox.distributed.sum_numbered_partitions``) and the client accumulates, as the
    in-memory call does with the same sums."""
    from whybox.distributed import first_partition, gather_column, sum_numbered_partitions

    if categorical_features is not None:
        raise InputError(
            f"categorical_features={categorical_features!r} is not supported with a dask X "
            "(ordering a categorical feature's levels needs every row at once); give the "
            "feature as an ordered pandas Categorical, or call X.compute() first."
        )
    m, head = model_and_data(model, first_partition(X))
    idx = _features(head, features)
    names = tuple(head.feature_names[j] for j in idx)
    if len(idx) == 2 and head.categorical[idx].any():
        cat = names[int(np.flatnonzero(head.categorical[idx])[0])]
        raise InputError(
            f"feature {cat!r} is categorical, but a second-order ALE needs two numeric "
            "features; ask for the first-order ALE of each, or encode it as numbers."
        )
    if head.categorical[idx].any():
        return _ale_dask_categorical(
            m, X, idx[0], names[0], n_bins, output, n_bootstrap, confidence_level,
            random_state, batch_size,
        )  # fmt: skip
    specs = _split_bins(n_bins, len(idx))
    gathered = [np.asarray(gather_column(X, j), dtype=np.float64) for j in idx]
    columns = Dataset(np.column_stack(gathered), names, np.zeros(len(idx), dtype=bool))
    for q in range(len(idx)):
        check_not_constant(columns, q, levels(columns, q))
    grids = [_edges_for(columns, q, s) for q, s in enumerate(specs)]
    space = output_space(m, output)
    # a Poisson bootstrap: the partitions' row weights seeded from one draw of random_state
    seed = int(np.random.default_rng(random_state).integers(2**63)) if n_bootstrap else 0
    sums, counts, n, boot_sums, boot_counts, _, _ = sum_numbered_partitions(
        _ale_partition, X, m, list(idx), grids, space, batch_size, n_bootstrap, seed
    )
    if n_bootstrap and n < 10:
        raise InputError(
            f"a bootstrap band needs at least 10 rows, X has {n}; give more rows or n_bootstrap=0."
        )
    extra: dict[str, Any] = {}
    if len(idx) == 1:

        def accumulate(s: np.ndarray, c: np.ndarray) -> np.ndarray:
            cc = c[..., None]
            means = np.divide(s, cc, out=np.zeros_like(s), where=cc > 0)
            return _accumulate_numeric(means, c)

        shape = counts.shape
    else:
        K1, K2 = len(grids[0]) - 1, len(grids[1]) - 1
        mids = [(g[1:] + g[:-1]) / 2 / (g[-1] - g[0]) for g in grids]
        centres = np.stack(np.meshgrid(mids[0], mids[1], indexing="ij"), axis=-1).reshape(-1, 2)
        extra["n_empty_cells"] = int((counts == 0).sum())

        def accumulate(s: np.ndarray, c: np.ndarray) -> np.ndarray:
            cc = c[..., None]
            means = np.divide(s, cc, out=np.zeros_like(s), where=cc > 0)
            means = means.reshape(len(s), K1, K2, -1)
            cnt = c.reshape(len(s), K1, K2)
            _fill_empty_cells(means, cnt, centres)
            return _accumulate_pair(means, cnt)

        shape = (K1, K2)
    effect = accumulate(sums[None], counts[None].astype(np.float64))[0]
    boot = accumulate(boot_sums, boot_counts) if n_bootstrap else None
    bins_param = [s if isinstance(s, int) else s.tolist() for s in specs]
    return _result(
        m, space, names, tuple(grids), effect, boot, counts.reshape(shape), False,
        confidence_level, n_bins=bins_param if len(idx) == 2 else bins_param[0],
        n_bootstrap=n_bootstrap, categorical_features=None, random_state=random_state, n=n,
        batch_size=batch_size, **extra,
    )  # fmt: skip


def _ale_dask_categorical(
    m: Any,
    X: Any,
    j: int,
    name: str,
    n_bins: Any,
    output: str | None,
    n_bootstrap: int,
    confidence_level: float,
    random_state: Any,
    batch_size: int | None,
) -> AccumulatedLocalEffects:
    """First-order ALE of a categorical feature of a dask DataFrame whose levels are an
    ordered pandas Categorical (the order the in-memory call keeps): the column is
    gathered for the levels present, each partition sums its steps between adjacent
    levels and counts its rows per level, and the client accumulates."""
    from whybox.distributed import gather_column, sum_numbered_partitions

    spec = _split_bins(n_bins, 1)[0]
    dtype = X.dtypes[name] if hasattr(X, "dtypes") and name in X.columns else None
    given = None
    if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered and dtype.categories is not None:
        given = list(dtype.categories)
    if given is None:
        raise InputError(
            f"feature {name!r} is categorical and not an ordered pandas Categorical: with a "
            "dask X its levels cannot be ordered by similarity (that needs every row's other "
            "features at once); give it as an ordered Categorical "
            f"(X[{name!r}].astype(pd.CategoricalDtype(levels, ordered=True))), or call "
            "X.compute() first."
        )
    col = np.asarray(gather_column(X, j), dtype=object)
    column = Dataset(col[:, None], (name,), np.ones(1, dtype=bool))
    check_not_constant(column, 0, levels(column, 0))
    order = order_levels(column, 0, given)
    space = output_space(m, output)
    seed = int(np.random.default_rng(random_state).integers(2**63)) if n_bootstrap else 0
    sums, steps, n, boot_sums, boot_steps, level_counts, boot_levels = sum_numbered_partitions(
        _ale_partition, X, m, [j], [order], space, batch_size, n_bootstrap, seed, True
    )
    if n_bootstrap and n < 10:
        raise InputError(
            f"a bootstrap band needs at least 10 rows, X has {n}; give more rows or n_bootstrap=0."
        )

    def accumulate(s: np.ndarray, c: np.ndarray, lv: np.ndarray) -> np.ndarray:
        cc = c[..., None]
        return _accumulate_categorical(np.divide(s, cc, out=np.zeros_like(s), where=cc > 0), lv)

    effect = accumulate(sums[None], steps[None].astype(np.float64), level_counts[None])[0]
    boot = accumulate(boot_sums, boot_steps, boot_levels) if n_bootstrap else None
    return _result(
        m, space, (name,), (order,), effect, boot, level_counts, True, confidence_level,
        n_bins=spec if isinstance(spec, int) else spec.tolist(), n_bootstrap=n_bootstrap,
        categorical_features=None, random_state=random_state, n=n, batch_size=batch_size,
    )  # fmt: skip
