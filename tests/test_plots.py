"""Tests of whybox.plots: the artists drawn, not the pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from whybox import Explanation, InputError, plots  # noqa: E402
from whybox.debugging import confusion_analysis  # noqa: E402
from whybox.inspection import PermutationImportance  # noqa: E402
from whybox.plots._beeswarm import swarm_offsets  # noqa: E402


def _explanation(n=40, d=6, k=1, seed=0, data=None):
    rng = np.random.default_rng(seed)
    scale = np.arange(1, d + 1)[None, :, None]
    values = rng.normal(size=(n, d, k)) * scale
    base = rng.normal(size=(n, k))
    if data is None:
        data = rng.normal(size=(n, d))
    outputs = ["y"] if k == 1 else [f"class_{i}" for i in range(k)]
    return Explanation(
        values,
        base,
        data,
        [f"f{i}" for i in range(d)],
        outputs,
        model_output=values.sum(axis=1) + base,
    )


def _bars(ax):
    return list(ax.containers[0])


def _ticklabels(ax, axis="y"):
    """Tick labels ordered by position: bottom to top (y) or left to right (x)."""
    axis_obj = ax.yaxis if axis == "y" else ax.xaxis
    locs = axis_obj.get_ticklocs()
    texts = [t.get_text() for t in axis_obj.get_ticklabels()]
    return [t for _, t in sorted(zip(locs, texts, strict=True))]


# ---------------------------------------------------------------------- bar
def test_bar_heights_are_mean_abs_values_largest_on_top():
    ex = _explanation(d=5)
    fig = plots.bar(ex)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    bars = _bars(ax)
    assert len(bars) == 5
    imp = np.abs(ex.values[:, :, 0]).mean(axis=0)
    order = np.argsort(-imp)
    np.testing.assert_allclose([b.get_width() for b in bars], imp[order])
    # the largest bar sits highest
    ys = [b.get_y() for b in bars]
    assert ys == sorted(ys, reverse=True)
    labels_top_down = _ticklabels(ax)[::-1]
    assert labels_top_down == [f"f{i}" for i in order]
    # agrees with Explanation.global_importance
    np.testing.assert_allclose(
        [b.get_width() for b in bars], ex.global_importance()["y"].to_numpy()
    )


def test_bar_sums_the_rest_into_other_features():
    ex = _explanation(d=12)
    ax = plots.bar(ex, max_display=4).axes[0]
    bars = _bars(ax)
    assert len(bars) == 4
    imp = np.sort(np.abs(ex.values[:, :, 0]).mean(axis=0))[::-1]
    np.testing.assert_allclose([b.get_width() for b in bars[:3]], imp[:3])
    assert bars[3].get_width() == pytest.approx(imp[3:].sum())
    assert "9 other features" in _ticklabels(ax)


def test_bar_multi_output_needs_output():
    ex = _explanation(k=3)
    with pytest.raises(InputError, match=r"class_0.*class_1.*class_2"):
        plots.bar(ex)
    by_name = [b.get_width() for b in _bars(plots.bar(ex, output="class_1").axes[0])]
    by_index = [b.get_width() for b in _bars(plots.bar(ex, output=1).axes[0])]
    assert by_name == by_index
    imp = np.sort(np.abs(ex.values[:, :, 1]).mean(axis=0))[::-1]
    np.testing.assert_allclose(by_name, imp)
    with pytest.raises(InputError, match="not an output"):
        plots.bar(ex, output="nope")
    # an explanation already sliced to one output needs none
    assert len(_bars(plots.bar(ex[:, :, "class_2"]).axes[0])) == 6


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bar_bad_max_display(bad):
    with pytest.raises(InputError, match="max_display"):
        plots.bar(_explanation(), max_display=bad)


def test_bar_rejects_single_row_and_non_explanations():
    ex = _explanation()
    with pytest.raises(InputError, match="waterfall"):
        plots.bar(ex[0])
    with pytest.raises(InputError, match="Explanation"):
        plots.bar(np.ones((3, 2)))


# ---------------------------------------------------------------------- beeswarm
def test_beeswarm_points_rows_and_colours():
    n, d = 30, 8
    data = np.random.default_rng(1).normal(size=(n, d))
    data[:4, 7] = np.nan  # f7 is the most important: 4 grey points
    ex = _explanation(n=n, d=d, data=data)
    fig = plots.beeswarm(ex, max_display=5)
    ax = fig.axes[0]
    cols = {c.get_gid(): c for c in ax.collections}
    imp = np.abs(ex.values[:, :, 0]).mean(axis=0)
    top4 = [f"f{i}" for i in np.argsort(-imp)[:4]]
    assert _ticklabels(ax)[::-1] == [*top4, "Sum of 4 other features"]
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


# ---------------------------------------------------------------------- waterfall
def test_waterfall_goes_from_base_value_to_model_output():
    ex = _explanation(d=5)
    row = ex[3]
    ax = plots.waterfall(row).axes[0]
    bars = _bars(ax)
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
    labels = _ticklabels(ax)
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
    ex = _explanation(d=15)
    ax = plots.waterfall(ex[0], max_display=5).axes[0]
    bars = _bars(ax)
    assert len(bars) == 5
    assert _ticklabels(ax)[0] == "11 other features"
    v = ex.values[0, :, 0]
    rest = np.argsort(-np.abs(v))[4:]
    assert bars[0].get_width() == pytest.approx(v[rest].sum())
    assert bars[-1].get_x() + bars[-1].get_width() == pytest.approx(ex.model_output[0, 0])


def test_waterfall_validates_rows_and_outputs():
    ex = _explanation(k=2)
    with pytest.raises(InputError, match=r"ex\[i\]"):
        plots.waterfall(ex, output=0)
    with pytest.raises(InputError, match=r"\['class_0', 'class_1'\]"):
        plots.waterfall(ex[0])
    ax = plots.waterfall(ex[0], output="class_1").axes[0]
    assert _bars(ax)[-1].get_x() + _bars(ax)[-1].get_width() == pytest.approx(ex.model_output[0, 1])
    # an explanation of exactly one row is accepted, as is an output-sliced row
    assert len(_bars(plots.waterfall(ex[:1], output=0).axes[0])) == 6
    assert len(_bars(plots.waterfall(ex[0, :, "class_0"]).axes[0])) == 6


# ---------------------------------------------------------------------- dependence
def test_dependence_points_are_value_vs_shap():
    data = np.random.default_rng(2).normal(size=(40, 6))
    data[:3, 2] = np.nan
    ex = _explanation(data=data)
    fig = plots.dependence(ex, "f2")
    ax = fig.axes[0]
    (pts,) = ax.collections
    off = pts.get_offsets()
    assert len(off) == 37  # rows with a missing x are left out
    np.testing.assert_allclose(off[:, 0], data[3:, 2])
    np.testing.assert_allclose(off[:, 1], ex.values[3:, 2, 0])
    assert ax.get_xlabel() == "f2"


def test_dependence_coloured_by_another_feature():
    ex = _explanation()
    fig = plots.dependence(ex, 1, color="f4")
    ax = fig.axes[0]
    (pts,) = ax.collections
    np.testing.assert_allclose(pts.get_array(), ex.data[:, 4])
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "f4"


def test_dependence_categorical_feature_and_errors():
    n = 6
    data = np.array(
        [["a", 1.0], ["b", 2.0], ["a", 3.0], ["c", 4.0], ["b", 5.0], ["a", 6.0]], dtype=object
    )
    values = np.arange(n * 2, dtype=float).reshape(n, 2, 1)
    ex = Explanation(values, np.zeros((n, 1)), data, ["city", "x"], ["y"])
    ax = plots.dependence(ex, "city").axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], [0, 1, 0, 2, 1, 0])
    assert _ticklabels(ax, "x") == ["a", "b", "c"]
    with pytest.raises(InputError, match="not a feature"):
        plots.dependence(ex, "age")
    with pytest.raises(InputError, match="no data"):
        plots.dependence(Explanation(values, np.zeros((n, 1)), None, ["city", "x"], ["y"]), 0)
    with pytest.raises(InputError, match="output="):
        plots.dependence(_explanation(k=2), "f0")


# ---------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_heatmap_and_annotations():
    ca = confusion_analysis(list("aabbbc"), list("abbbcc"))
    fig = plots.confusion_matrix(ca)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), ca.normalized)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    assert texts[0] == "1\n(50%)"  # true a, predicted a
    assert texts[4] == "2\n(67%)"  # true b, predicted b
    assert _ticklabels(ax, "x") == ["a", "b", "c"] and _ticklabels(ax) == ["a", "b", "c"]
    ax2 = plots.confusion_matrix(ca, normalize=False).axes[0]
    np.testing.assert_allclose(ax2.images[0].get_array(), ca.matrix)
    assert [t.get_text() for t in ax2.texts] == [str(c) for c in ca.matrix.ravel()]
    with pytest.raises(InputError, match="ConfusionAnalysis"):
        plots.confusion_matrix(ca.matrix)


# ---------------------------------------------------------------------- permutation importance
def _perm_result(d=8, repeats=5, seed=0):
    rng = np.random.default_rng(seed)
    imp = rng.normal(size=(d, repeats)) + np.arange(d)[:, None] * 0.5
    return PermutationImportance(
        imp, imp.mean(axis=1), imp.std(axis=1), tuple(f"f{i}" for i in range(d)), 0.9, "accuracy"
    )


def test_permutation_importance_boxes_sorted_by_mean():
    res = _perm_result()
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
    assert _ticklabels(ax)[::-1] == top5
    for name, line in medians.items():
        j = int(name[1:])
        np.testing.assert_allclose(line.get_xdata(), np.median(res.importances[j]))
    assert "3 not shown" in ax.get_title()
    with pytest.raises(InputError, match="PermutationImportance"):
        plots.permutation_importance({"importances": 1})


# ---------------------------------------------------------------------- common behaviour
def test_plots_draw_into_given_axes_and_save_png_svg(tmp_path):
    ex = _explanation()
    ca = confusion_analysis([0, 1, 1], [0, 1, 0])
    calls = [
        lambda ax: plots.bar(ex, ax=ax),
        lambda ax: plots.beeswarm(ex, ax=ax),
        lambda ax: plots.waterfall(ex[0], ax=ax),
        lambda ax: plots.dependence(ex, "f0", color="f1", ax=ax),
        lambda ax: plots.confusion_matrix(ca, ax=ax),
        lambda ax: plots.permutation_importance(_perm_result(), ax=ax),
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
    plots.bar(_explanation())
    plots.waterfall(_explanation()[0])
    assert plt.get_fignums() == before


# ---------------------------------------------------------------------- user text
DOLLAR_NAMES = ["cost ($)", "$x^2$", r"$\frac$ broken", "a $ b $ c"]


def test_names_with_dollar_signs_are_drawn_literally_by_every_plot(tmp_path):
    ex = _explanation(d=4)
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
