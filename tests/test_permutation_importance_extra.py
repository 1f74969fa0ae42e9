"""Permutation importance: confidence intervals, early stop, correlated feature groups."""

from __future__ import annotations

import json
import warnings
from itertools import combinations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression

from whybox import InputError
from whybox.inspection._clusters import correlated_feature_groups
from whybox.inspection._permutation_importance import (
    MIN_REPEATS,
    look_schedule,
    permutation_importance,
    ranking_settled,
)
from whybox.inspection._results import PermutationImportance
from whybox.plots._permutation import permutation_importance as plot_permutation_importance


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.normal(size=(n, 4)) * [1.0, 2.0, 0.5, 1.0]
    w = np.array([3.0, 1.0, 3.0, 0.7])  # w * sd = 3, 2, 1.5, 0.7: clearly separated
    y = X @ w + rng.normal(size=n)
    return X, y, LinearRegression().fit(X, y)


# ---------------------------------------------------------------------- confidence intervals
def test_interval_is_the_student_t_interval_of_the_repeats(linear):
    X, y, lr = linear
    res = permutation_importance(lr, X, y, n_repeats=7, random_state=0, confidence_level=0.9)
    for j in range(4):
        lo, hi = stats.t.interval(
            0.9, 6, loc=res.importances[j].mean(), scale=stats.sem(res.importances[j])
        )
        assert res.importances_lower[j] == pytest.approx(lo, rel=1e-12)
        assert res.importances_upper[j] == pytest.approx(hi, rel=1e-12)
    assert res.confidence_level == 0.9 and res.params["confidence_level"] == 0.9
    frame = res.to_frame()
    assert list(frame.columns) == ["importance_mean", "importance_std", "ci_lower", "ci_upper"]
    assert frame.loc["x0", "ci_lower"] == res.importances_lower[0]


def test_interval_covers_the_expected_importance_at_its_level():
    # For OLS (residuals of mean 0, orthogonal to every column) the expected rise of the
    # MSE over uniform random permutations of column j is exactly 2 w_j^2 var(x_j):
    # E[mean((x_pi - x)^2)] = 2 var(x) and E[mean(e (x_pi - x))] = 0. The intervals
    # cover the permutation noise, so about 95% of them hold this expectation.
    rng = np.random.default_rng(1)
    n = 400
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, 0.5, 0.25] + rng.normal(size=n)
    lr = LinearRegression().fit(X, y)
    expected = 2 * lr.coef_**2 * X.var(axis=0)
    covered = []
    for seed in range(150):
        res = permutation_importance(
            lr, X, y, scoring="neg_mean_squared_error", n_repeats=5, random_state=seed
        )
        covered.append((res.importances_lower <= expected) & (expected <= res.importances_upper))
    rate = np.mean(covered)  # 450 intervals: binomial sd about 0.01 at 0.95
    assert 0.91 <= rate <= 0.985


def test_result_from_positional_fields_and_json():
    imp = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    res = PermutationImportance(imp, imp.mean(1), imp.std(1), ("a", "b"), 0.5, "r2")
    lo, hi = stats.t.interval(0.95, 2, loc=2.0, scale=stats.sem(imp[0]))
    np.testing.assert_allclose([res.importances_lower[0], res.importances_upper[0]], [lo, hi])
    assert res.importances_lower[1] == res.importances_upper[1] == 0.0
    assert res.n_repeats_done == 3
    one = PermutationImportance(imp[:, :1], imp[:, 0], imp[:, 0] * 0, ("a", "b"), 0.5, "r2")
    assert np.isnan(one.importances_lower).all()  # one repeat: no interval
    d = one.to_dict()
    assert d["importances_lower"] == [None, None] and d["n_repeats_done"] == 1
    json.dumps(res.to_dict(), allow_nan=False)


def test_plot_draws_the_interval(linear):
    X, y, lr = linear
    res = permutation_importance(lr, X, y, n_repeats=5, random_state=0)
    ax = plot_permutation_importance(res).axes[0]
    lines = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
    for j, name in enumerate(res.feature_names):
        xs = lines[f"ci:{name}"].get_xdata()
        np.testing.assert_allclose(xs, [res.importances_lower[j], res.importances_upper[j]])
        assert lines[f"mean:{name}"].get_xdata()[0] == pytest.approx(res.importances_mean[j])


# ---------------------------------------------------------------------- early stop
def test_early_stop_uses_fewer_repeats_for_the_same_ranking(linear):
    X, y, lr = linear
    full = permutation_importance(lr, X, y, n_repeats=20, random_state=3)
    early = permutation_importance(lr, X, y, n_repeats=20, random_state=3, early_stop=True)
    done = early.n_repeats_done
    assert MIN_REPEATS <= done < 20
    assert early.params["n_repeats_done"] == done and early.params["stopped_early"]
    np.testing.assert_array_equal(
        np.argsort(-early.importances_mean), np.argsort(-full.importances_mean)
    )
    # the repeats of the early-stopped run are the first repeats of the full run
    np.testing.assert_array_equal(early.importances, full.importances[:, :done])
    again = permutation_importance(
        lr, X, y, n_repeats=20, random_state=3, early_stop=True, batch_size=700
    )
    np.testing.assert_array_equal(again.importances, early.importances)
    assert not full.params["stopped_early"] and full.n_repeats_done == 20


