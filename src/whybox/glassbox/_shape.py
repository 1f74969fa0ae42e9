"""Shape functions: a glass-box model's terms as curves, bars and heatmaps — the model itself.

An additive model's prediction (raw space) is its intercept plus one value per term, and
each term is a function of one or two input columns. Drawing every term is therefore not an
approximation of the model: it is the model. :func:`shape_functions` reads each term of an
EBM, a pyGAM GAM or an :class:`AdditiveModel` into its curve (binned: a score per bin;
function terms: the curve on a grid), its uncertainty band and its training density, and
ranks the terms by importance (the weighted mean |score|, EBM's ``term_importances()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import Result, check_confidence_level, check_int
from whybox.glassbox._additive import AdditiveModel, Binning, Term
from whybox.glassbox._ebm import from_ebm, is_ebm
from whybox.glassbox._pygam import from_pygam, is_pygam

KINDS = ("numeric", "categorical", "curve", "pair")
"""The kinds of a :class:`ShapeFunction`."""


@dataclass(frozen=True, eq=False)
class ShapeFunction(Result):
    """One term of an additive model: its values over its feature(s), in the raw space.

    Attributes
    ----------
    name : str
        The term's name (EBM's ``"age & income"``, pyGAM's ``"s(age)"``).
    features : tuple of str
        The one or two input columns the term reads.
    kind : {"numeric", "categorical", "curve", "pair"}
        "numeric": a binned numeric feature (a step function: one score per bin between
        two ``edges``); "categorical": one score per level (EBM's categories, pyGAM's
        factor levels); "curve": a function term on a grid (pyGAM's splines and linear
        terms: ``scores[:, g]`` at ``edges[0][g]``); "pair": a two-feature term, a 2-D grid
        of scores (each axis as the one-feature kinds).
    binned : bool
        True for a term read from bins (EBM): a numeric axis's ``edges`` are bin edges
        (one more than its bins); False for a function term (pyGAM): they are grid points.
    edges : tuple of ndarray, float64
        Per feature: the bin edges (binned numeric: the training minimum, the cut points,
        the training maximum, as ``ebm.explain_global().data(i)["names"]``), or the grid
        points (function terms); empty for a categorical axis.
    levels : tuple of tuple of str
        Per feature: the category levels in bin order (categorical axis), else empty.
    scores : ndarray of shape (n_outputs, *shape), float64
        The term's value per bin, level, grid point or cell, output space "raw"; one curve
        per output (per class for a multiclass model). The missing and unknown bins of a
        binned term are not in it (see ``missing``).
    lower, upper : ndarray like ``scores`` or None
        The uncertainty band: EBM: ``scores`` ∓ the standard deviation across the outer
        bags (``standard_deviations_``; the bounds of ``explain_global``); pyGAM: its
        confidence interval (``partial_dependence(..., width=confidence_level)``).
    weights : ndarray of shape (*shape,), float64, or None
        The weight of data in each bin/level/cell: EBM's training ``bin_weights_``, or the
        rows of ``X`` counted per bin (function terms: per nearest grid point); None for
        a function term without ``X``.
    missing : ndarray of shape (n_outputs,) or None
        A binned one-feature term's score for a missing value (EBM's bin 0).
    importance : float
        The weighted mean |score| over all bins (missing and unknown included), averaged
        over the outputs: EBM's ``term_importances()`` for its training weights. A
        function term is centred to mean 0 under the same weights first (pyGAM leaves the
        level of a term to the intercept).
    """

    name: str
    features: tuple[str, ...]
    kind: str
    binned: bool
    edges: tuple[np.ndarray, ...]
    levels: tuple[tuple[str, ...], ...]
    scores: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    weights: np.ndarray | None
    missing: np.ndarray | None
    importance: float


@dataclass(frozen=True, eq=False)
class ShapeFunctions(Result):
    """The shape functions of an additive model: every term, which together are the model.

    ``intercept + sum of the terms' values`` at a row is the model's raw prediction, so
    these curves are the model itself, not an approximation of it.

    Attributes
    ----------
    terms : tuple of ShapeFunction
        In the model's term order.
    feature_names : tuple of str
        The model's input columns.
    output_names : tuple of str
        One per output (the positive class of a binary classifier; every class of a
        multiclass one).
    intercept : ndarray of shape (n_outputs,), float64
    link : {"identity", "logit", "mlogit"}
        How the raw space maps to the prediction (see :class:`AdditiveModel`).
    output_space : str
        Always "raw" (log-odds for a binary classifier, the prediction for a regressor).
    source : str
        The model's class, e.g. ``"ExplainableBoostingClassifier"``, ``"LinearGAM"``.
    band : str
        What ``lower``/``upper`` are, in words.
    weighting : str
        What ``weights`` and the importances are weighted by, in words.
    """

    terms: tuple[ShapeFunction, ...]
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    intercept: np.ndarray
    link: str
    output_space: str
    source: str
    band: str
    weighting: str

    @property
    def importances(self) -> np.ndarray:
        """The terms' importances in term order, shape (n_terms,) float64."""
        return np.array([t.importance for t in self.terms], dtype=np.float64)

    def term(self, term: Any) -> ShapeFunction:
        """The term named ``term`` (or at position ``term``).

        Raises
        ------
        InputError
            If no term has that name or the position is out of range.
        """
        names = [t.name for t in self.terms]
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            if 0 <= int(term) < len(names):
                return self.terms[int(term)]
        elif term in names:
            return self.terms[names.index(term)]
        raise InputError(
            f"term must be one of the model's {len(names)} term names (e.g. {names[:3]}) or "
            f"a position below {len(names)}, got {term!r}."
        )

    def top(self, max_display: int = 10) -> tuple[ShapeFunction, ...]:
        """The ``max_display`` most important terms, most important first."""
        order = np.argsort(-self.importances, kind="stable")[:max_display]
        return tuple(self.terms[i] for i in order)

    def to_frame(self) -> pd.DataFrame:
        """One row per term: name, features, kind, importance and rank (1: most important)."""
        imp = self.importances
        frame = pd.DataFrame(
            {
                "term": [t.name for t in self.terms],
                "features": [" & ".join(t.features) for t in self.terms],
                "kind": [t.kind for t in self.terms],
                "importance": imp,
                "rank": pd.Series(imp).rank(ascending=False, method="min").astype(int),
            }
        )
        return frame


