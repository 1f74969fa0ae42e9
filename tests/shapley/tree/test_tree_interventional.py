"""Interventional TreeSHAP: equal to brute force, to ExactExplainer and to shap."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor

import whybox
from tests._requires import lazy, requires
from whybox import InputError
from whybox.shapley import ExactExplainer, TreeExplainer
from whybox.shapley._exact import all_coalitions, shapley_weight_matrix
from whybox.shapley.tree._ensemble import TreeEnsemble, parse_ensemble
from whybox.shapley.tree._interventional import (
    InterventionalLayout,
    interventional_shap,
    shapley_pair_weights,
    table_limit,
)
from whybox.shapley.tree._path_dependent import ensemble_predict
from whybox.shapley.tree._primitives import (
    CATEGORICAL_RULES,
    MISSING_NAN,
    MISSING_NONE,
    MISSING_ZERO,
    SPLIT_CATEGORICAL,
)

xgb = lazy("xgboost")
lgb = lazy("lightgbm")

VALUES = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 7.0, np.nan])


# ---------------------------------------------------------------------- helpers
def brute_force(ensemble: TreeEnsemble, X: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = mean_z f(x_S, z_notS), every coalition evaluated with
    whybox's own float64 traversal."""
    p = X.shape[1]
    coalitions = all_coalitions(p)
    weights = shapley_weight_matrix(p)
    out = []
    for x in X:
        hybrid = np.where(coalitions[:, None, :], x[None, None, :], background[None, :, :])
        f = ensemble_predict(ensemble, hybrid.reshape(-1, p))
        v = f.reshape(len(coalitions), len(background), -1).mean(axis=1)
        out.append(weights @ v)
    return np.array(out)


def random_ensemble(
    rng: np.random.Generator,
    *,
    n_trees: int,
    n_features: int,
    max_depth: int,
    n_outputs: int = 1,
    per_output: bool = True,
    strict_less: bool = False,
) -> TreeEnsemble:
    """Random trees with every missing-value rule and LightGBM categorical splits."""
    trees = []
    for _ in range(n_trees):
        nodes: list[dict] = []

        def grow(depth: int, nodes: list[dict] = nodes) -> int:
            idx = len(nodes)
            nodes.append({})
            if depth == max_depth or (depth > 0 and rng.random() < 0.25):
                nodes[idx] = {"leaf": True, "value": rng.normal(size=n_outputs)}
                return idx
            rule = int(rng.choice([MISSING_NAN, MISSING_ZERO, MISSING_NONE, *CATEGORICAL_RULES]))
            thr = float(rng.integers(0, 3)) if rule in CATEGORICAL_RULES else rng.choice(VALUES[:5])
            node = {
                "leaf": False,
                "feature": int(rng.integers(n_features)),
                "threshold": thr,
                "rule": rule,
                "default_left": bool(rng.random() < 0.5),
            }
            nodes[idx] = node
            node["left"] = grow(depth + 1)
            node["right"] = grow(depth + 1)
            return idx

        grow(0)
        trees.append(nodes)
    max_nodes = max(len(t) for t in trees)
    shape = (n_trees, max_nodes)
    left = np.full(shape, -1, np.int32)
    right = np.full(shape, -1, np.int32)
    feat = np.full(shape, -1, np.int32)
    thr = np.zeros(shape)
    dleft = np.zeros(shape, bool)
    rule = np.zeros(shape, np.int8)
    values = np.zeros((*shape, n_outputs))
    tree_output = np.full(n_trees, -1, np.int32)
    for t, nodes in enumerate(trees):
        if per_output:
            tree_output[t] = t % n_outputs
        for i, node in enumerate(nodes):
            if node["leaf"]:
                if per_output:
                    values[t, i, tree_output[t]] = node["value"][0]
                else:
                    values[t, i] = node["value"]
                continue
            left[t, i], right[t, i] = node["left"], node["right"]
            feat[t, i], thr[t, i] = node["feature"], node["threshold"]
            dleft[t, i], rule[t, i] = node["default_left"], node["rule"]
    return TreeEnsemble(
        children_left=left,
        children_right=right,
        features=feat,
        thresholds=thr,
        default_left=dleft,
        missing_rule=rule,
        covers=np.where(left >= -1, 1.0, 0.0),
        values=values,
        tree_output=tree_output,
        base_offset=rng.normal(size=n_outputs),
        n_features=n_features,
        strict_less=strict_less,
        float32_input=False,
        family="random",
        category_sets=rng.random((3, 5)) < 0.5,
    )


def random_rows(rng: np.random.Generator, n: int, p: int) -> np.ndarray:
    return rng.choice(VALUES, size=(n, p))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 + 0.3 * X[:, 4]
    return X, y


