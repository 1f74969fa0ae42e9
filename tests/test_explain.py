"""whybox.explain: which method it picks, why, and what it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import whybox
from whybox import Explanation, InputError, UnsupportedModelError
from whybox import _explain as explain_module
from whybox.adapters import adapt_model


class FakeTree:
    """Stands in for TreeExplainer: supports forests only, returns zeros."""

    calls: list[dict] = []
    perturbations = ("tree_path_dependent", "interventional")

    def __init__(
        self,
        model,
        *,
        background=None,
        feature_perturbation="tree_path_dependent",
        output="auto",
        progress=None,
    ):
        if feature_perturbation not in self.perturbations:
            raise InputError(f"feature_perturbation={feature_perturbation!r} is not available.")
        self.model = adapt_model(model)
        FakeTree.calls.append(
            {
                "background": background,
                "feature_perturbation": feature_perturbation,
                "output": output,
            }
        )

    @classmethod
    def supports(cls, model):
        return isinstance(model, (RandomForestClassifier, RandomForestRegressor))

    def __call__(self, X):
        X = np.asarray(X, dtype=float)
        k = self.model.n_outputs
        return Explanation(
            values=np.zeros((len(X), X.shape[1], k)),
            base_values=np.zeros((len(X), k)),
            data=X,
            feature_names=[f"x{i}" for i in range(X.shape[1])],
            output_names=self.model.output_names,
            method=self.__class__.__name__,
        )


@pytest.fixture
def fake_tree(monkeypatch):
    real = explain_module.load_method
    FakeTree.calls = []
    monkeypatch.setattr(
        explain_module, "load_method", lambda name: FakeTree if name == "tree" else real(name)
    )
    return FakeTree


@pytest.fixture
def no_tree(monkeypatch):
    real = explain_module.load_method
    monkeypatch.setattr(
        explain_module, "load_method", lambda name: None if name == "tree" else real(name)
    )


def _data(d, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 0]


def test_linear_model_goes_to_linear_shap(fake_tree):
    X, y = _data(5)
    lr = LinearRegression().fit(X, y)
    ex = whybox.explain(lr, X[:3], background=X[:20])
    assert ex.method == "linear_interventional"
    assert ex.params["explain_method"] == "linear"
    assert ex.params["chosen_by"] == "auto: linear model, closed-form interventional SHAP"
    np.testing.assert_allclose(
        ex.values[:, :, 0], lr.coef_ * (X[:3] - X[:20].mean(axis=0)), atol=1e-10
    )
    assert fake_tree.calls == []


def test_logistic_regression_probability_is_exact_and_log_odds_is_linear():
    X, y = _data(5)
    clf = LogisticRegression().fit(X, y > 0)
    prob = whybox.explain(clf, X[:3], background=X[:20], output="probability")
    assert prob.params["explain_method"] == "exact"
    margin = whybox.explain(clf, X[:3], background=X[:20], output="log_odds")
    assert margin.params["explain_method"] == "linear"
    np.testing.assert_allclose(
        margin.values[:, :, 0], clf.coef_[0] * (X[:3] - X[:20].mean(axis=0)), atol=1e-10
    )


def test_nonlinear_model_with_few_features_is_exact(no_tree):
    X, y = _data(5)

    def f(A):
        A = np.asarray(A, dtype=float)
        return A[:, 0] * A[:, 1] + np.sin(A[:, 2])

    ex = whybox.explain(f, X[:3], background=X[:20])
    assert ex.method == "exact"
    assert ex.params["chosen_by"] == "auto: 5 features <= 12, exact enumeration"


def test_many_features_use_kernel_shap_and_groups_bring_back_exact(no_tree):
    X, y = _data(14)
    lr = LinearRegression().fit(X, y)

    def linear(A):  # a callable, so no closed-form explainer applies
        return np.asarray(A, dtype=float) @ lr.coef_ + lr.intercept_

    ex = whybox.explain(linear, X[:2], background=X[:10], random_state=0, max_evals=100)
    assert ex.method == "kernel"
    assert ex.params["chosen_by"] == "auto: 14 features > 12, KernelSHAP"
    assert ex.params["random_state"] == 0
    assert ex.params["max_evals"] == 100
    # a linear model is additive: the KernelSHAP estimate is exact
    np.testing.assert_allclose(
        ex.values[:, :, 0], lr.coef_ * (X[:2] - X[:10].mean(axis=0)), atol=1e-10
    )
    groups = {"a": list(range(7)), "b": list(range(7, 14))}
    grouped = whybox.explain(linear, X[:2], background=X[:10], feature_groups=groups)
    assert grouped.method == "exact"
    assert grouped.params["chosen_by"] == "auto: 2 feature groups <= 12, exact enumeration"
    assert grouped.feature_names == ("a", "b")


def test_tree_model_goes_to_tree(fake_tree):
    X, y = _data(4)
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    ex = whybox.explain(rf, X[:3])
    assert ex.method == "FakeTree"
    assert ex.params["explain_method"] == "tree"
    assert ex.params["chosen_by"] == "auto: tree model"
    assert fake_tree.calls[-1]["feature_perturbation"] == "tree_path_dependent"
    ex = whybox.explain(rf, X[:3], background=X[:10])
    assert ex.params["chosen_by"] == "auto: tree model (interventional with the background)"
    assert fake_tree.calls[-1]["feature_perturbation"] == "interventional"
    assert fake_tree.calls[-1]["background"] is not None


def test_tree_explainer_without_interventional_falls_back(fake_tree, monkeypatch):
    monkeypatch.setattr(FakeTree, "perturbations", ("tree_path_dependent",))
    X, y = _data(4)
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    ex = whybox.explain(rf, X[:3], background=X[:10])
    assert ex.method == "exact"
    assert ex.params["chosen_by"] == (
        "auto: tree model but TreeExplainer cannot use the background; "
        "4 features <= 12, exact enumeration"
    )
    with pytest.raises(InputError, match="not available"):
        whybox.explain(rf, X[:3], background=X[:10], method="tree")
    assert whybox.explain(rf, X[:3]).params["chosen_by"] == "auto: tree model"


def test_tree_model_outside_its_native_space_goes_model_agnostic(fake_tree):
    X, y = _data(4)
    rf = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y > 0)
    # a forest classifier's leaves add up in probability space
    ex = whybox.explain(rf, X[:2], output="probability")
    assert ex.params["explain_method"] == "tree"
    ex = whybox.explain(rf, X[:2], background=X[:10], output="log_odds")
    assert ex.method == "exact"
    assert ex.params["chosen_by"] == (
        "auto: tree model but output='log_odds' is not the trees' native space "
        "'probability'; 4 features <= 12, exact enumeration"
    )
    assert ex.output_space == "log_odds"
    # additivity of float64 methods on outputs of order 1: measured <= 1.3e-15 in this file
    assert np.all(ex.additivity_error < 1e-12)
    with pytest.raises(InputError, match="background"):
        whybox.explain(rf, X[:2], output="log_odds")
    grouped = whybox.explain(rf, X[:2], background=X[:10], feature_groups={"ab": [0, 1]})
    assert grouped.params["chosen_by"].startswith("auto: tree model but feature_groups given; ")


def test_named_methods(fake_tree):
    X, y = _data(4)
    lr = LinearRegression().fit(X, y)
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    ex = whybox.explain(rf, X[:2], background=X[:10], method="permutation", random_state=1)
    assert ex.method == "permutation"
    assert ex.params["chosen_by"] == "user: method='permutation'"
    ex = whybox.explain(lr, X[:2], background=X[:10], method="exact")
    assert ex.params["chosen_by"] == "user: method='exact'"
    with pytest.raises(UnsupportedModelError, match="tree"):
        whybox.explain(lr, X[:2], method="tree")
    with pytest.raises(InputError, match="feature_groups"):
        whybox.explain(rf, X[:2], method="tree", feature_groups={"a": [0, 1]})
    with pytest.raises(InputError, match="background"):
        whybox.explain(rf, X[:2], method="exact")


def test_tree_method_missing(no_tree):
    X, y = _data(4)
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    with pytest.raises(InputError, match="not available"):
        whybox.explain(rf, X[:2], method="tree")
    ex = whybox.explain(rf, X[:2], background=X[:10])
    assert ex.params["chosen_by"] == "auto: 4 features <= 12, exact enumeration"


def test_pipeline_on_mixed_columns_is_explained_in_its_input_columns(fake_tree):
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon"], size=200),
            "age": rng.normal(40, 10, size=200),
            "score": rng.normal(size=200),
        }
    )
    y = (df["city"] == "paris").to_numpy() ^ (df["age"].to_numpy() > 40)
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["city"])], remainder="passthrough")
    pipe = Pipeline([("pre", pre), ("rf", RandomForestClassifier(10, random_state=0))])
    pipe.fit(df, y)
    # the final step is a forest, but the pipeline is not a tree model
    ex = whybox.explain(pipe, df.iloc[:3], background=df.iloc[100:120])
    assert ex.params["chosen_by"] == "auto: 3 features <= 12, exact enumeration"
    assert ex.feature_names == ("city", "age", "score")
    assert ex.output_space == "probability"
    assert np.all(ex.additivity_error < 1e-12)


def test_bad_arguments():
    X, y = _data(3)
    clf = LogisticRegression().fit(X, y > 0)
    with pytest.raises(InputError, match="method"):
        whybox.explain(clf, X[:2], background=X, method="kernel-ish")
    with pytest.raises(InputError, match="output"):
        whybox.explain(clf, X[:2], background=X, output="margin")
    with pytest.raises(InputError, match="background"):
        whybox.explain(clf, X[:2])
    with pytest.raises(InputError, match="output"):
        whybox.explain(LinearRegression().fit(X, y), X[:2], background=X, output="probability")


def test_registry_lists_methods_with_supports():
    assert set(explain_module.METHODS) == {
        "additive", "tree", "linear", "exact", "kernel", "permutation"
    }  # fmt: skip
    for name in ("linear", "exact", "kernel", "permutation"):
        cls = explain_module.load_method(name)
        assert cls.supports(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))
        assert not cls.supports(object())
    additive = explain_module.load_method("additive")
    assert not additive.supports(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))
    assert not additive.supports(object())


def test_real_tree_explainer_is_picked_for_a_forest():
    X, y = _data(4)
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    ex = whybox.explain(rf, X[:3])
    assert ex.params["explain_method"] == "tree"
    assert ex.params["chosen_by"] == "auto: tree model"
    assert np.all(ex.additivity_error < 1e-12)
    # with a background: interventional TreeSHAP, the same interventional SHAP values
    # as the exact method
    with_bg = whybox.explain(rf, X[:3], background=X[:10])
    assert with_bg.method == "tree_interventional"
    assert with_bg.params["chosen_by"] == "auto: tree model (interventional with the background)"
    exact = whybox.explain(rf, X[:3], background=X[:10], method="exact")
    np.testing.assert_allclose(with_bg.values, exact.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(with_bg.base_values, exact.base_values, rtol=0, atol=1e-12)


def test_tree_method_keeps_the_adapted_models_class_names(capsys):
    X, y = _data(4)
    clf = RandomForestClassifier(n_estimators=3, max_depth=2, random_state=0)
    clf.fit(X, np.digitize(y, np.quantile(y, [0.33, 0.66])))
    model = adapt_model(clf, class_names=["low", "mid", "high"])
    ex = whybox.explain(model, X[:4], progress=False)
    assert ex.output_names == ("low", "mid", "high")
    np.testing.assert_allclose(ex[:, :, "high"].model_output, clf.predict_proba(X[:4])[:, 2])
    assert capsys.readouterr().err == ""


def test_tree_model_with_categorical_splits_uses_tree_shap():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=200), "c": pd.Categorical(rng.choice(["x", "y", "z"], 200))}
    )
    y = ((X.a > 0) ^ (X.c == "y")).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    assert model.is_categorical_.tolist() == [False, True]
    assert explain_module.is_tree_model(model)
    ex = whybox.explain(model, X[:5])
    assert ex.method == "tree_path_dependent"
    assert np.max(ex.additivity_error) < 1e-12


def test_tree_model_with_unreadable_trees_goes_model_agnostic():
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = np.exp(X.a + rng.normal(scale=0.1, size=200))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=10).fit(X, y)
    assert not explain_module.is_tree_model(model)  # a log link TreeExplainer does not model
    ex = whybox.explain(model, X[:5], background=X[:30])
    assert ex.params["explain_method"] == "exact"
    assert ex.params["chosen_by"].startswith("auto: a tree model whose trees TreeExplainer")
    assert np.max(ex.additivity_error) < 1e-12
    with pytest.raises(
        InputError, match=r"\(a tree model whose trees TreeExplainer cannot read\), got"
    ):
        whybox.explain(model, X[:5])
