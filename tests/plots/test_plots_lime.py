"""Tests of the LIME views: the artists drawn and the HTML written, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from whybox import Explanation, InputError
from whybox.lime import LimeImageExplainer, LimeTabularExplainer, LimeTextExplainer, conditions
from whybox.plots import lime_bar, lime_image, lime_text
from whybox.plots._common import NEGATIVE, POSITIVE


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))

    def model(A):
        A = np.asarray(A, dtype=float)
        return 2.0 * (A[:, 0] > 0.5) - 1.0 * (A[:, 3] > 0) + 0.1 * A[:, 1]

    return LimeTabularExplainer(model, X, max_features=3, n_perturbations=300, random_state=0)(
        X[:3]
    )


def _ticklabels(ax):
    locs = ax.yaxis.get_ticklocs()
    texts = [t.get_text() for t in ax.yaxis.get_ticklabels()]
    return [t for _, t in sorted(zip(locs, texts, strict=True), reverse=True)]  # top first


def test_lime_bar_draws_the_selected_weights_with_their_conditions(tabular):
    row = tabular[1]
    fig = lime_bar(row)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    bars = sorted(ax.containers[0], key=lambda b: -b.get_y())  # top first
    w = row.values[:, 0]
    order = np.argsort(-np.abs(w))[: (w != 0).sum()]
    assert len(bars) == (w != 0).sum() <= 3
    np.testing.assert_allclose([b.get_width() for b in bars], w[order])
    colors = [to_hex(b.get_facecolor()) for b in bars]
    assert colors == [POSITIVE if v > 0 else NEGATIVE for v in w[order]]
    assert _ticklabels(ax) == [conditions(row)[j] for j in order]
    r2 = float(tabular.quality["local_r2"][1, 0])
    assert ax.get_title() == f"output: local R\N{SUPERSCRIPT TWO} = {r2:.3f}"
    assert ax.get_xlabel() == "LIME weight (raw)"
    # max_display keeps the largest; an explanation of one row is accepted as is
    ax2 = lime_bar(tabular[1:2], max_display=1).axes[0]
    assert [b.get_width() for b in ax2.containers[0]] == pytest.approx([w[order[0]]])


def test_lime_bar_errors_name_the_fix(tabular):
    with pytest.raises(InputError, match=r"pass one row, e.g. plots.lime_bar\(ex\[i\]\)"):
        lime_bar(tabular)
    shap_like = Explanation(np.ones((1, 2, 1)), np.zeros((1, 1)), None, ["a", "b"], ["y"])
    with pytest.raises(InputError, match="made by ''"):
        lime_bar(shap_like)
    with pytest.raises(InputError, match="max_display must be a positive integer"):
        lime_bar(tabular[0], max_display=0)


def _text_explanation(doc, class_name="good <review>"):
    def predict_proba(texts):
        p = np.array([0.2 + 0.6 * ("great" in t) - 0.1 * ("dull" in t) for t in texts])
        return np.c_[1 - p, p]

    return LimeTextExplainer(
        predict_proba, class_names=["bad", class_name], max_features=2, n_perturbations=300,
        random_state=0,
    )(doc)  # fmt: skip


def test_lime_text_highlights_selected_words_and_escapes_user_text():
    doc = "a great <script>alert(1)</script> film & a dull great plot"
    ex = _text_explanation(doc)
    out = lime_text(ex)
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&amp;" in out and "good &lt;review&gt;" in out
    w = dict(zip(ex.feature_names, ex.values[0, :, 0], strict=True))
    selected = {k for k, v in w.items() if v != 0}
    assert selected == {"great", "dull"}
    # every occurrence of a selected word is wrapped, with its weight as the tooltip
    assert out.count(f'title="{w["great"]:+.4f}">great</span>') == 2
    assert out.count(f'title="{w["dull"]:+.4f}">dull</span>') == 1
    assert out.count("<span") == 3
    assert "rgba(214, 39, 40, 0.900)" in out  # the largest weight, positive, most opaque
    assert "rgba(31, 119, 180," in out  # 'dull' lowers the probability
    r2 = float(ex.quality["local_r2"][0, 0])
    p = float(ex.model_output[0, 0])
    assert f"probability {p:.3f}, local R\N{SUPERSCRIPT TWO} {r2:.3f}" in out


def test_lime_text_wants_a_text_explanation(tabular):
    with pytest.raises(InputError, match="lime_text draws a lime_text result"):
        lime_text(tabular[0])


def _quadrants(image):
    h, w = image.shape[:2]
    return 2 * (np.arange(h) >= h // 2)[:, None] + (np.arange(w) >= w // 2)[None, :]


def test_lime_image_tints_the_chosen_superpixels():
    img = np.full((8, 8, 3), 0.5)

    def predict_fn(batch):
        p = 0.5 + 0.3 * (batch[:, 0, 0, 0] == 0.5) - 0.2 * (batch[:, 7, 7, 0] == 0.5)
        return np.c_[1 - p, p]

    ex = LimeImageExplainer(
        predict_fn, segmentation=_quadrants, hide_color=0.0, ridge=0.0,
        feature_selection="none", n_perturbations=200, random_state=0,
    )(img)  # fmt: skip
    np.testing.assert_allclose(ex.values[0, :, 0], [0.3, 0, 0, -0.2], atol=1e-10)
    fig = lime_image(ex, img, n_superpixels=2)
    ax = fig.axes[0]
    assert len(ax.images) == 2
    overlay = np.asarray(ax.images[1].get_array())
    red = [int(POSITIVE[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    blue = [int(NEGATIVE[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    np.testing.assert_allclose(overlay[1, 1], red + [0.45])  # inside superpixel 0
    np.testing.assert_allclose(overlay[3, 3], red + [1.0])  # its outline
    np.testing.assert_allclose(overlay[6, 6], blue + [0.45])  # superpixel 3
    assert np.all(overlay[:4, 4:, 3] == 0) and np.all(overlay[4:, :4, 3] == 0)
    positive = np.asarray(lime_image(ex, img, positive_only=True).axes[0].images[1].get_array())
    assert np.all(positive[4:, 4:, 3] == 0) and positive[1, 1, 3] == 0.45
    with pytest.raises(InputError, match=r"image has shape \(4, 8, 3\)"):
        lime_image(ex, img[:4])
    with pytest.raises(InputError, match="n_superpixels must be a positive integer"):
        lime_image(ex, img, n_superpixels=0)
