"""Partial dependence of tree ensembles by the recursion method (weighted tree traversal).

For a grid point z of the features S, each tree is walked from its root with weight 1:
a split on a feature of S sends the whole weight to the side z falls on; a split on any
other feature sends it to both children, in proportion to the training weight
(``weighted_n_node_samples``, or the sample count of a histogram tree) each child
received. The weighted sum of the leaves reached, summed over the trees with the
ensemble's scale and constant offset, is the tree's own estimate of the partial
dependence (Friedman 2001, section 8.2). No rows of X are used: the average runs over
the *training* samples that reached each node. Because that share is taken at the node,
after the splits above it, it conditions on the path (the same path-dependent weighting
as path-dependent TreeSHAP), so the result equals the brute-force average over the
training data only when the trees never split on another feature below a split on S
(e.g. stumps), and in general is an approximation of it.

The trees are read by :func:`whybox.shapley.tree.parse_ensemble` (the one reader of
scikit-learn's trees, shared with TreeSHAP), whose padded node arrays are laid end to end
into one set of node arrays (:class:`FlatTrees`) and walked by a numba kernel, depth
first with an explicit stack, once per grid point (the weights fork at every split, so
the walk is a loop that does not vectorise). The flattened trees are kept per fitted
estimator, so repeated calls on one model read them once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numba import njit

from whybox._exceptions import UnsupportedModelError
from whybox.adapters import Dataset, Model
from whybox.shapley.tree import TreeEnsemble, parse_ensemble

_CHECK_ROWS = 8
_NOT_ADDITIVE = (
    "its raw output is not a constant plus the sum of its leaves (e.g. a log-link loss "
    "such as Poisson)"
)


@dataclass(frozen=True)
class FlatTrees:
    """The trees of an additive ensemble end to end: ``raw(x) = offset + sum of leaves``.

    Built from a :class:`whybox.shapley.tree.TreeEnsemble` (tree ``t``'s node ``i`` is
    node ``t * max_nodes + i`` here; padding nodes are leaves of value 0 that no walk
    reaches).

    Attributes
    ----------
    left, right : ndarray of shape (n_nodes,), int64
        Children of every node (global positions), -1 at leaves.
    feature : ndarray of shape (n_nodes,), int64
        Split feature (column of the model input), -1 at leaves.
    threshold : ndarray of shape (n_nodes,), float64
        ``x[feature] <= threshold`` goes left.
    left_share : ndarray of shape (n_nodes,), float64
        The share of the node's training weight that went to its left child.
    value : ndarray of shape (n_nodes, n_outputs), float64
        Each leaf's contribution to each output (scaled by the learning rate or
        1/n_trees); 0 at internal nodes.
    roots : ndarray of shape (n_trees,), int64
        The position of each tree's root.
    offset : ndarray of shape (n_outputs,), float64
        The constant added to the leaves (initial prediction of boosting).
    float32_inputs : bool
        Whether the trees compare float32-rounded inputs (scikit-learn's trees do).
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left_share: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    offset: np.ndarray
    float32_inputs: bool


def _kinds() -> dict[str, tuple[type, ...]]:
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeRegressor

    return {
        "gb": (GradientBoostingClassifier, GradientBoostingRegressor),
        "hist": (HistGradientBoostingClassifier, HistGradientBoostingRegressor),
        "tree": (DecisionTreeRegressor,),
        "forest": (RandomForestRegressor,),
    }


def unsupported(est: Any) -> str | None:
    """Why the recursion cannot walk ``est``'s trees, or None when it can."""
    kinds = _kinds()
    name = type(est).__name__
    if isinstance(est, kinds["gb"]):
        if est.init not in (None, "zero"):
            return f"{name} was fitted with init={est.init!r}, whose offset may vary by row"
        return None
    if isinstance(est, kinds["hist"]):
        if getattr(est, "_fitted_with_sw", False):
            return f"{name} was fitted with sample weights, which its trees do not record"
        if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
            return f"{name} has categorical splits, which the recursion does not follow"
        return None
    if isinstance(est, kinds["tree"] + kinds["forest"]):
        if est.n_outputs_ != 1:
            return f"{name} has {est.n_outputs_} outputs; the recursion handles one"
        return None
    return (
        f"{name} is not one of the tree models the recursion supports (scikit-learn's "
        "DecisionTreeRegressor, RandomForestRegressor, GradientBoosting* and "
        "HistGradientBoosting*, not in a Pipeline)"
    )


def _fitted_trees(est: Any) -> Any:
    """The object holding the fitted trees: a refit replaces it."""
    for attr in ("_predictors", "estimators_", "tree_"):
        if hasattr(est, attr):
            return getattr(est, attr)
    return None


# estimator -> (its fitted trees object, the flattened ensemble). The entry holds the
# trees object itself, so an identity check tells a refit (a new object) from the same fit.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tree_ensemble(model: Model, data: Dataset) -> FlatTrees | str:
    """The flattened trees of ``model`` with their raw-output offset, or why not.

    The offset is the model's raw output minus the sum of leaves on a few rows of
    ``data``; those rows also check that the raw output really is offset + leaves
    (a non-identity link such as a Poisson loss fails the check). The result is kept
    per fitted estimator (until it is refitted or freed), so repeated partial
    dependence calls on one model flatten its trees once.
    """
    est = model.estimator
    reason = unsupported(est)
    if reason is not None:
        return reason
    if data.categorical.any():
        return "X has categorical columns, which these trees cannot take"
    fitted = _fitted_trees(est)
    try:
        cached = _CACHE.get(est)
    except TypeError:  # not weak-referenceable
        cached = None
    if cached is not None and cached[0] is fitted and cached[1].value.shape[1] == model.n_outputs:
        return cached[1]
    ens = _flatten(model, data)
    if not isinstance(ens, str):
        try:
            _CACHE[est] = (fitted, ens)
        except TypeError:
            pass
    return ens


def _flatten(model: Model, data: Dataset) -> FlatTrees | str:
    try:
        ensemble = parse_ensemble(model.estimator)
    except UnsupportedModelError:
        # past unsupported(), the reader refuses only a HistGradientBoostingRegressor
        # whose loss predicts through a link (Poisson, gamma)
        return _NOT_ADDITIVE
    if ensemble.n_outputs != model.n_outputs:
        return f"the model has {model.n_outputs} outputs but its trees feed {ensemble.n_outputs}"
    ens = _end_to_end(ensemble)
    rows = data.values.astype(np.float64)
    rows = rows[~np.isnan(rows).any(axis=1)][:_CHECK_ROWS]
    if len(rows) == 0:
        rows = np.zeros((1, data.n_features))
    every = np.arange(data.n_features)
    diff = model.predict(Dataset(rows, data.feature_names, data.categorical), "raw") - (
        recursion_average(ens, every, rows)
    )
    offset = diff[0]
    if not np.allclose(diff, offset, rtol=1e-7, atol=1e-7):
        return _NOT_ADDITIVE
    return replace(ens, offset=offset)


def _end_to_end(ensemble: TreeEnsemble) -> FlatTrees:
    """The padded trees of ``ensemble`` laid end to end, with each split's left share.

    The share is the left child's training weight (cover) over the node's; the
    ``offset`` is left at 0 for :func:`_flatten` to measure.
    """
    n_trees, width = ensemble.children_left.shape
    start = np.arange(n_trees, dtype=np.int64)[:, None] * width
    left = ensemble.children_left.astype(np.int64)
    right = ensemble.children_right.astype(np.int64)
    leaf = left < 0
    cover = ensemble.covers
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(
            leaf, 0.0, np.take_along_axis(cover, np.where(leaf, 0, left), axis=1) / cover
        )
    return FlatTrees(
        left=np.where(leaf, -1, left + start).ravel(),
        right=np.where(right < 0, -1, right + start).ravel(),
        feature=ensemble.features.astype(np.int64).ravel(),
        threshold=ensemble.thresholds.ravel(),
        left_share=share.ravel(),
        value=ensemble.values.reshape(n_trees * width, ensemble.n_outputs),
        roots=start.ravel(),
        offset=np.zeros(ensemble.n_outputs),
        float32_inputs=ensemble.float32_input,
    )


@njit(cache=True)
def _walk(
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left_share: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    position: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled by numba; tested through recursion_average
    n_points, n_out = z.shape[0], value.shape[1]
    out = np.zeros((n_points, n_out))
    stack_node = np.empty(len(left), dtype=np.int64)
    stack_weight = np.empty(len(left))
    for p in range(n_points):
        for root in roots:
            top = 0
            stack_node[0] = root
            stack_weight[0] = 1.0
            while top >= 0:
                node = stack_node[top]
                w = stack_weight[top]
                top -= 1
                if left[node] < 0:
                    for k in range(n_out):
                        out[p, k] += w * value[node, k]
                    continue
                pos = position[feature[node]]
                if pos >= 0:  # a split on a feature of S: all the weight goes one way
                    top += 1
                    stack_weight[top] = w
                    if z[p, pos] <= threshold[node]:
                        stack_node[top] = left[node]
                    else:
                        stack_node[top] = right[node]
                else:  # another feature: split by the training samples' shares
                    share = left_share[node]
                    if share > 0.0:
                        top += 1
                        stack_node[top] = left[node]
                        stack_weight[top] = w * share
                    if share < 1.0:
                        top += 1
                        stack_node[top] = right[node]
                        stack_weight[top] = w * (1.0 - share)
    return out


def recursion_average(ens: FlatTrees, columns: Any, points: np.ndarray) -> np.ndarray:
    """The recursion estimate of the partial dependence at each point.

    Parameters
    ----------
    ens : FlatTrees
    columns : sequence of int
        The model-input columns S that the points set.
    points : ndarray of shape (n_points, len(columns)), float64

    Returns
    -------
    ndarray of shape (n_points, n_outputs), float64
        ``offset + sum over trees of sum over leaves of weight * value``.
    """
    z = np.asarray(points, dtype=np.float64)
    if ens.float32_inputs:
        z = z.astype(np.float32).astype(np.float64)
    n_features = int(max(ens.feature.max(initial=-1), max(columns, default=-1))) + 1
    position = np.full(n_features, -1, dtype=np.int64)
    position[np.asarray(columns, dtype=np.int64)] = np.arange(len(columns))
    out = _walk(
        ens.left,
        ens.right,
        ens.feature,
        np.asarray(ens.threshold, dtype=np.float64),
        ens.left_share,
        np.ascontiguousarray(ens.value),
        ens.roots,
        position,
        np.ascontiguousarray(z),
    )
    return out + ens.offset
