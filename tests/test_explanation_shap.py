"""The shap bridge: ``Explanation.to_shap`` / ``Explanation.from_shap``.

The reference is shap's own library: a whybox TreeSHAP run handed to shap equals
``shap.TreeExplainer`` on the same model, in shap's layout; the plots a user is likely to
call draw the result.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
)

from tests._requires import lazy
from whybox import Explanation, InputError
from whybox.shapley import TreeExplainer

shap = lazy("shap")

FEATURES = ["age", "income", "debt", "tenure"]


@functools.cache
def case(kind: str):
    """(model, X) for "regression", "binary" (margin) and "multiclass" (probability)."""
    if kind == "regression":
        X, y = make_regression(80, 4, random_state=0)
        model = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0)
    elif kind == "binary":
        X, y = make_classification(80, 4, n_informative=3, n_redundant=0, random_state=0)
        model = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
    else:
        X, y = make_classification(
            90, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
        )
        model = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)
    X = pd.DataFrame(X, columns=FEATURES)
    return model.fit(X, y), X


@functools.cache
def ours(kind: str) -> Explanation:
    model, X = case(kind)
    return TreeExplainer(model)(X.iloc[:12])


def assert_same(a: Explanation, b: Explanation) -> None:
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)
    if a.data is None:
        assert b.data is None
    else:
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)
    assert a.feature_names == b.feature_names and a.output_names == b.output_names
    assert a.axes == b.axes


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_round_trip_is_identity(kind):
    ex = ours(kind)
    names = ex.output_names
    back = Explanation.from_shap(ex.to_shap(), output=ex.output_space, output_names=names)
    assert_same(ex, back)
    assert back.output_space == ex.output_space and back.method == "shap"
    assert_same(ex[3], Explanation.from_shap(ex[3].to_shap(), output_names=names))


def test_round_trip_keeps_text_columns():
    data = np.array([[1.5, "red", "x<y"], [2.0, "blue", "z"]], dtype=object)
    ex = Explanation(
        values=np.arange(12.0).reshape(2, 3, 2),
        base_values=[[0.1, 0.9], [0.2, 0.8]],
        data=data,
        feature_names=("size", "colour", "<script>"),
        output_names=("no", "yes"),
        output_space="probability",
    )
    e = ex.to_shap()
    assert e.data.dtype == object and e.data[1, 1] == "blue"
    assert_same(ex, Explanation.from_shap(e, output="probability"))
    one = ex.to_shap(target="yes")
    np.testing.assert_array_equal(one.values, ex.values[:, :, 1])
    np.testing.assert_array_equal(one.base_values, [0.9, 0.8])
    assert one.output_names is None
    assert_same(ex[:, :, ["yes"]], Explanation.from_shap(one, output_names=["yes"]))


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_tree_run_equals_shaps_own_tree_explainer(kind):
    model, X = case(kind)
    reference = shap.TreeExplainer(model)(X.iloc[:12])
    mine = ours(kind).to_shap()
    assert mine.values.shape == reference.values.shape
    np.testing.assert_allclose(mine.values, reference.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine.base_values, reference.base_values, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(mine.data, reference.data)
    assert list(mine.feature_names) == FEATURES == list(reference.feature_names)


def test_target_selects_one_output_by_position_or_name():
    ex = ours("multiclass")
    name = ex.output_names[2]
    for target in (2, -1, name):
        e = ex.to_shap(target=target)
        np.testing.assert_array_equal(e.values, ex.values[:, :, 2])
        np.testing.assert_array_equal(e.base_values, ex.base_values[:, 2])
        assert e.output_names is None
    with pytest.raises(InputError, match="target must be an output position"):
        ex.to_shap(target="nope")
    with pytest.raises(InputError, match="target must be an output position"):
        ex.to_shap(target=3)


def test_refuses_what_cannot_map():
    inter = Explanation(
        values=np.zeros((2, 3, 3, 1)),
        base_values=np.zeros((2, 1)),
        data=None,
        feature_names=("a", "b", "c"),
        output_names=("y",),
        axes=("samples", "features", "features", "outputs"),
    )
    with pytest.raises(InputError, match="to_shap needs an Explanation with axes"):
        inter.to_shap()
    image = Explanation(
        values=np.zeros((2, 1, 4, 4, 1)),
        base_values=np.zeros((2, 1)),
        data=None,
        feature_names=(),
        output_names=("y",),
        axes=("samples", "channels", "height", "width", "outputs"),
    )
    with pytest.raises(InputError, match="to_shap needs an Explanation with axes"):
        image.to_shap()
    with pytest.raises(InputError, match="explanation must be a shap.Explanation"):
        Explanation.from_shap(np.zeros((2, 3)))
    with pytest.raises(InputError, match="explanation.values must have 1, 2 or 3 dimensions"):
        Explanation.from_shap(shap.Explanation(np.zeros((2, 3, 3, 2)), np.zeros((2, 2))))


def test_from_shap_fills_missing_names_and_scalar_base():
    e = shap.Explanation(np.ones((3, 2)), base_values=0.5, data=np.zeros((3, 2)))
    ex = Explanation.from_shap(e)
    assert ex.feature_names == ("feature 0", "feature 1") and ex.output_names == ("output 0",)
    np.testing.assert_array_equal(ex.base_values, np.full((3, 1), 0.5))


@pytest.fixture
def agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


PLOTS = {
    "waterfall": lambda e: shap.plots.waterfall(e[0], show=False),
    "bar": lambda e: shap.plots.bar(e, show=False),
    "bar_one_row": lambda e: shap.plots.bar(e[0], show=False),
    "beeswarm": lambda e: shap.plots.beeswarm(e, show=False),
    "scatter": lambda e: shap.plots.scatter(e[:, "age"], color=e, show=False),
    "heatmap": lambda e: shap.plots.heatmap(e, show=False),
    "violin": lambda e: shap.plots.violin(e, show=False),
    "decision": lambda e: shap.plots.decision(
        float(e.base_values[0]), e.values, feature_names=list(e.feature_names), show=False
    ),
    "force": lambda e: shap.plots.force(e[0], matplotlib=True, show=False),
}


@pytest.mark.parametrize("plot", sorted(PLOTS))
def test_shap_plots_draw_the_result(plot, agg):
    PLOTS[plot](ours("binary").to_shap())
    assert agg.get_fignums()


def test_shap_plots_draw_one_class_of_a_multiclass_result(agg):
    e = ours("multiclass").to_shap(target=1)
    shap.plots.waterfall(e[0], show=False)
    shap.plots.beeswarm(e, show=False)
    shap.plots.bar(ours("multiclass").to_shap()[:, :, 1], show=False)
