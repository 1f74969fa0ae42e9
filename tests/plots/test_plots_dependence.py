"""Tests of plots.dependence: the points drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plots._helpers import explanation, ticklabels
from whybox import Explanation, InputError, plots


def test_dependence_points_are_value_vs_shap():
    data = np.random.default_rng(2).normal(size=(40, 6))
    data[:3, 2] = np.nan
    ex = explanation(data=data)
    fig = plots.dependence(ex, "f2")
    ax = fig.axes[0]
    (pts,) = ax.collections
    off = pts.get_offsets()
    assert len(off) == 37  # rows with a missing x are left out
    np.testing.assert_allclose(off[:, 0], data[3:, 2])
    np.testing.assert_allclose(off[:, 1], ex.values[3:, 2, 0])
    assert ax.get_xlabel() == "f2"


def test_dependence_coloured_by_another_feature():
    ex = explanation()
    fig = plots.dependence(ex, 1, color="f4")
    ax = fig.axes[0]
    (pts,) = ax.collections
    np.testing.assert_allclose(pts.get_array(), ex.data[:, 4])
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "f4"


def test_dependence_categorical_feature_and_errors():
    n = 6
    data = np.array(
        [["a", 1.0], ["b", 2.0], ["a", 3.0], ["c", 4.0], ["b", 5.0], ["a", 6.0]], dtype=object
    )
    values = np.arange(n * 2, dtype=float).reshape(n, 2, 1)
    ex = Explanation(values, np.zeros((n, 1)), data, ["city", "x"], ["y"])
    ax = plots.dependence(ex, "city").axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], [0, 1, 0, 2, 1, 0])
    assert ticklabels(ax, "x") == ["a", "b", "c"]
    with pytest.raises(InputError, match="not a feature"):
        plots.dependence(ex, "age")
    with pytest.raises(InputError, match="no data"):
        plots.dependence(Explanation(values, np.zeros((n, 1)), None, ["city", "x"], ["y"]), 0)
    with pytest.raises(InputError, match="target="):
        plots.dependence(explanation(k=2), "f0")
