"""Shape-function plots: a binned term as a step curve with its band, a category as bars, a
pair as a heatmap, a function term as a line; the terms ranked by importance."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import pytest

from tests._requires import requires
from whybox import plots
from whybox._exceptions import InputError
from whybox.glassbox import AdditiveModel, Binning, Term, shape_functions


def _by_gid(fig, gid):
    return [a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == gid]


@pytest.fixture(scope="module")
def shapes():
    cut = Binning("numeric", cuts=np.array([0.0, 1.0, 2.0]))
    cat = Binning("categorical", levels={"u": 1, "v": 2, "$w$": 3})
    k = 3  # three classes
    rng = np.random.default_rng(0)
    main = Term(
        (0,), "age", bins=(cut,), scores=rng.normal(size=(6, k)),
        weights=np.array([1.0, 4, 3, 2, 1, 0]),
        standard_deviations=np.full((6, k), 0.1),
    )  # fmt: skip
    level = Term(
        (1,), "$w$ kind", bins=(cat,), scores=rng.normal(size=(5, k)),
        weights=np.array([0.0, 2, 3, 5, 0]), standard_deviations=np.full((5, k), 0.2),
    )  # fmt: skip
    pair = Term(
        (0, 1), "age & $w$ kind", bins=(cut, cat), scores=rng.normal(size=(6, 5, k)),
        weights=np.ones((6, 5)),
    )  # fmt: skip
    model = AdditiveModel(
        ("age", "$w$ kind"), (main, level, pair), np.zeros(k), "mlogit", ("a", "b", "c"), "hand"
    )
    return shape_functions(model)


def test_step_curve_band_and_density(shapes):
    fig = plots.shape_function(shapes, "age", target="b")
    assert isinstance(fig, matplotlib.figure.Figure)
    (step,) = _by_gid(fig, "scores")
    values, edges, _ = step.get_data()
    np.testing.assert_array_equal(values, shapes.terms[0].scores[1])
    np.testing.assert_array_equal(edges, shapes.terms[0].edges[0])
    (band,) = _by_gid(fig, "band")
    _, _, baseline = band.get_data()
    np.testing.assert_allclose(baseline, shapes.terms[0].scores[1] - 0.1)
    assert _by_gid(fig, "density")  # the training weight drawn under the curve
    assert "class margin of b" in fig.axes[0].get_ylabel()


def test_categorical_bars_and_pair_heatmap(shapes):
    fig = plots.shape_function(shapes, 1)
    heights = [p.get_height() for p in _by_gid(fig, "scores")]
    np.testing.assert_allclose(heights, shapes.terms[1].scores[0])
    fig = plots.shape_function(shapes, "age & $w$ kind", target=2)
    (mesh,) = _by_gid(fig, "heatmap")
    np.testing.assert_array_equal(
        np.asarray(mesh.get_array()).reshape(3, 4), shapes.terms[2].scores[2].T
    )
    labels = [t.get_text().replace(r"\$", "$") for t in fig.axes[0].get_yticklabels()]
    assert labels == ["u", "v", "$w$"]
    fig.savefig(__import__("io").BytesIO(), format="png")  # the "$" are drawn literally


def test_draws_into_given_axes_and_overview(shapes):
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    assert plots.shape_function(shapes, 0, ax=ax) is fig
    assert plots.term_importances(shapes, ax=ax) is fig
    fig = plots.term_importances(shapes, max_display=2)
    labels = [t.get_text().replace(r"\$", "$") for t in fig.axes[0].get_yticklabels()]
    order = np.argsort(-shapes.importances, kind="stable")
    assert labels[:2] == [shapes.terms[i].name for i in order[:2]]
    assert labels[2] == "1 other terms"
    overview = plots.shape_functions(shapes, max_display=2)
    assert len([a for a in overview.axes if a.get_label() != "<colorbar>"]) >= 2


def test_refusals(shapes):
    with pytest.raises(InputError, match="shape_function takes ShapeFunctions"):
        plots.shape_function(object(), 0)
    with pytest.raises(InputError, match="term must be one of"):
        plots.shape_function(shapes, "nope")
    with pytest.raises(InputError, match="target must be one of"):
        plots.shape_function(shapes, 0, target="z")
    with pytest.raises(InputError, match="max_display"):
        plots.term_importances(shapes, max_display=0)


def test_pygam_line_with_band():
    pygam = requires("pygam")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    gam = pygam.LinearGAM(pygam.s(0) + pygam.te(0, 1, n_splines=5)).fit(X, np.sin(X[:, 0]))
    result = shape_functions(gam, X, grid_resolution=20)
    fig = plots.shape_function(result, "s(x0)")
    (line,) = _by_gid(fig, "scores")
    np.testing.assert_array_equal(line.get_ydata(), result.terms[0].scores[0])
    assert _by_gid(fig, "band") and _by_gid(fig, "density")
    fig = plots.shape_function(result, "te(x0, x1)")
    (mesh,) = _by_gid(fig, "heatmap")
    np.testing.assert_array_equal(
        np.asarray(mesh.get_array()).reshape(20, 20), result.terms[1].scores[0].T
    )
