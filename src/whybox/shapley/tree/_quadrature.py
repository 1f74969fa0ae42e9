"""Path-dependent TreeSHAP by Gauss-Legendre quadrature, in ``O(nodes * q)`` per tree and row.

The game
--------
Take one leaf ``l`` of value ``v`` and the distinct features ``P`` split on along its
path. For a feature ``j`` in ``P`` let ``a_j`` be 1 when the row satisfies *all* of the
path's conditions on ``j`` (0 otherwise) and ``r_j`` the product of the cover shares
(child cover / parent cover) of the path's splits on ``j``. Path-dependent TreeSHAP
(Lundberg et al. 2020) explains, for this leaf, the game

    f(S) = v * prod_{j in S} a_j * prod_{j in P \\ S} r_j,

whose Shapley values are (Beta-integral form of the Shapley weights)

    phi_i = v * (a_i - r_i) * integral_0^1 prod_{j in P, j != i} p_j(t) dt,
    p_j(t) = t * a_j + (1 - t) * r_j.

The integrand is a polynomial of degree ``|P| - 1``, so Gauss-Legendre quadrature with
``q = ceil(|P| / 2)`` nodes ``t_k`` (weights ``w_k``) is exact. Writing
``G_l(t) = v * prod_{j in P} p_j(t)`` and ``c_i(t) = (a_i - r_i) / p_i(t)`` (which is
``-1 / (1 - t)`` when ``a_i = 0`` and ``(1 - r_i) / (t + (1 - t) r_i)`` when
``a_i = 1``; both bounded on the interior nodes, so nothing is ever divided by a factor
that may be zero) gives ``phi_i = sum_k w_k G_l(t_k) c_i(t_k)``.

Sharing work across leaves (as Linear TreeSHAP, Yu et al. 2022, does with polynomial
summaries): ``c_i`` changes only on the edges that split on ``i``. A feature that is
not yet on the path reads as ``a = r = 1`` (``p = 1``, ``c = 0``), so ``c_i`` at a leaf
telescopes into one difference per split on ``i`` along its path. Each edge ``e``
splitting on ``i`` therefore adds ``sum_k w_k H_e(t_k) (c_i^e(t_k) - c_i^{e-}(t_k))`` to
``phi_i``, where ``H_e(t) = sum of G_l(t)`` over the leaves below ``e`` and ``c_i^{e-}``
is ``c_i`` just above ``e``. One depth-first pass per tree computes the prefix products
``prod p_j(t_k)`` on the way down (a repeated feature's factor is replaced: multiplied
by ``p_new / p_old``, whose denominator is ``s`` free when ``a = 0`` and at least ``t``
when ``a = 1``) and the sums ``H`` on the way up.

Only ``a`` depends on the row; ``r``, and with it every ratio and ``c`` difference of an
edge, depends on the path only. The pass therefore walks each tree once for a block of
rows and, at each node, updates all rows of the block in a loop numba vectorises. Every
row's numbers go through the same operations in the same order whatever the block size
or thread count, so the result does not depend on either.

References
----------
.. [1] S. M. Lundberg, G. Erion, H. Chen et al., "From local explanations to global
   understanding with explainable AI for trees", Nature Machine Intelligence 2,
   56-67 (2020).
.. [2] P. Yu, C. Xu, A. Bifet, J. Read, "Linear TreeShap", Advances in Neural
   Information Processing Systems 35 (NeurIPS 2022).
.. [3] L. S. Shapley, "A value for n-person games", Contributions to the Theory of
   Games II, 307-317 (1953); the Beta-integral form of the weights:
   ``|S|! (n - |S| - 1)! / n! = integral_0^1 t^|S| (1 - t)^(n - |S| - 1) dt``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from whybox.shapley.tree._primitives import node_goes_left

#: Most rows handled together in one pass over a tree.
BLOCK_ROWS = 128
#: Bytes of work arrays one block may use (per thread).
BLOCK_BYTES = 4 << 20


def row_work_bytes(max_depth: int, q: int, n_features: int, n_outputs: int) -> int:
    """Bytes of work arrays one row takes in :func:`quadrature_shap_rows`."""
    return 8 * ((max_depth + 1) * q * (1 + n_outputs) + n_features * n_outputs)


def block_rows_for(
    n_rows: int, max_depth: int, q: int, n_features: int, n_outputs: int, n_threads: int
) -> int:
    """Rows per block: at most :data:`BLOCK_ROWS`, within :data:`BLOCK_BYTES` per block,
    and small enough that every thread gets a block.

    Parameters
    ----------
    n_rows, max_depth, q, n_features, n_outputs, n_threads : int
        The rows to explain, the ensemble's depth, the quadrature nodes, the
        ensemble's features and outputs, the threads that will run.

    Returns
    -------
    int
        The block size, at least 1. The SHAP values do not depend on it.
    """
    per_row = row_work_bytes(max_depth, q, n_features, n_outputs)
    block = min(BLOCK_ROWS, max(1, BLOCK_BYTES // per_row))
    return max(1, min(block, -(-n_rows // max(1, n_threads))))


def quadrature_nodes(max_unique: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1], exact for paths of ``max_unique`` features.

    Parameters
    ----------
    max_unique : int
        The largest number of distinct features on one root-to-leaf path (the tree depth
        bounds it).

    Returns
    -------
    t, w : ndarray of shape (q,), float64
        ``q = max(1, ceil(max_unique / 2))`` nodes in (0, 1) and their weights (summing
        to 1): ``sum_k w[k] * g(t[k])`` is the integral over [0, 1] of any polynomial
        ``g`` of degree at most ``2 q - 1 >= max_unique - 1``.
    """
    q = max(1, math.ceil(max_unique / 2))
    x, w = np.polynomial.legendre.leggauss(q)
    return (x + 1.0) / 2.0, w / 2.0