# ---------------------------------------------------------------------- the kernel
@pytest.mark.parametrize("seed", range(6))
def test_random_ensembles_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(2, 6))
    e = random_ensemble(
        rng,
        n_trees=int(rng.integers(1, 6)),
        n_features=p,
        max_depth=int(rng.integers(1, 7)),
        n_outputs=int(rng.integers(1, 4)),
        per_output=bool(seed % 2),
        strict_less=bool(seed % 3 == 0),
    )
    X, Z = random_rows(rng, 7, p), random_rows(rng, 9, p)
    expected = brute_force(e, X, Z)
    for limit in (0, 2, 12):  # all pairwise, mixed, all tables
        phi = interventional_shap(e, X, Z, max_table_features=limit)
        np.testing.assert_allclose(phi, expected, rtol=0, atol=1e-12)
    # local accuracy: the values move the mean over the background to f(x)
    total = phi.sum(axis=1) + ensemble_predict(e, Z).mean(axis=0)
    np.testing.assert_allclose(total, ensemble_predict(e, X), rtol=0, atol=1e-12)


def test_deep_paths_take_the_pairwise_kernel_and_agree_with_tables():
    rng = np.random.default_rng(7)
    e = random_ensemble(rng, n_trees=3, n_features=10, max_depth=12)
    lay = InterventionalLayout(e)
    assert lay.max_path_features > table_limit(5)  # some leaves are pairwise by default
    X, Z = random_rows(rng, 5, 10), random_rows(rng, 40, 10)
    pairwise = interventional_shap(e, X, Z, layout=lay, max_table_features=0)
    default = interventional_shap(e, X, Z, layout=lay)
    tables = interventional_shap(e, X, Z, layout=lay, max_table_features=lay.max_path_features)
    np.testing.assert_allclose(default, pairwise, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tables, pairwise, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tables, brute_force(e, X, Z), rtol=0, atol=1e-11)


def test_pair_weights_are_the_shapley_closed_form():
    w = shapley_pair_weights(4)
    assert w[1, 0] == 1.0 and w[0, 3] == 0.0
    assert w[2, 1] == pytest.approx(1 / 6, abs=0) and w[1, 2] == pytest.approx(1 / 3, abs=0)


def test_values_do_not_depend_on_threads_or_chunks(monkeypatch):
    import whybox.shapley.tree._interventional as module

    rng = np.random.default_rng(3)
    e = random_ensemble(rng, n_trees=12, n_features=6, max_depth=6, n_outputs=2)
    X, Z = random_rows(rng, 50, 6), random_rows(rng, 30, 6)
    one = interventional_shap(e, X, Z, n_threads=1)
    two = interventional_shap(e, X, Z, n_threads=2)
    monkeypatch.setattr(module, "_CHUNK_BYTES", 1)  # one tree per chunk
    tiny = interventional_shap(e, X, Z, n_threads=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, tiny)


# ---------------------------------------------------------------------- real models
def _check_against_exact(model, X, B, atol=1e-10):
    ex = TreeExplainer(model, background=B, feature_perturbation="interventional")(X)
    ref = ExactExplainer(model, B, max_background=None)(X)
    assert ex.method == "tree_interventional"
    assert ex.params["background_rows"] == len(B)
    np.testing.assert_allclose(ex.values, ref.values, rtol=0, atol=atol)
    np.testing.assert_allclose(ex.base_values, ref.base_values, rtol=0, atol=atol)
    assert ex.additivity_error.max() <= atol
    return ex


def test_sklearn_models_equal_exact_explainer(data):
    X, y = data
    gbr = GradientBoostingRegressor(n_estimators=30, max_depth=4, random_state=0).fit(X, y)
    _check_against_exact(gbr, X[:8], X[100:140])
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    rf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X, labels)
    ex = _check_against_exact(rf, X[:8], X[100:130])
    assert ex.values.shape == (8, 5, 3) and ex.output_space == "probability"


def test_deep_sklearn_tree_equals_exact_explainer():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 13))
    y = X @ rng.normal(size=13) + np.sin(3 * X[:, 0]) * X[:, 1]
    tree = DecisionTreeRegressor(random_state=0).fit(X, y)  # unbounded depth
    assert InterventionalLayout(parse_ensemble(tree)).max_path_features > 8
    _check_against_exact(tree, X[:3], X[500:510], atol=1e-9)


