"""KernelExplainer against ground truths: exact enumeration, closed forms, shap, its own error."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests._requires import requires
from tests.shapley._helpers import normal_background_and_rows
from whybox import ExactExplainer, InputError, KernelExplainer, WeightedBackground
from whybox.shapley._kernel import _allocate, build_design, kernel_weight


def interacting(X):
    """Two outputs with interactions of every order."""
    X = np.asarray(X, dtype=float)
    return np.column_stack(
        [
            X[:, 0] * X[:, 1] * X[:, 2] + np.sin(X[:, 3] + X[:, 4] + X[:, 5]) + X[:, 6] * X[:, 0],
            np.maximum(X[:, 1] + X[:, 2] + X[:, 3], 0) - X[:, 7] ** 2 * X[:, 5],
        ]
    )


@pytest.fixture(scope="module")
def data8():
    return normal_background_and_rows(30, 12, 8)


def test_full_budget_is_exact(data8):
    bg, X = data8
    exact = ExactExplainer(interacting, bg)(X)
    ks = KernelExplainer(interacting, bg, max_evals=254, random_state=0)(X)
    np.testing.assert_allclose(ks.values, exact.values, rtol=0, atol=1e-12)
    assert ks.params["n_enumerated"] == 254
    np.testing.assert_array_equal(ks.quality["standard_error"], 0.0)


def test_matches_shap_kernel_explainer_when_it_enumerates_everything(data8):
    shap = requires("shap")
    bg, X = data8

    def f(A):
        return interacting(A)[:, 0]

    ours = KernelExplainer(f, bg, max_evals=254)(X[:4]).values[:, :, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.KernelExplainer(f, bg).shap_values(X[:4], nsamples=254, silent=True)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=1e-9)


@pytest.mark.parametrize("budget", [14, 20, 60])
def test_additive_model_is_exact_at_any_budget(budget):
    # an additive game has zero residual: any design that identifies the values is exact
    rng = np.random.default_rng(1)
    bg, X = rng.normal(size=(25, 8)), rng.normal(size=(6, 8))
    g = [np.sin, np.square, np.tanh, np.cos, np.exp, np.abs, np.sinh, lambda t: 3 * t]

    def additive(A):
        A = np.asarray(A, dtype=float)
        return sum(gj(A[:, j]) for j, gj in enumerate(g))

    ex = KernelExplainer(additive, bg, max_evals=budget, random_state=2)(X)
    truth = np.column_stack([gj(X[:, j]) - gj(bg[:, j]).mean() for j, gj in enumerate(g)])
    np.testing.assert_allclose(ex.values[:, :, 0], truth, rtol=0, atol=1e-10)
    # zero residuals: nothing left to estimate (up to rounding amplified by <= 1e6)
    assert ex.quality["standard_error"].max() < 1e-7


def pairwise(X):
    """Products of two features and single-feature terms: a game of degree 2."""
    X = np.asarray(X, dtype=float)
    return (
        X[:, 0] * X[:, 1]
        + X[:, 2] * X[:, 3]
        - X[:, 4] * X[:, 5]
        + np.sin(X[:, 6])
        + X[:, 7] * X[:, 0]
    )


def cubic(X):
    """Products of three features: a game of degree 3."""
    X = np.asarray(X, dtype=float)
    return X[:, 0] * X[:, 1] * X[:, 2] + X[:, 3] + X[:, 4] * X[:, 5] * X[:, 6] - X[:, 7]


@pytest.mark.parametrize("budget", [20, 40, 120])
def test_games_of_degree_two_are_exact_with_sampled_coalitions(data8, budget):
    # Complementary pairs make the linear fit's values those of a degree-2 fit
    # (PolySHAP's equivalence), so a game of degree 2 is exact whatever the sample;
    # the degree-3 fit leaves its products of two unpenalised and keeps that, also
    # below 36 pairs, where the coalitions cannot tell all 28 products of two apart.
    bg, X = data8
    exact = ExactExplainer(pairwise, bg)(X)
    for degree in (2, 3):
        ks = KernelExplainer(pairwise, bg, max_evals=budget, random_state=1, degree=degree)(X)
        assert ks.params["n_enumerated"] < budget  # some strata were sampled
        assert ks.params["degree"] == degree
        np.testing.assert_allclose(ks.values, exact.values, rtol=0, atol=1e-10)


@pytest.mark.parametrize("model", [cubic, interacting])
def test_degree_three_lowers_the_error_where_players_interact_in_threes(data8, model):
    # The degree-2 fit leaves third-order interactions to sampling error; the
    # penalised products of three capture them. Mean |error| over four seeds at 120
    # of the 254 coalitions: degree 3 well below degree 2 (measured 2.2x lower).
    bg, X = data8
    exact = ExactExplainer(model, bg)(X).values
    err = {
        d: np.mean(
            [
                np.abs(
                    KernelExplainer(model, bg, max_evals=120, random_state=s, degree=d)(X).values
                    - exact
                ).mean()
                for s in range(4)
            ]
        )
        for d in (2, 3)
    }
    assert err[3] < 0.6 * err[2]


def test_more_than_twelve_players_keep_local_accuracy_and_gain_from_degree_three():
    # With 14 players the products are among the 12 with the largest linear values.
    rng = np.random.default_rng(9)
    bg, X = rng.normal(size=(8, 14)), rng.normal(size=(4, 14))

    def model(A):
        A = np.asarray(A, dtype=float)
        return cubic(A[:, :8]) + A[:, 8] * A[:, 9] * A[:, 10] + np.tanh(A[:, 11:].sum(axis=1))

    exact = ExactExplainer(model, bg)(X).values
    err = {}
    for d in (2, 3):
        runs = [
            KernelExplainer(model, bg, max_evals=600, random_state=s, degree=d)(X) for s in range(3)
        ]
        assert max(r.additivity_error.max() for r in runs) < 1e-10
        err[d] = np.mean([np.abs(r.values - exact).mean() for r in runs])
    assert err[3] < 0.8 * err[2]


def test_model_of_one_feature_puts_everything_on_it():
    rng = np.random.default_rng(3)
    bg, X = rng.normal(size=(20, 10)), rng.normal(size=(5, 10))

    def only_x4(A):
        return np.exp(np.asarray(A, dtype=float)[:, 4])

    ex = KernelExplainer(only_x4, bg, max_evals=18, random_state=0)(X)
    truth = np.exp(X[:, 4]) - np.exp(bg[:, 4]).mean()
    np.testing.assert_allclose(ex.values[:, 4, 0], truth, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.delete(ex.values[:, :, 0], 4, axis=1), 0.0, atol=1e-10)


@pytest.mark.parametrize("budget", [14, 40, 150])
def test_local_accuracy_holds_at_every_budget(data8, budget):
    bg, X = data8
    ex = KernelExplainer(interacting, bg, max_evals=budget, random_state=5)(X)
    assert ex.additivity_error.max() < 1e-10


@pytest.mark.parametrize(("degree", "budget"), [(2, 120), (3, 200)])
def test_error_is_within_the_reported_standard_error(data8, degree, budget):
    # The standard error is a linearisation estimate; over many values the errors
    # against the exact values must look like draws with that spread: about 95% within
    # two standard errors (binomial sd ~1.2% over 192 values, widened for the shared
    # design's correlation) and a mean |error| / mean se near E|z| = 0.80.
    z = _z_scores(data8, degree, budget)
    assert 0.88 <= np.mean(z <= 2) <= 1.0
    assert 0.55 <= np.mean(z) <= 1.05


def test_standard_error_errs_on_the_safe_side_when_coalitions_are_few_for_the_terms(data8):
    # 120 coalitions for 36 unpenalised terms and 56 penalised ones: the leave-out
    # residuals of a fit with this much leverage overstate the spread, so the standard
    # error is conservative (about twice the error) rather than optimistic.
    z = _z_scores(data8, 3, 120)
    assert np.mean(z <= 2) >= 0.95
    assert np.mean(z) <= 0.8


def _z_scores(data8, degree, budget):
    bg, X = data8
    exact = ExactExplainer(interacting, bg)(X)
    z_all = []
    for seed in range(4):
        ks = KernelExplainer(interacting, bg, max_evals=budget, random_state=seed, degree=degree)(X)
        se = ks.quality["standard_error"]
        assert np.all(se > 0)
        z_all.append(np.abs(ks.values - exact.values) / se)
    return np.concatenate([a.ravel() for a in z_all])


def test_error_falls_with_the_budget(data8):
    bg, X = data8
    exact = ExactExplainer(interacting, bg)(X)
    err = [
        np.mean(
            [
                np.abs(
                    KernelExplainer(interacting, bg, max_evals=b, random_state=s)(X).values
                    - exact.values
                ).mean()
                for s in range(3)
            ]
        )
        for b in (24, 96, 200)
    ]
    assert err[0] > err[1] > err[2]


def test_deterministic_and_independent_of_batch_size_and_row_grouping(data8):
    bg, X = data8
    a = KernelExplainer(interacting, bg, max_evals=100, random_state=7)(X)
    b = KernelExplainer(interacting, bg, max_evals=100, random_state=7, batch_size=97)(X)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.quality["standard_error"], b.quality["standard_error"])
    explainer = KernelExplainer(interacting, bg, max_evals=100, random_state=7)
    one = np.concatenate([explainer(X[i : i + 1]).values for i in range(3)])
    np.testing.assert_allclose(one, a.values[:3], rtol=0, atol=1e-12)
    c = KernelExplainer(interacting, bg, max_evals=100, random_state=8)(X)
    assert not np.array_equal(a.values, c.values)


def test_design_weights_cover_every_stratum_and_sampling_is_without_replacement():
    p = 10
    rng = np.random.default_rng(0)
    for sampling in ("kernel", "leverage"):
        d = build_design(p, 300, sampling, rng)
        # each stratum's weights add up to its total kernel weight
        sizes = d.coalitions.sum(axis=1)
        for s in range(1, p):
            total = np.sum(d.weights[sizes == s])
            from math import comb

            np.testing.assert_allclose(total, comb(p, s) * kernel_weight(p, s), rtol=1e-12)
        keys = np.packbits(d.coalitions, axis=1)
        assert len(np.unique(keys, axis=0)) == len(keys)
        # every sampled coalition comes with its complement
        for sl, _ in d.sampled:
            block = d.coalitions[sl]
            np.testing.assert_array_equal(block[0::2], ~block[1::2])


def test_allocation_never_leaves_a_lone_single_pair():
    w = {s: 1.0 / s for s in range(2, 8)}
    for n_pairs in range(6, 40):
        out = _allocate(n_pairs, list(range(2, 8)), w, "kernel", 15)
        assert sum(out) == n_pairs
        assert min(out) >= 1
        assert sum(o == 1 for o in out) != 1


def test_feature_groups_match_exact_over_groups(data8):
    bg, X = data8
    groups = {"a": [0, 1], "b": [2, 3, 4]}
    exact = ExactExplainer(interacting, bg, feature_groups=groups)(X)
    ks = KernelExplainer(interacting, bg, feature_groups=groups, max_evals=62)(X)
    assert ks.feature_names == exact.feature_names
    np.testing.assert_allclose(ks.values, exact.values, rtol=0, atol=1e-12)


def test_pipeline_with_text_column_and_probability_output():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 200),
            "income": rng.normal(50, 15, 200),
            "city": rng.choice(["paris", "lyon", "nice"], 200),
        }
    )
    y = (frame["age"] / 10 + (frame["city"] == "nice") + rng.normal(size=200) > 4.5).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, y)
    exact = ExactExplainer(model, frame[:20], output="probability")(frame[20:25])
    ks = KernelExplainer(model, frame[:20], output="probability", max_evals=6)(frame[20:25])
    np.testing.assert_allclose(ks.values, exact.values, rtol=0, atol=1e-12)
    assert ks.output_space == "probability"


def test_weighted_background_equals_the_repeated_rows():
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(4, 6))
    counts = np.array([1, 3, 2, 4])
    X = rng.normal(size=(3, 6))
    weighted = WeightedBackground(rows, counts)
    repeated = np.repeat(rows, counts, axis=0)

    def f(A):
        return interacting(np.column_stack([A, A[:, :2]]))

    a = KernelExplainer(f, weighted, max_evals=62)(X)
    b = ExactExplainer(f, repeated)(X)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.base_values, b.base_values, rtol=0, atol=1e-12)
    assert a.params["background_weighted"] is True


def test_clear_errors(data8):
    bg, X = data8
    with pytest.raises(InputError, match="max_evals=13 is too small for 8 players"):
        KernelExplainer(interacting, bg, max_evals=13)
    with pytest.raises(InputError, match="max_evals must be a positive integer or 'auto'"):
        KernelExplainer(interacting, bg, max_evals=2.5)
    with pytest.raises(InputError, match="sampling must be one of"):
        KernelExplainer(interacting, bg, sampling="uniform")
    with pytest.raises(InputError, match="degree must be one of"):
        KernelExplainer(interacting, bg, degree=4)
    with pytest.raises(InputError, match="X has 7 columns"):
        KernelExplainer(interacting, bg)(X[:, :7])
    with pytest.raises(InputError, match="needs background data"):
        KernelExplainer(interacting, None)