@njit(cache=True)
def _shap_block(X, start, stop, phi, forest, splits, max_depth, t_nodes, w_nodes):
    """Write the SHAP values of rows ``start:stop`` of ``X`` into ``phi[start:stop]``."""
    children_left, children_right, features, frac, values, tree_output, players = forest
    nb = stop - start
    n_trees = children_left.shape[0]
    n_out = values.shape[2]
    n_feat = phi.shape[1]
    q = t_nodes.shape[0]
    lv = max_depth + 1
    # per depth level d (the node at depth d of the current path):
    P = np.empty((lv, q, nb))  # prod_j p_j(t_k) over the path's features, per row
    H = np.empty((lv, n_out, q, nb))  # sum of value * P over the leaves below (not leaves)
    mode = np.empty((lv, nb), dtype=np.int8)  # edge into the node: 0 a_old=0, 1 cold, 2 hot
    gl = np.empty((lv, nb), dtype=np.bool_)  # the row goes left at the node
    RT = np.empty((lv, 3, q))  # factor ratio p_new / p_old of the edge, per mode
    DC = np.empty((lv, 3, q))  # w_k * (c_new - c_old) of the edge, per mode
    node_at = np.empty(lv, dtype=np.int64)
    side = np.empty(lv, dtype=np.int64)  # 0: left child next, 1: right next, 2: done
    feat = np.empty(lv, dtype=np.int64)
    r_prev = np.empty(lv)
    # the current path's merged (a_j, r_j); a feature not on the path reads a = r = 1
    A = np.ones((n_feat, nb), dtype=np.bool_)
    R = np.ones(n_feat)
    acc = np.empty(nb)
    phib = np.zeros((n_feat, n_out, nb))
    u_nodes = 1.0 - t_nodes
    for k in range(q):
        for r in range(nb):
            P[0, k, r] = 1.0
    for t in range(n_trees):
        if children_left[t, 0] < 0:
            continue  # a single leaf: a constant adds nothing
        out = tree_output[t]
        n_o = n_out if out < 0 else 1
        o0 = 0 if out < 0 else out
        node_at[0] = 0
        side[0] = 0
        split = features[t, 0]
        for r in range(nb):
            gl[0, r] = node_goes_left(X[start + r, split], splits, t, 0)
        for j in range(n_o):
            for k in range(q):
                for r in range(nb):
                    H[0, j, k, r] = 0.0
        d = 0
        while True:
            node = node_at[d]
            if side[d] < 2:
                # ------------------------------------------------ go down one edge
                is_left = side[d] == 0
                child = children_left[t, node] if is_left else children_right[t, node]
                side[d] += 1
                f = players[t, node]
                s = frac[t, child]
                r_old = R[f]
                r_new = r_old * s
                c = d + 1
                n_hot = 0
                for r in range(nb):
                    m = 0
                    if A[f, r]:
                        if gl[d, r] == is_left:
                            m = 2
                            n_hot += 1
                        else:
                            m = 1
                    mode[c, r] = m
                if r_new == 0.0 and n_hot == 0:
                    continue  # every row's product is 0 below: the subtree adds nothing
                for k in range(q):
                    tk = t_nodes[k]
                    uk = u_nodes[k]
                    den_old = tk + uk * r_old  # >= t_k > 0
                    den_new = tk + uk * r_new
                    c_old = (1.0 - r_old) / den_old
                    RT[c, 0, k] = s
                    RT[c, 1, k] = uk * r_new / den_old
                    RT[c, 2, k] = den_new / den_old
                    DC[c, 0, k] = 0.0
                    DC[c, 1, k] = w_nodes[k] * (-1.0 / uk - c_old)
                    DC[c, 2, k] = w_nodes[k] * ((1.0 - r_new) / den_new - c_old)
                feat[c] = f
                r_prev[c] = r_old
                R[f] = r_new
                for r in range(nb):
                    A[f, r] = mode[c, r] == 2
                for k in range(q):
                    f0 = RT[c, 0, k]
                    f1 = RT[c, 1, k]
                    f2 = RT[c, 2, k]
                    for r in range(nb):
                        m = mode[c, r]
                        g = f2 if m == 2 else (f1 if m == 1 else f0)
                        P[c, k, r] = P[d, k, r] * g
                node_at[c] = child
                d = c
                if children_left[t, child] < 0:
                    side[d] = 2  # a leaf: its sums value * P are formed on the way up
                else:
                    side[d] = 0
                    split = features[t, child]
                    for r in range(nb):
                        gl[d, r] = node_goes_left(X[start + r, split], splits, t, child)
                    for j in range(n_o):
                        for k in range(q):
                            for r in range(nb):
                                H[d, j, k, r] = 0.0
                continue
            # ---------------------------------------- node done: go back up its edge
            if d == 0:
                break
            f = feat[d]
            leaf = children_left[t, node] < 0
            for j in range(n_o):
                v = values[t, node, o0 + j]
                for r in range(nb):
                    acc[r] = 0.0
                for k in range(q):
                    d1 = DC[d, 1, k]
                    d2 = DC[d, 2, k]
                    if leaf:
                        for r in range(nb):
                            m = mode[d, r]
                            g = d2 if m == 2 else (d1 if m == 1 else 0.0)
                            h = v * P[d, k, r]
                            acc[r] += h * g
                            H[d - 1, j, k, r] += h
                    else:
                        for r in range(nb):
                            m = mode[d, r]
                            g = d2 if m == 2 else (d1 if m == 1 else 0.0)
                            acc[r] += H[d, j, k, r] * g
                            H[d - 1, j, k, r] += H[d, j, k, r]
                for r in range(nb):
                    phib[f, o0 + j, r] += acc[r]
            R[f] = r_prev[d]
            for r in range(nb):
                A[f, r] = mode[d, r] > 0
            d -= 1
    for r in range(nb):
        for f in range(n_feat):
            for o in range(n_out):
                phi[start + r, f, o] = phib[f, o, r]


