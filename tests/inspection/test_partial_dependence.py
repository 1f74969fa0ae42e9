"""Partial dependence and ICE: scikit-learn's brute force and recursion, closed forms, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from tests.inspection._helpers import additive
from whybox._exceptions import InputError
from whybox.adapters import adapt_data, adapt_model
from whybox.inspection import PartialDependence, partial_dependence
from whybox.inspection._tree_recursion import tree_ensemble

TOL = 1e-9


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4))
    y = X[:, 0] ** 2 + X[:, 1] * X[:, 2] + rng.normal(0, 0.1, len(X))
    y_bin = (X[:, 0] + X[:, 1] > 0).astype(int)
    y_multi = np.digitize(X[:, 0] + X[:, 2], [-0.5, 0.5])
    return X, y, y_bin, y_multi


def _logit(p):
    return np.log(p / (1 - p))


def _centred_log_priors(y):
    logp = np.log(np.bincount(y) / len(y))
    return logp - logp.mean()


# Each tree model, its target, and the constant scikit-learn's recursion leaves out:
# the initial prediction of boosting (mean for squared error, prior log-odds for log loss,
# centred log priors for the multinomial loss); forests and single trees have none.
RECURSION_CASES = {
    "tree": (lambda: DecisionTreeRegressor(max_depth=5, random_state=0), "y", lambda y: 0.0),
    "forest": (
        lambda: RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0),
        "y",
        lambda y: 0.0,
    ),
    "gbr": (lambda: GradientBoostingRegressor(n_estimators=15, random_state=0), "y", np.mean),
    "gbc-binary": (
        lambda: GradientBoostingClassifier(n_estimators=10, random_state=0),
        "y_bin",
        lambda y: _logit(y.mean()),
    ),
    "gbc-multiclass": (
        lambda: GradientBoostingClassifier(n_estimators=8, random_state=0),
        "y_multi",
        _centred_log_priors,
    ),
    "hgbr": (lambda: HistGradientBoostingRegressor(max_iter=15, random_state=0), "y", np.mean),
    "hgbc-multiclass": (
        lambda: HistGradientBoostingClassifier(max_iter=8, random_state=0),
        "y_multi",
        _centred_log_priors,
    ),
}


@pytest.mark.parametrize("case", list(RECURSION_CASES))
def test_recursion_equals_scikit_learn_recursion_plus_the_initial_prediction(data, case):
    X, y, y_bin, y_multi = data
    make, target, offset_of = RECURSION_CASES[case]
    yy = {"y": y, "y_bin": y_bin, "y_multi": y_multi}[target]
    model = make().fit(X, yy)
    for features, sk_features in [(1, [1]), ((0, 2), [(0, 2)])]:
        ref = sk_partial_dependence(model, X, sk_features, method="recursion", grid_resolution=9)
        ours = partial_dependence(
            model, X, features, method="recursion", output="raw", grid_resolution=9
        )
        assert ours.method == "recursion" and ours.individual is None
        for a, b in zip(ours.grid_values, ref["grid_values"], strict=True):
            np.testing.assert_array_equal(a, b)
        off = np.reshape(offset_of(yy), (-1,) + (1,) * len(ours.grid_values))
        assert ours.average.shape == ref["average"].shape
        assert np.abs(ours.average - off - ref["average"]).max() <= TOL


@pytest.mark.parametrize("case", ["gbr", "hgbr", "forest"])
def test_flattened_trees_are_reused_until_the_model_is_refitted(data, case):
    X, y, _, _ = data
    make, _, offset_of = RECURSION_CASES[case]
    model = make().fit(X, y)
    first = tree_ensemble(adapt_model(model), adapt_data(X))
    assert tree_ensemble(adapt_model(model), adapt_data(X)) is first  # kept, not rebuilt
    model.fit(X, -2.0 * y)  # the same object refitted: new trees, a new offset
    ref = sk_partial_dependence(model, X, [1], method="recursion", grid_resolution=5)
    ours = partial_dependence(model, X, 1, method="recursion", output="raw", grid_resolution=5)
    off = np.asarray(offset_of(-2.0 * y))
    assert np.abs(ours.average - off - ref["average"]).max() <= TOL


def test_recursion_of_boosted_stumps_equals_brute_force_on_the_training_data(data):
    # Stumps never split below a split on the features asked for, so the training shares
    # the recursion uses are the shares of the training rows: exactly the brute-force mean.
    X, y, _, _ = data
    model = GradientBoostingRegressor(n_estimators=40, max_depth=1, random_state=0).fit(X, y)
    for features in (0, (1, 2)):
        rec = partial_dependence(model, X, features, method="recursion", grid_resolution=7)
        brute = partial_dependence(model, X, features, method="brute", grid_resolution=7)
        assert brute.method == "brute"
        assert np.abs(rec.average - brute.average).max() <= TOL


def test_recursion_is_path_dependent_closed_form():
    # Training data: (x1, x2) = (0,0) x3, (0,1) x1, (1,0) x1, (1,1) x3 and y = 2 x1 + x2.
    # The depth-2 tree splits on x1 first (SSE 1.5 against 6 for x2), then on x2, and fits
    # y exactly. Brute force over these rows: PD_x1(z) = 2z + mean(x2) = 2z + 0.5.
    # Recursion: below the x1 split the x2 split shares are taken in the branch:
    # z = 0 -> 3/4 * 0 + 1/4 * 1 = 0.25; z = 1 -> 1/4 * 2 + 3/4 * 3 = 2.75, E[f | x1 = z].
    X = np.array([[0, 0]] * 3 + [[0, 1]] + [[1, 0]] + [[1, 1]] * 3, dtype=np.float64)
    y = 2 * X[:, 0] + X[:, 1]
    tree = DecisionTreeRegressor(max_depth=2).fit(X, y)
    assert tree.tree_.feature[0] == 0 and np.allclose(tree.predict(X), y)
    rec = partial_dependence(tree, X, 0)  # auto: recursion, as scikit-learn
    brute = partial_dependence(tree, X, 0, method="brute")
    assert rec.method == "recursion"
    np.testing.assert_allclose(rec.average[0], [0.25, 2.75], atol=1e-15)
    np.testing.assert_allclose(brute.average[0], [0.5, 2.5], atol=1e-15)
    # for x2 the x1 split sits above, where its shares are the whole data's: both agree
    rec2 = partial_dependence(tree, X, 1)
    np.testing.assert_allclose(rec2.average[0], [1.0, 2.0], atol=1e-15)


def test_auto_uses_recursion_only_where_scikit_learn_does_and_the_output_is_raw(data):
    X, y, y_bin, _ = data
    gbr = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(X, y)
    gbc = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y_bin)
    w = np.ones(len(X))
    assert partial_dependence(gbr, X, 0, grid_resolution=5).method == "recursion"
    assert partial_dependence(gbr, X, 0, kind="both", grid_resolution=5).method == "brute"
    assert partial_dependence(gbr, X, 0, sample_weight=w, grid_resolution=5).method == "brute"
    # a classifier's default output is the probability, which is no sum of leaves
    assert partial_dependence(gbc, X, 0, grid_resolution=5).method == "brute"
    assert partial_dependence(gbc, X, 0, output="raw", grid_resolution=5).method == "recursion"
    init = GradientBoostingClassifier(
        n_estimators=5, init=DummyClassifier(strategy="prior"), random_state=0
    ).fit(X, y_bin)
    assert partial_dependence(init, X, 0, output="raw", grid_resolution=5).method == "brute"
    pipe = make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=5)).fit(X, y)
    assert partial_dependence(pipe, X, 0, grid_resolution=5).method == "brute"
    cat = partial_dependence(gbr, np.round(X), 0, categorical_features=[0])
    assert cat.method == "brute" and cat.categorical == (True,)
    # a log link: raw output = exp(sum of leaves), caught by the additivity check
    poisson = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X, np.exp(y / 4))
    assert partial_dependence(poisson, X, 0, grid_resolution=5).method == "brute"
    with pytest.raises(InputError, match="not a constant plus the sum of its leaves"):
        partial_dependence(poisson, X, 0, method="recursion")


def test_recursion_refuses_what_it_cannot_do(data):
    X, y, y_bin, _ = data
    gbr = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X, y)
    gbc = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y_bin)
    with pytest.raises(InputError, match="method='recursion'.*kind='both'"):
        partial_dependence(gbr, X, 0, method="recursion", kind="both")
    with pytest.raises(InputError, match="sample_weight"):
        partial_dependence(gbr, X, 0, method="recursion", sample_weight=np.ones(len(X)))
    with pytest.raises(InputError, match="not 'probability'.*output='raw'"):
        partial_dependence(gbc, X, 0, method="recursion")
    with pytest.raises(InputError, match="LogisticRegression is not one of the tree models"):
        partial_dependence(LogisticRegression().fit(X, y_bin), X, 0, method="recursion")
    weighted = HistGradientBoostingRegressor(max_iter=5).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(InputError, match="fitted with sample weights"):
        partial_dependence(weighted, X, 0, method="recursion")
    with pytest.raises(InputError, match="method must be one of"):
        partial_dependence(gbr, X, 0, method="fast")


def test_ice_two_way_and_binary_probabilities_equal_scikit_learn(data):
    X, _, y_bin, _ = data
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y_bin)
    ref = sk_partial_dependence(model, X, [(0, 3)], kind="both", grid_resolution=6)
    ours = partial_dependence(model, X, (0, 3), kind="both", grid_resolution=6)
    assert ours.method == "brute" and ours.output_space == "probability"
    assert ours.individual.shape == (1, len(X), 6, 6) == ref["individual"].shape
    assert np.abs(ours.average - ref["average"]).max() <= TOL
    assert np.abs(ours.individual - ref["individual"]).max() <= TOL
    only = partial_dependence(model, X, 2, kind="individual", grid_resolution=6)
    ref1 = sk_partial_dependence(model, X, [2], kind="individual", grid_resolution=6)
    assert np.abs(only.individual - ref1["individual"]).max() <= TOL


def test_centred_ice_starts_at_zero_and_matches_scikit_learn_shifted(data):
    X, y, _, _ = data
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    ref = sk_partial_dependence(model, X, [1], kind="both", grid_resolution=8)
    res = partial_dependence(model, X, 1, kind="both", grid_resolution=8, centered=True)
    assert np.all(res.individual[..., 0] == 0) and np.all(res.average[..., 0] == 0)
    expected = ref["individual"] - ref["individual"][..., :1]
    assert np.abs(res.individual - expected).max() <= TOL
    assert np.abs(res.average - expected.mean(axis=1)).max() <= TOL
    rec = partial_dependence(model, X, 1, centered=True, grid_resolution=8)
    assert rec.method == "recursion" and rec.average[0, 0] == 0


def test_custom_values_and_categorical_features_equal_scikit_learn(data):
    X, y, _, _ = data
    Xc = X.copy()
    Xc[:, 3] = np.random.default_rng(5).integers(0, 12, size=len(X))  # 12 integer codes
    model = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(Xc, y)
    values = np.array([-1.0, 0.0, 0.3, 2.0])
    ref = sk_partial_dependence(
        model, Xc, [0], custom_values={0: values}, kind="both", method="brute"
    )
    ours = partial_dependence(model, Xc, 0, custom_values={0: values}, kind="both")
    np.testing.assert_array_equal(ours.grid_values[0], values)
    assert np.abs(ours.individual - ref["individual"]).max() <= TOL
    # grid_resolution=5 < 12 distinct codes: numeric -> 5 points, categorical -> the 12 codes
    assert len(partial_dependence(model, Xc, 3, grid_resolution=5).grid_values[0]) == 5
    ref = sk_partial_dependence(
        model, Xc, [3], categorical_features=[3], grid_resolution=5, kind="both"
    )
    for spec in ([3], ["x3"], 3, [False, False, False, True]):
        ours = partial_dependence(
            model, Xc, 3, categorical_features=spec, grid_resolution=5, kind="both"
        )
        assert ours.categorical == (True,) and len(ours.grid_values[0]) == 12
        np.testing.assert_array_equal(ours.grid_values[0], ref["grid_values"][0])
        assert np.abs(ours.average - ref["average"]).max() <= TOL
    with pytest.raises(InputError, match="categorical.*grid='uniform'"):
        partial_dependence(model, Xc, 3, categorical_features=[3], grid="uniform")
    with pytest.raises(InputError, match="boolean mask needs 4 entries"):
        partial_dependence(model, Xc, 3, categorical_features=[True, False])
    with pytest.raises(InputError, match="categorical_features names 'x9'"):
        partial_dependence(model, Xc, 3, categorical_features=["x9"])


def test_sample_uses_a_seeded_subset_of_the_rows_and_the_full_grid(data):
    X, _, _, _ = data
    # smooth, so that no two rows share an ICE curve
    model = adapt_model(lambda A: np.sin(A[:, 0]) * A[:, 1] + A[:, 2] ** 3, task="regression")
    full = partial_dependence(model, X, 0, kind="both", grid_resolution=6)
    part = partial_dependence(
        model, X, 0, kind="both", grid_resolution=6, max_samples=50, random_state=3
    )
    again = partial_dependence(
        model, X, 0, kind="both", grid_resolution=6, max_samples=50, random_state=3
    )
    other = partial_dependence(
        model, X, 0, kind="both", grid_resolution=6, max_samples=50, random_state=4
    )
    np.testing.assert_array_equal(part.grid_values[0], full.grid_values[0])
    assert part.individual.shape == (1, 50, 6) and part.params["n_given"] == len(X)
    np.testing.assert_array_equal(part.individual, again.individual)
    assert not np.array_equal(part.individual, other.individual)
    # every sampled curve is one of the full curves, no row twice, and PD is their mean
    match = [np.flatnonzero((full.individual[0] == c).all(axis=1)) for c in part.individual[0]]
    rows = [m[0] for m in match]
    assert all(len(m) >= 1 for m in match) and len(set(rows)) == 50
    np.testing.assert_allclose(part.average[0], part.individual[0].mean(axis=0), atol=1e-12)
    frac = partial_dependence(model, X, 0, kind="individual", max_samples=0.25, random_state=0)
    assert frac.individual.shape[1] == 60
    assert (
        partial_dependence(model, X, 0, kind="both", max_samples=10_000).individual.shape[1] == 240
    )
    for bad in (0, 1.5, True, "10"):
        with pytest.raises(InputError, match="max_samples must be"):
            partial_dependence(model, X, 0, max_samples=bad)


def test_grids_and_closed_forms():
    rng = np.random.default_rng(6)
    X = rng.uniform(-2, 2, size=(120, 3))
    linear = adapt_model(lambda A: 3.0 * A[:, 0] - A[:, 1] + 0.5 * A[:, 2], task="regression")
    res = partial_dependence(linear, X, 0, grid="uniform", grid_resolution=5, kind="both")
    np.testing.assert_allclose(
        res.grid_values[0], np.linspace(X[:, 0].min(), X[:, 0].max(), 5), rtol=0, atol=0
    )
    # PD of a linear model: 3 z + mean of the rest; every ICE curve has slope 3
    rest = (-X[:, 1] + 0.5 * X[:, 2]).mean()
    np.testing.assert_allclose(res.average[0], 3.0 * res.grid_values[0] + rest, atol=1e-12)
    np.testing.assert_allclose(
        np.diff(res.individual[0], axis=1) / np.diff(res.grid_values[0]), 3.0
    )
    pair = partial_dependence(linear, X, (0, 1), grid_resolution=4)
    z0, z1 = np.meshgrid(*pair.grid_values, indexing="ij")
    np.testing.assert_allclose(pair.average[0], 3 * z0 - z1 + 0.5 * X[:, 2].mean(), atol=1e-12)
    # the percentiles grid: linspace between the quantiles of scikit-learn's rule
    # (scipy's mquantiles, plotting positions alpha = beta = 0.4), written out here
    q = partial_dependence(linear, X, 2, grid_resolution=3, percentiles=(0.1, 0.9))
    xs, n = np.sort(X[:, 2]), len(X)

    def quantile(p):
        h = n * p + 0.4 + p * (1 - 0.8)
        k = int(np.floor(np.clip(h, 1, n - 1)))
        g = np.clip(h - k, 0, 1)
        return (1 - g) * xs[k - 1] + g * xs[k]

    lo, hi = quantile(0.1), quantile(0.9)
    np.testing.assert_allclose(q.grid_values[0], [lo, (lo + hi) / 2, hi], atol=1e-12)


def test_result_serialises_and_frames(data):
    X, y, _, _ = data
    model = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X, y)
    res = partial_dependence(model, X, (0, 1), grid_resolution=3)
    assert isinstance(res, PartialDependence)
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["method"] == "recursion" and payload["params"]["method"] == "auto"
    assert np.allclose(payload["average"], res.average)
    frame = res.to_frame()
    assert len(frame) == 9 and list(frame.columns) == ["x0", "x1", "output", "average"]
    np.testing.assert_array_equal(frame["average"].to_numpy().reshape(3, 3), res.average[0])


def test_bad_grid_input(data):
    X, y, _, _ = data
    model = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(InputError, match="grid must be one of"):
        partial_dependence(model, X, 0, grid="quantile")
    with pytest.raises(InputError, match="percentiles must be two numbers"):
        partial_dependence(model, X, 0, percentiles=0.5)
    spiky = X.copy()
    spiky[:, 0] = 1.0
    spiky[:10, 0] = np.arange(2.0, 12.0)  # 11 distinct values, the 5th and 95th are 1
    with pytest.raises(InputError, match="percentiles .* are equal"):
        partial_dependence(model, spiky, 0, grid_resolution=5)
    with pytest.raises(InputError, match="same column twice"):
        partial_dependence(model, X, (1, "x1"))
    with pytest.raises(InputError, match=r"custom_values\['x0'\] must be a non-empty 1-D"):
        partial_dependence(model, X, 0, custom_values={0: [[1.0, 2.0]]})
    with pytest.raises(InputError, match="'x1' is categorical, so grid='uniform'"):
        partial_dependence(model, X, 1, grid="uniform", categorical_features=["x1"])


def test_pd_and_ice_equal_scikit_learn_regression(regression):
    model, X = regression
    ref = sk_partial_dependence(model, X, [0], kind="both", method="brute", grid_resolution=25)
    ours = partial_dependence(model, X, 0, kind="both", grid_resolution=25)
    np.testing.assert_array_equal(ours.grid_values[0], ref["grid_values"][0])
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    assert ours.output_space == "raw" and ours.individual.shape == (1, 300, 25)


def test_pd_multiclass_probabilities_and_two_way_equal_scikit_learn(multiclass):
    model, X = multiclass
    ref = sk_partial_dependence(model, X, [1], kind="both", method="brute", grid_resolution=15)
    ours = partial_dependence(model, X, "x1", kind="both", grid_resolution=15)
    assert ours.average.shape == (3, 15) and ours.output_space == "probability"
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    ref2 = sk_partial_dependence(model, X, [(0, 1)], method="brute", grid_resolution=8)
    ours2 = partial_dependence(model, X, (0, 1), grid_resolution=8)
    assert ours2.average.shape == (3, 8, 8)
    assert np.abs(ours2.average - ref2["average"]).max() <= 1e-9
    frame = ours2.to_frame()
    assert len(frame) == 3 * 64 and {"x0", "x1", "output", "average"} <= set(frame.columns)


def test_pd_pipeline_with_categorical_column_equals_scikit_learn():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"num": rng.normal(size=200), "cat": rng.choice(["a", "b", "c"], size=200)}
    )
    y = ((frame["num"] > 0) ^ (frame["cat"] == "b")).astype(int)
    pre = ColumnTransformer([("oh", OneHotEncoder(), ["cat"])], remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression()).fit(frame, y)
    ref = sk_partial_dependence(
        model, frame, ["cat"], categorical_features=["cat"], kind="both", method="brute"
    )
    ours = partial_dependence(model, frame, "cat", kind="both")
    assert list(ours.grid_values[0]) == ["a", "b", "c"] and ours.categorical == (True,)
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9
    assert np.abs(ours.individual - ref["individual"]).max() <= 1e-9
    with pytest.raises(InputError, match="categorical"):
        partial_dependence(model, frame, "cat", grid="uniform")


def test_pd_of_an_additive_model_is_the_component_and_ice_is_parallel():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(150, 3))
    model = adapt_model(additive, task="regression")
    res = partial_dependence(
        model, X, 1, kind="both", grid="uniform", grid_resolution=11, centered=True
    )
    z = res.grid_values[0]
    np.testing.assert_allclose(res.grid_values[0][[0, -1]], [X[:, 1].min(), X[:, 1].max()])
    # centred: g2(z) - g2(z_0) for the average and for every single row (parallel ICE)
    np.testing.assert_allclose(res.average[0], z**2 - z[0] ** 2, atol=1e-12)
    np.testing.assert_allclose(res.individual[0], np.tile(z**2 - z[0] ** 2, (150, 1)), atol=1e-12)
    plain = partial_dependence(model, X, 1, grid="uniform", grid_resolution=11)
    rest = np.sin(X[:, 0]) + 0.5 * X[:, 2]
    np.testing.assert_allclose(plain.average[0], z**2 + rest.mean(), atol=1e-12)


def test_pd_batch_size_and_sample_weight(regression):
    model, X = regression
    full = partial_dependence(model, X, 2, kind="both", grid_resolution=10)
    small = partial_dependence(model, X, 2, kind="both", grid_resolution=10, batch_size=7)
    np.testing.assert_array_equal(full.individual, small.individual)
    w = np.random.default_rng(4).uniform(0, 2, size=len(X))
    ref = sk_partial_dependence(model, X, [2], method="brute", grid_resolution=10, sample_weight=w)
    ours = partial_dependence(model, X, 2, grid_resolution=10, sample_weight=w)
    assert np.abs(ours.average - ref["average"]).max() <= 1e-9


def test_pd_bad_input(regression):
    model, X = regression
    frame = pd.DataFrame(X, columns=["age", "income", "debt", "score"])
    with pytest.raises(InputError, match="'incme'.*closest.*income"):
        partial_dependence(model, frame, "incme")
    const = X.copy()
    const[:, 3] = 1.0
    with pytest.raises(InputError, match="single value"):
        partial_dependence(model, const, 3)
    with pytest.raises(InputError, match="kind"):
        partial_dependence(model, X, 0, kind="mean")
    with pytest.raises(InputError, match="grid_resolution"):
        partial_dependence(model, X, 0, grid_resolution=1)
    with pytest.raises(InputError, match="percentiles"):
        partial_dependence(model, X, 0, percentiles=(0.9, 0.1))
    with pytest.raises(InputError, match="one feature or a pair"):
        partial_dependence(model, X, [0, 1, 2])
    with pytest.raises(InputError, match="position 9"):
        partial_dependence(model, X, 9)
