"""permutation_importance against closed forms and scikit-learn; its confidence intervals,
early stop and correlated feature groups."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import get_scorer, r2_score
from sklearn.pipeline import Pipeline

from tests.inspection._helpers import colour_pipeline
from whybox import InputError
from whybox.inspection import PermutationImportance, permutation_importance
from whybox.inspection._clusters import correlated_feature_groups
from whybox.inspection._permutation_importance import (
    MIN_REPEATS,
    look_schedule,
    ranking_settled,
)
from whybox.plots import permutation_importance as plot_permutation_importance


@pytest.fixture(scope="module")
def linear():
    return _linear_rows(3000)


def _linear_rows(n):
    """``n`` rows of a linear model whose features rank clearly, and the model fitted."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)) * [1.0, 2.0, 0.5, 1.0]
    w = np.array([3.0, 1.0, 3.0, 0.7])  # w * sd = 3, 2, 1.5, 0.7: a clear ranking
    y = X @ w + rng.normal(size=n)
    return X, y, LinearRegression().fit(X, y)


def test_unused_feature_has_exactly_zero_importance():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] + rng.normal(size=400)
    # the pipeline drops column 3: its values cannot change a prediction
    pipe = Pipeline(
        [
            ("sel", ColumnTransformer([("keep", "passthrough", [0, 1, 2])], remainder="drop")),
            ("lr", LinearRegression()),
        ]
    ).fit(X, y)
    res = permutation_importance(pipe, X, y, n_repeats=4, random_state=0)
    assert isinstance(res, PermutationImportance)
    assert res.importances.shape == (4, 4)
    np.testing.assert_array_equal(res.importances[3], 0.0)
    assert np.all(res.importances[:3] > 0)
    assert res.scoring == "r2"
    assert res.baseline_score == pytest.approx(r2_score(y, pipe.predict(X)), abs=1e-14)
    assert list(res.to_frame().index) == ["x1", "x0", "x2", "x3"]


def test_linear_model_closed_form(linear):
    # With OLS residuals e (mean 0, orthogonal to every x_j) and a random permutation of
    # feature j, the expected rise of the mean squared error is 2 w_j^2 var(x_j).
    X, y, lr = linear
    res = permutation_importance(
        lr, X, y, scoring="neg_mean_squared_error", n_repeats=20, random_state=1
    )
    expected = 2 * lr.coef_**2 * X.var(axis=0)
    se = res.importances_std / np.sqrt(res.importances.shape[1] - 1)
    assert np.all(np.abs(res.importances_mean - expected) < 4 * se)


def test_agrees_with_sklearn(linear):
    X, y, lr = linear
    ours = permutation_importance(lr, X, y, n_repeats=15, random_state=2)
    theirs = sk_permutation_importance(lr, X, y, n_repeats=15, random_state=2)
    # different random permutations: the same ranking, means within sampling error
    np.testing.assert_array_equal(
        np.argsort(-ours.importances_mean), np.argsort(-theirs.importances_mean)
    )
    se = np.sqrt((ours.importances_std**2 + theirs.importances_std**2) / 14)
    assert np.all(np.abs(ours.importances_mean - theirs.importances_mean) < 4 * se)


def test_classifier_scorers_match_sklearn_baselines():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.normal(size=600) > 0, "yes", "no")
    for clf in (LogisticRegression(), RandomForestClassifier(n_estimators=10, random_state=0)):
        clf.fit(X[:300], y[:300])
        for scoring in (None, "roc_auc", "neg_log_loss", "balanced_accuracy", "f1_macro"):
            res = permutation_importance(
                clf, X[300:], y[300:], scoring=scoring, n_repeats=3, random_state=0
            )
            scorer = get_scorer(scoring or "accuracy")
            assert res.baseline_score == pytest.approx(scorer(clf, X[300:], y[300:]), abs=1e-12)
            assert res.scoring == (scoring or "accuracy")
            assert np.argmax(res.importances_mean) == 0


