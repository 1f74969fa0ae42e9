"""Path-dependent TreeSHAP as numba kernels: Algorithm 2 of Lundberg et al. (2020).

:func:`path_dependent_shap` computes the values with the quadrature kernel of
:mod:`whybox.shapley.tree._quadrature` (``O(nodes * q)`` per tree and row,
``q = ceil(min(depth, n_features) / 2)``). The recursion below (``_shap_row``, with
the path primitives EXTEND and UNWIND of :mod:`whybox.shapley.tree._primitives`) is kept as the reference on shallow trees and
as the building block of interaction values; it is not used for deep paths because it
loses precision there: UNWIND divides by the path's weights, and once a path holds more
than about 50 distinct features the rounding errors grow like binomial coefficients
(measured on a chain of 120 distinct features: values off by 0.4 where the quadrature
kernel keeps additivity to 1e-13).

The value function of a coalition ``S`` is the tree's prediction when the features in
``S`` follow the row's splits and every other split is averaged over its children,
weighted by the training cover that went each way. Algorithm 2 computes the exact
Shapley values of that game in ``O(leaves * depth**2)`` per tree and row by carrying,
along the path from the root, the proportion of coalitions of each size that reach
the current node (EXTEND adds a split's feature to the path, UNWIND removes it).

The traversal is iterative (an explicit stack) so one numba function handles trees of
any depth; rows are spread over threads with ``prange`` and each row writes only its
own slice of the output.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

from whybox._exceptions import InputError
from whybox.shapley.tree import _quadrature
from whybox.shapley.tree._ensemble import TreeEnsemble
from whybox.shapley.tree._primitives import (
    extend_path,
    node_goes_left,
    numba_threads,
    path_arrays,
    path_stack,
    unwind_path,
    unwound_sum,
)

#: Largest share of the machine's memory the work arrays of one row per thread may take
#: before :func:`path_dependent_shap` refuses the ensemble as too deep.
MAX_MEMORY_SHARE = 0.5


def _physical_memory() -> int | None:
    """Bytes of physical memory, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


@njit(cache=True)
def child_fractions(children_left, children_right, covers):
    """The share of its parent's cover that reaches each node.

    Returns
    -------
    ndarray of shape (n_trees, max_nodes), float64
        ``covers[child] / covers[parent]`` (1 at the root, 0 under a parent of zero
        cover and at padding).
    """
    n_trees, max_nodes = children_left.shape
    frac = np.zeros((n_trees, max_nodes))
    for t in range(n_trees):
        frac[t, 0] = 1.0
        for node in range(max_nodes):
            left = children_left[t, node]
            if left < 0:
                continue
            right = children_right[t, node]
            parent = covers[t, node]
            if parent > 0:
                frac[t, left] = covers[t, left] / parent
                frac[t, right] = covers[t, right] / parent
    return frac


@njit(cache=True)
def expected_values(children_left, children_right, frac, values, tree_output):
    """Sum over trees of the cover-weighted mean leaf value, per output.

    Returns
    -------
    ndarray of shape (n_outputs,), float64
        ``sum_t sum_leaves P(reach leaf) * value`` where a split sends the share
        ``frac`` of its parent's probability to each child.
    """
    n_trees, max_nodes, n_out = values.shape
    total = np.zeros(n_out)
    stack = np.empty(max_nodes, dtype=np.int64)
    prob = np.zeros(max_nodes)
    for t in range(n_trees):
        out = tree_output[t]
        stack[0] = 0
        prob[0] = 1.0
        top = 1
        while top > 0:
            top -= 1
            node = stack[top]
            left = children_left[t, node]
            if left < 0:
                if out >= 0:
                    total[out] += prob[node] * values[t, node, out]
                else:
                    for k in range(n_out):
                        total[k] += prob[node] * values[t, node, k]
                continue
            right = children_right[t, node]
            prob[left] = prob[node] * frac[t, left]
            prob[right] = prob[node] * frac[t, right]
            stack[top] = left
            stack[top + 1] = right
            top += 2
    return total


@njit(parallel=True, cache=True)
def predict_raw(
    X,
    children_left,
    children_right,
    features,
    splits,
    values,
    tree_output,
    base_offset,
):
    """The ensemble's raw output for each row of ``X`` (float64, shape (n, n_outputs))."""
    n = X.shape[0]
    n_trees = children_left.shape[0]
    n_out = values.shape[2]
    out = np.empty((n, n_out))
    for i in prange(n):
        for k in range(n_out):
            out[i, k] = base_offset[k]
        for t in range(n_trees):
            node = 0
            while children_left[t, node] >= 0:
                f = features[t, node]
                if node_goes_left(X[i, f], splits, t, node):
                    node = children_left[t, node]
                else:
                    node = children_right[t, node]
            o = tree_output[t]
            if o >= 0:
                out[i, o] += values[t, node, o]
            else:
                for k in range(n_out):
                    out[i, k] += values[t, node, k]
    return out


