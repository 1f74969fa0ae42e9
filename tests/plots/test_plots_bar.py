"""Tests of plots.bar: the bars drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from tests.plots._helpers import bar_patches, explanation, ticklabels
from whybox import InputError, plots


def test_bar_heights_are_mean_abs_values_largest_on_top():
    ex = explanation(d=5)
    fig = plots.bar(ex)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    bars = bar_patches(ax)
    assert len(bars) == 5
    imp = np.abs(ex.values[:, :, 0]).mean(axis=0)
    order = np.argsort(-imp)
    np.testing.assert_allclose([b.get_width() for b in bars], imp[order])
    # the largest bar sits highest
    ys = [b.get_y() for b in bars]
    assert ys == sorted(ys, reverse=True)
    labels_top_down = ticklabels(ax)[::-1]
    assert labels_top_down == [f"f{i}" for i in order]
    # agrees with Explanation.global_importance
    np.testing.assert_allclose(
        [b.get_width() for b in bars], ex.global_importance()["y"].to_numpy()
    )


def test_bar_sums_the_rest_into_other_features():
    ex = explanation(d=12)
    ax = plots.bar(ex, max_display=4).axes[0]
    bars = bar_patches(ax)
    assert len(bars) == 4
    imp = np.sort(np.abs(ex.values[:, :, 0]).mean(axis=0))[::-1]
    np.testing.assert_allclose([b.get_width() for b in bars[:3]], imp[:3])
    assert bars[3].get_width() == pytest.approx(imp[3:].sum())
    assert "9 other features" in ticklabels(ax)


def test_bar_multi_output_needs_output():
    ex = explanation(k=3)
    with pytest.raises(InputError, match=r"class_0.*class_1.*class_2"):
        plots.bar(ex)
    by_name = [b.get_width() for b in bar_patches(plots.bar(ex, target="class_1").axes[0])]
    by_index = [b.get_width() for b in bar_patches(plots.bar(ex, target=1).axes[0])]
    assert by_name == by_index
    imp = np.sort(np.abs(ex.values[:, :, 1]).mean(axis=0))[::-1]
    np.testing.assert_allclose(by_name, imp)
    with pytest.raises(InputError, match="not an output"):
        plots.bar(ex, target="nope")
    # an explanation already sliced to one output needs none
    assert len(bar_patches(plots.bar(ex[:, :, "class_2"]).axes[0])) == 6


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bar_bad_max_display(bad):
    with pytest.raises(InputError, match="max_display"):
        plots.bar(explanation(), max_display=bad)


def test_bar_rejects_single_row_and_non_explanations():
    ex = explanation()
    with pytest.raises(InputError, match="waterfall"):
        plots.bar(ex[0])
    with pytest.raises(InputError, match="Explanation"):
        plots.bar(np.ones((3, 2)))