# ------------------------------------------------------------------------------ reading
def as_additive(model: Any) -> tuple[AdditiveModel, np.ndarray | None]:
    """The :class:`AdditiveModel` of ``model`` and, for an EBM, its ``feature_bounds_``."""
    if isinstance(model, AdditiveModel):
        return model, None
    if is_ebm(model):
        additive = from_ebm(model)
        bounds = getattr(model, "feature_bounds_", None)
        return additive, None if bounds is None else np.asarray(bounds, dtype=np.float64)
    if is_pygam(model):
        return from_pygam(model), None
    raise UnsupportedModelError(
        f"model must be an EBM (interpret's ExplainableBoostingClassifier/Regressor), a "
        f"pyGAM LinearGAM/LogisticGAM or an AdditiveModel, got {type(model).__name__}; "
        "shape functions exist only for additive (glass-box) models."
    )


def _edges(binning: Binning, bounds: Any) -> np.ndarray:
    """A numeric binning's bin edges: the lower bound, the cuts, the upper bound."""
    cuts = binning.cuts
    if bounds is None:
        bounds = getattr(binning, "bounds", None)
    if bounds is not None and np.all(np.isfinite(bounds)):
        lo, hi = float(bounds[0]), float(bounds[1])
    elif cuts.size:
        step = (cuts[-1] - cuts[0]) / max(cuts.size - 1, 1) or 1.0
        lo, hi = float(cuts[0] - step), float(cuts[-1] + step)
    else:
        lo, hi = 0.0, 1.0
    return np.concatenate([[lo], cuts, [hi]])


def _levels(binning: Binning) -> tuple[str, ...]:
    """A categorical binning's level names per value bin (bins 1 .. n_bins - 2)."""
    names: dict[int, list[str]] = {}
    for text, index in binning.levels.items():
        names.setdefault(index, []).append(text)
    return tuple(" | ".join(names.get(i, [""])) for i in range(1, binning.n_bins - 1))


def _binned(
    term: Term, names: tuple[str, ...], bounds: np.ndarray | None, X_cols: list | None
) -> tuple[ShapeFunction, np.ndarray]:
    """A binned term's shape function and its full weights (missing/unknown bins included)."""
    inner = tuple(slice(1, -1) for _ in term.features)
    edges, levels = [], []
    for f, binning in zip(term.features, term.bins, strict=True):
        if binning.kind == "numeric":
            edges.append(_edges(binning, None if bounds is None else bounds[f]))
            levels.append(())
        else:
            edges.append(np.empty(0))
            levels.append(_levels(binning))
    if X_cols is not None:
        weights = np.zeros(tuple(b.n_bins for b in term.bins), dtype=np.float64)
        np.add.at(weights, term.bin_indices([X_cols[f] for f in term.features]), 1.0)
    elif term.weights is not None:
        weights = term.weights
    else:
        weights = np.ones(tuple(b.n_bins for b in term.bins), dtype=np.float64)
    scores = np.moveaxis(term.scores, -1, 0)  # (n_outputs, *n_bins)
    std = term.standard_deviations
    lower = upper = None
    if std is not None:
        s = np.moveaxis(std, -1, 0)
        lower = (scores - s)[(slice(None), *inner)]
        upper = (scores + s)[(slice(None), *inner)]
    if term.is_pair:
        kind = "pair"
    else:
        kind = "categorical" if term.bins[0].kind == "categorical" else "numeric"
    shape = ShapeFunction(
        name=term.name,
        features=tuple(names[f] for f in term.features),
        kind=kind,
        binned=True,
        edges=tuple(edges),
        levels=tuple(levels),
        scores=scores[(slice(None), *inner)].copy(),
        lower=lower,
        upper=upper,
        weights=weights[inner].copy() if (X_cols is not None or term.weights is not None) else None,
        missing=None if term.is_pair else scores[:, 0].copy(),
        importance=_importance(scores, weights),
    )
    return shape, weights