@njit(cache=True)
def _shap_row(x, phi, forest, splits, max_depth):
    """Add the path-dependent SHAP values of row ``x`` to ``phi`` (n_features, n_outputs).

    ``forest`` is ``(children_left, children_right, features, frac, values,
    tree_output, players)``: a split decides on ``x[features]`` and is credited to
    ``players`` (``phi`` has one row per player); ``splits`` is
    ``TreeEnsemble.splits_of()``.
    """
    children_left, children_right, features, frac, values, tree_output, players = forest
    n_trees = children_left.shape[0]
    n_out = values.shape[2]
    size = max_depth + 2
    pf, pz, po, pw, plen, inv = path_arrays(size)
    s_node, s_lvl, s_zero, s_one, s_feat = path_stack(2 * size)
    for t in range(n_trees):
        out = tree_output[t]
        s_node[0] = 0
        s_lvl[0] = 0
        s_zero[0] = 1.0
        s_one[0] = 1.0
        s_feat[0] = -1
        top = 1
        while top > 0:
            top -= 1
            node = s_node[top]
            lvl = s_lvl[top]
            # copy the parent's path (level lvl - 1), then EXTEND it with this split
            ud = 0
            if lvl > 0:
                ud = plen[lvl - 1]
                for j in range(ud):
                    pf[lvl, j] = pf[lvl - 1, j]
                    pz[lvl, j] = pz[lvl - 1, j]
                    po[lvl, j] = po[lvl - 1, j]
                    pw[lvl, j] = pw[lvl - 1, j]
            extend_path(pf, pz, po, pw, lvl, ud, s_zero[top], s_one[top], s_feat[top], inv)
            left = children_left[t, node]
            if left < 0:
                for j in range(1, ud + 1):
                    w = unwound_sum(pz, po, pw, lvl, ud, j, inv) * (po[lvl, j] - pz[lvl, j])
                    f = pf[lvl, j]
                    if out >= 0:
                        phi[f, out] += w * values[t, node, out]
                    else:
                        for k in range(n_out):
                            phi[f, k] += w * values[t, node, k]
                continue
            right = children_right[t, node]
            if node_goes_left(x[features[t, node]], splits, t, node):
                hot = left
                cold = right
            else:
                hot = right
                cold = left
            split = players[t, node]
            # a player already on the path: take out its earlier element
            in_zero = 1.0
            in_one = 1.0
            for j in range(1, ud + 1):
                if pf[lvl, j] == split:
                    in_zero = pz[lvl, j]
                    in_one = po[lvl, j]
                    unwind_path(pf, pz, po, pw, lvl, ud, j, inv)
                    ud -= 1
                    break
            plen[lvl] = ud + 1
            cold_zero = in_zero * frac[t, cold]
            if cold_zero != 0.0:  # a subtree no coalition reaches adds nothing
                s_node[top] = cold
                s_lvl[top] = lvl + 1
                s_zero[top] = cold_zero
                s_one[top] = 0.0
                s_feat[top] = split
                top += 1
            hot_zero = in_zero * frac[t, hot]
            if hot_zero != 0.0 or in_one != 0.0:
                s_node[top] = hot
                s_lvl[top] = lvl + 1
                s_zero[top] = hot_zero
                s_one[top] = in_one
                s_feat[top] = split
                top += 1


@njit(parallel=True, cache=True)
def _shap_rows(X, forest, splits, max_depth, n_players):
    n = X.shape[0]
    phi = np.zeros((n, n_players, forest[4].shape[2]))
    for i in prange(n):
        _shap_row(X[i], phi[i], forest, splits, max_depth)
    return phi


def prepare_rows(ensemble: TreeEnsemble, X: np.ndarray) -> np.ndarray:
    """Rows as the library compares them: float64, through float32 where it casts."""
    X = ensemble.encode(X)
    if ensemble.float32_input:
        X = X.astype(np.float32).astype(np.float64)
    return np.ascontiguousarray(X)


def ensemble_predict(ensemble: TreeEnsemble, X: np.ndarray) -> np.ndarray:
    """The ensemble's raw output, shape (n_samples, n_outputs), float64."""
    e = ensemble
    with numba_threads(None):
        return predict_raw(
            prepare_rows(e, X),
            e.children_left,
            e.children_right,
            e.features,
            e.splits_of(),
            e.values,
            e.tree_output,
            e.base_offset,
        )


def ensemble_expected_value(ensemble: TreeEnsemble) -> np.ndarray:
    """The base value: ``base_offset`` plus each tree's cover-weighted mean leaf value."""
    e = ensemble
    frac = child_fractions(e.children_left, e.children_right, e.covers)
    return e.base_offset + expected_values(
        e.children_left, e.children_right, frac, e.values, e.tree_output
    )


