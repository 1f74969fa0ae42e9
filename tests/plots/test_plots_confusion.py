"""Tests of plots.confusion_matrix: the cells drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plots._helpers import ticklabels
from whybox import InputError, plots
from whybox.debugging import confusion_analysis


def test_confusion_matrix_heatmap_and_annotations():
    ca = confusion_analysis(list("aabbbc"), list("abbbcc"))
    fig = plots.confusion_matrix(ca)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), ca.normalized)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    assert texts[0] == "1\n(50%)"  # true a, predicted a
    assert texts[4] == "2\n(67%)"  # true b, predicted b
    assert ticklabels(ax, "x") == ["a", "b", "c"] and ticklabels(ax) == ["a", "b", "c"]
    ax2 = plots.confusion_matrix(ca, normalize=False).axes[0]
    np.testing.assert_allclose(ax2.images[0].get_array(), ca.matrix)
    assert [t.get_text() for t in ax2.texts] == [str(c) for c in ca.matrix.ravel()]
    with pytest.raises(InputError, match="ConfusionAnalysis"):
        plots.confusion_matrix(ca.matrix)