def _importance(scores: np.ndarray, weights: np.ndarray) -> float:
    """The weighted mean |score| (weights over the bins), averaged over the outputs."""
    a = np.abs(scores).mean(axis=0) if scores.shape[0] > 1 else np.abs(scores[0])
    total = float(weights.sum())
    if total <= 0:
        return float(a.mean())
    return float(np.average(a, weights=weights))


def _axis(
    model: AdditiveModel, term: Term, position: int, n: int, X_cols: list | None
) -> tuple[np.ndarray, bool]:
    """The grid of a function term's feature at ``position`` and whether it is a factor."""
    f = term.features[position]
    function = term.function
    axis = function.axis(position, n) if hasattr(function, "axis") else None
    factor = hasattr(function, "kind") and function.kind(position) == "factor"
    if axis is None:  # e.g. a pyGAM ``by`` feature: the grid of another term on it
        for other in model.terms:
            if other is term or not hasattr(other.function, "axis"):
                continue
            if f in other.features:
                p = other.features.index(f)
                axis = other.function.axis(p, n)
                factor = other.function.kind(p) == "factor"
                if axis is not None:
                    break
    if axis is None and X_cols is not None:
        x = np.asarray(X_cols[f], dtype=np.float64)
        axis = np.linspace(np.nanmin(x), np.nanmax(x), n)
    if axis is None:
        raise InputError(
            f"the term {term.name!r} has no grid for its feature {model.feature_names[f]!r}; "
            "pass X (rows of the model's input columns) to set its range."
        )
    return np.asarray(axis, dtype=np.float64), factor


def _nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The position of the grid point nearest to each value (grid increasing)."""
    i = np.clip(np.searchsorted(grid, x), 1, max(len(grid) - 1, 1))
    if len(grid) == 1:
        return np.zeros(len(x), dtype=np.int64)
    left = grid[i - 1]
    right = grid[i]
    return np.where(np.abs(x - left) <= np.abs(right - x), i - 1, i).astype(np.int64)


def _function(
    model: AdditiveModel,
    term: Term,
    n: int,
    confidence_level: float,
    X_cols: list | None,
) -> ShapeFunction:
    """A function term's shape function on its grid (a pair on the 2-D mesh)."""
    made = [_axis(model, term, p, n, X_cols) for p in range(len(term.features))]
    axes = tuple(a for a, _ in made)
    factors = tuple(fac for _, fac in made)
    mesh = np.meshgrid(*axes, indexing="ij")
    shape = mesh[0].shape
    cols = [m.ravel() for m in mesh]
    values = term.values(cols)  # (cells, n_outputs)
    k = values.shape[1]
    scores = values.T.reshape(k, *shape)
    lower = upper = None
    if hasattr(term.function, "interval"):
        ci = term.function.interval(cols, confidence_level)
        lower = ci[:, 0].reshape(1, *shape)
        upper = ci[:, 1].reshape(1, *shape)
    weights = None
    if X_cols is not None:
        x = [np.asarray(X_cols[f], dtype=np.float64) for f in term.features]
        keep = np.all([np.isfinite(c) for c in x], axis=0)
        cells = tuple(_nearest(a, c[keep]) for a, c in zip(axes, x, strict=True))
        weights = np.zeros(shape, dtype=np.float64)
        np.add.at(weights, cells, 1.0)
        rows = term.values([c[keep] for c in x])  # (n_rows, n_outputs)
        centred = rows - rows.mean(axis=0)
        importance = float(np.abs(centred).mean())
    else:
        flat = values - values.mean(axis=0)
        importance = float(np.abs(flat).mean())
    names = tuple(model.feature_names[f] for f in term.features)
    levels = tuple(
        tuple(_level_text(v) for v in a) if fac else ()
        for a, fac in zip(axes, factors, strict=True)
    )
    edges = tuple(np.empty(0) if fac else a for a, fac in zip(axes, factors, strict=True))
    if term.is_pair:
        kind = "pair"
    else:
        kind = "categorical" if factors[0] else "curve"
    return ShapeFunction(
        name=term.name,
        features=names,
        kind=kind,
        binned=False,
        edges=edges,
        levels=levels,
        scores=scores,
        lower=lower,
        upper=upper,
        weights=weights,
        missing=None,
        importance=importance,
    )


