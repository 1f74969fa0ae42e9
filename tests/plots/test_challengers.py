"""plots.challengers: each model's headline metric with its interval, the audited model marked."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from whybox import InputError, plots
from whybox.glassbox import Challengers


def _result():
    """A hand-made result: the audited model and two challengers, one worse, one better."""
    table = pd.DataFrame(
        {
            "role": ["audited", "challenger", "challenger"],
            "accuracy": [0.90, 0.85, 0.92],
            "accuracy low": [0.86, 0.80, 0.88],
            "accuracy high": [0.94, 0.89, 0.95],
            "fit seconds": [np.nan, 1.5, 0.1],
            "size": [np.nan, 12.0, 8.0],
            "size unit": ["", "terms", "leaves"],
            "gap": [0.0, 5.0, -2.0],
            "gap low": [0.0, 1.0, -4.5],
            "gap high": [0.0, 9.0, 0.5],
        },
        index=pd.Index(["audited model (X)", "EBM", "decision tree (depth 3)"], name="model"),
    )
    return Challengers(
        task="classification", metric="accuracy", table=table, params={}, absent={},
        n_train=300, n_train_given=300, n_test=100, n_bootstrap=200, confidence_level=0.95, random_state=0,
        fit_seconds=1.6,
    )  # fmt: skip


def _by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_values_intervals_and_the_audited_mark():
    fig = plots.challengers(_result())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    (audited,) = _by_gid(ax, "audited")
    (challengers,) = _by_gid(ax, "challengers")
    (line,) = _by_gid(ax, "audited_line")
    # the audited model on top (largest y), the challengers below in the table's order
    np.testing.assert_allclose(audited.get_offsets(), [[0.90, 2.0]])
    np.testing.assert_allclose(challengers.get_offsets(), [[0.85, 1.0], [0.92, 0.0]])
    assert line.get_xdata()[0] == pytest.approx(0.90)
    # worse challenger red, better blue
    colours = challengers.get_facecolors()[:, :3]
    np.testing.assert_allclose(colours[0], matplotlib.colors.to_rgb("#d62728"))
    np.testing.assert_allclose(colours[1], matplotlib.colors.to_rgb("#1f77b4"))
    (bars,) = _by_gid(ax, "intervals")
    segments = sorted(bars.get_segments(), key=lambda s: -s[0][1])
    np.testing.assert_allclose(
        [s[:, 0] for s in segments], [[0.86, 0.94], [0.80, 0.89], [0.88, 0.95]]
    )
    labels = {t.get_position()[1]: t.get_text() for t in ax.get_yticklabels()}
    assert labels[0.0] == "decision tree (depth 3)\ngap -2.0 pts [-4.5, +0.5]"
    assert labels[1.0] == "EBM\ngap +5.0 pts [+1.0, +9.0]"
    assert labels[2.0] == "audited model (X)"


def test_draws_into_a_given_axes_and_refuses_other_results():
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.challengers(_result(), ax=ax) is fig
    with pytest.raises(InputError, match=r"challengers takes Challengers, got dict"):
        plots.challengers({})
