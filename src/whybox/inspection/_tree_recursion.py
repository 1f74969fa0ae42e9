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

Here every tree of every supported ensemble is flattened into one set of node arrays and
walked by a numba kernel, depth first with an explicit stack, once per grid point (the
weights fork at every split, so the walk is a loop that does not vectorise). The flattened
trees are kept per fitted estimator, so repeated calls on one model flatten them once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numba import njit

from whybox.adapters import Dataset, Model

_CHECK_ROWS = 8


@dataclass(frozen=True)
class TreeEnsemble:
    """Flattened trees of an additive ensemble: ``raw(x) = offset + sum of leaves``.

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


def _sklearn_tree(tree: Any) -> tuple[np.ndarray, ...]:
    t = tree.tree_
    left = t.children_left.astype(np.int64)
    leaf = left < 0
    weight = t.weighted_n_node_samples.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(leaf, 0.0, weight[np.where(leaf, 0, left)] / weight)
    feature = np.where(leaf, -1, t.feature).astype(np.int64)
    return left, t.children_right.astype(np.int64), feature, t.threshold, share, t.value[:, 0, 0]


def _hist_tree(predictor: Any) -> tuple[np.ndarray, ...]:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    count = nodes["count"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(leaf, 0.0, count[np.where(leaf, 0, left)] / count)
    feature = np.where(leaf, -1, nodes["feature_idx"].astype(np.int64))
    return left, right, feature, nodes["num_threshold"], share, nodes["value"]


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


def _trees(est: Any) -> tuple[list[tuple[tuple[np.ndarray, ...], int, float]], bool]:
    """(tree arrays, output, scale) for each tree, and whether inputs are float32."""
    kinds = _kinds()
    if isinstance(est, kinds["gb"]):
        lr = float(est.learning_rate)
        stages = est.estimators_
        trees = [
            (_sklearn_tree(stages[s, k]), k, lr)
            for s in range(stages.shape[0])
            for k in range(stages.shape[1])
        ]
        return trees, True
    if isinstance(est, kinds["hist"]):
        trees = [(_hist_tree(p), k, 1.0) for stage in est._predictors for k, p in enumerate(stage)]
        return trees, False
    if isinstance(est, kinds["tree"]):
        return [(_sklearn_tree(est), 0, 1.0)], True
    scale = 1.0 / len(est.estimators_)
    return [(_sklearn_tree(t), 0, scale) for t in est.estimators_], True


def _fitted_trees(est: Any) -> Any:
    """The object holding the fitted trees: a refit replaces it."""
    for attr in ("_predictors", "estimators_", "tree_"):
        if hasattr(est, attr):
            return getattr(est, attr)
    return None


# estimator -> (its fitted trees object, the flattened ensemble). The entry holds the
# trees object itself, so an identity check tells a refit (a new object) from the same fit.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tree_ensemble(model: Model, data: Dataset) -> TreeEnsemble | str:
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


def _flatten(model: Model, data: Dataset) -> TreeEnsemble | str:
    trees, float32_inputs = _trees(model.estimator)
    n_out = model.n_outputs
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("l", "r", "f", "t", "s", "v")}
    roots = []
    base = 0
    for (left, right, feature, threshold, share, value), k, scale in trees:
        if k >= n_out:
            return f"the model has {n_out} outputs but a tree for output {k}"
        n = len(left)
        roots.append(base)
        parts["l"].append(np.where(left < 0, -1, left + base))
        parts["r"].append(np.where(right < 0, -1, right + base))
        parts["f"].append(feature)
        parts["t"].append(np.asarray(threshold, dtype=np.float64))
        parts["s"].append(share)
        v = np.zeros((n, n_out))
        v[left < 0, k] = np.asarray(value, dtype=np.float64)[left < 0] * scale
        parts["v"].append(v)
        base += n
    ens = TreeEnsemble(
        left=np.concatenate(parts["l"]),
        right=np.concatenate(parts["r"]),
        feature=np.concatenate(parts["f"]),
        threshold=np.concatenate(parts["t"]),
        left_share=np.concatenate(parts["s"]),
        value=np.concatenate(parts["v"]),
        roots=np.asarray(roots, dtype=np.int64),
        offset=np.zeros(n_out),
        float32_inputs=float32_inputs,
    )
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
        return (
            "its raw output is not a constant plus the sum of its leaves (e.g. a log-link "
            "loss such as Poisson)"
        )
    return replace(ens, offset=offset)


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


def recursion_average(ens: TreeEnsemble, columns: Any, points: np.ndarray) -> np.ndarray:
    """The recursion estimate of the partial dependence at each point.

    Parameters
    ----------
    ens : TreeEnsemble
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
