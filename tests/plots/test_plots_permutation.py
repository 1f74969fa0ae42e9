"""Tests of plots.permutation_importance: the boxes drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plots._helpers import perm_result, ticklabels
from whybox import InputError, plots


def test_permutation_importance_boxes_sorted_by_mean():
    res = perm_result()
    ax = plots.permutation_importance(res, max_display=5).axes[0]
    medians = {
        line.get_gid().split(":", 1)[1]: line
        for line in ax.lines
        if (line.get_gid() or "").startswith("median:")
    }
    assert len(medians) == 5
    boxes = [p for p in ax.patches if (p.get_gid() or "").startswith("box:")]
    assert len(boxes) == 5
    top5 = [f"f{i}" for i in np.argsort(-res.importances_mean)[:5]]
    assert ticklabels(ax)[::-1] == top5
    for name, line in medians.items():
        j = int(name[1:])
        np.testing.assert_allclose(line.get_xdata(), np.median(res.importances[j]))
    assert "3 not shown" in ax.get_title()
    with pytest.raises(InputError, match="PermutationImportance"):
        plots.permutation_importance({"importances": 1})
