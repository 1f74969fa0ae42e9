"""Tests of plots.waterfall: the steps drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from tests.plots._helpers import bar_patches, explanation, ticklabels
from whybox import InputError, plots


def test_waterfall_goes_from_base_value_to_model_output():
    ex = explanation(d=5)
    row = ex[3]
    ax = plots.waterfall(row).axes[0]
    bars = bar_patches(ax)
    assert len(bars) == 5
    base = float(ex.base_values[3, 0])
    fx = float(ex.model_output[3, 0])
    assert bars[0].get_x() == pytest.approx(base)
    top = bars[-1]
    assert top.get_x() + top.get_width() == pytest.approx(fx)
    # each bar starts where the previous one ends
    for a, b in zip(bars[:-1], bars[1:], strict=True):
        assert b.get_x() == pytest.approx(a.get_x() + a.get_width())
    # the widths are the feature values, largest |value| on top
    v = ex.values[3, :, 0]
    order = np.argsort(-np.abs(v))
    np.testing.assert_allclose([b.get_width() for b in bars[::-1]], v[order])
    labels = ticklabels(ax)
    j = order[0]
    assert labels[-1] == f"f{j} = {ex.data[3, j]:.4g}"
    texts = [t.get_text() for t in ax.texts]
    assert any(t.strip() == f"f(x) = {fx:.4g}" for t in texts)
    assert any(t.strip() == f"E[f(X)] = {base:.4g}" for t in texts)
    # positive and negative contributions are coloured differently
    colours = {to_hex(b.get_facecolor()) for b, w in zip(bars, v[order][::-1], strict=True)}
    signs = {w >= 0 for w in v}
    assert len(colours) == len(signs)


def test_waterfall_sums_the_rest_and_still_ends_at_fx():
    ex = explanation(d=15)
    ax = plots.waterfall(ex[0], max_display=5).axes[0]
    bars = bar_patches(ax)
    assert len(bars) == 5
    assert ticklabels(ax)[0] == "11 other features"
    v = ex.values[0, :, 0]
    rest = np.argsort(-np.abs(v))[4:]
    assert bars[0].get_width() == pytest.approx(v[rest].sum())
    assert bars[-1].get_x() + bars[-1].get_width() == pytest.approx(ex.model_output[0, 0])


def test_waterfall_validates_rows_and_outputs():
    ex = explanation(k=2)
    with pytest.raises(InputError, match=r"ex\[i\]"):
        plots.waterfall(ex, target=0)
    with pytest.raises(InputError, match=r"\['class_0', 'class_1'\]"):
        plots.waterfall(ex[0])
    ax = plots.waterfall(ex[0], target="class_1").axes[0]
    assert bar_patches(ax)[-1].get_x() + bar_patches(ax)[-1].get_width() == pytest.approx(
        ex.model_output[0, 1]
    )
    # an explanation of exactly one row is accepted, as is an output-sliced row
    assert len(bar_patches(plots.waterfall(ex[:1], target=0).axes[0])) == 6
    assert len(bar_patches(plots.waterfall(ex[0, :, "class_0"]).axes[0])) == 6
