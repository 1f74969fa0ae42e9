"""Brute-force path-dependent value function and random trees, shared by the tree tests.

The trees are random (structure, covers, thresholds, missing-value rules, leaf values)
and built directly as TreeEnsemble objects, so the tests that use them need no model
library. ``ensemble_value`` is the path-dependent value function written out plainly,
independently of the numba kernels.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from hypothesis import strategies as st

from whybox.shapley.tree._ensemble import TreeEnsemble
from whybox.shapley.tree._primitives import (
    CATEGORICAL_RULES,
    MISSING_NAN,
    MISSING_NONE,
    MISSING_ZERO,
    SPLIT_CATEGORICAL,
    SPLIT_CATEGORICAL_DEFAULT,
    SPLIT_CATEGORICAL_RIGHT,
)

GRID = [-1.0, -0.5, 0.0, 0.5, 1.0]
X_VALUES = [*GRID, 0.25, 2.0, 3.7, 7.0, np.nan]  # 2.0, 3.7, 7.0: categories 2, 3, unseen


# ---------------------------------------------------------------------- brute force
def goes_left(x: float, thr: float, dleft: bool, rule: int, strict: bool, sets: np.ndarray) -> bool:
    """The split rule, written out plainly (independently of the numba kernel)."""
    if rule == SPLIT_CATEGORICAL:  # LightGBM: category trunc(x); NaN, < 0, unseen go right
        if math.isnan(x):
            return False
        category = math.trunc(x)
        return 0 <= category < sets.shape[1] and bool(sets[int(thr), category])
    if rule == SPLIT_CATEGORICAL_RIGHT:  # XGBoost: the set goes right; NaN to the default
        if math.isnan(x):
            return dleft
        in_set = 0 <= x < sets.shape[1] and bool(sets[int(thr), math.trunc(x)])
        return not in_set
    if rule == SPLIT_CATEGORICAL_DEFAULT:  # HistGradientBoosting, encoded categories
        if math.isnan(x) or x < 0:
            return dleft
        return x < sets.shape[1] and bool(sets[int(thr), math.trunc(x)])
    if math.isnan(x):
        if rule == MISSING_NONE:
            x = 0.0
        else:
            return dleft
    if rule == MISSING_ZERO and abs(x) <= 1e-35:
        return dleft
    return x < thr if strict else x <= thr


def _share(cover: np.ndarray, child: int, parent: int) -> float:
    return cover[child] / cover[parent] if cover[parent] > 0 else 0.0


def tree_value(e: TreeEnsemble, t: int, x: np.ndarray, coalition: frozenset, node: int = 0):
    """v(S) of one tree: follow x on features in S, else average children by cover."""
    left = e.children_left[t, node]
    if left < 0:
        return e.values[t, node].copy()
    right = e.children_right[t, node]
    f = e.features[t, node]
    if f in coalition:
        go_left = goes_left(
            x[f],
            e.thresholds[t, node],
            bool(e.default_left[t, node]),
            int(e.missing_rule[t, node]),
            e.strict_less,
            e.category_sets,
        )
        return tree_value(e, t, x, coalition, left if go_left else right)
    cover = e.covers[t]
    return _share(cover, left, node) * tree_value(e, t, x, coalition, left) + _share(
        cover, right, node
    ) * tree_value(e, t, x, coalition, right)


def ensemble_value(e: TreeEnsemble, x: np.ndarray, coalition: frozenset) -> np.ndarray:
    total = e.base_offset.copy()
    for t in range(e.n_trees):
        total += tree_value(e, t, x, coalition)
    return total


def value_function(e: TreeEnsemble, x: np.ndarray):
    """``v(S)`` of row ``x`` (:func:`ensemble_value`), computed once per coalition."""
    cache = {}

    def v(s: frozenset) -> np.ndarray:
        if s not in cache:
            cache[s] = ensemble_value(e, x, s)
        return cache[s]

    return v


def tree_data(seed: int, n: int, *, pair_34: bool):
    """``n`` normal rows of 5 features, a copy with 10% NaN, and regression, binary and
    3-class targets of ``x0 x1 + sin(2 x2) + 0.5 x3`` (times ``x4`` with ``pair_34``)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X_nan = X.copy()
    X_nan[rng.random((n, 5)) < 0.1] = np.nan
    last = 0.5 * X[:, 3] * X[:, 4] if pair_34 else 0.5 * X[:, 3]
    y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + last
    targets = {
        "regression": y,
        "binary": (y > 0).astype(int),
        "multiclass": np.digitize(y, [-0.5, 0.5]),
    }
    return X, X_nan, targets


