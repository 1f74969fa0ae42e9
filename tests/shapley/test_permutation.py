"""PermutationExplainer: exactness where the answer is known, convergence, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from tests.shapley._helpers import normal_background_and_rows
from whybox import ExactExplainer, InputError, PermutationExplainer
from whybox.adapters import adapt_model


def interacting(X):
    """Two outputs with interactions of every order (products of three, sin of a sum)."""
    X = np.asarray(X, dtype=float)
    return np.column_stack(
        [
            X[:, 0] * X[:, 1] * X[:, 2] + np.sin(X[:, 3] + X[:, 4] + X[:, 5]) + X[:, 4] * X[:, 0],
            np.maximum(X[:, 1] + X[:, 2] + X[:, 3], 0) - X[:, 5] ** 2,
        ]
    )


@pytest.fixture(scope="module")
def data6():
    return normal_background_and_rows(20, 6, 6)


def test_additive_model_is_exact_with_one_permutation():
    rng = np.random.default_rng(1)
    bg, X = rng.normal(size=(30, 5)), rng.normal(size=(7, 5))
    g = [np.sin, np.square, lambda t: 3 * t, np.tanh, lambda t: np.exp(0.5 * t)]

    def additive(A):
        A = np.asarray(A, dtype=float)
        return sum(gj(A[:, j]) for j, gj in enumerate(g))

    ex = PermutationExplainer(additive, bg, n_permutations=1, random_state=0)(X)
    # closed form: phi_j = g_j(x_j) - mean_b g_j(b_j)
    truth = np.column_stack([gj(X[:, j]) - gj(bg[:, j]).mean() for j, gj in enumerate(g)])
    np.testing.assert_allclose(ex.values[:, :, 0], truth, rtol=0, atol=1e-12)
    assert np.isnan(np.asarray(ex.quality["standard_error"])).all()


def test_two_players_are_exact_with_an_antithetic_pair():
    # with two players an ordering and its reverse are all the orderings there are
    rng = np.random.default_rng(2)
    bg, X = rng.normal(size=(25, 2)), rng.normal(size=(5, 2))

    def f(A):
        A = np.asarray(A, dtype=float)
        return np.sin(A[:, 0] * A[:, 1]) + A[:, 0] ** 3

    est = PermutationExplainer(f, bg, n_permutations=1, random_state=3)(X)
    exact = ExactExplainer(f, bg)(X)
    np.testing.assert_allclose(est.values, exact.values, rtol=0, atol=1e-12)


def test_pairwise_interactions_are_exact_with_antithetic_pairs():
    # For a sum of functions of at most two features, a pair's interaction goes to the
    # later player of an ordering and to the other in the reverse: the pair splits it
    # evenly, exactly as the Shapley value does.
    rng = np.random.default_rng(10)
    bg, X = rng.normal(size=(20, 5)), rng.normal(size=(4, 5))

    def pairwise(A):
        A = np.asarray(A, dtype=float)
        return A[:, 0] * A[:, 1] + np.sin(A[:, 1] - A[:, 2]) + np.maximum(A[:, 3], A[:, 4])

    est = PermutationExplainer(pairwise, bg, n_permutations=2, random_state=11)(X)
    exact = ExactExplainer(pairwise, bg)(X)
    np.testing.assert_allclose(est.values, exact.values, rtol=0, atol=1e-12)


def test_converges_to_exact_and_reports_its_error(data6):
    bg, X = data6
    exact = ExactExplainer(interacting, bg)(X)
    errors = []
    for r in (2, 60):
        est = PermutationExplainer(interacting, bg, n_permutations=r, random_state=4)(X)
        errors.append(np.abs(est.values - exact.values).mean())
        se = np.asarray(est.quality["standard_error"])
        assert se.shape == est.values.shape
    assert errors[1] < errors[0] / 3  # error shrinks like 1 / sqrt(n_permutations)
    # the reported standard errors describe the actual error (about 99% within 2.5 SE)
    err = np.abs(est.values - exact.values)
    random = se > 1e-9  # entries with sampling noise
    assert random.mean() > 0.5
    assert np.mean(err[random] <= 2.5 * se[random]) >= 0.85
    np.testing.assert_allclose(err[~random], 0.0, atol=1e-9)


def test_local_accuracy_is_exact(data6):
    bg, X = data6
    ex = PermutationExplainer(interacting, bg, n_permutations=3, random_state=5)(X)
    np.testing.assert_allclose(
        ex.values.sum(axis=1) + ex.base_values, interacting(X), rtol=0, atol=1e-12
    )
    assert np.all(ex.additivity_error < 1e-12)
    np.testing.assert_allclose(ex.base_values[0], interacting(bg).mean(axis=0), atol=1e-15)
    assert ex.method == "permutation"
    assert ex.params["n_permutations"] == 3 and ex.params["random_state"] == 5


def test_deterministic_and_batch_size_invariant(data6):
    bg, X = data6
    a = PermutationExplainer(interacting, bg, n_permutations=4, random_state=6)(X)
    b = PermutationExplainer(interacting, bg, n_permutations=4, random_state=6, batch_size=1)(X)
    c = PermutationExplainer(interacting, bg, n_permutations=4, random_state=6, batch_size=53)(X)
    d = PermutationExplainer(interacting, bg, n_permutations=4, random_state=7)(X)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, c.values)
    np.testing.assert_array_equal(a.quality["standard_error"], b.quality["standard_error"])
    assert not np.array_equal(a.values, d.values)


def test_sklearn_model_batch_invariance_and_accuracy():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 7))
    y = X[:, 0] * X[:, 1] + X[:, 2] ** 2 + X[:, 3]
    rf = RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0).fit(X, y)
    bg, Xe = X[:15], X[250:254]
    a = PermutationExplainer(rf, bg, n_permutations=3, random_state=0)(Xe)
    b = PermutationExplainer(rf, bg, n_permutations=3, random_state=0, batch_size=100)(Xe)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_allclose(a.model_output[:, 0], rf.predict(Xe), rtol=0, atol=1e-15)
    assert np.all(a.additivity_error < 1e-12)


def test_feature_groups(data6):
    bg, X = data6
    groups = {"first": [0, 1, 2], "last": ["x3", "x4", "x5"]}
    est = PermutationExplainer(interacting, bg, feature_groups=groups, random_state=0)(X)
    exact = ExactExplainer(interacting, bg, feature_groups=groups)(X)
    assert est.feature_names == ("first", "last")
    # two players: the antithetic pair covers both orderings, so the estimate is exact
    np.testing.assert_allclose(est.values, exact.values, rtol=0, atol=1e-12)


def test_single_player():
    rng = np.random.default_rng(9)
    bg, X = rng.normal(size=(10, 1)), rng.normal(size=(3, 1))
    ex = PermutationExplainer(lambda A: np.asarray(A, float)[:, 0] ** 2, bg, random_state=0)(X)
    np.testing.assert_allclose(
        ex.values[:, 0, 0], X[:, 0] ** 2 - (bg[:, 0] ** 2).mean(), atol=1e-14
    )


def test_progress_bar_runs(data6, capsys):
    bg, X = data6
    model = adapt_model(interacting, output_names=["a", "b"])
    ex = PermutationExplainer(model, bg, n_permutations=1, random_state=0, progress=True)(X)
    assert ex.output_names == ("a", "b")
    assert "permutation SHAP" in capsys.readouterr().err


def test_errors(data6):
    bg, X = data6
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="n_permutations"):
            PermutationExplainer(interacting, bg, n_permutations=bad)
    with pytest.raises(InputError, match="background"):
        PermutationExplainer(interacting, None)
    with pytest.raises(InputError, match="output"):
        PermutationExplainer(interacting, bg, output="probability")
    with pytest.raises(InputError, match="columns"):
        PermutationExplainer(interacting, bg)(X[:, :3])


def test_all_coalitions_of_the_permutations_in_one_call():
    rng = np.random.default_rng(12)
    bg, X = rng.normal(size=(10, 5)), rng.normal(size=(2, 5))
    sizes = []

    def f(A):
        sizes.append(len(A))
        return np.prod(np.asarray(A, dtype=float), axis=1)

    PermutationExplainer(f, bg, n_permutations=3, random_state=0)(X)
    # per row: 3 pairs x 2 orderings x 4 inner coalitions, 10 background rows each
    assert [s for s in sizes if s > 10] == [2 * 3 * 2 * 4 * 10]
    sizes.clear()
    PermutationExplainer(f, bg, n_permutations=3, random_state=0, batch_size=40)(X)
    # one ordering's 4 inner coalitions per call
    assert [s for s in sizes if s > 10] == [40] * 12
