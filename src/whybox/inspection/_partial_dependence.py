"""Partial dependence (PD) and individual conditional expectation (ICE) curves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.mstats import mquantiles

from whybox._exceptions import InputError
from whybox._utils import (
    Result,
    check_batch_size,
    check_int,
    check_random_state,
    is_dask_collection,
    json_value,
    rows_to_draw,
)
from whybox.adapters import Dataset
from whybox.inspection._features import (
    check_not_constant,
    column_values,
    feature_index,
    levels,
    model_and_data,
    output_space,
    predict_copies,
)
from whybox.inspection._tree_recursion import recursion_average, tree_ensemble, unsupported

_KINDS = ("average", "individual", "both")
_GRIDS = ("percentiles", "uniform")
_METHODS = ("auto", "recursion", "brute")


@dataclass(frozen=True, eq=False)
class PartialDependence(Result):
    """Partial dependence and ICE curves of one feature or a pair of features.

    Attributes
    ----------
    feature_names : tuple of str
        The one or two features varied.
    grid_values : tuple of ndarray
        The grid of each feature (float64, or object for a categorical feature).
    average : ndarray of shape (n_outputs, *grid_shape), float64
        The partial dependence: the model's output averaged over the rows with the
        features set to each grid point (centred when ``centered``); with
        ``method="recursion"`` the trees' own estimate of it (see
        :func:`partial_dependence`).
    individual : ndarray of shape (n_outputs, n_rows, *grid_shape) or None
        The ICE curves: one per row used (None for ``kind="average"``); a lazy dask
        array chunked as the rows when X was a dask collection.
    output_names : tuple of str
        One name per output (a binary classifier: the positive class).
    output_space : str
        "raw" (regression value or margin), "probability" or "log_odds".
    kind : {"average", "individual", "both"}
    centered : bool
        True when every curve is shifted to start at 0 at the first grid point.
    categorical : tuple of bool
        Whether each feature's grid holds categories (its levels).
    method : {"brute", "recursion"}
        How the average was computed (``method="auto"`` resolved).
    params : dict
        The settings, to reproduce the result.
    """

    feature_names: tuple[str, ...]
    grid_values: tuple[np.ndarray, ...]
    average: np.ndarray
    individual: np.ndarray | None
    output_names: tuple[str, ...]
    output_space: str
    kind: str
    centered: bool
    categorical: tuple[bool, ...]
    method: str = "brute"
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The average curve in long form: one row per grid point and output."""
        grids = np.meshgrid(*self.grid_values, indexing="ij")
        frames = []
        for k, name in enumerate(self.output_names):
            cols = {f: g.ravel() for f, g in zip(self.feature_names, grids, strict=True)}
            cols["output"] = name
            cols["average"] = self.average[k].ravel()
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True)