def brute_force_shap(e: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """Shapley values of v by enumerating every coalition, shape (n_features, n_outputs)."""
    d = e.n_features
    v = value_function(e, x)
    phi = np.zeros((d, e.n_outputs))
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for s in combinations(others, size):
                s = frozenset(s)
                phi[i] += weight * (v(s | {i}) - v(s))
    return phi


def shapley_by_enumeration(v, n_players: int, n_outputs: int) -> np.ndarray:
    """Shapley values of a game ``v`` (frozenset of players -> (n_outputs,) array) by
    enumerating every coalition, shape (n_players, n_outputs)."""
    phi = np.zeros((n_players, n_outputs))
    for i in range(n_players):
        rest = [j for j in range(n_players) if j != i]
        for size in range(n_players):
            w = math.factorial(size) * math.factorial(n_players - size - 1)
            w /= math.factorial(n_players)
            for S in combinations(rest, size):
                phi[i] += w * (v(frozenset(S) | {i}) - v(frozenset(S)))
    return phi


def by_output(contribs: np.ndarray) -> np.ndarray:
    """A library's own contributions, (n, d + 1) or multi-class (n, k, d + 1) with the
    bias last, as (n, d + 1, n_outputs)."""
    if contribs.ndim == 3:
        return np.moveaxis(contribs, 1, 2)
    return contribs[:, :, None]


# ---------------------------------------------------------------------- random trees
def node_arrays(trees: list, n_outputs: int) -> dict[str, np.ndarray]:
    """TreeEnsemble's node arrays (and ``values``, ``tree_output``) of trees given as
    ``(nodes, output)`` pairs, each node a tuple ``(left, right, feature, threshold,
    default_left, rule, cover, value)``; shorter trees are padded with leaves of cover 0."""
    shape = (len(trees), max(len(nodes) for nodes, _ in trees))
    arrays = {
        "children_left": np.full(shape, -1, np.int32),
        "children_right": np.full(shape, -1, np.int32),
        "features": np.full(shape, -1, np.int32),
        "thresholds": np.zeros(shape),
        "default_left": np.zeros(shape, bool),
        "missing_rule": np.zeros(shape, np.int8),
        "covers": np.zeros(shape),
        "values": np.zeros((*shape, n_outputs)),
        "tree_output": np.asarray([out for _, out in trees], np.int32),
    }
    names = ("children_left", "children_right", "features", "thresholds")
    names += ("default_left", "missing_rule", "covers")
    for t, (nodes, out) in enumerate(trees):
        for j, node in enumerate(nodes):
            for name, v in zip(names, node[:7], strict=True):
                arrays[name][t, j] = v
            if out >= 0:
                arrays["values"][t, j, out] = node[7][out]
            else:
                arrays["values"][t, j] = node[7]
    return arrays


@st.composite
def random_ensembles(draw):
    """1-3 random trees of depth <= 5 over <= 6 features, with 1-2 outputs."""
    n_features = draw(st.integers(1, 6))
    n_outputs = draw(st.integers(1, 2))
    n_trees = draw(st.integers(1, 3))
    strict = draw(st.booleans())
    category_sets = np.asarray(
        draw(st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=1, max_size=3))
    )
    # A child's cover is a random share of its parent's (zero included); the two shares
    # need not add up to one, which the algorithm does not require either.
    share_st = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))
    trees = []
    for _ in range(n_trees):
        nodes = []  # (left, right, feature, threshold, default_left, rule, cover, value)

        def grow(depth: int, parent_cover: float, nodes: list = nodes) -> int:
            idx = len(nodes)
            nodes.append(None)
            cover = parent_cover * draw(share_st) if depth else draw(st.floats(0.01, 100.0))
            if depth >= 5 or (depth > 0 and draw(st.booleans())):
                value = draw(st.lists(st.floats(-10, 10), min_size=n_outputs, max_size=n_outputs))
                nodes[idx] = (-1, -1, -1, 0.0, False, MISSING_NAN, cover, value)
                return idx
            feature = draw(st.integers(0, n_features - 1))
            dleft = draw(st.booleans())
            rule = draw(
                st.sampled_from([MISSING_NAN, MISSING_ZERO, MISSING_NONE, *CATEGORICAL_RULES])
            )
            if rule in CATEGORICAL_RULES:
                threshold = float(draw(st.integers(0, len(category_sets) - 1)))
            else:
                threshold = draw(st.sampled_from(GRID))
            left = grow(depth + 1, cover)
            right = grow(depth + 1, cover)
            nodes[idx] = (left, right, feature, threshold, dleft, rule, cover, [0.0] * n_outputs)
            return idx

        grow(0, 1.0)
        out = draw(st.integers(-1, n_outputs - 1))
        trees.append((nodes, out))
    base = np.asarray(draw(st.lists(st.floats(-3, 3), min_size=n_outputs, max_size=n_outputs)))
    ensemble = TreeEnsemble(
        base_offset=base,
        n_features=n_features,
        strict_less=strict,
        float32_input=False,
        family="test",
        category_sets=category_sets,
        **node_arrays(trees, n_outputs),
    )
    rows = draw(
        st.lists(
            st.lists(st.sampled_from(X_VALUES), min_size=n_features, max_size=n_features),
            min_size=1,
            max_size=3,
        )
    )
    return ensemble, np.asarray(rows, dtype=np.float64)