def test_looks_grow_by_half():
    assert look_schedule(40) == [3, 5, 8, 12, 18, 27]
    assert look_schedule(10) == [3, 5, 8]
    assert look_schedule(3) == [] and look_schedule(4) == [3]


@pytest.mark.parametrize("tol", [0.0, 0.3])
@pytest.mark.parametrize("k", [2, 6])
def test_settled_is_holm_over_scipy_paired_tests(k, tol):
    # reference: scipy's one-sample t-tests on the paired differences (two-sided for
    # "separated", two one-sided tests for "equivalent within tol"), Holm by a loop
    rng = np.random.default_rng(11)
    means = np.array([5.0, 4.0, 3.9, 2.0, 1.95, 1.0])
    verdicts = set()
    for r, sd in [
        (3, 0.3),
        (3, 0.1),
        (5, 0.1),
        (8, 0.1),
        (12, 0.1),
        (3, 0.05),
        (8, 0.05),
        (12, 0.05),
    ]:
        imp = means[:, None] + rng.normal(0, sd, size=(6, r))
        order = np.argsort(-imp.mean(axis=1), kind="stable")
        pairs = [(order[i], order[i + 1]) for i in range(k - 1)]
        pairs += [(order[k - 1], order[j]) for j in range(k, 6)]
        p = []
        for a, b in pairs:
            d = imp[a] - imp[b]
            p_sep = stats.ttest_1samp(d, 0.0).pvalue
            p_eq = max(
                stats.ttest_1samp(d, -tol, alternative="greater").pvalue,
                stats.ttest_1samp(d, tol, alternative="less").pvalue,
            )
            p.append(min(p_sep, p_eq))
        alpha = 0.05
        n_open = 0
        for i, pv in enumerate(sorted(p)):  # Holm: stop at the first non-rejection
            if pv > alpha / (len(p) - i):
                n_open = len(p) - i
                break
        assert ranking_settled(imp, k=k, tol=tol, alpha=alpha) == (n_open == 0, n_open)
        verdicts.add(n_open == 0)
    assert verdicts == {True, False}  # both outcomes checked


def test_early_stop_never_stops_before_the_minimum():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 1))
    y = 2 * X[:, 0]
    res = permutation_importance(
        lambda A: 2 * np.asarray(A)[:, 0], X, y, n_repeats=10, random_state=0, early_stop=True
    )
    assert res.n_repeats_done == MIN_REPEATS  # one feature: nothing to settle
    short = permutation_importance(
        lambda A: 2 * np.asarray(A)[:, 0], X, y, n_repeats=2, random_state=0, early_stop=True
    )
    assert short.n_repeats_done == 2


def test_ties_block_a_full_ranking_but_not_top_k_or_tol():
    rng = np.random.default_rng(6)
    n = 1000
    X = rng.normal(size=(n, 4))
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # equal variances: equal expected importances

    def f(A):  # two equally important features (2 and 3) at the bottom
        A = np.asarray(A)
        return 3 * A[:, 0] + 1.5 * A[:, 1] + 0.3 * A[:, 2] + 0.3 * A[:, 3]

    y = f(X)
    full = permutation_importance(f, X, y, n_repeats=12, random_state=0, early_stop=True)
    assert full.n_repeats_done == 12
    top = permutation_importance(f, X, y, n_repeats=12, random_state=0, early_stop=True, top_k=2)
    assert top.n_repeats_done < 12
    assert list(np.argsort(-top.importances_mean)[:2]) == [0, 1]
    # 2 * 0.3^2 * var / var(y) ~ 0.015 in R^2: equivalent within 0.05
    loose = permutation_importance(f, X, y, n_repeats=12, random_state=0, early_stop=True, tol=0.05)
    assert loose.n_repeats_done < 12


def test_early_stop_rarely_reports_a_wrong_order():
    # Two features whose expected importances differ by about 15%: the stated guarantee
    # is that an early stop puts them in the wrong order at most 5% of the time.
    rng = np.random.default_rng(7)
    n = 300
    X = rng.normal(size=(n, 2))
    y = X @ [1.0, 0.9] + rng.normal(size=n)
    lr = LinearRegression().fit(X, y)
    truth = 2 * lr.coef_**2 * X.var(axis=0)
    assert truth[0] > truth[1]
    wrong = stopped = 0
    for seed in range(60):
        res = permutation_importance(
            lr, X, y, scoring="neg_mean_squared_error", n_repeats=15, random_state=seed,
            early_stop=True,
        )  # fmt: skip
        if res.params["stopped_early"]:
            stopped += 1
            wrong += res.importances_mean[1] > res.importances_mean[0]
    assert stopped >= 30  # the rule does stop on such a pair, mostly
    assert wrong <= 3