def _check_work_memory(row_bytes: int, n_threads: int, max_depth: int) -> None:
    """Refuse an ensemble whose work arrays for one row per thread cannot fit in memory."""
    total = _physical_memory()
    if total is None or row_bytes * n_threads <= MAX_MEMORY_SHARE * total:
        return
    raise InputError(
        f"the ensemble is {max_depth} levels deep: exact path-dependent TreeSHAP would need "
        f"{row_bytes * n_threads / 2**30:.1f} GiB of work memory ({n_threads} threads) on a "
        f"machine with {total / 2**30:.1f} GiB; use fewer threads (n_jobs=1), "
        "feature_perturbation='interventional' with a background, or the sampling "
        "estimator whybox.PermutationExplainer."
    )


def path_dependent_shap(
    ensemble: TreeEnsemble,
    X: np.ndarray,
    *,
    frac: np.ndarray | None = None,
    max_depth: int | None = None,
    n_threads: int | None = None,
    kernel: str = "auto",
    block_rows: int | None = None,
) -> np.ndarray:
    """Path-dependent SHAP values of each row of ``X``.

    Two exact kernels compute the same values on shallow trees (to rounding, about
    1e-15 relative):

    - ``"quadrature"`` (:mod:`whybox.shapley.tree._quadrature`): Gauss-Legendre
      quadrature of the Shapley integral with prefix products along each path and
      sums over subtrees, ``O(nodes * q)`` per tree and row with
      ``q = ceil(min(depth, n_features) / 2)``; it walks each tree once per block of
      ``block_rows`` rows. ``"auto"`` uses it at every depth: it stays accurate on
      paths of hundreds of distinct features.
    - ``"recursive"``: Algorithm 2 of Lundberg et al. (2020), ``O(leaves * depth**2)``
      per tree and row, one row at a time; the reference on shallow trees, imprecise
      once a path holds more than about 50 distinct features.

    Parameters
    ----------
    ensemble : TreeEnsemble
    X : ndarray of shape (n_samples, n_features)
        The rows, numeric; NaN marks a missing value.
    frac, max_depth : optional
        :func:`child_fractions` and ``ensemble.max_depth``, when already computed.
    n_threads : int, optional
        Threads to use (default: numba's current setting). The values do not depend
        on it.
    kernel : {"auto", "quadrature", "recursive"}, default="auto"
        Which kernel computes the values (see above); ``"auto"`` is ``"quadrature"``.
    block_rows : int, optional
        Rows per pass of the quadrature kernel (default: up to
        :data:`whybox.shapley.tree._quadrature.BLOCK_ROWS`, fewer when the work arrays
        would be large or the threads would run out of blocks); the values do not
        depend on it.

    Returns
    -------
    ndarray of shape (n_samples, n_features, n_outputs), float64
        In the ensemble's raw output space; each row's values add up, with
        :func:`ensemble_expected_value`, to :func:`ensemble_predict`.

    References
    ----------
    .. [1] S. M. Lundberg, G. Erion, H. Chen et al., "From local explanations to
       global understanding with explainable AI for trees", Nature Machine
       Intelligence 2, 56-67 (2020).
    .. [2] P. Yu, C. Xu, A. Bifet, J. Read, "Linear TreeShap", NeurIPS 2022.
    """
    if kernel not in ("auto", "quadrature", "recursive"):
        raise InputError(
            f"kernel must be 'auto', 'quadrature' or 'recursive', got {kernel!r}; "
            "use 'auto' to let the depth decide."
        )
    e = ensemble
    if frac is None:
        frac = child_fractions(e.children_left, e.children_right, e.covers)
    if max_depth is None:
        max_depth = e.max_depth
    if kernel == "auto":
        kernel = "quadrature"
    if block_rows is not None and block_rows < 1:
        raise InputError(f"block_rows must be a positive integer, got {block_rows}.")
    rows = prepare_rows(e, X)
    # the arguments both kernels take, in their order
    forest = (
        e.children_left, e.children_right, e.features, frac, e.values, e.tree_output, e.players
    )  # fmt: skip
    args = (rows, forest, e.splits_of(), max_depth, e.n_players)
    with numba_threads(n_threads):
        if kernel == "quadrature":
            t_nodes, w_nodes = _quadrature.quadrature_nodes(min(max_depth, e.n_players))
            _check_work_memory(
                _quadrature.row_work_bytes(max_depth, len(t_nodes), e.n_players, e.n_outputs),
                numba.get_num_threads(),
                max_depth,
            )
            if block_rows is None:
                block_rows = _quadrature.block_rows_for(
                    len(rows),
                    max_depth,
                    len(t_nodes),
                    e.n_players,
                    e.n_outputs,
                    numba.get_num_threads(),
                )
            return _quadrature.quadrature_shap_rows(*args, t_nodes, w_nodes, int(block_rows))
        return _shap_rows(*args)
