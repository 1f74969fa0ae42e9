"""Interventional TreeSHAP: exact Shapley values against a background, as numba kernels.

The value of a coalition ``S`` for a row ``x`` is the model's output averaged over the
background rows ``z`` with the features outside ``S`` taken from ``z``:
``v(S) = mean_z f(x_S, z_notS)`` (the interventional or marginal game; Janzing, Minorics
& Bloebaum 2020; Lundberg et al. 2020, "From local explanations to global understanding
with explainable AI for trees", Nature Machine Intelligence 2, 56-67, the interventional
TreeSHAP algorithm). The model is a sum of leaves, so the Shapley values are the sum
over leaves of the Shapley values of the game ``v_leaf(S) = mean_z value * 1[x_S z_notS
reaches the leaf]``.

Closed form for one leaf and one pair ``(x, z)``. Let ``P`` be the distinct features
split on along the path to the leaf, and for ``j`` in ``P`` let ``a_j`` (``b_j``) be 1
when ``x`` (``z``) satisfies every condition on ``j`` along the path. The hybrid row
``x_S z_notS`` reaches the leaf iff every ``j`` in ``P`` has ``a_j = 1`` if ``j`` is in
``S`` and ``b_j = 1`` otherwise. If some ``j`` has ``a_j = b_j = 0`` no coalition
reaches it; features with ``a_j = b_j = 1`` are dummies; with ``A = {a=1, b=0}`` (must
be in ``S``) and ``B = {a=0, b=1}`` (must be out) the game is a unanimity-like game
whose Shapley values are::

    phi_i = value * (|A|-1)! |B|! / (|A|+|B|)!     for i in A
    phi_i = -value * |A|! (|B|-1)! / (|A|+|B|)!    for i in B

(0 elsewhere, and 0 for all when ``A`` and ``B`` are both empty). The contribution
depends only on the bit patterns ``a`` and ``b`` over ``P``; this is the
"decision pattern" idea of the WOODELF algorithm (Nadel et al., 2025). Two exact ways
to use it, chosen per leaf:

- **Table** (``k = |P|`` small): count the background rows per pattern ``b`` once,
  then tabulate, for every pattern ``a`` of ``x``, the contribution to each path
  feature averaged over the background (``O(3**k)`` per leaf, enumerating the
  patterns ``b`` that cover the complement of ``a``). Each explained row then costs
  ``O(k)`` per leaf: the total cost is linear in rows plus background rows.
- **Pairwise** (``k`` large, where ``2**k`` patterns would not pay off): keep the
  distinct background patterns of the leaf with their counts and combine each row's
  pattern with each of them (``O(n_rows * n_distinct)`` per leaf). Still exact.

Every split decision goes through :func:`~whybox.shapley.tree._primitives.goes_left` (missing values, LightGBM rules,
categorical splits), rows and background are cast like the library casts them
(:func:`prepare_rows`), and each explained row writes only its own slice of the output
in a fixed order, so the values do not depend on the number of threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from whybox.shapley.tree._ensemble import TreeEnsemble
from whybox.shapley.tree._path_dependent import prepare_rows
from whybox.shapley.tree._primitives import add_leaf, node_goes_left, numba_threads

MAX_PATH_FEATURES = 62
"""The most distinct features a root-to-leaf path may split on (patterns are int64 bits)."""

MAX_TABLE_FEATURES = 12
"""Leaves whose paths split on more distinct features use the pairwise kernel
(a table has ``2**k * k`` entries and costs ``3**k`` to build)."""

MIN_TABLE_FEATURES = 6
"""Leaves with at most this many path features always use a table."""

_CHUNK_BYTES = 1 << 20  # tables held at once: small enough to stay in cache

_MODE_SKIP, _MODE_TABLE, _MODE_PAIR = 0, 1, 2


# ---------------------------------------------------------------------- layout
@njit(cache=True)
def leaf_layout(children_left, children_right, features, max_depth):
    """Where each split's feature sits among the distinct features of its path.

    Parameters
    ----------
    children_left, children_right, features : ndarray of shape (n_trees, max_nodes), int32
        The ensemble's node arrays.
    max_depth : int
        The depth of the deepest tree.

    Returns
    -------
    node_pos : ndarray of shape (n_trees, max_nodes), int64
        At an internal node, the position of its split feature in the list of distinct
        features split on from the root down to (and including) the node, in order of
        first appearance; -1 at leaves and padding.
    leaf_k : ndarray of shape (n_trees, max_nodes), int64
        At a leaf, the number of distinct features on its path; -1 elsewhere.
    parent : ndarray of shape (n_trees, max_nodes), int64
        Each node's parent (-1 at the root and padding).
    k_above : ndarray of shape (n_trees, max_nodes), int64
        The number of distinct features split on above each node (the bits of the
        patterns that decide whether a row reaches it); -1 at padding.
    """
    n_trees, max_nodes = children_left.shape
    node_pos = np.full((n_trees, max_nodes), -1, dtype=np.int64)
    leaf_k = np.full((n_trees, max_nodes), -1, dtype=np.int64)
    parent = np.full((n_trees, max_nodes), -1, dtype=np.int64)
    k_above = np.full((n_trees, max_nodes), -1, dtype=np.int64)
    size = max_depth + 2
    ulist = np.empty((size, size), dtype=np.int64)
    ulen = np.zeros(size, dtype=np.int64)
    s_node = np.empty(2 * size, dtype=np.int64)
    s_depth = np.empty(2 * size, dtype=np.int64)
    for t in range(n_trees):
        s_node[0] = 0
        s_depth[0] = 0
        top = 1
        while top > 0:
            top -= 1
            node = s_node[top]
            d = s_depth[top]
            n = 0
            if d > 0:  # the slot d - 1 holds the parent's list (depth-first order)
                n = ulen[d - 1]
                for j in range(n):
                    ulist[d, j] = ulist[d - 1, j]
            k_above[t, node] = n
            left = children_left[t, node]
            if left < 0:
                leaf_k[t, node] = n
                ulen[d] = n
                continue
            f = features[t, node]
            pos = -1
            for j in range(n):
                if ulist[d, j] == f:
                    pos = j
                    break
            if pos < 0:
                pos = n
                ulist[d, n] = f
                n += 1
            ulen[d] = n
            node_pos[t, node] = pos
            right = children_right[t, node]
            parent[t, left] = node
            parent[t, right] = node
            s_node[top] = right
            s_depth[top] = d + 1
            s_node[top + 1] = left
            s_depth[top + 1] = d + 1
            top += 2
    return node_pos, leaf_k, parent, k_above


@njit(cache=True)
def _leaf_features(node_pos, leaf_k, parent, features, feat_off, n_total):
    """The distinct path features of every leaf, in position order, in one flat array."""
    out = np.empty(n_total, dtype=np.int64)
    n_trees, max_nodes = leaf_k.shape
    for t in range(n_trees):
        for node in range(max_nodes):
            if leaf_k[t, node] <= 0:
                continue
            o = feat_off[t, node]
            p = parent[t, node]
            while p >= 0:
                out[o + node_pos[t, p]] = features[t, p]
                p = parent[t, p]
    return out


def shapley_pair_weights(k_max: int) -> np.ndarray:
    """``W[a, b] = (a-1)! b! / (a+b)!`` for ``a >= 1`` (0 for ``a = 0``), correctly rounded.

    Returns
    -------
    ndarray of shape (k_max + 1, k_max + 1), float64
        ``value * W[|A|, |B|]`` is the Shapley value of a feature in ``A`` and
        ``-value * W[|B|, |A|]`` that of a feature in ``B``.
    """
    w = np.zeros((k_max + 1, k_max + 1))
    for a in range(1, k_max + 1):
        for b in range(k_max + 1):
            w[a, b] = 1 / ((a + b) * math.comb(a + b - 1, b))
    return w


# ---------------------------------------------------------------------- kernels
@njit(cache=True, inline="always")
def _popcount(x):
    c = 0
    while x != 0:
        x &= x - 1
        c += 1
    return c


@njit(cache=True)
def _build_table(cnt, tab, k, m, W):
    """Fill ``tab[a * k + j]``: path feature ``j``'s contribution per unit leaf value
    for a row of pattern ``a``, averaged over the background patterns counted in ``cnt``."""
    full = (1 << k) - 1
    for a in range(1 << k):
        na = _popcount(a)
        nb = k - na
        not_a = full & ~a
        base = a * k
        for j in range(k):
            tab[base + j] = 0.0
        g_b = 0.0
        s = a  # b = not_a | s covers the complement of a; s runs over subsets of a
        while True:
            c = cnt[not_a | s]
            if c != 0.0:
                n_in = na - _popcount(s)
                if n_in + nb > 0:
                    p = c / m
                    if n_in > 0:
                        w = p * W[n_in, nb]
                        in_a = a & ~s
                        for j in range(k):
                            if (in_a >> j) & 1:
                                tab[base + j] += w
                    if nb > 0:
                        g_b += p * W[nb, n_in]
            if s == 0:
                break
            s = (s - 1) & a
        if nb > 0:
            for j in range(k):
                if not (a >> j) & 1:
                    tab[base + j] = -g_b


@njit(cache=True, inline="always")
def _push_children(row, t, node, pat, s_node, s_pat, top, walk):
    """Push both children of split ``node`` of tree ``t`` at ``top`` and ``top + 1``.

    The child ``row`` goes to keeps the pattern ``pat`` and is pushed last (walked
    first); the other child loses the split's bit in its pattern. ``walk`` is
    ``(children_left, children_right, features, splits, node_pos)``.
    """
    children_left, children_right, features, splits, node_pos = walk
    left = children_left[t, node]
    right = children_right[t, node]
    bit = 1 << node_pos[t, node]
    if node_goes_left(row[features[t, node]], splits, t, node):
        near, far = left, right
    else:
        near, far = right, left
    s_node[top] = far
    s_pat[top] = pat & ~bit
    s_node[top + 1] = near
    s_pat[top + 1] = pat


@njit(parallel=True, cache=True)
def _background_pass(
    Z,
    trees,
    splits,
    layout,
    cnt_off,
    tab_off,
    pair_off,
    cnt,
    tab,
    pair_pat,
    pair_cnt,
    pair_n,
    W,
    max_depth,
):
    """Count the background patterns of every leaf of a chunk of trees and build tables.

    A tree that feeds one output gets its tables multiplied by the leaf value. At a node
    with ``ok_off >= 0``, ``ok[ok_off + c]`` is set when some background row's pattern
    over the features above the node covers ``c``: a row that fails the features ``c``
    reaches no leaf below with a nonzero contribution otherwise."""
    children_left, children_right, features, values, tree_output = trees
    node_pos, leaf_k, mode, k_above, ok_off, ok = layout
    m = Z.shape[0]
    n_trees, max_nodes = children_left.shape
    single = values.shape[2] == 1
    for t in prange(n_trees):
        walk = (children_left, children_right, features, splits, node_pos)
        out = tree_output[t]
        s_node = np.empty(2 * max_depth + 4, dtype=np.int64)
        s_pat = np.empty(2 * max_depth + 4, dtype=np.int64)
        for r in range(m):
            z = Z[r]
            s_node[0] = 0
            s_pat[0] = -1
            top = 1
            while top > 0:
                top -= 1
                node = s_node[top]
                pat = s_pat[top]
                oo = ok_off[t, node]
                if oo >= 0:
                    ok[oo + (pat & ((1 << k_above[t, node]) - 1))] = 1
                left = children_left[t, node]
                if left < 0:
                    md = mode[t, node]
                    if md == _MODE_SKIP:
                        continue
                    b = pat & ((1 << leaf_k[t, node]) - 1)
                    if md == _MODE_TABLE:
                        cnt[cnt_off[t, node] + b] += 1.0
                    else:
                        pair_pat[pair_off[t, node] + pair_n[t, node]] = b
                        pair_n[t, node] += 1
                    continue
                _push_children(z, t, node, pat, s_node, s_pat, top, walk)
                top += 2
        for node in range(max_nodes):
            oo = ok_off[t, node]
            if oo >= 0:  # close downwards: c is covered when a superset is
                ka = k_above[t, node]
                for j in range(ka):
                    bit = 1 << j
                    for c in range(1 << ka):
                        if not c & bit and ok[oo + (c | bit)]:
                            ok[oo + c] = 1
            md = mode[t, node]
            if md == _MODE_TABLE:
                k = leaf_k[t, node]
                o = cnt_off[t, node]
                to = tab_off[t, node]
                _build_table(cnt[o : o + (1 << k)], tab[to:], k, m, W)
                if out >= 0 or single:
                    v = values[t, node, max(out, 0)]
                    for j in range((1 << k) * k):
                        tab[to + j] *= v
            elif md == _MODE_PAIR:
                # distinct patterns and their counts, in increasing pattern order
                o = pair_off[t, node]
                pats = np.sort(pair_pat[o : o + pair_n[t, node]])
                nd = 0
                for j in range(pats.shape[0]):
                    if nd > 0 and pair_pat[o + nd - 1] == pats[j]:
                        pair_cnt[o + nd - 1] += 1.0
                    else:
                        pair_pat[o + nd] = pats[j]
                        pair_cnt[o + nd] = 1.0
                        nd += 1
                pair_n[t, node] = nd


@njit(parallel=True, cache=True)
def _row_pass(
    X,
    phi,
    trees,
    splits,
    layout,
    feat_off,
    leaf_feats,
    tab_off,
    tab,
    pair_off,
    pair_pat,
    pair_cnt,
    pair_n,
    W,
    m,
    max_depth,
):
    """Add the chunk's contributions to ``phi`` (n_rows, n_features, n_outputs)."""
    children_left, children_right, features, values, tree_output = trees
    node_pos, leaf_k, mode, k_above, ok_off, ok = layout
    n = X.shape[0]
    n_trees = children_left.shape[0]
    single = values.shape[2] == 1
    for i in prange(n):
        x = X[i]
        ph = phi[i]
        walk = (children_left, children_right, features, splits, node_pos)
        s_node = np.empty(2 * max_depth + 4, dtype=np.int64)
        s_pat = np.empty(2 * max_depth + 4, dtype=np.int64)
        for t in range(n_trees):
            out = tree_output[t]
            s_node[0] = 0
            s_pat[0] = -1
            top = 1
            while top > 0:
                top -= 1
                node = s_node[top]
                pat = s_pat[top]
                oo = ok_off[t, node]
                if oo >= 0 and not ok[oo + (~pat & ((1 << k_above[t, node]) - 1))]:
                    continue  # no background row makes up for the features x fails
                left = children_left[t, node]
                if left < 0:
                    md = mode[t, node]
                    if md == _MODE_SKIP:
                        continue
                    k = leaf_k[t, node]
                    full = (1 << k) - 1
                    a = pat & full
                    fo = feat_off[t, node]
                    if md == _MODE_TABLE:
                        base = tab_off[t, node] + a * k
                        if out >= 0 or single:  # the table holds the leaf value
                            o = max(out, 0)
                            for j in range(k):
                                ph[leaf_feats[fo + j], o] += tab[base + j]
                        else:
                            for j in range(k):
                                add_leaf(
                                    ph, leaf_feats[fo + j], tab[base + j], values, t, node, out
                                )
                        continue
                    nb = k - _popcount(a)
                    o = pair_off[t, node]
                    for d in range(pair_n[t, node]):
                        b = pair_pat[o + d]
                        if (a | b) != full:
                            continue
                        in_a = a & ~b
                        n_in = _popcount(in_a)
                        if n_in + nb == 0:
                            continue
                        p = pair_cnt[o + d] / m
                        w_in = p * W[n_in, nb]
                        w_out = p * W[nb, n_in]
                        for j in range(k):
                            if (in_a >> j) & 1:
                                add_leaf(ph, leaf_feats[fo + j], w_in, values, t, node, out)
                            elif not (a >> j) & 1:
                                add_leaf(ph, leaf_feats[fo + j], -w_out, values, t, node, out)
                    continue
                _push_children(x, t, node, pat, s_node, s_pat, top, walk)
                top += 2


