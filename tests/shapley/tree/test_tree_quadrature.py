"""The quadrature TreeSHAP kernel against the recursive one (Algorithm 2).

Both kernels are exact, so on any ensemble they agree to rounding; the random ensembles
here stress what the quadrature kernel must get right: a feature split on several
times along a path, zero and tiny covers, every missing-value rule, categorical
splits, multi-output trees and deep paths with many quadrature nodes.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tests.shapley.tree._bruteforce import chain_ensemble, node_arrays, product_game_shap
from whybox._exceptions import InputError
from whybox.shapley.tree import _path_dependent as pd_module
from whybox.shapley.tree import _quadrature
from whybox.shapley.tree._ensemble import TreeEnsemble
from whybox.shapley.tree._path_dependent import (
    ensemble_expected_value,
    ensemble_predict,
    path_dependent_shap,
)
from whybox.shapley.tree._primitives import (
    CATEGORICAL_RULES,
    MISSING_NAN,
    MISSING_NONE,
    MISSING_ZERO,
)

GRID = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
RULES = np.array([MISSING_NAN, MISSING_ZERO, MISSING_NONE, *CATEGORICAL_RULES])


def random_ensemble(
    rng: np.random.Generator,
    *,
    n_trees: int = 3,
    depth: int = 6,
    n_features: int = 4,
    n_outputs: int = 1,
    p_leaf: float = 0.25,
    p_zero: float = 0.1,
    rules: np.ndarray = RULES,
    strict_less: bool = False,
    float32_input: bool = False,
    max_nodes: int = 600,
) -> TreeEnsemble:
    """Random trees with grid thresholds, zero/tiny covers and random missing rules.

    A tree stops growing at about ``max_nodes`` nodes (depth first, so the first
    paths still reach ``depth``).
    """
    category_sets = rng.random((3, 4)) < 0.5
    trees = []
    for _ in range(n_trees):
        nodes: list = []

        def grow(level: int, cover: float, nodes: list = nodes) -> int:
            idx = len(nodes)
            nodes.append(None)
            stop = level >= depth or len(nodes) > max_nodes
            if stop or (level > 0 and rng.random() < p_leaf):
                nodes[idx] = (
                    -1,
                    -1,
                    -1,
                    0.0,
                    False,
                    MISSING_NAN,
                    cover,
                    rng.normal(size=n_outputs),
                )
                return idx
            rule = int(rng.choice(rules))
            if rule in CATEGORICAL_RULES:
                threshold = float(rng.integers(len(category_sets)))
            else:
                threshold = float(rng.choice(GRID))
            # child shares: sometimes 0, 1 or subnormal; they need not add up to one
            shares = rng.random(2)
            draw = rng.random(2)
            shares[draw < p_zero] = 0.0
            shares[(draw >= p_zero) & (draw < 2 * p_zero)] = 1.0
            if rng.random() < 0.02:
                shares[0] = 1e-310
            left = grow(level + 1, cover * shares[0])
            right = grow(level + 1, cover * shares[1])
            feature = int(rng.integers(n_features))
            nodes[idx] = (
                left,
                right,
                feature,
                threshold,
                bool(rng.random() < 0.5),
                rule,
                cover,
                np.zeros(n_outputs),
            )
            return idx

        grow(0, float(rng.uniform(1.0, 100.0)))
        trees.append((nodes, int(rng.integers(-1, n_outputs))))
    arrays = node_arrays(trees, n_outputs)
    return TreeEnsemble(
        base_offset=rng.normal(size=n_outputs),
        n_features=n_features,
        strict_less=strict_less,
        float32_input=float32_input,
        family="test",
        category_sets=category_sets,
        **arrays,
    )


def random_rows(rng: np.random.Generator, n: int, n_features: int) -> np.ndarray:
    """Rows on the threshold grid (ties), zeros, categories, unseen values and NaN."""
    pool = np.array([*GRID, 0.25, 2.0, 3.7, 7.0, -3.0, np.nan])
    X = rng.choice(pool, size=(n, n_features))
    off_grid = rng.random(X.shape) < 0.2
    X[off_grid] = rng.normal(size=int(off_grid.sum()))
    return X


def both(e: TreeEnsemble, X: np.ndarray, **kw) -> tuple[np.ndarray, np.ndarray]:
    quad = path_dependent_shap(e, X, kernel="quadrature", **kw)
    rec = path_dependent_shap(e, X, kernel="recursive")
    return quad, rec


@pytest.mark.parametrize(
    "params",
    [
        {"depth": 3, "n_features": 5},
        {"depth": 6, "n_features": 2},  # features repeat on nearly every path
        {"depth": 8, "n_features": 1},  # one feature, split again and again
        {"depth": 9, "n_features": 6, "n_outputs": 3, "p_leaf": 0.1},
        {"depth": 7, "n_features": 4, "p_zero": 0.35},  # many zero covers
        {"depth": 6, "n_features": 3, "strict_less": True, "rules": RULES[:1]},
    ],
)
def test_quadrature_equals_recursion_on_random_ensembles(params):
    rng = np.random.default_rng(zlib.crc32(repr(sorted(params.items())).encode()))
    for _ in range(8):
        e = random_ensemble(rng, **params)
        X = random_rows(rng, 40, e.n_features)
        quad, rec = both(e, X)
        assert quad.shape == rec.shape == (40, e.n_features, e.n_outputs)
        assert np.all(np.isfinite(quad))
        np.testing.assert_allclose(quad, rec, rtol=0, atol=1e-12)
        # local accuracy: the values add up to the prediction
        total = quad.sum(axis=1) + ensemble_expected_value(e)
        np.testing.assert_allclose(total, ensemble_predict(e, X), rtol=0, atol=1e-10)


def test_deep_paths_with_many_quadrature_nodes():
    # depth 30 over 40 features: q = 15 nodes; the recursion is the reference
    rng = np.random.default_rng(7)
    e = random_ensemble(rng, n_trees=2, depth=30, n_features=40, p_leaf=0.03, p_zero=0.02)
    assert e.max_depth >= 20
    X = rng.normal(size=(20, 40))
    X[rng.random(X.shape) < 0.1] = np.nan
    quad, rec = both(e, X)
    np.testing.assert_allclose(quad, rec, rtol=0, atol=1e-12)


def test_float32_input_is_cast_like_the_library():
    # a value just above a float32 threshold reads as the threshold once cast
    rng = np.random.default_rng(3)
    e = random_ensemble(rng, depth=4, n_features=3, rules=RULES[:1], float32_input=True)
    X = np.full((2, 3), 0.5 + 1e-12)
    X[1] = -0.5 - 1e-12
    quad, rec = both(e, X)
    np.testing.assert_array_equal(
        path_dependent_shap(e, X, kernel="quadrature"),
        path_dependent_shap(e, X.astype(np.float32), kernel="quadrature"),
    )
    np.testing.assert_allclose(quad, rec, rtol=0, atol=1e-12)


def test_values_do_not_depend_on_threads_or_block_size():
    rng = np.random.default_rng(11)
    e = random_ensemble(rng, n_trees=4, depth=7, n_features=5, n_outputs=2)
    X = random_rows(rng, 203, e.n_features)
    ref = path_dependent_shap(e, X, kernel="quadrature", n_threads=1, block_rows=1)
    for n_threads in (1, 2):
        for block_rows in (None, 1, 3, 64, 500):
            got = path_dependent_shap(
                e, X, kernel="quadrature", n_threads=n_threads, block_rows=block_rows
            )
            np.testing.assert_array_equal(got, ref)
    # a row alone gives what it gives in a batch
    np.testing.assert_array_equal(path_dependent_shap(e, X[5:6], kernel="quadrature"), ref[5:6])


def test_long_paths_of_distinct_features_stay_exact():
    # 120 distinct features on one path: Algorithm 2's UNWIND loses precision here
    # (its rounding errors grow like binomial coefficients); the quadrature kernel,
    # which "auto" uses at every depth, must not.
    rng = np.random.default_rng(4)
    e = chain_ensemble(120, rng)
    X = rng.normal(size=(3, 120))
    got = path_dependent_shap(e, X)
    np.testing.assert_array_equal(got, path_dependent_shap(e, X, kernel="quadrature"))
    for row, x in enumerate(X):
        np.testing.assert_allclose(got[row, :, 0], product_game_shap(e, x), rtol=0, atol=1e-12)
    total = got.sum(axis=1) + ensemble_expected_value(e)
    np.testing.assert_allclose(total, ensemble_predict(e, X), rtol=0, atol=1e-12)


def test_product_game_reference_equals_the_recursion_on_a_short_chain():
    # the reference above is itself checked where Algorithm 2 is exact
    rng = np.random.default_rng(8)
    e = chain_ensemble(12, rng)
    X = rng.normal(size=(4, 12))
    rec = path_dependent_shap(e, X, kernel="recursive")
    for row, x in enumerate(X):
        np.testing.assert_allclose(rec[row, :, 0], product_game_shap(e, x), rtol=0, atol=1e-13)


def test_an_ensemble_too_deep_for_memory_is_refused(monkeypatch):
    rng = np.random.default_rng(5)
    e = random_ensemble(rng, depth=6, n_features=4)
    monkeypatch.setattr(pd_module, "_physical_memory", lambda: 64)
    with pytest.raises(InputError, match="levels deep.*interventional.*PermutationExplainer"):
        path_dependent_shap(e, random_rows(rng, 3, 4))


def test_stumps_and_single_leaves():
    rng = np.random.default_rng(2)
    e = random_ensemble(rng, n_trees=5, depth=1, n_features=2, n_outputs=2)
    leaf = TreeEnsemble(
        children_left=np.array([[-1]], np.int32),
        children_right=np.array([[-1]], np.int32),
        features=np.array([[-1]], np.int32),
        thresholds=np.zeros((1, 1)),
        default_left=np.zeros((1, 1), bool),
        missing_rule=np.zeros((1, 1), np.int8),
        covers=np.ones((1, 1)),
        values=np.full((1, 1, 1), 2.5),
        tree_output=np.array([0], np.int32),
        base_offset=np.zeros(1),
        n_features=3,
        strict_less=False,
        float32_input=False,
        family="test",
    )
    X = random_rows(rng, 7, 2)
    quad, rec = both(e, X)
    np.testing.assert_allclose(quad, rec, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        path_dependent_shap(leaf, np.zeros((4, 3)), kernel="quadrature"), 0.0
    )


def test_sklearn_multiclass_forest_matches_recursion():
    from sklearn.ensemble import RandomForestClassifier

    from whybox.shapley.tree._ensemble import parse_ensemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] * X[:, 2] > 0.3).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=8, random_state=0).fit(X, y)
    e = parse_ensemble(model)
    assert e.n_outputs == 3 and np.all(e.tree_output == -1)
    quad, rec = both(e, X[:50])
    np.testing.assert_allclose(quad, rec, rtol=0, atol=1e-12)


@pytest.mark.parametrize("max_unique", [1, 2, 5, 10, 31])
def test_quadrature_nodes_integrate_the_path_polynomials_exactly(max_unique):
    t, w = _quadrature.quadrature_nodes(max_unique)
    assert len(t) == max(1, -(-max_unique // 2))
    assert np.all((t > 0) & (t < 1))
    for degree in range(max_unique):  # the integrand's degree is at most |P| - 1
        assert abs(np.sum(w * t**degree) - 1.0 / (degree + 1)) < 1e-14


def test_block_rows_for_stays_within_the_budget():
    assert _quadrature.block_rows_for(1000, 10, 5, 20, 1, 2) == _quadrature.BLOCK_ROWS
    assert _quadrature.block_rows_for(10, 10, 5, 20, 1, 2) == 5  # both threads get rows
    big = _quadrature.block_rows_for(1000, 500, 250, 1000, 10, 1)
    assert 1 <= big < _quadrature.BLOCK_ROWS
    assert _quadrature.block_rows_for(0, 10, 5, 20, 1, 2) == 1


def test_bad_kernel_and_block_rows_are_refused():
    rng = np.random.default_rng(1)
    e = random_ensemble(rng, depth=2)
    X = np.zeros((2, e.n_features))
    with pytest.raises(InputError, match="kernel"):
        path_dependent_shap(e, X, kernel="fast")
    with pytest.raises(InputError, match="block_rows"):
        path_dependent_shap(e, X, block_rows=0)