@njit(parallel=True, cache=True)
def quadrature_shap_rows(X, forest, splits, max_depth, n_features, t_nodes, w_nodes, block_rows):
    """Path-dependent SHAP values of every row of ``X`` by quadrature.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The rows, already cast by ``prepare_rows``; NaN marks a missing value.
    forest : tuple
        ``(children_left, children_right, features, frac, values, tree_output)``: the
        ensemble's node arrays (see ``TreeEnsemble``), ``frac`` from
        :func:`~whybox.shapley.tree._path_dependent.child_fractions` (each node's share
        of its parent's cover), ``values`` of shape (n_trees, max_nodes, n_outputs).
    splits : tuple
        ``TreeEnsemble.splits_of()``: thresholds, default directions, missing-value
        rules, ``strict_less`` and category sets, read by
        :func:`~whybox.shapley.tree._primitives.node_goes_left`.
    max_depth : int
        The depth of the deepest tree.
    n_features : int
    t_nodes, w_nodes : ndarray of shape (q,), float64
        :func:`quadrature_nodes` for at least the most distinct features on a path.
    block_rows : int
        Rows handled together in one pass over a tree (>= 1); blocks are spread over
        threads. The result does not depend on it.

    Returns
    -------
    ndarray of shape (n_samples, n_features, n_outputs), float64
    """
    n = X.shape[0]
    phi = np.zeros((n, n_features, forest[4].shape[2]))
    n_blocks = (n + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        start = b * block_rows
        stop = min(n, start + block_rows)
        _shap_block(X, start, stop, phi, forest, splits, max_depth, t_nodes, w_nodes)
    return phi
