"""Mean |SHAP interaction| matrix: its definition, a planted interaction, the plot, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor

from whybox import InputError
from whybox._explanation import Explanation
from whybox.inspection import shap_interaction_matrix, top_interaction_pairs
from whybox.plots import shap_interactions
from whybox.shapley import TreeExplainer


def _explanation(values, names=("a", "b", "c"), outputs=("y",)):
    n = values.shape[0]
    return Explanation(
        values=values,
        base_values=np.zeros((n, len(outputs))),
        data=np.zeros((n, len(names))),
        feature_names=names,
        output_names=outputs,
        output_space="raw",
        method="test",
        axes=("samples", "features", "features", "outputs"),
    )


def test_matrix_is_the_mean_absolute_pair_sum_by_loops():
    rng = np.random.default_rng(0)
    half = rng.normal(size=(7, 3, 3, 2))
    values = (half + np.swapaxes(half, 1, 2)) / 2  # symmetric, as interaction values are
    ex = _explanation(values, outputs=("p", "q"))
    for output in (None, "q", 0):
        got = shap_interaction_matrix(ex, target=output).to_numpy()
        ks = [0, 1] if output is None else [1 if output == "q" else 0]
        want = np.zeros((3, 3))
        for i in range(3):
            for j in range(3):
                per_output = []
                for k in ks:
                    cell = values[:, i, j, k] + (values[:, j, i, k] if i != j else 0.0)
                    per_output.append(np.mean(np.abs(cell)))
                want[i, j] = np.mean(per_output)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


def test_planted_interaction_is_the_top_pair_and_rows_add_up():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(600, 4))
    y = 2 * X[:, 0] * X[:, 1] + X[:, 2]  # x3 unused
    model = GradientBoostingRegressor(n_estimators=80, max_depth=3, random_state=0).fit(X, y)
    ex = TreeExplainer(model).interaction_values(X[:100])
    matrix = shap_interaction_matrix(ex)
    pairs = top_interaction_pairs(matrix, top_k=3)
    assert tuple(pairs.iloc[0][["feature_1", "feature_2"]]) == ("x0", "x1")
    assert pairs["mean_abs_interaction"].iloc[0] > 5 * pairs["mean_abs_interaction"].iloc[1]
    # x3 takes no part in y: only noise-fitting splits give it interactions
    assert matrix.loc["x3"].drop("x3").max() < 0.1 * matrix.loc["x0", "x1"]
    # the main effect of x2 (additive) dominates its interactions
    assert matrix.loc["x2", "x2"] > 5 * matrix.loc["x2"].drop("x2").max()


def test_plot_masks_the_diagonal_and_orders_by_interaction():
    rng = np.random.default_rng(2)
    values = np.zeros((5, 3, 3, 1))
    values[:, 1, 2, 0] = values[:, 2, 1, 0] = rng.uniform(1, 2, size=5)
    values[:, 0, 0, 0] = 10.0  # a large main effect: not drawn
    fig = shap_interactions(_explanation(values), max_display=2)
    (img,) = [im for im in fig.axes[0].images if im.get_gid() == "shap_interactions"]
    arr = img.get_array()
    assert arr.shape == (2, 2) and arr.mask[0, 0] and arr.mask[1, 1]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b", "c"]
    assert "1 features not shown" in fig.axes[0].get_title()


def test_bad_input():
    values = np.zeros((2, 3, 3, 1))
    flat = Explanation(
        values=np.zeros((2, 3, 1)),
        base_values=np.zeros((2, 1)),
        data=np.zeros((2, 3)),
        feature_names=("a", "b", "c"),
        output_names=("y",),
        output_space="raw",
        method="test",
    )
    with pytest.raises(InputError, match="interaction values"):
        shap_interaction_matrix(flat)
    with pytest.raises(InputError, match="target must be one of"):
        shap_interaction_matrix(_explanation(values), target="z")
    with pytest.raises(InputError, match="max_display"):
        shap_interactions(_explanation(values), max_display=0)