# ---------------------------------------------------------------------- driver
class InterventionalLayout:
    """What :func:`interventional_shap` precomputes from the trees alone.

    Parameters
    ----------
    ensemble : TreeEnsemble

    Attributes
    ----------
    node_pos, leaf_k : ndarray of shape (n_trees, max_nodes), int64
        See :func:`leaf_layout`.
    feat_off : ndarray of shape (n_trees, max_nodes), int64
        Offset of each leaf's path features in ``leaf_feats``.
    leaf_feats : ndarray of shape (sum of leaf_k,), int64
    max_depth, max_path_features : int
    """

    def __init__(self, ensemble: TreeEnsemble) -> None:
        e = ensemble
        self.max_depth = e.max_depth
        self.node_pos, self.leaf_k, parent, self.k_above = leaf_layout(
            e.children_left, e.children_right, e.players, self.max_depth
        )
        sizes = np.maximum(self.leaf_k, 0).ravel()
        self.feat_off = (np.cumsum(sizes) - sizes).reshape(self.leaf_k.shape)
        self.leaf_feats = _leaf_features(
            self.node_pos, self.leaf_k, parent, e.players, self.feat_off, int(sizes.sum())
        )
        self.max_path_features = int(self.leaf_k.max(initial=0))
        # a leaf of value 0 in every output adds nothing
        self.live = (self.leaf_k > 0) & np.any(e.values != 0.0, axis=2)