def _level_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def shape_functions(
    model: Any,
    X: Any = None,
    *,
    grid_resolution: int = 100,
    confidence_level: float = 0.95,
) -> ShapeFunctions:
    """The shape functions of a glass-box model: each term's curve, band, density and importance.

    An additive model predicts ``intercept + sum of its terms`` (raw space), so its
    terms drawn one by one are the model itself, not an approximation of it (unlike
    SHAP or partial dependence of a black box).

    Parameters
    ----------
    model : EBM, pyGAM GAM or AdditiveModel
        interpret's fitted ``ExplainableBoostingClassifier``/``Regressor`` (read by
        :func:`from_ebm`), pyGAM's fitted ``LinearGAM``/``LogisticGAM`` (read by
        :func:`from_pygam`), or an :class:`AdditiveModel`.
    X : DataFrame or array-like of shape (n_samples, n_features), optional
        Rows that weigh the terms: each bin's (grid point's) ``weights`` count them and
        the importances average over them. Default: an EBM's training ``bin_weights_``;
        a function term (pyGAM, which keeps no training data) is then weighed uniformly
        over its grid and has no ``weights``.
    grid_resolution : int, default=100
        Grid points per numeric feature of a function term (pyGAM: over its edge knots,
        as ``gam.generate_X_grid``); a binned term is shown at its own bins.
    confidence_level : float, default=0.95
        The width of pyGAM's confidence intervals (EBM's band is ± one standard
        deviation across its bags, as ``explain_global`` shows).

    Returns
    -------
    ShapeFunctions
        ``terms``: one :class:`ShapeFunction` per term, in the model's order, with scores
        of shape (n_outputs, *shape) in the raw space (one curve per class of a
        multiclass model); ``importances``; ``to_frame()``: the terms ranked. For an EBM,
        the scores and bounds equal ``ebm.explain_global().data(i)`` and the
        importances ``ebm.term_importances()``; for pyGAM, the scores and band equal
        ``gam.partial_dependence(term=i, X=grid, width=confidence_level)``.

    Raises
    ------
    UnsupportedModelError
        Not an additive model (see :func:`from_ebm`, :func:`from_pygam` for what those
        readers refuse).
    InputError
        ``grid_resolution`` below 2, ``confidence_level`` outside (0, 1), an ``X`` whose
        columns are not the model's.

    Examples
    --------
    >>> from interpret.glassbox import ExplainableBoostingRegressor  # doctest: +SKIP
    >>> shapes = shape_functions(ExplainableBoostingRegressor().fit(X, y))  # doctest: +SKIP
    >>> shapes.to_frame().sort_values("rank").head()  # doctest: +SKIP
    """
    n = check_int(grid_resolution, "grid_resolution", 2, "grid_resolution=100")
    confidence_level = check_confidence_level(confidence_level)
    additive, bounds = as_additive(model)
    X_cols = None if X is None else additive.columns(X)
    terms = []
    for term in additive.terms:
        if term.is_binned:
            terms.append(_binned(term, additive.feature_names, bounds, X_cols)[0])
        else:
            terms.append(_function(additive, term, n, confidence_level, X_cols))
    binned = any(t.is_binned for t in additive.terms)
    functions = any(not t.is_binned for t in additive.terms)
    band = []
    if binned:
        band.append("binned terms: ± one standard deviation of the scores across the bags")
    if functions:
        band.append(f"function terms: the model's {confidence_level:.0%} confidence interval")
    if X is not None:
        weighting = f"the {len(X_cols[0]) if X_cols else 0} rows of X"
    elif binned and not functions:
        weighting = "the training weight per bin (bin_weights_)"
    elif binned:
        weighting = "training bin weights; function terms uniformly over their grid"
    else:
        weighting = "uniform over each term's grid (no X given)"
    return ShapeFunctions(
        terms=tuple(terms),
        feature_names=additive.feature_names,
        output_names=additive.output_names,
        intercept=additive.intercept.copy(),
        link=additive.link,
        output_space="raw",
        source=additive.source,
        band="; ".join(band),
        weighting=weighting,
    )
