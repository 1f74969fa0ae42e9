"""Attention times gradient against attention recomputed by hand (Chefer et al. 2021)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.attention._helpers import IDS, chefer_reference, manual_forward, tiny_classifier, torch
from whybox import Explanation, InputError
from whybox.attention import attention_weights, attention_x_gradient

nn = torch.nn


@pytest.mark.parametrize("batch_first", [True, False])
def test_attention_x_gradient_equals_hand_written_attention(batch_first):
    model = tiny_classifier(batch_first)
    logits, probs = manual_forward(model, IDS)
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
    want = chefer_reference(a, g, pad, [0, 0, 0])
    assert np.max(np.abs(ex.values[..., 0] - want)) <= 1e-10
    assert np.all(ex.values[pad] == 0) and np.all(np.isnan(ex.base_values))
    # another target, a per-sample query and batches of one
    grads2 = torch.autograd.grad(logits[:, 2].sum(), probs)
    ex2 = attention_x_gradient(model, IDS, 2, query=[4, 2, 3], batch_size=1)
    want2 = chefer_reference(a, [gr.numpy() for gr in grads2], pad, [4, 2, 3])
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


# ---------------------------------------------------------------------- Hugging Face
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
    rows = chefer_reference(a, [g.numpy() for g in grads], pad, [0, 0, 0])
    # query="mean": the mean over the real query rows
    full = []
    for q in range(5):
        full.append(chefer_reference(a, [g.numpy() for g in grads], pad, [q, q, q]))
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