def _check_grid_args(
    grid: Any, grid_resolution: Any, percentiles: Any, kind: Any, method: Any
) -> None:
    if method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}, got {method!r}; e.g. method='auto'.")
    if kind not in _KINDS:
        raise InputError(f"kind must be one of {_KINDS}, got {kind!r}; e.g. kind='both'.")
    if grid not in _GRIDS:
        raise InputError(f"grid must be one of {_GRIDS}, got {grid!r}; e.g. grid='percentiles'.")
    check_int(grid_resolution, "grid_resolution", 2, "grid_resolution=50")
    try:
        lo, hi = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise InputError(
            f"percentiles must be two numbers in [0, 1], got {percentiles!r}; e.g. "
            "percentiles=(0.05, 0.95)."
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(
            f"percentiles must satisfy 0 <= low < high <= 1, got {percentiles!r}; e.g. "
            "percentiles=(0.05, 0.95)."
        )


def feature_grid(
    data: Dataset,
    j: int,
    *,
    grid: str = "percentiles",
    grid_resolution: int = 50,
    percentiles: tuple[float, float] = (0.05, 0.95),
    custom: Any = None,
    categorical: bool | None = None,
) -> np.ndarray:
    """The grid of column ``j`` (scikit-learn's rule for ``grid="percentiles"``).

    A categorical column (``categorical``, default ``data.categorical[j]``), or one
    with fewer distinct values than ``grid_resolution``, uses its distinct values;
    otherwise ``grid_resolution`` evenly spaced points between the ``percentiles``
    of the column (``scipy.stats.mstats.mquantiles``, as scikit-learn) or, for
    ``grid="uniform"``, between its minimum and maximum.
    """
    name = data.feature_names[j]
    if categorical is None:
        categorical = bool(data.categorical[j])
    if custom is not None:
        values = np.asarray(custom, dtype=object if data.categorical[j] else np.float64)
        if values.ndim != 1 or len(values) == 0:
            raise InputError(
                f"custom_values[{name!r}] must be a non-empty 1-D list of grid values, got "
                f"shape {values.shape}."
            )
        return values
    uniques = levels(data, j)
    check_not_constant(data, j, uniques)
    if categorical:
        if grid == "uniform":
            raise InputError(
                f"feature {name!r} is categorical, so grid='uniform' cannot space it evenly; "
                "use grid='percentiles' (its levels are used) or custom_values."
            )
        return uniques
    if len(uniques) < grid_resolution:
        return uniques
    col = column_values(data, j)
    if grid == "uniform":
        lo, hi = col.min(), col.max()
    else:
        lo, hi = mquantiles(col, prob=percentiles, axis=0)
        if np.isclose(lo, hi):
            raise InputError(
                f"the percentiles {tuple(percentiles)} of feature {name!r} are equal "
                f"({lo!r}); choose percentiles further apart, e.g. (0.0, 1.0)."
            )
    return np.linspace(lo, hi, num=grid_resolution)


def _cartesian(grids: Sequence[np.ndarray]) -> np.ndarray:
    """All combinations of the grid points, first feature slowest: (n_points, n_features)."""
    mesh = np.meshgrid(*grids, indexing="ij")
    dtype = object if any(g.dtype == object for g in grids) else np.float64
    return np.stack([m.ravel() for m in mesh], axis=1).astype(dtype)


def _categorical_mask(data: Dataset, categorical_features: Any) -> np.ndarray:
    """Which columns use their levels as grid: the Dataset's, plus those named."""
    mask = np.asarray(data.categorical, dtype=bool).copy()
    if categorical_features is None:
        return mask
    if isinstance(categorical_features, (str, int, np.integer)):
        categorical_features = [categorical_features]
    try:
        given = list(categorical_features)
    except TypeError:
        raise InputError(
            f"categorical_features must be a list of column names or positions, or a boolean "
            f"mask, got {categorical_features!r}; e.g. categorical_features=['region']."
        ) from None
    if given and all(isinstance(g, (bool, np.bool_)) for g in given):
        if len(given) != data.n_features:
            raise InputError(
                f"categorical_features as a boolean mask needs {data.n_features} entries (one "
                f"per column of X), got {len(given)}; or give the names or positions."
            )
        return mask | np.asarray(given, dtype=bool)
    for feature in given:
        mask[feature_index(data, feature, "categorical_features")] = True
    return mask


def _sample_rows(
    data: Dataset, weights: np.ndarray | None, max_samples: Any, random_state: Any
) -> tuple[Dataset, np.ndarray | None]:
    """``max_samples`` rows of ``data`` drawn without replacement (all when None or larger)."""
    if max_samples is None:
        return data, weights
    n = data.n_samples
    size = rows_to_draw(max_samples, n)
    if size >= n:
        return data, weights
    rows = np.sort(np.random.default_rng(random_state).choice(n, size=size, replace=False))
    return data.take(rows), None if weights is None else weights[rows]


def _recursion_refusal(
    m: Any, data: Dataset, kind: str, weights: Any, space: str, is_cat: list[bool]
) -> Any:
    """The flattened trees when the recursion applies, else the reason it does not."""
    reason = unsupported(m.estimator)
    if reason is not None:
        return reason
    if kind != "average":
        return f"it gives only the average, and kind={kind!r} asks for ICE curves"
    if weights is not None:
        return "it averages over the training samples, so sample_weight has no effect on it"
    if space != "raw":
        return (
            f"it gives the trees' raw output (the margin of a classifier), not {space!r}; "
            "pass output='raw'"
        )
    if any(is_cat):
        return "it needs numeric features, and a feature asked for is categorical"
    return tree_ensemble(m, data)


def partial_dependence(
    model: Any,
    X: Any,
    features: Any,
    *,
    kind: str = "average",
    grid_resolution: int = 50,
    percentiles: tuple[float, float] = (0.05, 0.95),
    grid: str = "percentiles",
    custom_values: dict[Any, Sequence[Any]] | None = None,
    categorical_features: Any = None,
    centered: bool = False,
    method: str = "auto",
    output: str | None = None,
    max_samples: int | float | None = None,
    sample_weight: Any = None,
    random_state: Any = 0,
    batch_size: int | None = None,
) -> PartialDependence:
    """Partial dependence and ICE curves of one feature or a pair of features.

    The partial dependence of feature set S at grid point z is the model's output
    averaged over the rows of X with the features of S set to z (Friedman 2001):
    ``PD_S(z) = mean_i f(z, x_i,notS)``. The ICE curve of row i is ``f(z, x_i,notS)``
    itself, one curve per row (Goldstein et al. 2015); PD is their mean. Copies of
    X for all grid points are stacked and scored in few batched model calls.

    PD averages over the marginal distribution of the other features, so with
    strongly correlated features it evaluates the model on combinations the data
    never shows; ALE (:func:`accumulated_local_effects`) is the method to prefer
    then.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline,
        XGBoost, LightGBM, CatBoost, a callable) or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        The rows averaged over (often the training data or a sample of it); or a dask
        Array/DataFrame: brute-force sums per grid point on the workers, the grid from
        the gathered feature column(s); with ``kind="individual"``/``"both"``,
        ``individual`` is a lazy dask array chunked as X's rows (computing it predicts
        those rows again); ``method="recursion"`` reads only the trees and the grid;
        ``method="auto"`` resolves as in memory; a dask ``sample_weight`` weights the
        sums and ``max_samples`` draws a uniform sample split over the partitions
        (other rows than the in-memory draw; see
        ``whybox.distributed.partial_dependence``).
    features : str, int, or a pair of them
        One feature, or a tuple of two for a two-way partial dependence.
    kind : {"average", "individual", "both"}, default="average"
        PD only, ICE only, or both.
    grid_resolution : int, default=50
        Grid points per numeric feature (>= 2).
    percentiles : (float, float), default=(0.05, 0.95)
        Lower and upper percentile (in [0, 1]) of the ``"percentiles"`` grid.
    grid : {"percentiles", "uniform"}, default="percentiles"
        ``"percentiles"``: ``grid_resolution`` points evenly spaced between the
        ``percentiles`` of the feature, or its distinct values when it has fewer
        (scikit-learn's grid); ``"uniform"``: evenly spaced from its minimum to its
        maximum. A categorical feature always uses its levels.
    custom_values : dict, optional
        Feature name or position -> the grid values to use for it.
    categorical_features : sequence of str or int, or boolean mask, optional
        Columns to treat as categorical (their levels are the grid) besides those X
        already holds as categories (strings, pandas categoricals).
    centered : bool, default=False
        Centre every ICE curve and the PD at the first grid point (c-ICE), so the
        curves show how the output changes, not where it starts.
    method : {"auto", "recursion", "brute"}, default="auto"
        ``"brute"``: evaluate the model on the copies of the rows (exact for the rows
        of X). ``"recursion"``: walk the trees of a scikit-learn
        ``DecisionTreeRegressor``, ``RandomForestRegressor``, ``GradientBoosting*``
        (``init=None``) or ``HistGradientBoosting*`` model, splitting the weight at
        every split on another feature by the share of *training* samples that went
        each way (Friedman 2001, section 8.2). It uses no rows of X, costs one tree
        walk per grid point, and gives the average only, in the raw output space
        (the margin of a classifier), including the constant initial prediction
        (scikit-learn's recursion leaves that offset out). Those shares are taken
        at each node, after the splits above it, so the recursion is a
        path-dependent estimate: it equals the brute-force average over the training
        data when no tree splits on another feature below a split on S (stumps, for
        instance), and can differ from it otherwise. ``"auto"``: recursion where
        scikit-learn's ``"auto"`` would use it (those models, ``kind="average"``, no
        ``sample_weight``) and the output space is ``"raw"``; brute otherwise.
    output : {"raw", "probability", "log_odds"}, optional
        The output space; default probability for a classifier (as scikit-learn's
        ``predict_proba``; a binary classifier gives the positive class) and the
        predicted value for a regressor.
    max_samples : int or float, optional
        Use this many rows of X (all when X has fewer; a float in (0, 1]: this share
        of them, at least one, rounded down), drawn
        without replacement with ``random_state``, for the average and the ICE
        curves; the grid is still built from all of X. None: every row.
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the rows in the average (ICE curves are unweighted); brute only.
    random_state : int, numpy Generator or None, default=0
        Seeds the rows drawn for ``max_samples``; nothing else is random.
    batch_size : int, optional
        Model-input rows per model call; None stacks about four million cells per
        call. Never changes the result.

    Returns
    -------
    PartialDependence
        ``average`` (n_outputs, *grid_shape) and ``individual`` (n_outputs,
        n_rows, *grid_shape) in the units of the output space, the grids, and the
        method used.

    Raises
    ------
    InputError
        A feature that is not a column of X, more than two features, a constant
        feature, ``grid="uniform"`` on a categorical feature, bad ``kind``,
        ``grid``, ``grid_resolution``, ``percentiles``, ``method``, ``max_samples``,
        ``categorical_features`` or ``sample_weight``; ``method="recursion"`` where
        it does not apply (another model, ICE curves asked for, sample weights, an
        output space other than raw, a categorical feature).

    References
    ----------
    .. [1] J. H. Friedman, "Greedy function approximation: a gradient boosting
       machine", Annals of Statistics 29(5), 2001.
    .. [2] A. Goldstein, A. Kapelner, J. Bleich, E. Pitkin, "Peeking inside the black
       box: visualizing statistical learning with plots of individual conditional
       expectation", JCGS 24(1), 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from whybox.inspection import partial_dependence
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(200, 3))
    >>> model = LinearRegression().fit(X, 2 * X[:, 0] + X[:, 1])
    >>> result = partial_dependence(model, X, 0, grid_resolution=5, kind="both")
    >>> result.average.shape, result.individual.shape  # (outputs, grid), (outputs, rows, grid)
    ((1, 5), (1, 200, 5))
    >>> slope = np.diff(result.average[0]) / np.diff(result.grid_values[0])
    >>> np.round(slope, 6).tolist()  # the model's coefficient of x0
    [2.0, 2.0, 2.0, 2.0]
    """
    random_state = check_random_state(random_state)
    _check_grid_args(grid, grid_resolution, percentiles, kind, method)
    if is_dask_collection(X):
        from whybox.distributed import partial_dependence as pd_dask

        return pd_dask(
            model, X, features, kind=kind, grid_resolution=grid_resolution,
            percentiles=percentiles, grid=grid, custom_values=custom_values,
            categorical_features=categorical_features, centered=centered, method=method,
            output=output, max_samples=max_samples, sample_weight=sample_weight,
            random_state=random_state, batch_size=batch_size,
        )  # fmt: skip
    batch_size = check_batch_size(batch_size)
    m, data = model_and_data(model, X)
    feats = list(features) if isinstance(features, (tuple, list)) else [features]
    if not 1 <= len(feats) <= 2:
        raise InputError(
            f"features must be one feature or a pair, got {len(feats)}; call once per "
            "feature or pair."
        )
    cols = [feature_index(data, f) for f in feats]
    if len(set(cols)) != len(cols):
        raise InputError(f"features names the same column twice ({feats}); give two features.")
    is_cat = [bool(c) for c in _categorical_mask(data, categorical_features)[cols]]
    custom = {}
    for key, values in (custom_values or {}).items():
        custom[feature_index(data, key, "custom_values")] = values
    grids = tuple(
        feature_grid(
            data,
            j,
            grid=grid,
            grid_resolution=int(grid_resolution),
            percentiles=tuple(percentiles),
            custom=custom.get(j),
            categorical=c,
        )
        for j, c in zip(cols, is_cat, strict=True)
    )
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (data.n_samples,) or np.any(weights < 0) or weights.sum() <= 0:
            raise InputError(
                f"sample_weight must be {data.n_samples} non-negative weights (one per row of "
                f"X) with a positive sum, got shape {weights.shape}."
            )
    n_given = data.n_samples
    data, weights = _sample_rows(data, weights, max_samples, random_state)
    space = output_space(m, output)
    shape = tuple(len(g) for g in grids)
    points = _cartesian(grids)
    used = "brute"
    if method != "brute":
        trees = _recursion_refusal(m, data, kind, weights, space, is_cat)
        if not isinstance(trees, str):
            used = "recursion"
        elif method == "recursion":
            raise InputError(
                f"method='recursion' does not apply here: {trees}; use method='brute' (or 'auto')."
            )
    if used == "recursion":
        avg = recursion_average(trees, cols, points.astype(np.float64)).T  # (n_outputs, n_pts)
        ice = None
    else:
        preds = predict_copies(m, data, cols, points, space, batch_size)
        ice = np.moveaxis(preds, 2, 0)  # (n_outputs, n_points, n_rows)
        avg = np.average(ice, axis=2, weights=weights)  # (n_outputs, n_points)
        ice = np.swapaxes(ice, 1, 2)  # (n_outputs, n_rows, n_points)
    if centered:
        avg = avg - avg[:, :1]
        if ice is not None:
            ice = ice - ice[:, :, :1]
    n_out = avg.shape[0]
    return PartialDependence(
        feature_names=tuple(data.feature_names[j] for j in cols),
        grid_values=grids,
        average=avg.reshape(n_out, *shape),
        individual=(
            None if kind == "average" or ice is None else ice.reshape(n_out, data.n_samples, *shape)
        ),
        output_names=m.output_names,
        output_space=space,
        kind=kind,
        centered=bool(centered),
        categorical=tuple(is_cat),
        method=used,
        params={
            "grid": grid,
            "grid_resolution": int(grid_resolution),
            "percentiles": [float(p) for p in percentiles],
            "custom_values": sorted(data.feature_names[j] for j in custom),
            "categorical_features": sorted(
                data.feature_names[j] for j, c in zip(cols, is_cat, strict=True) if c
            ),
            "method": method,
            "max_samples": json_value(max_samples),
            "sample_weight": weights is not None,
            "n_samples": data.n_samples,
            "n_given": n_given,
            "random_state": json_value(random_state),
            "batch_size": json_value(batch_size),
        },
    )
