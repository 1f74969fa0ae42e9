"""The plots of partial dependence, ALE and the H-statistic draw what they say."""

import pytest

from whybox import plots
from whybox._exceptions import InputError
from whybox.inspection import accumulated_local_effects, h_statistic, partial_dependence


def test_effect_plots_draw_what_they_say(regression, multiclass):
    model, X = regression
    res = partial_dependence(model, X, 0, kind="both", grid_resolution=10)
    fig = plots.partial_dependence(res, max_ice_lines=20)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "partial dependence" in labels and "ICE (20 rows)" in labels
    fig2 = plots.partial_dependence(partial_dependence(model, X, (0, 1), grid_resolution=6))
    assert len(fig2.axes) == 2  # heatmap and colour bar
    ale = accumulated_local_effects(model, X, 0, n_bins=10, n_bootstrap=20, random_state=0)
    fig3 = plots.ale(ale)
    assert "95% bootstrap band" in [t.get_text() for t in fig3.axes[0].get_legend().get_texts()]
    cmodel, CX = multiclass
    h = h_statistic(cmodel, CX, features=[0, 1, 2], max_samples=20, random_state=0)
    assert len(plots.h_statistic(h, target=2).axes[0].patches) == 3
    with pytest.raises(InputError, match="PartialDependence"):
        plots.partial_dependence(ale)
    with pytest.raises(InputError, match="target"):
        plots.ale(ale, target="nope")