def table_limit(n_rows: int) -> int:
    """The most path features of a leaf explained with a pattern table for ``n_rows`` rows.

    ``min(MAX_TABLE_FEATURES, max(MIN_TABLE_FEATURES, floor(log2(n_rows))))``: a table of
    ``2**k`` patterns pays off once there are about as many rows as patterns.
    """
    return min(MAX_TABLE_FEATURES, max(MIN_TABLE_FEATURES, int(math.log2(max(n_rows, 1)))))


def interventional_shap(
    ensemble: TreeEnsemble,
    X: np.ndarray,
    background: np.ndarray,
    *,
    layout: InterventionalLayout | None = None,
    max_table_features: int | None = None,
    n_threads: int | None = None,
    progress=None,
) -> np.ndarray:
    """Exact interventional SHAP values of each row of ``X`` against ``background``.

    Parameters
    ----------
    ensemble : TreeEnsemble
    X : ndarray of shape (n_samples, n_features)
        The rows to explain, numeric; NaN marks a missing value.
    background : ndarray of shape (n_background, n_features)
        The reference rows, numeric (NaN allowed); every row has weight
        ``1 / n_background``.
    layout : InterventionalLayout, optional
        The precomputed layout of ``ensemble``, when already built.
    max_table_features : int, optional
        Leaves whose paths split on at most this many distinct features use a pattern
        table, the others the pairwise kernel. Default: :func:`table_limit` of
        ``n_samples``. Both are exact; the choice only changes speed (and rounding).
    n_threads : int, optional
        Threads to use (default: numba's current setting). The values do not depend
        on it.
    progress : callable, optional
        Called with the number of trees done after each chunk of trees.

    Returns
    -------
    ndarray of shape (n_samples, n_features, n_outputs), float64
        The Shapley values of ``v(S) = mean_z f(x_S, z_notS)`` for the ensemble's raw
        output ``f``; each row adds up, with the mean raw output over the background,
        to the raw output at the row.

    Raises
    ------
    ValueError
        If a path splits on more than :data:`MAX_PATH_FEATURES` distinct features, or
        the background is empty.
    """
    e = ensemble
    lay = layout if layout is not None else InterventionalLayout(e)
    if lay.max_path_features > MAX_PATH_FEATURES:
        raise ValueError(
            f"a path splits on {lay.max_path_features} distinct features; interventional "
            f"TreeSHAP supports at most {MAX_PATH_FEATURES}."
        )
    rows = prepare_rows(e, X)
    Z = prepare_rows(e, background)
    m = Z.shape[0]
    if m == 0:
        raise ValueError("the background has no rows.")
    n = rows.shape[0]
    phi = np.zeros((n, e.n_players, e.n_outputs))
    limit = table_limit(n) if max_table_features is None else max_table_features
    k = lay.leaf_k
    table = lay.live & (k <= limit)
    pair = lay.live & ~table
    mode = np.where(table, _MODE_TABLE, np.where(pair, _MODE_PAIR, _MODE_SKIP)).astype(np.int8)
    kk = np.where(table, k, 0)
    cnt_size = np.where(table, np.left_shift(1, kk), 0)
    tab_size = cnt_size * kk
    pair_size = np.where(pair, m, 0)
    ka = lay.k_above
    ok_size = np.where((ka >= 0) & (ka <= limit), np.left_shift(1, np.clip(ka, 0, limit)), 0)
    per_tree = (
        8 * (cnt_size + tab_size).sum(axis=1) + 16 * pair_size.sum(axis=1) + ok_size.sum(axis=1)
    )
    W = shapley_pair_weights(max(lay.max_path_features, 1))
    with numba_threads(n_threads):
        # a chunk's tables stay in cache; it has enough trees to keep the threads busy
        min_trees = 2 * numba.get_num_threads()
        t0 = 0
        while t0 < e.n_trees:
            t1 = t0 + 1
            used = per_tree[t0]
            while t1 < e.n_trees and (used + per_tree[t1] <= _CHUNK_BYTES or t1 - t0 < min_trees):
                used += per_tree[t1]
                t1 += 1
            sizes = (cnt_size, tab_size, pair_size, ok_size)
            _chunk(e, lay, rows, Z, phi, t0, t1, mode, sizes, W)
            if progress is not None:
                progress(t1 - t0)
            t0 = t1
    return phi


