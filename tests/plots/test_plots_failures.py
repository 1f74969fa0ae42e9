"""Tests of plots.slices: the bars and the title drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.plots._helpers import ticklabels
from whybox import InputError, plots
from whybox.debugging import find_slices


class _WrongWhenXIsHigh:
    """A classifier that is right everywhere except where x > 0.5 (a slice of errors)."""

    classes_ = np.array([0, 1])

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        return np.where(X[:, 0] > 0.5, 1, 0)


def test_slices_draws_one_bar_per_slice_and_names_the_significance():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(size=400), "z": rng.normal(size=400)})
    y = np.zeros(400, dtype=int)
    result = find_slices(_WrongWhenXIsHigh().predict, X, y, significance=0.01)
    assert result.slices, "the rows with x > 0.5 are all wrong: a slice must be found"
    ax = plots.slices(result).axes[0]
    bars = ax.patches
    assert len(bars) == len(result.slices)
    np.testing.assert_allclose(
        sorted(b.get_width() for b in bars), sorted(s.error_rate for s in result.slices)
    )
    assert ticklabels(ax)[-1].startswith(result.slices[0].description)
    assert "FDR 0.01" in ax.get_title()
    (overall,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert overall.get_xdata()[0] == pytest.approx(result.overall_error_rate)
    with pytest.raises(InputError, match="SliceAnalysis"):
        plots.slices(result.slices)