def test_deterministic_and_batch_size_invariant():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    a = permutation_importance(rf, X, y, n_repeats=3, random_state=5)
    b = permutation_importance(rf, X, y, n_repeats=3, random_state=5, batch_size=1)
    c = permutation_importance(rf, X, y, n_repeats=3, random_state=5, batch_size=700)
    d = permutation_importance(rf, X, y, n_repeats=3, random_state=6)
    np.testing.assert_array_equal(a.importances, b.importances)
    np.testing.assert_array_equal(a.importances, c.importances)
    assert not np.array_equal(a.importances, d.importances)
    assert a.params["random_state"] == 5 and a.params["n_repeats"] == 3


def test_feature_groups(linear):
    X, y, lr = linear
    groups = {"first_two": [0, 1], "last": ["x3"]}
    res = permutation_importance(
        lr, X, y, scoring="neg_mean_squared_error", n_repeats=20, random_state=7,
        feature_groups=groups,
    )  # fmt: skip
    assert res.feature_names == ("first_two", "last", "x2")
    assert res.params["feature_groups"] == {"first_two": [0, 1], "last": [3], "x2": [2]}
    # one permutation for the group: the rise of the MSE is 2 var(w0 x0 + w1 x1)
    expected = np.array(
        [
            2 * np.var(X[:, :2] @ lr.coef_[:2]),
            2 * lr.coef_[3] ** 2 * X[:, 3].var(),
            2 * lr.coef_[2] ** 2 * X[:, 2].var(),
        ]
    )
    se = res.importances_std / np.sqrt(19)
    assert np.all(np.abs(res.importances_mean - expected) < 4 * se)


def test_callable_metric_gets_labels_or_values():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] > 0, "b", "a")
    clf = LogisticRegression().fit(X, y)
    seen = []

    def my_accuracy(y_true, y_pred):
        seen.append(y_pred[:3])
        return float(np.mean(y_true == y_pred))

    custom = permutation_importance(clf, X, y, scoring=my_accuracy, n_repeats=2, random_state=0)
    named = permutation_importance(clf, X, y, scoring="accuracy", n_repeats=2, random_state=0)
    np.testing.assert_array_equal(custom.importances, named.importances)
    assert custom.scoring == "my_accuracy"
    assert set(np.concatenate(seen)) <= {"a", "b"}

    yr = X @ [1.0, 2.0, 0.0] + 0.1 * rng.normal(size=300)
    lr = LinearRegression().fit(X, yr)
    via_callable = permutation_importance(lr, X, yr, scoring=r2_score, random_state=1)
    default = permutation_importance(lr, X, yr, random_state=1)
    np.testing.assert_array_equal(via_callable.importances, default.importances)


def test_sample_weight_and_max_samples():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    plain = permutation_importance(clf, X, y, n_repeats=2, random_state=0)
    weighted = permutation_importance(
        clf, X, y, n_repeats=2, random_state=0, sample_weight=np.full(400, 3.0)
    )
    # uniform weights do not change a weighted mean
    np.testing.assert_allclose(weighted.importances, plain.importances, rtol=0, atol=1e-14)
    w = rng.uniform(0.5, 2.0, size=400)
    res = permutation_importance(clf, X, y, n_repeats=2, random_state=0, sample_weight=w)
    assert res.baseline_score == pytest.approx(np.average(clf.predict(X) == y, weights=w))
    sub = permutation_importance(clf, X, y, n_repeats=3, random_state=0, max_samples=0.25)
    assert sub.params["n_samples_per_repeat"] == 100
    assert sub.importances.shape == (3, 3)
    assert sub.importances_mean[0] > 0.2


def test_pipeline_on_mixed_columns():
    levels = ["red", "green", "blue"]
    pipe, df, y, _ = colour_pipeline(10, 400, levels, ["size", "noise"], n_trees=20)
    res = permutation_importance(pipe, df, y, n_repeats=3, random_state=0)
    assert res.feature_names == ("color", "size", "noise")
    np.testing.assert_array_equal(res.importances[2], 0.0)
    assert res.importances_mean[0] > 0.2 and res.importances_mean[1] > 0.2


