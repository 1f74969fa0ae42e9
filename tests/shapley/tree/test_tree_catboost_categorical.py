"""TreeExplainer on CatBoost models with categorical features: CatBoost's own SHAP values,
checked against CatBoost's prediction and ``ExactExplainer`` (interventional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import whybox
from tests._requires import requires
from whybox import InputError
from whybox.shapley import ExactExplainer, TreeExplainer


@pytest.fixture(scope="module")
def fitted():
    requires("catboost")
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "rome", "lima"], n),
            "plan": rng.choice(["basic", "plus"], n),
            "usage": rng.normal(10.0, 3.0, n),
        }
    )
    y = ((X.city == "rome") ^ (X.usage > 11)).astype(int)
    model = CatBoostClassifier(
        iterations=30, depth=3, cat_features=["city", "plan"], verbose=0, random_seed=0,
        thread_count=1,
    )  # fmt: skip
    return model.fit(X, y), X


def test_path_dependent_values_add_up_to_catboosts_prediction(fitted):
    model, X = fitted
    ex = TreeExplainer(model)(X.iloc[:20])
    raw = model.predict(X.iloc[:20], prediction_type="RawFormulaVal")
    assert ex.values.shape == (20, 3, 1)
    assert ex.output_space == "raw" and ex.params["model_family"] == "catboost.CatBoostClassifier"
    np.testing.assert_allclose(ex.values.sum(axis=1)[:, 0] + ex.base_values[:, 0], raw, atol=1e-9)
    assert ex.data[0, 0] == X.iloc[0, 0]  # the text category itself


def test_interventional_values_equal_exact_enumeration(fitted):
    model, X = fitted
    background = X.iloc[100:120]
    tree = TreeExplainer(model, background=background, feature_perturbation="interventional")
    ex = tree(X.iloc[:5])
    exact = ExactExplainer(model, background)(X.iloc[:5])
    assert exact.output_space == "raw"
    np.testing.assert_allclose(ex.values, exact.values, atol=1e-6)
    np.testing.assert_allclose(ex.base_values, exact.base_values, atol=1e-9)


def test_explain_chooses_trees_and_interactions_are_refused(fitted):
    model, X = fitted
    ex = whybox.explain(model, X.iloc[:5])
    assert ex.params["explain_method"] == "tree"
    with pytest.raises(InputError, match="interaction_values cannot be computed"):
        TreeExplainer(model).interaction_values(X.iloc[:2])
    with pytest.raises(InputError, match="output='probability' is not available"):
        TreeExplainer(model, output="probability")
