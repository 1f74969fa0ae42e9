"""Tests of plots.beeswarm: the points drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from tests.plots._helpers import explanation, ticklabels
from whybox import Explanation, plots
from whybox.plots._beeswarm import swarm_offsets


def test_beeswarm_points_rows_and_colours():
    n, d = 30, 8
    data = np.random.default_rng(1).normal(size=(n, d))
    data[:4, 7] = np.nan  # f7 is the most important: 4 grey points
    ex = explanation(n=n, d=d, data=data)
    fig = plots.beeswarm(ex, max_display=5)
    ax = fig.axes[0]
    cols = {c.get_gid(): c for c in ax.collections}
    imp = np.abs(ex.values[:, :, 0]).mean(axis=0)
    top4 = [f"f{i}" for i in np.argsort(-imp)[:4]]
    assert ticklabels(ax)[::-1] == [*top4, "Sum of 4 other features"]
    total = sum(len(c.get_offsets()) for c in ax.collections)
    assert total == n * 5
    assert len(cols["f7"].get_offsets()) == n - 4
    assert len(cols["f7:missing"].get_offsets()) == 4
    # x positions are the SHAP values; each point stays near its row
    f7 = ex.values[4:, 7, 0]
    np.testing.assert_allclose(np.sort(cols["f7"].get_offsets()[:, 0]), np.sort(f7))
    row_of_f7 = 4  # top row
    assert np.all(np.abs(cols["f7"].get_offsets()[:, 1] - row_of_f7) <= 0.4 + 1e-12)
    # the "other" row holds the per-sample sum of the remaining features
    rest = np.argsort(-imp)[4:]
    np.testing.assert_allclose(
        np.sort(cols["other features"].get_offsets()[:, 0]),
        np.sort(ex.values[:, rest, 0].sum(axis=1)),
    )
    # a colour bar was added
    assert len(fig.axes) == 2


def test_beeswarm_colours_follow_feature_values_and_text_is_grey():
    n = 20
    data = np.empty((n, 2), dtype=object)
    data[:, 0] = np.linspace(0, 1, n)
    data[:, 1] = ["a"] * n
    values = np.zeros((n, 2, 1))
    values[:, 0, 0] = np.linspace(-1, 1, n)
    values[:, 1, 0] = 0.01
    ex = Explanation(values, np.zeros((n, 1)), data, ["num", "text"], ["y"])
    ax = plots.beeswarm(ex).axes[0]
    cols = {c.get_gid(): c for c in ax.collections}
    assert "text:missing" in cols and "text" not in cols
    arr = cols["num"].get_array()
    assert arr.min() == 0.0 and arr.max() == 1.0  # low to high after 5-95% clipping
    assert to_hex(cols["text:missing"].get_facecolor()[0]) == "#9a9a9a"


def test_swarm_offsets_spread_crowded_values():
    v = np.concatenate([np.zeros(9), [10.0]])
    off = swarm_offsets(v)
    assert off[-1] == 0.0  # alone in its bin
    assert np.max(np.abs(off)) == pytest.approx(0.4)
    assert len(np.unique(off[:9])) == 9  # crowded points do not overlap
