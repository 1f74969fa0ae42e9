"""What every plot does: draw into a given Axes, save, leave pyplot alone, draw user text literally."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from tests.plots._helpers import explanation, perm_result
from whybox import Explanation, InputError, plots
from whybox.debugging import confusion_analysis
from whybox.inspection import PermutationImportance


def test_plots_draw_into_given_axes_and_save_png_svg(tmp_path):
    ex = explanation()
    ca = confusion_analysis([0, 1, 1], [0, 1, 0])
    calls = [
        lambda ax: plots.bar(ex, ax=ax),
        lambda ax: plots.beeswarm(ex, ax=ax),
        lambda ax: plots.waterfall(ex[0], ax=ax),
        lambda ax: plots.dependence(ex, "f0", color="f1", ax=ax),
        lambda ax: plots.confusion_matrix(ca, ax=ax),
        lambda ax: plots.permutation_importance(perm_result(), ax=ax),
    ]
    for i, call in enumerate(calls):
        fig = Figure()
        ax = fig.add_subplot()
        assert call(ax) is fig
        fig.savefig(tmp_path / f"p{i}.png")
        fig.savefig(tmp_path / f"p{i}.svg")
        assert (tmp_path / f"p{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (tmp_path / f"p{i}.svg").read_text()
    with pytest.raises(InputError, match="matplotlib Axes"):
        plots.bar(ex, ax="left")


def test_plots_leave_pyplot_alone():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.bar(explanation())
    plots.waterfall(explanation()[0])
    assert plt.get_fignums() == before


# ---------------------------------------------------------------------- user text
DOLLAR_NAMES = ["cost ($)", "$x^2$", r"$\frac$ broken", "a $ b $ c"]


def test_names_with_dollar_signs_are_drawn_literally_by_every_plot(tmp_path):
    ex = explanation(d=4)
    ex = Explanation(
        ex.values, ex.base_values, ex.data, DOLLAR_NAMES, ex.output_names,
        model_output=ex.model_output,
    )  # fmt: skip
    imp = np.abs(np.random.default_rng(0).normal(size=(4, 3)))
    perm = PermutationImportance(
        imp, imp.mean(axis=1), imp.std(axis=1), tuple(DOLLAR_NAMES), 0.9, "accuracy"
    )
    y = ["$a$", "b $", "$a$", "b $"]
    figures = [
        plots.bar(ex),
        plots.beeswarm(ex),
        plots.waterfall(ex[0]),
        plots.dependence(ex, "$x^2$", color="cost ($)"),
        plots.permutation_importance(perm),
        plots.confusion_matrix(confusion_analysis(y, y[::-1])),
    ]
    for i, fig in enumerate(figures):
        fig.savefig(tmp_path / f"{i}.png")  # malformed mathtext would raise here
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        shown = " ".join(t.replace(r"\$", "$") for t in texts)
        drawn = {3: DOLLAR_NAMES[:2], 5: ["$a$", "b $"]}.get(i, DOLLAR_NAMES)
        assert all(name in shown for name in drawn), (i, texts)