def test_lightgbm_with_nan_and_categorical_splits_equals_exact(data):
    X, y = data
    rng = np.random.default_rng(1)
    Xc = X.copy()
    Xc[:, 4] = rng.integers(0, 4, size=len(X))
    Xc[rng.random(Xc.shape) < 0.1] = np.nan
    yc = y + np.where(Xc[:, 4] == 2, 1.5, 0.0)
    model = lgb.LGBMRegressor(
        n_estimators=20, num_leaves=12, min_child_samples=5, verbose=-1, random_state=0
    )
    model.fit(pd.DataFrame(Xc, columns=[f"x{i}" for i in range(5)]), yc, categorical_feature=[4])
    assert (parse_ensemble(model).missing_rule == SPLIT_CATEGORICAL).any()
    _check_against_exact(model, Xc[:8], Xc[200:240], atol=1e-9)


def test_xgboost_equals_brute_force_in_float64(data):
    X, y = data
    Xn = X.copy()
    Xn[np.random.default_rng(2).random(Xn.shape) < 0.1] = np.nan
    model = xgb.XGBClassifier(n_estimators=25, max_depth=4).fit(Xn, (y > 0).astype(int))
    ex = TreeExplainer(model, background=Xn[100:130], feature_perturbation="interventional")(Xn[:6])
    e = parse_ensemble(model)
    np.testing.assert_allclose(ex.values, brute_force(e, Xn[:6], Xn[100:130]), atol=1e-10)
    # local accuracy against whybox's float64 traversal (XGBoost itself returns float32)
    total = ex.values.sum(axis=1) + ex.base_values
    np.testing.assert_allclose(total, ensemble_predict(e, Xn[:6]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values[0], ensemble_predict(e, Xn[100:130]).mean(0))
    assert ex.additivity_error.max() < 1e-5  # float32 model output


def test_equals_shap_interventional(data):
    shap = requires("shap")
    X, y = data
    model = xgb.XGBRegressor(n_estimators=40, max_depth=5).fit(X, y)
    rf = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    for m in (model, rf):
        ours = TreeExplainer(m, background=X[100:150], feature_perturbation="interventional")
        theirs = shap.TreeExplainer(m, data=X[100:150], feature_perturbation="interventional")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = np.asarray(theirs.shap_values(X[:20], check_additivity=False))
        # Not a double-precision match: shap's interventional values differ from the exact
        # ones by up to 1.6e-8 (XGBoost) and 1.1e-8 (this forest) on values up to 1.7, for
        # both models alike, while whybox equals ExactExplainer and brute force at 1e-10
        # (tests above). 1e-6 keeps shap as an independent check of the values' meaning.
        np.testing.assert_allclose(ours(X[:20]).values[:, :, 0], sv, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------- the explainer
def test_dataframe_background_is_matched_by_name(data):
    X, y = data
    cols = ["a", "b", "c", "d", "e"]
    frame = pd.DataFrame(X, columns=cols)
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(frame, y)
    bg = frame.iloc[100:130]
    ex1 = TreeExplainer(model, background=bg, feature_perturbation="interventional")
    ex2 = TreeExplainer(model, background=bg[cols[::-1]], feature_perturbation="interventional")
    np.testing.assert_array_equal(ex1(frame.iloc[:5]).values, ex2(frame.iloc[:5]).values)


def test_bad_backgrounds_are_refused(data):
    X, y = data
    rf = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    with pytest.raises(InputError, match="needs a background.*background=None"):
        TreeExplainer(rf, feature_perturbation="interventional")
    with pytest.raises(InputError, match="background has 3 columns"):
        TreeExplainer(rf, background=X[:10, :3], feature_perturbation="interventional")
    with pytest.raises(InputError, match="background"):
        TreeExplainer(rf, background=X[:0], feature_perturbation="interventional")
    text = pd.DataFrame(X[:10], columns=[f"x{i}" for i in range(5)]).astype({"x1": str})
    with pytest.raises(InputError, match="background"):
        TreeExplainer(rf, background=text, feature_perturbation="interventional")
    clf = xgb.XGBClassifier(n_estimators=3).fit(X, (y > 0).astype(int))
    with pytest.raises(InputError, match="interventional TreeSHAP explains"):
        TreeExplainer(
            clf, background=X[:10], feature_perturbation="interventional", output="probability"
        )


def test_explain_picks_interventional_tree_shap_with_a_background(data):
    X, y = data
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)
    ex = whybox.explain(model, X[:4], background=X[100:120])
    assert ex.method == "tree_interventional"
    assert ex.params["chosen_by"] == "auto: tree model (interventional with the background)"
    exact = whybox.explain(model, X[:4], background=X[100:120], method="exact")
    # exact SHAP evaluates XGBoost in float32; whybox's trees in float64
    np.testing.assert_allclose(ex.values, exact.values, rtol=0, atol=1e-5)
