"""Partial dependence plots: a category gets points per level (nothing joins levels that
have no order), a number a line; a category against a number one line per level."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection

from whybox import plots
from whybox.datasets import make_applications
from whybox.inspection import PartialDependence, partial_dependence


@pytest.fixture(scope="module")
def pipeline_case():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = make_applications(400)
    text = [c for c in X.columns if X[c].dtype.kind not in "fi"]
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [("text", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text)],
                    remainder="passthrough",
                ),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        ]
    ).fit(X, y)
    return model, X.iloc[:60].reset_index(drop=True)


def _by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, (gid, found)
    return found[0]


def test_a_text_category_gets_points_per_level_and_no_line(pipeline_case):
    model, X = pipeline_case
    res = partial_dependence(model, X, "employment", kind="both")
    assert res.categorical == (True,)
    fig = plots.partial_dependence(res, max_ice_lines=25, random_state=0)
    ax = fig.axes[0]
    levels = list(res.grid_values[0])
    x = np.arange(len(levels))
    # no line joins two levels: every drawn Line2D with several points has no line style
    for line in ax.get_lines():
        if len(line.get_xdata()) > 1:
            assert line.get_linestyle() == "None", line.get_gid()
    points = _by_gid(ax, "pd:points")
    np.testing.assert_array_equal(points.get_xdata(), x)
    np.testing.assert_array_equal(points.get_ydata(), res.average[0])
    bars = _by_gid(ax, "pd:bars")
    assert isinstance(bars, LineCollection)
    for level, segment in enumerate(bars.get_segments()):
        assert segment[0][1] == segment[1][1] == res.average[0][level]
        assert segment[0][0] < level < segment[1][0]
    # the ICE values: one dot per (row, level), each near its level's position
    ice = _by_gid(ax, "ice:points")
    assert isinstance(ice, PathCollection)
    offsets = ice.get_offsets()
    assert offsets.shape == (25 * len(levels), 2)
    rows = np.sort(np.random.default_rng(0).choice(len(X), 25, replace=False))
    np.testing.assert_array_equal(offsets[:, 1], res.individual[0][rows].ravel())
    np.testing.assert_array_less(np.abs(offsets[:, 0] - np.tile(x, 25)), 0.2)
    assert [t.get_text() for t in ax.get_xticklabels()] == levels
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ICE (25 rows)", "partial dependence"]
    plt.close(fig)


def test_the_decision_survives_json_and_a_number_keeps_its_line(pipeline_case):
    model, X = pipeline_case
    res = partial_dependence(model, X, "purpose", kind="average")
    back = PartialDependence.from_dict(res.to_dict())
    fig = plots.partial_dependence(back)
    ax = fig.axes[0]
    np.testing.assert_array_equal(_by_gid(ax, "pd:points").get_ydata(), res.average[0])
    plt.close(fig)
    numeric = partial_dependence(model, X, "income", kind="both", grid_resolution=8)
    assert numeric.categorical == (False,)
    fig = plots.partial_dependence(numeric, max_ice_lines=5)
    ax = fig.axes[0]
    line = _by_gid(ax, "pd:line")
    np.testing.assert_array_equal(line.get_xdata(), numeric.grid_values[0])
    assert line.get_linestyle() == "-"
    assert not [a for a in ax.get_children() if a.get_gid() == "pd:points"]
    plt.close(fig)


def test_a_category_against_a_number_draws_one_line_per_level(pipeline_case):
    model, X = pipeline_case
    res = partial_dependence(model, X, ("credit_score", "housing"), grid_resolution=6)
    assert res.categorical == (False, True)
    fig = plots.partial_dependence(res)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_gid() == "pd:level"]
    levels = list(res.grid_values[1])
    assert [line.get_label() for line in lines] == levels
    for j, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), res.grid_values[0])
        np.testing.assert_array_equal(line.get_ydata(), res.average[0][:, j])
    assert len(fig.axes) == 1  # no colour bar: the legend names the levels
    plt.close(fig)
    # two categories: a heatmap of cells
    both = partial_dependence(model, X, ("housing", "region"))
    fig = plots.partial_dependence(both)
    image = fig.axes[0].get_images()[0]
    np.testing.assert_array_equal(image.get_array(), both.average[0].T)
    plt.close(fig)