def chain_ensemble(depth: int, rng: np.random.Generator) -> TreeEnsemble:
    """One tree of ``depth`` splits, each on a new feature, hanging off the right child."""
    n = 2 * depth + 1
    left, right = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    cover = np.zeros(n)
    cover[0] = 1e6
    for k in range(depth):
        left[2 * k], right[2 * k] = 2 * k + 1, 2 * k + 2
        share = rng.uniform(0.001, 0.5)
        cover[2 * k + 1], cover[2 * k + 2] = share * cover[2 * k], (1 - share) * cover[2 * k]
    leaf = left < 0
    return one_tree(
        left,
        right,
        np.where(leaf, -1, np.arange(n) // 2),
        np.where(leaf, 0.0, rng.normal(size=n)),
        cover,
        np.where(leaf, rng.normal(size=n), 0.0),
        n_features=depth,
        tree_output=0,
    )


def one_tree(
    left,
    right,
    features,
    thresholds,
    covers,
    values,
    *,
    n_features: int,
    default_left=None,
    base_offset: float = 0.0,
    tree_output: int = -1,
) -> TreeEnsemble:
    """A one-tree, one-output ensemble from per-node lists: ``<=`` splits, NaN to the
    ``default_left`` child (the right one unless given), ``values`` read at leaves."""
    n = len(left)
    dleft = np.zeros(n, bool) if default_left is None else default_left
    return TreeEnsemble(
        children_left=np.array([left], np.int32),
        children_right=np.array([right], np.int32),
        features=np.array([features], np.int32),
        thresholds=np.array([thresholds], np.float64),
        default_left=np.array([dleft], bool),
        missing_rule=np.zeros((1, n), np.int8),
        covers=np.array([covers], np.float64),
        values=np.asarray(values, np.float64).reshape(1, n, 1),
        tree_output=np.array([tree_output], np.int32),
        base_offset=np.array([base_offset]),
        n_features=n_features,
        strict_less=False,
        float32_input=False,
        family="test",
    )


def product_game_shap(e: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """Path-dependent SHAP values of one row, leaf by leaf, with no cancellation.

    A leaf of value ``v`` whose path splits once on each feature ``j`` in ``P`` plays the
    game ``v * prod_{j in S} a_j * prod_{j in P - S} r_j`` (``a_j``: the row follows the
    path at ``j``; ``r_j``: the cover share of the path's child). Its Shapley value for
    ``i`` is ``v * (a_i - r_i) * sum_k e_k * k! (m - k - 1)! / m!``, where ``e_k`` are the
    coefficients of ``prod_{j != i} (a_j z + r_j)``: sums of non-negative terms only.
    """
    from math import lgamma

    phi = np.zeros(e.n_features)
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if e.children_left[0, node] < 0:
            m = len(path)
            k = np.arange(m)
            weights = np.exp([lgamma(j + 1) + lgamma(m - j) - lgamma(m + 1) for j in k])
            for i, (fi, ai, ri) in enumerate(path):
                coef = np.ones(1)
                for j, (_, aj, rj) in enumerate(path):
                    if j != i:
                        coef = np.convolve(coef, [rj, aj])  # coef[k]: z**k
                phi[fi] += e.values[0, node, 0] * (ai - ri) * np.dot(coef, weights[:m])
            continue
        f = e.features[0, node]
        goes_left = x[f] <= e.thresholds[0, node]
        cover = e.covers[0, node]
        for child, side_left in (
            (e.children_left[0, node], True),
            (e.children_right[0, node], False),
        ):
            stack.append(
                (child, [*path, (f, float(goes_left == side_left), e.covers[0, child] / cover)])
            )
    return phi
