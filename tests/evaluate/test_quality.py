"""evaluate.quality: the figures it attaches, and its verdicts on true and broken explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from whybox import InputError, LimeTabularExplainer, explain
from whybox._explanation import Explanation
from whybox.evaluate import faithfulness, local_lipschitz, quality


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)])
    y = X.to_numpy() @ np.array([3.0, -2.0, 1.0, 0.5, 0.0, 0.0]) + rng.normal(0, 0.1, 300)
    return LinearRegression().fit(X, y), X


def _broken(ex: Explanation, seed: int) -> Explanation:
    """The same explanation with its values shuffled across features: no longer faithful."""
    rng = np.random.default_rng(seed)
    values = np.take_along_axis(
        ex.values, np.argsort(rng.random(ex.values.shape[:2]), axis=1)[:, :, None], axis=1
    )
    return Explanation(
        values=values, base_values=ex.base_values, data=ex.data,
        feature_names=ex.feature_names, output_names=ex.output_names,
        output_space=ex.output_space, method="shuffled", model_output=ex.model_output,
    )  # fmt: skip


def test_true_shap_values_pass_and_their_figures_are_the_metrics(linear):
    model, X = linear
    ex = explain(model, X[:100], background=X)
    out = quality(model, ex, background=X, random_state=0)
    assert out is ex  # filled in place
    q = ex.quality
    assert q["additivity"]["judged"] and q["additivity"]["passes"]
    assert q["additivity"]["max_error"] == pytest.approx(np.nanmax(ex.additivity_error))
    # the faithfulness figures are those of evaluate.faithfulness on the same rows and seed
    ref = faithfulness(model, ex, background=X, n_steps=10, n_random=10,
                       random_state=np.random.default_rng(0))  # fmt: skip
    assert q["faithfulness"]["mean_aopc"] == pytest.approx(ref.mean_aopc, rel=1e-12)
    assert q["faithfulness"]["passes_overall"] and q["passes"]
    assert "stability" not in q


def test_shuffled_values_fail_on_faithfulness_and_additivity_still_holds(linear):
    model, X = linear
    ex = explain(model, X[:100], background=X)
    bad = quality(model, _broken(ex, 1), background=X, random_state=0)
    # the shuffled values still add up (same row sums): only faithfulness catches them
    assert bad.quality["additivity"]["passes"]
    assert not bad.quality["faithfulness"]["passes_overall"] and not bad.quality["passes"]
    good = quality(model, ex, background=X, random_state=0).quality["faithfulness"]
    assert bad.quality["faithfulness"]["gain"] < good["gain"]


def test_stability_with_an_explain_fn_is_the_local_lipschitz_estimate(linear):
    model, X = linear

    def explain_fn(rows):
        return explain(model, rows, background=X)

    ex = explain_fn(X[:40])
    quality(model, ex, explain_fn=explain_fn, stability_rows=40, random_state=3)
    stab = ex.quality["stability"]
    # Linear SHAP: phi = coef * (x - mean), so |phi(x) - phi(x')| / |x - x'| is bounded by
    # max |coef| and at least min |coef| over the moved features
    coef = np.abs(model.coef_)
    assert coef[coef > 0].min() - 1e-9 <= stab["median_estimate"] <= coef.max() + 1e-9
    direct = local_lipschitz(explain_fn, X[:40], model=model, n_perturbations=10, random_state=0)
    assert direct.max_estimate <= coef.max() + 1e-9


def test_lime_is_reported_not_judged_on_additivity(linear):
    model, X = linear
    lime = LimeTabularExplainer(model, X, random_state=0)(X[:5])
    quality(model, lime, background=X, random_state=0)
    add = lime.quality["additivity"]
    assert add["judged"] is False and "surrogate" in add["reason"]
    assert "faithfulness" in lime.quality


def test_bad_input(linear):
    model, X = linear
    ex = explain(model, X[:10], background=X)
    with pytest.raises(InputError, match="must be a whybox Explanation"):
        quality(model, ex.values)
    with pytest.raises(InputError, match="max_samples must be a positive integer"):
        quality(model, ex, max_samples=0)
    other = explain(model, X[["f0", "f1", "f2", "f3", "f4", "f5"]][:10], background=X)
    wrong = Explanation(
        values=other.values[:, :4], base_values=other.base_values, data=other.data[:, :4],
        feature_names=other.feature_names[:4], output_names=other.output_names,
    )  # fmt: skip
    with pytest.raises(InputError):
        quality(model, wrong)