def test_bad_input(linear):
    X, y, lr = linear
    with pytest.raises(InputError, match="scoring"):
        permutation_importance(lr, X, y, scoring="not_a_score")
    with pytest.raises(InputError, match="scoring"):
        permutation_importance(lr, X, y, scoring=3)
    with pytest.raises(InputError, match="y must"):
        permutation_importance(lr, X, y[:-1])
    with pytest.raises(InputError, match="n_repeats"):
        permutation_importance(lr, X, y, n_repeats=0)
    with pytest.raises(InputError, match="sample_weight"):
        permutation_importance(lr, X, y, sample_weight=np.ones(3))
    with pytest.raises(InputError, match="max_samples"):
        permutation_importance(lr, X, y, max_samples=1.5)
    with pytest.raises(InputError, match="batch_size"):
        permutation_importance(lr, X, y, batch_size=-2)
    with pytest.raises(InputError, match="feature_groups"):
        permutation_importance(lr, X, y, feature_groups={"g": ["nope"]})
    with pytest.raises(InputError, match="columns"):
        permutation_importance(lr, X[:, :3], y)


def test_one_model_call_per_repeat():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, 2.0, 0.0, -1.0]
    sizes = []

    def f(A):
        sizes.append(len(A))
        return np.asarray(A, dtype=float) @ [1.0, 2.0, 0.0, -1.0]

    res = permutation_importance(f, X, y, n_repeats=3, random_state=0)
    # every feature's permuted copy of one repeat stacked in one call
    assert [s for s in sizes if s > 50] == [200, 200, 200]
    np.testing.assert_array_equal(res.importances[2], 0.0)  # zero weight: exactly 0
    sizes.clear()
    permutation_importance(f, X, y, n_repeats=3, random_state=0, batch_size=120)
    assert [s for s in sizes if s > 50] == [100, 100] * 3


@pytest.fixture(scope="module")
def linear_2000():
    return _linear_rows(2000)


def test_interval_is_the_student_t_interval_of_the_repeats(linear_2000):
    X, y, lr = linear_2000
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


def test_plot_draws_the_interval(linear_2000):
    X, y, lr = linear_2000
    res = permutation_importance(lr, X, y, n_repeats=5, random_state=0)
    ax = plot_permutation_importance(res).axes[0]
    lines = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
    for j, name in enumerate(res.feature_names):
        xs = lines[f"ci:{name}"].get_xdata()
        np.testing.assert_allclose(xs, [res.importances_lower[j], res.importances_upper[j]])
        assert lines[f"mean:{name}"].get_xdata()[0] == pytest.approx(res.importances_mean[j])


def test_early_stop_uses_fewer_repeats_for_the_same_ranking(linear_2000):
    X, y, lr = linear_2000
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
    assert grouped.params["correlation_threshold"] == 0.7
    expected = np.array([2 * z.var(), 2 * 0.25 * X[:, 3].var()])
    se = grouped.importances_std / np.sqrt(9)
    assert np.all(np.abs(grouped.importances_mean - expected) < 4 * se)


def test_bad_input_of_intervals_early_stop_and_groups(linear_2000):
    X, y, lr = linear_2000
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
    with pytest.raises(InputError, match="correlation_threshold"):
        permutation_importance(lr, X, y, feature_groups="correlated", correlation_threshold=0)
    with pytest.raises(InputError, match="threshold"):
        correlated_feature_groups(X, correlation_threshold=1.5)
    with pytest.raises(InputError, match="method"):
        correlated_feature_groups(X, method="kendall")
    with pytest.raises(InputError, match="linkage"):
        correlated_feature_groups(X, linkage="ward")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant column gives no RuntimeWarning
        correlated_feature_groups(np.column_stack([X[:50], np.zeros(50)]))