# ---------------------------------------------------------------------- correlated groups
def _spearman(X):
    return np.abs(stats.spearmanr(X).statistic)


def test_groups_follow_known_blocks():
    rng = np.random.default_rng(8)
    n = 500
    a, b = rng.normal(size=(2, n))
    X = np.column_stack(
        [
            a, -a + 0.1 * rng.normal(size=n), rng.normal(size=n), np.exp(b),
            b + 0.1 * rng.normal(size=n), b ** 3,
        ]
    )  # fmt: skip
    groups = correlated_feature_groups(X, threshold=0.7)
    assert groups == {"x0+x1": ["x0", "x1"], "x2": ["x2"], "x3+x4+x5": ["x3", "x4", "x5"]}
    # Pearson sees exp(b) and b^3 as weaker relations of b than Spearman does
    assert correlated_feature_groups(X, threshold=0.95, method="pearson")["x3"] == ["x3"]
    assert "x3+x4+x5" in correlated_feature_groups(X, threshold=0.95, method="spearman")


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_complete_linkage_groups_against_brute_force(threshold):
    rng = np.random.default_rng(9)
    n, d = 300, 9
    latent = rng.normal(size=(n, 3))
    X = latent[:, rng.integers(0, 3, size=d)] * rng.uniform(0.2, 2, size=d)
    X += rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, size=d)
    rho = _spearman(X)
    groups = list(correlated_feature_groups(X, threshold=threshold).values())
    cols = [[int(c[1:]) for c in g] for g in groups]
    assert sorted(sum(cols, [])) == list(range(d))
    for g in cols:  # every pair inside a group is correlated enough
        assert all(rho[i, j] >= threshold - 1e-12 for i, j in combinations(g, 2))
    for g, h in combinations(cols, 2):  # and no two groups could be merged
        assert min(rho[i, j] for i in g for j in h) < threshold


def test_categorical_constant_and_missing_columns():
    import pandas as pd

    rng = np.random.default_rng(10)
    n = 300
    z = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "a": z, "b": 2 * z + 0.01 * rng.normal(size=n), "const": np.ones(n),
            "color": rng.choice(["red", "blue"], size=n), "c": z.copy(),
        }
    )  # fmt: skip
    df.loc[::7, "c"] = np.nan
    groups = correlated_feature_groups(df)
    assert groups == {"a+b+c": ["a", "b", "c"], "const": ["const"], "color": ["color"]}


def test_correlated_groups_permute_copies_together():
    # Three copies of one signal and a model that takes their median: permuting one copy
    # leaves the median unchanged (importance exactly 0), permuting the cluster moves the
    # prediction by z_pi - z, whose expected squared error rise is 2 var(z).
    rng = np.random.default_rng(11)
    n = 2000
    z = rng.normal(size=n)
    X = np.column_stack([z, z, z, rng.normal(size=n)])

    def f(A):
        A = np.asarray(A)
        return np.median(A[:, :3], axis=1) + 0.5 * A[:, 3]

    y = f(X)
    alone = permutation_importance(
        f, X, y, scoring="neg_mean_squared_error", n_repeats=10, random_state=0
    )
    np.testing.assert_array_equal(alone.importances[:3], 0.0)
    grouped = permutation_importance(
        f, X, y, scoring="neg_mean_squared_error", n_repeats=10, random_state=0,
        feature_groups="correlated",
    )  # fmt: skip
    assert grouped.feature_names == ("x0+x1+x2", "x3")
    assert grouped.params["feature_groups"] == {"x0+x1+x2": [0, 1, 2], "x3": [3]}
    assert grouped.params["cluster_threshold"] == 0.7
    expected = np.array([2 * z.var(), 2 * 0.25 * X[:, 3].var()])
    se = grouped.importances_std / np.sqrt(9)
    assert np.all(np.abs(grouped.importances_mean - expected) < 4 * se)


def test_bad_input(linear):
    X, y, lr = linear
    with pytest.raises(InputError, match="confidence_level"):
        permutation_importance(lr, X, y, confidence_level=1.0)
    with pytest.raises(InputError, match="early_stop"):
        permutation_importance(lr, X, y, early_stop="yes")
    with pytest.raises(InputError, match="top_k"):
        permutation_importance(lr, X, y, early_stop=True, top_k=0)
    with pytest.raises(InputError, match="tol"):
        permutation_importance(lr, X, y, early_stop=True, tol=-1.0)
    with pytest.raises(InputError, match="feature_groups"):
        permutation_importance(lr, X, y, feature_groups="clusters")
    with pytest.raises(InputError, match="cluster_threshold"):
        permutation_importance(lr, X, y, feature_groups="correlated", cluster_threshold=0)
    with pytest.raises(InputError, match="threshold"):
        correlated_feature_groups(X, threshold=1.5)
    with pytest.raises(InputError, match="method"):
        correlated_feature_groups(X, method="kendall")
    with pytest.raises(InputError, match="linkage"):
        correlated_feature_groups(X, linkage="ward")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant column gives no RuntimeWarning
        correlated_feature_groups(np.column_stack([X[:50], np.zeros(50)]))
