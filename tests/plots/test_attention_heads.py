"""The grid of attention heatmaps draws each head's own weights, one Axes per head."""

import numpy as np
import pytest

from tests._requires import requires
from whybox import InputError
from whybox.attention import AttentionMaps
from whybox.concepts import attention_patterns, head_scores
from whybox.datasets import induction_transformer_architecture
from whybox.plots import attention_heads

torch = requires("torch")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return induction_transformer_architecture(8, n_ctx=10, d_model=8, n_heads=2).eval()


@pytest.fixture(scope="module")
def ids():
    return torch.tensor([[1, 2, 3, 4, 5, 1, 2, 3, 4, 5], [0, 7, 6, 0, 7, 6, 0, 7, 6, 0]])


def test_grid_has_one_image_per_head_holding_its_weights(model, ids):
    maps = attention_patterns(model, ids)
    fig = attention_heads(maps, row=1)
    assert len(fig.axes) == maps.n_layers * maps.n_heads == 4
    for layer in range(2):
        for head in range(2):
            ax = fig.axes[layer * 2 + head]
            assert ax.get_title() == f"L{layer} H{head}"
            np.testing.assert_array_equal(ax.images[0].get_array(), maps.weights[1, layer, head])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [str(i) for i in ids[1].tolist()]
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_one_layer_and_scores_in_the_titles(model, ids):
    maps = attention_patterns(model, ids)
    scores = head_scores(model, ids)
    fig = attention_heads(maps, layer=-1, scores=scores, figsize=(4, 2))
    assert len(fig.axes) == 2
    title = fig.axes[1].get_title()
    assert title.startswith("L1 H1")
    assert f"prefix {scores.prefix_matching[1, 1]:.2f}" in title
    assert f"prev {scores.previous_token[1, 1]:.2f}" in title
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), maps.weights[0, 1, 1])
    assert tuple(fig.get_size_inches()) == (4.0, 2.0)


def test_padding_is_left_out_and_long_sequences_lose_tick_labels():
    rng = np.random.default_rng(0)
    w = rng.random((1, 1, 1, 40, 40))
    pad = np.zeros((1, 40), bool)
    pad[0, -5:] = True
    maps = AttentionMaps(weights=w, layer_names=("l0",), padding_mask=pad)
    fig = attention_heads(maps)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), w[0, 0, 0, :35, :35])
    assert len(fig.axes[0].get_xticks()) == 0


def test_bad_arguments(model, ids):
    maps = attention_patterns(model, ids)
    with pytest.raises(InputError, match="AttentionMaps"):
        attention_heads(maps.weights)
    with pytest.raises(InputError, match="row"):
        attention_heads(maps, row=2)
    with pytest.raises(InputError, match="layer"):
        attention_heads(maps, layer=5)
    with pytest.raises(InputError, match="HeadScores"):
        attention_heads(maps, scores=maps)
    other = head_scores(induction_transformer_architecture(8, n_ctx=10, n_layers=1).eval(), ids)
    with pytest.raises(InputError, match="same model"):
        attention_heads(maps, scores=other)
