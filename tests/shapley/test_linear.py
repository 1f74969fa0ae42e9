"""LinearExplainer against ground truths: ExactExplainer, brute-force Gaussian Shapley, shap."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    SGDRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures, StandardScaler
from sklearn.svm import LinearSVC

from tests._requires import requires
from whybox import ExactExplainer, InputError, UnsupportedModelError
from whybox.adapters import adapt_model
from whybox.shapley._linear import COVARIANCE_RIDGE, LinearExplainer


# ---------------------------------------------------------------------- references
def gaussian_covariance(background):
    """The covariance LinearExplainer documents: Sigma + COVARIANCE_RIDGE * diag(Sigma)."""
    cov = np.atleast_2d(np.cov(background, rowvar=False))
    return cov + COVARIANCE_RIDGE * np.diag(np.diag(cov))


def brute_force_conditional(predict, x, mean, cov, players):
    """Shapley values of v(S) = f(E[x | x_S]) for x ~ N(mean, cov), from the definition.

    ``predict`` maps (m, d) rows to (m, k) outputs; ``players`` is a list of column lists.
    Every coalition's conditional expectation is computed directly,
    ``E[x_N | x_C] = mean_N + cov_NC inv(cov_CC) (x_C - mean_C)``, the model is called on
    it, and the Shapley formula sums the weighted marginal contributions over all
    coalitions without each player.
    """
    p, d = len(players), len(mean)

    def value(coalition):
        cols = sorted(c for i in coalition for c in players[i])
        rest = [j for j in range(d) if j not in cols]
        z = mean.astype(float).copy()
        z[cols] = x[cols]
        if cols and rest:
            gain = cov[np.ix_(rest, cols)] @ np.linalg.inv(cov[np.ix_(cols, cols)])
            z[rest] = mean[rest] + gain @ (x[cols] - mean[cols])
        return np.asarray(predict(z[None, :]), dtype=float).reshape(-1)

    phi = []
    for i in range(p):
        others = [j for j in range(p) if j != i]
        total = 0.0
        for size in range(p):
            w = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
            for s in itertools.combinations(others, size):
                total = total + w * (value(s + (i,)) - value(s))
        phi.append(total)
    return np.array(phi)


def correlated(n, d, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) + 0.8 * np.eye(d)
    return rng.normal(size=(n, d)) @ mix + offset


@pytest.fixture(scope="module")
def reg5():
    X = correlated(90, 5, 0, offset=np.arange(5.0))
    y = X @ np.array([1.5, -2.0, 0.7, 0.0, 3.0]) + np.random.default_rng(1).normal(size=90)
    return Ridge(alpha=0.5).fit(X, y), X[:50], X[50:56]


@pytest.fixture(scope="module")
def clf3():
    X = correlated(150, 4, 2)
    y = np.digitize(X[:, 0] - X[:, 2] + 0.5 * X[:, 3], [-1.0, 1.0])
    return LogisticRegression(max_iter=2000).fit(X, y), X[:60], X[60:65]


# ---------------------------------------------------------------------- interventional
@pytest.mark.parametrize(
    "model",
    [
        LinearRegression(),
        Ridge(alpha=2.0),
        Lasso(alpha=0.05),
        ElasticNet(alpha=0.05),
        SGDRegressor(random_state=0),
        LogisticRegression(max_iter=1000),
    ],
    ids=lambda m: type(m).__name__,
)
def test_interventional_equals_exact_explainer(model):
    X = correlated(80, 5, 3)
    y = X @ np.array([1.0, -1.0, 2.0, 0.5, 0.0])
    model.fit(X, (y > 0).astype(int) if isinstance(model, LogisticRegression) else y)
    bg, Xe = X[:30], X[60:66]
    ours = LinearExplainer(model, bg)(Xe)
    exact = ExactExplainer(model, bg, output="raw")(Xe)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.base_values, exact.base_values, rtol=0, atol=1e-10)
    assert ours.output_names == exact.output_names
    assert ours.method == "linear_interventional"
    assert ours.output_space == "raw"
    assert ours.additivity_error.max() < 1e-10


def test_multiclass_logistic_one_output_per_class(clf3):
    model, bg, Xe = clf3
    ours = LinearExplainer(model, bg)(Xe)
    assert ours.values.shape == (5, 4, 3)
    assert ours.output_names == ("0", "1", "2")
    exact = ExactExplainer(model, bg, output="raw")(Xe)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.model_output, model.decision_function(Xe), rtol=0, atol=1e-12)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize(
    "make", [lambda: LinearSVC(), RidgeClassifier, lambda: Perceptron(random_state=0)]
)
def test_margin_only_classifiers_equal_exact_on_their_decision_function(make, classes):
    # these classifiers have no predict_proba; ExactExplainer explains their
    # decision function given as a plain callable, an independent route to the truth
    X = correlated(120, 4, 4)
    y = np.digitize(X[:, 0] + X[:, 1] - X[:, 3], [-1.0, 1.0] if classes == 3 else [0.0])
    model = make().fit(X, y)
    bg, Xe = X[:40], X[100:105]
    ours = LinearExplainer(model, bg)(Xe)
    names = [str(c) for c in model.classes_]
    names = names[1:] if classes == 2 else names
    reference = adapt_model(model.decision_function, output_names=names)
    exact = ExactExplainer(reference, bg)(Xe)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=1e-10)
    assert ours.output_names == tuple(names)
    assert ours.additivity_error.max() < 1e-10


def test_interventional_matches_shap(reg5):
    shap = requires("shap")
    model, bg, Xe = reg5
    ours = LinearExplainer(model, bg)(Xe)
    theirs = shap.LinearExplainer(model, bg)  # 50 rows: shap keeps them all (max 100)
    np.testing.assert_allclose(ours.values[:, :, 0], theirs.shap_values(Xe), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.base_values[:, 0], theirs.expected_value, rtol=0, atol=1e-10)


def test_feature_groups_sum_their_columns(reg5):
    model, bg, Xe = reg5
    groups = {"front": [0, 1], "back": ["x3", "x4"]}
    single = LinearExplainer(model, bg)(Xe)
    grouped = LinearExplainer(model, bg, feature_groups=groups)(Xe)
    assert grouped.feature_names == ("front", "back", "x2")
    assert grouped.data is None
    truth = np.stack(
        [single.values[:, [0, 1]].sum(1), single.values[:, [3, 4]].sum(1), single.values[:, 2]],
        axis=1,
    )
    np.testing.assert_allclose(grouped.values, truth, rtol=0, atol=1e-12)
    exact = ExactExplainer(model, bg, feature_groups=groups)(Xe)
    np.testing.assert_allclose(grouped.values, exact.values, rtol=0, atol=1e-10)
    assert grouped.params["feature_groups"] == {"front": [0, 1], "back": [3, 4], "x2": [2]}


# ---------------------------------------------------------------------- correlation-dependent
def test_correlation_dependent_equals_brute_force(reg5):
    model, bg, Xe = reg5
    ex = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    mean, cov = bg.mean(axis=0), gaussian_covariance(bg)
    for r in range(len(Xe)):
        truth = brute_force_conditional(model.predict, Xe[r], mean, cov, [[j] for j in range(5)])
        np.testing.assert_allclose(ex.values[r], truth, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values[:, 0], model.predict(bg).mean(), rtol=0, atol=1e-10)
    assert ex.additivity_error.max() < 1e-10
    assert ex.method == "linear_correlation_dependent"
    assert ex.params["algorithm"] == "exact"
    assert ex.params["covariance_ridge"] == COVARIANCE_RIDGE
    # the features are correlated: the values differ from the interventional ones
    inter = LinearExplainer(model, bg)(Xe)
    assert np.abs(ex.values - inter.values).max() > 0.1


def test_correlation_dependent_multiclass_and_groups_equal_brute_force(clf3):
    model, bg, Xe = clf3
    groups = {"g": [1, 3]}
    ex = LinearExplainer(
        model, bg, feature_perturbation="correlation_dependent", feature_groups=groups
    )(Xe)
    assert ex.values.shape == (5, 3, 3)
    players = [[1, 3], [0], [2]]
    mean, cov = bg.mean(axis=0), gaussian_covariance(bg)
    for r in range(len(Xe)):
        truth = brute_force_conditional(model.decision_function, Xe[r], mean, cov, players)
        np.testing.assert_allclose(ex.values[r], truth, rtol=0, atol=1e-10)
    assert ex.additivity_error.max() < 1e-10


def test_collinear_and_constant_columns():
    # x2 = x0 + x1 exactly and x3 is constant: the covariance is singular; the ridge keeps
    # it invertible and a constant column is its own mean in every conditional expectation
    base = correlated(40, 2, 5)
    bg = np.column_stack([base, base.sum(axis=1), np.full(40, 2.0)])
    model = LinearRegression().fit(bg, bg @ [1.0, 2.0, -1.0, 0.0])
    model.coef_ = np.array([1.0, 2.0, -1.0, 0.5])
    rng = np.random.default_rng(6)
    Xe = np.column_stack([rng.normal(size=(4, 3)), np.full(4, 3.0)])
    with pytest.warns(UserWarning, match=r"covariance is singular \(rank 2 of 3"):
        ex = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    assert ex.params["covariance_singular"] and ex.params["covariance_rank"] == 2
    assert np.isfinite(ex.values).all()
    assert ex.additivity_error.max() < 1e-10
    cov = gaussian_covariance(bg[:, :3])
    mean = bg[:, :3].mean(axis=0)
    cond = np.linalg.cond(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
    assert cond > 1e7  # singular but for the ridge
    # both sides solve systems of this condition number: they agree to cond * eps
    tol = 10 * cond * np.finfo(float).eps
    # the constant column gets coef * (x - constant) and leaves the others unchanged
    np.testing.assert_allclose(ex.values[:, 3, 0], 0.5 * (3.0 - 2.0), rtol=0, atol=tol)
    for r in range(len(Xe)):
        truth = brute_force_conditional(
            lambda Z: Z @ model.coef_[:3], Xe[r, :3], mean, cov, [[0], [1], [2]]
        )
        np.testing.assert_allclose(ex.values[r, :3], truth, rtol=0, atol=tol)


def test_independent_features_equal_interventional():
    # a full factorial design has exactly uncorrelated columns
    bg = np.array(list(itertools.product([-1.0, 0.0, 2.5], [1.0, 3.0], [0.0, 1.0, 5.0, 6.0])))
    assert np.abs(np.cov(bg, rowvar=False) - np.diag(np.var(bg, axis=0, ddof=1))).max() < 1e-12
    model = LinearRegression().fit(bg, bg @ [1.0, -2.0, 0.5] + np.sin(bg[:, 0]))
    Xe = np.random.default_rng(7).normal(size=(5, 3))
    inter = LinearExplainer(model, bg)(Xe)
    cond = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    np.testing.assert_allclose(cond.values, inter.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cond.base_values, inter.base_values, rtol=0, atol=0)


def test_dummy_feature_gets_zero():
    # x2 has a zero coefficient and is uncorrelated with x0, x1 (crossed with every row)
    rows = correlated(12, 2, 8)
    bg = np.array([[a, b, c] for a, b in rows for c in (-1.0, 0.5, 4.0)])
    model = LinearRegression().fit(bg, bg[:, 0] - bg[:, 1])
    model.coef_ = np.array([1.0, -1.0, 0.0])
    Xe = np.random.default_rng(9).normal(size=(4, 3)) * 3
    for perturbation in ("interventional", "correlation_dependent"):
        ex = LinearExplainer(model, bg, feature_perturbation=perturbation)(Xe)
        np.testing.assert_allclose(ex.values[:, 2], 0.0, rtol=0, atol=1e-12)
    # correlated with x0 instead, the same zero-coefficient feature gets credit
    bg[:, 2] = bg[:, 0] + 0.1 * np.arange(len(bg)) % 3
    ex = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    assert np.abs(ex.values[:, 2]).max() > 0.01


def test_symmetric_features_get_equal_values():
    # x0 and x1 are exchangeable in the background, have equal coefficients and equal values
    rows = correlated(20, 3, 10)
    bg = np.vstack([rows, rows[:, [1, 0, 2]]])
    model = LinearRegression().fit(bg, bg.sum(axis=1))
    model.coef_ = np.array([0.8, 0.8, -1.5])
    Xe = np.random.default_rng(11).normal(size=(5, 3))
    Xe[:, 1] = Xe[:, 0]
    for perturbation in ("interventional", "correlation_dependent"):
        ex = LinearExplainer(model, bg, feature_perturbation=perturbation)(Xe)
        np.testing.assert_allclose(ex.values[:, 0], ex.values[:, 1], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- sampled transform
def test_two_players_are_exact_with_an_antithetic_pair(reg5):
    # with two players an ordering and its reverse are all the orderings there are
    model, bg, Xe = reg5
    groups = {"a": [0, 2, 4], "b": [1, 3]}
    kw = dict(feature_perturbation="correlation_dependent", feature_groups=groups)
    exact = LinearExplainer(model, bg, algorithm="exact", **kw)
    sampled = LinearExplainer(model, bg, algorithm="permutation", n_permutations=2, **kw)
    np.testing.assert_allclose(sampled.transform, exact.transform, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sampled(Xe).values, exact(Xe).values, rtol=0, atol=1e-10)


def test_sampled_transform_is_unbiased_with_its_standard_error():
    X = correlated(80, 6, 12)
    model = LinearRegression().fit(X, X @ [1.0, -1.0, 2.0, 0.0, 0.5, -2.0])
    bg, Xe = X[:60], X[60:70]
    kw = dict(feature_perturbation="correlation_dependent")
    exact = LinearExplainer(model, bg, algorithm="exact", **kw)
    sampled = LinearExplainer(
        model, bg, algorithm="permutation", n_permutations=400, random_state=0, **kw
    )
    se = sampled.transform_standard_error
    assert exact.transform_standard_error is None
    assert np.isfinite(se).all() and se.max() > 0
    # entrywise within 5 of the estimator's own standard errors (normal, 400 pairs)
    assert np.all(np.abs(sampled.transform - exact.transform) <= 5 * se + 1e-12)
    ex = sampled(Xe)
    assert ex.additivity_error.max() < 1e-10
    assert ex.params["algorithm"] == "permutation"
    assert ex.params["n_permutations"] == 400
    assert ex.params["random_state"] == 0
    again = LinearExplainer(
        model, bg, algorithm="permutation", n_permutations=400, random_state=0, **kw
    )
    np.testing.assert_array_equal(again(Xe).values, ex.values)
    other = LinearExplainer(
        model, bg, algorithm="permutation", n_permutations=400, random_state=1, **kw
    )
    assert not np.array_equal(other.transform, sampled.transform)
    one = LinearExplainer(model, bg, algorithm="permutation", n_permutations=1, **kw)
    assert np.isnan(one.transform_standard_error).all()


def test_auto_samples_beyond_fourteen_players():
    X = correlated(60, 15, 13)
    model = Ridge().fit(X, X @ np.linspace(-1, 1, 15))
    explainer = LinearExplainer(
        model, X[:40], feature_perturbation="correlation_dependent", n_permutations=50,
        random_state=np.random.default_rng(3), progress=False,
    )  # fmt: skip
    ex = explainer(X[40:])
    assert explainer.algorithm == "permutation"
    assert ex.values.shape == (20, 15, 1)
    assert ex.additivity_error.max() < 1e-10
    json.dumps(ex.params)


def test_matches_shap_correlation_dependent_within_its_sampling_error(reg5):
    # shap estimates the same transform from 1000 random orderings (np.random's global
    # state); its sampling error is measured from 8 seeded runs and the mean of those runs
    # must agree with the exact values within 6 standard errors of that mean
    shap = requires("shap")
    model, bg, Xe = reg5
    ours = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    state = np.random.get_state()  # noqa: NPY002 (shap draws from the legacy global state)
    runs = []
    try:
        for seed in range(8):
            np.random.seed(seed)  # noqa: NPY002
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = shap.LinearExplainer(
                    (model.coef_, model.intercept_),
                    (bg.mean(axis=0), gaussian_covariance(bg)),
                    feature_perturbation="correlation_dependent",
                )
            runs.append(theirs.shap_values(Xe))
    finally:
        np.random.set_state(state)  # noqa: NPY002
    runs = np.array(runs)
    standard_error = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(axis=0) - ours.values[:, :, 0]) <= 6 * standard_error)
    np.testing.assert_allclose(ours.base_values[:, 0], theirs.expected_value, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------- models and data
def test_pipeline_of_affine_steps_is_explained_in_input_columns():
    X = pd.DataFrame(correlated(100, 4, 14, offset=[10.0, -5.0, 1e3, 0.0]), columns=list("abcd"))
    y = (X["a"] - X["b"] + 0.01 * X["c"] > 15).astype(int)
    model = make_pipeline(StandardScaler(), PCA(whiten=True), LogisticRegression()).fit(X, y)
    bg, Xe = X.iloc[:40], X.iloc[80:85]
    ours = LinearExplainer(model, bg)(Xe)
    exact = ExactExplainer(model, bg, output="raw")(Xe)
    np.testing.assert_allclose(ours.values, exact.values, rtol=0, atol=1e-10)
    assert ours.feature_names == ("a", "b", "c", "d")
    cond = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")(Xe)
    mean, cov = bg.to_numpy().mean(axis=0), gaussian_covariance(bg.to_numpy())

    def margin(Z):
        return model.decision_function(pd.DataFrame(Z, columns=list("abcd")))

    for r in range(len(Xe)):
        truth = brute_force_conditional(margin, Xe.to_numpy()[r], mean, cov, [[0], [1], [2], [3]])
        np.testing.assert_allclose(cond.values[r], truth, rtol=0, atol=1e-10)
    scaled = make_pipeline(MinMaxScaler(), Ridge()).fit(X, X["a"] * 2 - X["d"])
    np.testing.assert_allclose(
        LinearExplainer(scaled, bg)(Xe).values,
        ExactExplainer(scaled, bg)(Xe).values,
        rtol=0,
        atol=1e-10,
    )


def test_pandas_columns_are_matched_by_name(reg5):
    model, bg, Xe = reg5
    names = ["age", "income", "rate", "debt", "score"]
    frame_model = Ridge(alpha=0.5).fit(pd.DataFrame(bg, columns=names), bg @ [1, 2, 3, 4, 5])
    explainer = LinearExplainer(frame_model, pd.DataFrame(bg, columns=names))
    in_order = explainer(pd.DataFrame(Xe, columns=names))
    shuffled = explainer(pd.DataFrame(Xe, columns=names)[names[::-1]])
    assert in_order.feature_names == tuple(names)
    np.testing.assert_array_equal(shuffled.values, in_order.values)
    np.testing.assert_array_equal(shuffled.data, Xe)
    with pytest.raises(InputError, match="missing 'debt'"):
        explainer(pd.DataFrame(Xe, columns=names).drop(columns="debt"))


def test_batch_equals_row_by_row_and_params_are_json(clf3):
    model, bg, Xe = clf3
    explainer = LinearExplainer(model, bg, feature_perturbation="correlation_dependent")
    ex = explainer(Xe)
    rows = np.concatenate([explainer(Xe[i : i + 1]).values for i in range(len(Xe))])
    np.testing.assert_allclose(rows, ex.values, rtol=0, atol=1e-13)
    params = json.loads(json.dumps(ex.params))
    assert params["feature_perturbation"] == "correlation_dependent"
    assert params["background_rows"] == 60
    assert "whybox_version" in params
    np.testing.assert_allclose(explainer.expected_value, ex.base_values[0], rtol=0, atol=0)
    np.testing.assert_allclose(explainer.mean, bg.mean(axis=0), rtol=0, atol=0)
    np.testing.assert_allclose(explainer.covariance, gaussian_covariance(bg), rtol=1e-12, atol=0)


def test_binary_logistic_log_odds_is_its_margin():
    X = correlated(100, 3, 15)
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    raw = LinearExplainer(model, X[:30])(X[90:])
    log_odds = LinearExplainer(model, X[:30], output="log_odds")(X[90:])
    assert log_odds.output_space == "log_odds"
    np.testing.assert_array_equal(log_odds.values, raw.values)
    p = model.predict_proba(X[90:])[:, 1]
    np.testing.assert_allclose(log_odds.model_output[:, 0], np.log(p / (1 - p)), atol=1e-9)


def test_supports():
    X = correlated(40, 3, 16)
    y = X[:, 0] + X[:, 1]
    label = (y > 0).astype(int)
    assert LinearExplainer.supports(Ridge().fit(X, y))
    assert LinearExplainer.supports(LinearSVC().fit(X, label))
    assert LinearExplainer.supports(adapt_model(LogisticRegression().fit(X, label)))
    assert LinearExplainer.supports(make_pipeline(StandardScaler(), Ridge()).fit(X, y))
    assert not LinearExplainer.supports(RandomForestRegressor(n_estimators=2).fit(X, y))
    assert not LinearExplainer.supports(PoissonRegressor().fit(X, np.exp(y)))
    assert not LinearExplainer.supports(make_pipeline(PolynomialFeatures(), Ridge()).fit(X, y))
    # clipping is not affine but acts column by column: read through the column map
    assert LinearExplainer.supports(make_pipeline(MinMaxScaler(clip=True), Ridge()).fit(X, y))
    assert not LinearExplainer.supports(lambda Z: Z.sum(axis=1))
    assert not LinearExplainer.supports(Ridge())


class ExpRidge(Ridge):
    """A Ridge whose predictions are exponentiated: linear-looking, but not linear."""

    def predict(self, X):
        return np.exp(super().predict(X))


def test_bad_input(reg5, clf3):
    model, bg, Xe = reg5
    X = correlated(40, 5, 17)
    with pytest.raises(UnsupportedModelError, match="ExactExplainer"):
        LinearExplainer(RandomForestRegressor(n_estimators=2).fit(X, X[:, 0]), X)
    with pytest.raises(UnsupportedModelError, match="ExactExplainer"):
        LinearExplainer(make_pipeline(PolynomialFeatures(), Ridge()).fit(X, X[:, 0]), X)
    with pytest.raises(UnsupportedModelError, match="not linear"):
        LinearExplainer(ExpRidge().fit(X, X[:, 0]), X)
    with pytest.raises(UnsupportedModelError, match="multi-output"):
        LinearExplainer(Ridge().fit(X, X[:, :2]), X)
    with pytest.raises(InputError, match="not fitted"):
        LinearExplainer(Ridge(), X)
    with pytest.raises(InputError, match="ExactExplainer or whybox.PermutationExplainer"):
        LinearExplainer(clf3[0], clf3[1], output="probability")
    with pytest.raises(InputError, match="log_odds"):
        LinearExplainer(clf3[0], clf3[1], output="log_odds")  # multinomial: not linear
    with pytest.raises(InputError, match="output must be"):
        LinearExplainer(model, bg, output="margin")
    with pytest.raises(InputError, match="feature_perturbation"):
        LinearExplainer(model, bg, feature_perturbation="independent")
    with pytest.raises(InputError, match="algorithm"):
        LinearExplainer(model, bg, algorithm="fast")
    for bad in (0, True, 2.5):
        with pytest.raises(InputError, match="n_permutations"):
            LinearExplainer(model, bg, n_permutations=bad)
    with pytest.raises(InputError, match="background"):
        LinearExplainer(model, None)
    with pytest.raises(InputError, match="columns"):
        LinearExplainer(model, bg[:, :4])
    with pytest.raises(InputError, match="at least two rows"):
        LinearExplainer(model, bg[:1], feature_perturbation="correlation_dependent")
    with pytest.raises(InputError, match="feature_groups"):
        LinearExplainer(model, bg, feature_groups={"g": ["nope"]})
    wide = correlated(30, 17, 18)
    with pytest.raises(InputError, match="at most 16 players"):
        LinearExplainer(
            Ridge().fit(wide, wide[:, 0]),
            wide,
            feature_perturbation="correlation_dependent",
            algorithm="exact",
        )
    explainer = LinearExplainer(model, bg)
    with pytest.raises(InputError, match="columns"):
        explainer(Xe[:, :3])
