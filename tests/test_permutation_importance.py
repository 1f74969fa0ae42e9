"""permutation_importance against closed forms and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import get_scorer, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox import InputError
from whybox.inspection import PermutationImportance, permutation_importance


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    n = 3000
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
    rng = np.random.default_rng(10)
    n = 400
    df = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], size=n),
            "size": rng.normal(size=n),
            "noise": rng.normal(size=n),
        }
    )
    y = ((df["color"] == "red") ^ (df["size"] > 0)).astype(int)
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), ["color"]), ("num", "passthrough", ["size"])],
        remainder="drop",
    )
    pipe = Pipeline([("pre", pre), ("rf", RandomForestClassifier(20, random_state=0))])
    pipe.fit(df, y)
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