def _offsets(size: np.ndarray) -> np.ndarray:
    flat = size.ravel().astype(np.int64)
    return (np.cumsum(flat) - flat).reshape(size.shape)


def _chunk(e, lay, rows, Z, phi, t0, t1, mode, sizes, W) -> None:
    sl = slice(t0, t1)
    cnt_s, tab_s, pair_s, ok_s = (size[sl] for size in sizes)
    ok_off = np.where(ok_s > 0, _offsets(ok_s), -1)
    ok = np.zeros(max(int(ok_s.sum()), 1), dtype=np.uint8)
    cnt_off, tab_off, pair_off = _offsets(cnt_s), _offsets(tab_s), _offsets(pair_s)
    cnt = np.zeros(max(int(cnt_s.sum()), 1))
    tab = np.zeros(max(int(tab_s.sum()), 1))
    pair_pat = np.zeros(max(int(pair_s.sum()), 1), dtype=np.int64)
    pair_cnt = np.zeros(pair_pat.shape[0])
    pair_n = np.zeros(cnt_s.shape, dtype=np.int64)
    trees = tuple(a[sl] for a in (e.children_left, e.children_right, e.features, e.values))
    trees += (e.tree_output[sl],)
    layout = (lay.node_pos[sl], lay.leaf_k[sl], mode[sl], lay.k_above[sl], ok_off, ok)
    splits = e.splits_of(sl)
    _background_pass(
        Z,
        trees,
        splits,
        layout,
        cnt_off,
        tab_off,
        pair_off,
        cnt,
        tab,
        pair_pat,
        pair_cnt,
        pair_n,
        W,
        lay.max_depth,
    )
    _row_pass(
        rows,
        phi,
        trees,
        splits,
        layout,
        lay.feat_off[sl],
        lay.leaf_feats,
        tab_off,
        tab,
        pair_off,
        pair_pat,
        pair_cnt,
        pair_n,
        W,
        float(Z.shape[0]),
        lay.max_depth,
    )
