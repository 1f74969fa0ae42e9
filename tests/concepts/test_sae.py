"""SparseAutoencoder: training, ground truth on superposition, metrics, SAELens as reference."""

import copy

import numpy as np
import pytest

from tests._requires import requires
from whybox._exceptions import InputError
from whybox.datasets import make_superposition

torch = requires("torch")

from whybox.concepts import SAEEvaluation, SparseAutoencoder  # noqa: E402
from whybox.concepts._sae import _topk_gradients  # noqa: E402

nn = torch.nn


@pytest.fixture(scope="module")
def toy():
    """32 sparse features in 16 dimensions (Elhage et al. 2022)."""
    return make_superposition(20000, n_true_features=32, n_dims=16, feature_probability=0.05)


def best_cosine(w_dec, directions):
    """Mean over the true directions of the best cosine similarity with a decoder row."""
    rows = w_dec / np.linalg.norm(w_dec, axis=1, keepdims=True)
    return float((directions @ rows.T).max(axis=1).mean())


SETTINGS = {
    "topk": {"k": 2},
    "l1": {"l1": 0.5},
}


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def fitted(request, toy):
    sae = SparseAutoencoder(
        64, batch_size=256, epochs=5, learning_rate=1e-2, **SETTINGS[request.param]
    )
    return request.param, sae.fit(toy.activations)


# ---------------------------------------------------------------------- ground truth
def test_recovers_the_true_feature_directions(fitted, toy):
    """The decoder rows find the planted directions: mean best cosine >= 0.9."""
    name, sae = fitted
    assert best_cosine(sae.W_dec, toy.directions) >= 0.9, name


def test_decoder_rows_have_unit_norm_and_topk_keeps_k(fitted, toy):
    name, sae = fitted
    np.testing.assert_allclose(np.linalg.norm(sae.W_dec, axis=1), 1.0, atol=1e-5)
    z = sae.encode(toy.activations[:2000])
    assert z.shape == (2000, 64) and z.dtype == np.float32 and (z >= 0).all()
    if name == "topk":
        assert ((z != 0).sum(axis=1) <= 2).all()


def test_encode_decode_reconstruct_are_the_formulas(fitted, toy):
    _, sae = fitted
    x = toy.activations[:500].astype(np.float64)
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    if sae.k is None:
        z = np.maximum(pre, 0)
    else:
        z = np.zeros_like(pre)
        top = np.argsort(-pre, axis=1)[:, : sae.k]
        np.put_along_axis(z, top, np.maximum(np.take_along_axis(pre, top, 1), 0), 1)
    np.testing.assert_allclose(sae.encode(x), z, atol=1e-4)
    np.testing.assert_allclose(sae.decode(z), z @ sae.W_dec + sae.b_dec, atol=1e-4)
    np.testing.assert_allclose(sae.reconstruct(x), z @ sae.W_dec + sae.b_dec, atol=1e-4)


def test_evaluate_is_the_definitions(fitted, toy):
    """l0, mse, explained variance (SAELens's: over all vectors) and dead latents."""
    _, sae = fitted
    x = toy.activations.astype(np.float64)
    z = sae.encode(x).astype(np.float64)
    x_hat = z @ sae.W_dec + sae.b_dec
    resid = ((x - x_hat) ** 2).sum(axis=1)
    total = (x**2).sum(axis=1).mean() - (x.mean(axis=0) ** 2).sum()
    result = sae.evaluate(toy.activations)
    assert isinstance(result, SAEEvaluation)
    assert result.n_vectors == len(x)
    assert result.l0 == pytest.approx((z != 0).sum(axis=1).mean(), abs=1e-9)
    assert result.mse == pytest.approx(resid.mean(), rel=1e-4)
    assert result.explained_variance == pytest.approx(1 - resid.mean() / total, abs=1e-4)
    assert result.dead_fraction == pytest.approx(((z != 0).sum(axis=0) == 0).mean())
    np.testing.assert_allclose(result.latent_frequency, (z != 0).mean(axis=0))
    assert np.isnan(result.ce_loss_score) and np.isnan(result.kl_div_score)
    back = SAEEvaluation.from_dict(result.to_dict())
    assert back.explained_variance == result.explained_variance
    assert result.to_frame().loc[0, "l0"] == result.l0


def test_topk_gradients_equal_autograd_of_the_dense_loss():
    """The sparse hand-written TopK backward is the exact gradient of the MSE."""
    gen = torch.Generator().manual_seed(0)
    n, d, m, k = 64, 8, 40, 5
    p = {
        "W_enc": torch.randn(d, m, generator=gen, dtype=torch.float64),
        "b_enc": torch.randn(m, generator=gen, dtype=torch.float64),
        "W_dec": torch.randn(m, d, generator=gen, dtype=torch.float64),
        "b_dec": torch.randn(d, generator=gen, dtype=torch.float64),
    }
    for v in p.values():
        v.requires_grad_(True)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    mse, _, _ = _topk_gradients(p, x, k)
    manual = {name: v.grad.clone() for name, v in p.items()}
    for v in p.values():
        v.grad = None
    pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    values, index = pre.topk(k, dim=1)
    z = torch.zeros_like(pre).scatter(1, index, torch.relu(values))
    loss = ((z @ p["W_dec"] + p["b_dec"] - x) ** 2).sum(dim=1).mean()
    loss.backward()
    assert float(mse) == pytest.approx(loss.item(), rel=1e-12)
    for name, v in p.items():
        torch.testing.assert_close(manual[name], v.grad, rtol=1e-10, atol=1e-10)


def test_decoder_gradient_parallel_component_is_removed():
    """With unit-norm rows the update moves each row only along the sphere."""
    from whybox.concepts._sae import _project_out_parallel

    w = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=1)
    w.requires_grad_(True)
    w.grad = torch.randn(5, 3, dtype=torch.float64)
    _project_out_parallel(w)
    torch.testing.assert_close((w.grad * w.detach()).sum(dim=1), torch.zeros(5, dtype=w.dtype))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_dead_latents_come_back(name, toy):
    """Latents killed after training are resampled toward high-loss inputs and fire again.

    Without resampling (the control) they stay dead.
    """
    sae = SparseAutoencoder(
        32, batch_size=256, epochs=3, learning_rate=1e-2, dead_window=None, **SETTINGS[name]
    ).fit(toy.activations)
    before = sae.evaluate(toy.activations)
    killed = np.argsort(-before.latent_frequency)[:8]  # the busiest latents
    with torch.no_grad():
        sae._params["b_enc"][torch.as_tensor(killed)] = -1e3
    assert (sae.evaluate(toy.activations).latent_frequency[killed] == 0).all()
    runs = {}
    for window in (None, 20):
        again = copy.deepcopy(sae)
        again.warm_start, again.dead_window = True, window
        again.fit(toy.activations)
        runs[window] = (again, again.evaluate(toy.activations))
    control, resampled = runs[None][1], runs[20][1]
    assert (control.latent_frequency[killed] == 0).all()
    assert runs[None][0].n_resampled_ == 0 and runs[20][0].n_resampled_ >= 8
    assert (resampled.latent_frequency[killed] > 0).sum() >= 5
    assert resampled.explained_variance > control.explained_variance + 0.02


# ---------------------------------------------------------------------- sources
def test_fit_from_chunks_and_a_memmap(tmp_path, toy):
    path = tmp_path / "acts.npy"
    np.save(path, toy.activations)
    mapped = np.load(path, mmap_mode="r")
    a = SparseAutoencoder(64, k=2, batch_size=256, epochs=3, learning_rate=1e-2).fit(mapped)
    b = SparseAutoencoder(64, k=2, batch_size=256, epochs=3, learning_rate=1e-2).fit(
        toy.activations
    )
    np.testing.assert_array_equal(a.W_dec, b.W_dec)  # a memmap is read like the array
    chunks = [toy.activations[i : i + 5000] for i in range(0, 20000, 5000)]
    c = SparseAutoencoder(64, k=2, batch_size=256, epochs=3, learning_rate=1e-2).fit(chunks)
    assert best_cosine(c.W_dec, toy.directions) >= 0.9
    assert c.evaluate(chunks).explained_variance == pytest.approx(
        c.evaluate(toy.activations).explained_variance, abs=1e-9
    )


def test_fit_on_an_iterator_reads_it_once():
    chunks = (np.random.default_rng(i).standard_normal((300, 6)) for i in range(4))
    sae = SparseAutoencoder(12, k=2, batch_size=100, dead_window=None).fit(chunks)
    assert len(sae.loss_curve_) == 12
    again = (np.random.default_rng(i).standard_normal((300, 6)) for i in range(4))
    with pytest.raises(InputError, match="read only once"):
        SparseAutoencoder(12, k=2, batch_size=100, epochs=2).fit(again)


class Embedder(nn.Module):
    """Token ids -> embeddings (the layer ``emb``) -> a linear head, with padding."""

    def __init__(self, table):
        super().__init__()
        self.emb = nn.Embedding.from_pretrained(torch.as_tensor(table, dtype=torch.float32))
        self.after = nn.Linear(table.shape[1], 3)
        self.calls = 0
        self.eval()

    def forward(self, input_ids, attention_mask=None):
        h = self.emb(input_ids)
        self.calls += 1
        return self.after(h)


def test_fit_streams_a_layer_of_a_model_and_drops_padding(toy):
    """Token vectors of a model's layer, padding dropped, the forward pass cut at the layer.

    The embedding table is the superposition data, so the streamed vectors are
    exactly those rows and the SAE recovers the true directions from them.
    """
    table = np.vstack([np.zeros((1, 16), np.float32), toy.activations])
    model = Embedder(table)
    gen = np.random.default_rng(0)
    batches, seen = [], []
    for start in range(0, 20000, 500):
        ids = np.arange(start, start + 500).reshape(50, 10) + 1
        mask = (gen.random((50, 10)) > 0.2).astype(np.int64)
        batches.append({"input_ids": np.where(mask == 1, ids, 0), "attention_mask": mask})
        seen.append(ids[mask == 1])
    sae = SparseAutoencoder(64, k=2, batch_size=256, epochs=5, learning_rate=1e-2)
    sae.fit((model, "emb", batches))
    assert best_cosine(sae.W_dec, toy.directions) >= 0.9
    from whybox.concepts._sae_features import vector_chunks

    streamed = torch.cat(list(vector_chunks((model, "emb", batches)))).numpy()
    np.testing.assert_array_equal(streamed, table[np.concatenate(seen)])
    model.after.register_forward_hook(lambda *a: pytest.fail("the head ran"))
    list(vector_chunks((model, "emb", batches[:2])))


def test_buffer_of_a_model_stream_is_bounded():
    """At most 16 batches of vectors (plus one chunk) are held while streaming."""
    from whybox.concepts import _sae

    held = []
    original = torch.cat

    def spy(tensors, *args, **kwargs):
        out = original(tensors, *args, **kwargs)
        held.append(out.shape[0])
        return out

    model = Embedder(np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32))
    loader = [torch.randint(0, 50, (20, 5)) for _ in range(200)]  # 20,000 vectors
    torch.cat = spy
    try:
        _sae.SparseAutoencoder(8, k=1, batch_size=50, dead_window=None).fit((model, "emb", loader))
    finally:
        torch.cat = original
    assert max(held) <= 16 * 50 + 100


# ---------------------------------------------------------------------- the model metrics
class Readout(nn.Module):
    """x -> hidden (the layer) -> tanh -> logits over 5 classes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(6, 4)
        self.head = nn.Linear(4, 5)

    def forward(self, x):
        return self.head(torch.tanh(self.hidden(x)))


def exact_sae():
    """A ReLU SAE whose reconstruction is exact: z = (relu(h), relu(-h)), W_dec = [I; -I]."""
    eye = np.eye(4, dtype=np.float32)
    sae = SparseAutoencoder(8, l1=0.0)
    return sae._set_weights(
        np.hstack([eye, -eye]), np.zeros(8), np.vstack([eye, -eye]), np.zeros(4)
    )


def test_exact_reconstruction_recovers_all_the_loss():
    model = Readout().eval()
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 5, 40)
    result = exact_sae().evaluate((model, "hidden", x), y, batch_size=16)
    with torch.no_grad():
        xt = torch.as_tensor(x)
        clean = model(xt)
        zero = model.head(torch.tanh(torch.zeros(40, 4)))
    f = torch.nn.functional
    assert result.ce_clean == pytest.approx(float(f.cross_entropy(clean, torch.as_tensor(y))))
    assert result.ce_with_sae == pytest.approx(result.ce_clean, abs=1e-6)
    assert result.ce_zero_ablation == pytest.approx(
        float(f.cross_entropy(zero, torch.as_tensor(y))), rel=1e-6
    )
    assert result.ce_loss_score == pytest.approx(1.0, abs=1e-5)
    assert result.kl_div_with_sae == pytest.approx(0.0, abs=1e-6)
    kl = f.kl_div(f.log_softmax(zero, 1), f.softmax(clean, 1), reduction="none").sum(1).mean()
    assert result.kl_div_with_ablation == pytest.approx(float(kl), rel=1e-5)
    assert result.kl_div_score == pytest.approx(1.0, abs=1e-5)
    assert result.explained_variance == pytest.approx(1.0, abs=1e-6)
    assert result.params["layer"] == "hidden"


def test_without_labels_the_clean_prediction_is_the_label():
    model = Readout().eval()
    x = np.random.default_rng(0).standard_normal((30, 6)).astype(np.float32)
    with torch.no_grad():
        pred = model(torch.as_tensor(x)).argmax(1).numpy()
    a = exact_sae().evaluate((model, "hidden", x))
    b = exact_sae().evaluate((model, "hidden", x), pred)
    assert a.ce_zero_ablation == pytest.approx(b.ce_zero_ablation, rel=1e-12)


# ---------------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of k"),
        ({"k": 2, "l1": 0.1}, "exactly one of k"),
        ({"k": 0}, "k"),
        ({"k": 20}, "at most n_latents"),
        ({"l1": -1.0}, "l1"),
        ({"k": 2, "learning_rate": 0}, "learning_rate"),
        ({"k": 2, "batch_size": 0}, "batch_size"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(InputError, match=match):
        SparseAutoencoder(16, **kwargs)


def test_unfitted_and_wrong_width_are_input_errors():
    sae = SparseAutoencoder(8, k=2)
    with pytest.raises(InputError, match="not fitted"):
        sae.encode(np.zeros((2, 4)))
    sae.fit(np.random.default_rng(0).standard_normal((100, 4)))
    with pytest.raises(InputError, match="4 values on its last axis"):
        sae.encode(np.zeros((2, 5)))
    with pytest.raises(InputError, match="NaN"):
        SparseAutoencoder(8, k=2).fit(np.full((10, 4), np.nan))
    with pytest.raises(InputError, match="not a submodule"):
        SparseAutoencoder(8, k=2).fit((Readout(), "nope", np.zeros((4, 6))))


# ---------------------------------------------------------------------- SAELens, the reference
def saelens_topk(d, n_latents, k):
    requires("sae_lens")
    from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

    return TopKSAE(TopKSAEConfig(d_in=d, d_sae=n_latents, k=k))


def load_weights(ref, sae):
    with torch.no_grad():
        ref.W_enc.copy_(torch.as_tensor(sae.W_enc))
        ref.b_enc.copy_(torch.as_tensor(sae.b_enc))
        ref.W_dec.copy_(torch.as_tensor(sae.W_dec))
        ref.b_dec.copy_(torch.as_tensor(sae.b_dec))
    return ref


def saelens_standard(d, n_latents):
    requires("sae_lens")
    from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig

    return StandardSAE(StandardSAEConfig(d_in=d, d_sae=n_latents))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_metrics_equal_saelens_functions_on_the_same_weights(name, toy):
    """l0, mse and explained variance as SAELens computes them, on SAELens's forward
    (its TopK SAE, or its standard ReLU SAE, holding whybox's weights)."""
    requires("sae_lens")
    from sae_lens.evals import ExplainedVarianceCalculator

    sae = SparseAutoencoder(64, batch_size=256, epochs=2, learning_rate=1e-2, **SETTINGS[name])
    sae.fit(toy.activations)
    ref = saelens_topk(16, 64, 2) if name == "topk" else saelens_standard(16, 64)
    ref = load_weights(ref, sae)
    x = torch.as_tensor(toy.activations)
    with torch.no_grad():
        acts = ref.encode(x)
        out = ref.decode(acts)
    calc = ExplainedVarianceCalculator()
    for part in range(4):  # SAELens adds batches; the result is over all vectors
        rows = slice(part * 5000, (part + 1) * 5000)
        calc.add_batch(sae_output=out[rows], hidden_acts=x[rows])
    ours = sae.evaluate(toy.activations)
    assert ours.explained_variance == pytest.approx(calc.compute(), abs=1e-5)
    assert ours.l0 == pytest.approx(float((acts != 0).sum(-1).double().mean()), abs=1e-12)
    assert ours.mse == pytest.approx(float((x - out).pow(2).sum(-1).mean()), rel=1e-4)
    fired = (acts != 0).any(dim=0)
    assert ours.dead_fraction == pytest.approx(float((~fired).double().mean()), abs=1e-12)


def train_saelens_topk(x, n_latents, k, learning_rate, batch_size, steps):
    requires("sae_lens")
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    torch.manual_seed(0)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=n_latents, k=k))

    def batches():
        rng = np.random.default_rng(0)
        while True:
            order = rng.permutation(len(x))
            for start in range(0, len(x) - batch_size + 1, batch_size):
                yield torch.as_tensor(x[order[start : start + batch_size]])

    config = SAETrainerConfig(
        total_training_samples=steps * batch_size,
        train_batch_size_samples=batch_size,
        lr=learning_rate,
        lr_end=learning_rate,
        device="cpu",
        logger=LoggingConfig(log_to_wandb=False),
    )
    SAETrainer(cfg=config, sae=sae, data_provider=batches()).fit()
    return sae


def test_explained_variance_at_least_saelens_at_equal_settings():
    """TopK SAEs of whybox and SAELens, same activations, width, k, lr, steps and batch."""
    requires("sae_lens")
    from sae_lens.evals import ExplainedVarianceCalculator

    data = make_superposition(20000, n_true_features=64, n_dims=32, feature_probability=0.04)
    settings = {"n_latents": 64, "k": 4, "learning_rate": 3e-3, "batch_size": 256}
    ours = SparseAutoencoder(**settings, steps=400).fit(data.activations)
    ref = train_saelens_topk(data.activations, steps=400, **settings)
    x = torch.as_tensor(data.activations)
    with torch.no_grad():
        acts = ref.encode(x)
        calc = ExplainedVarianceCalculator()
        calc.add_batch(sae_output=ref.decode(acts), hidden_acts=x)
    result = ours.evaluate(data.activations)
    ref_l0 = float((acts != 0).sum(-1).float().mean())
    assert result.l0 <= ref_l0 + 1e-9  # no more active latents than SAELens's
    assert result.explained_variance >= calc.compute() - 0.01


@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")
def test_ce_and_kl_equal_saelens_get_recons_loss_on_a_transformer():
    """The loss recovered with the SAE spliced into a TransformerLens model, both ways."""
    requires("sae_lens")
    requires("transformer_lens")
    from sae_lens.evals import get_recons_loss
    from sae_lens.training.activation_scaler import ActivationScaler
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    config = HookedTransformerConfig(
        n_layers=2, d_model=16, n_ctx=12, d_head=4, n_heads=4, d_vocab=30, act_fn="relu",
        seed=0, device="cpu",
    )  # fmt: skip
    model = HookedTransformer(config).eval()
    tokens = torch.randint(0, 30, (24, 12), generator=torch.Generator().manual_seed(0))
    hook = "blocks.0.hook_resid_post"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=[hook])
    acts = cache[hook].reshape(-1, 16).numpy()
    sae = SparseAutoencoder(32, k=4, batch_size=64, epochs=20, learning_rate=1e-2).fit(acts)
    ref = load_weights(saelens_topk(16, 32, 4), sae)
    with torch.no_grad():
        theirs = get_recons_loss(
            ref, model, ActivationScaler(), tokens, compute_kl=True, compute_ce_loss=True,
            hook_name=hook,
        )  # fmt: skip
    labels = torch.full_like(tokens, -100)
    labels[:, :-1] = tokens[:, 1:]  # next-token targets; the last position is not scored
    ours = sae.evaluate((model, hook, tokens), labels, batch_size=8)
    mean = {name: float(v.mean()) for name, v in theirs.items()}
    assert ours.ce_clean == pytest.approx(mean["ce_loss_without_sae"], rel=1e-5)
    assert ours.ce_with_sae == pytest.approx(mean["ce_loss_with_sae"], rel=1e-5)
    assert ours.ce_zero_ablation == pytest.approx(mean["ce_loss_with_ablation"], rel=1e-5)
    assert ours.kl_div_with_sae == pytest.approx(mean["kl_div_with_sae"], rel=1e-4)
    assert ours.kl_div_with_ablation == pytest.approx(mean["kl_div_with_ablation"], rel=1e-5)
    score = (mean["ce_loss_with_ablation"] - mean["ce_loss_with_sae"]) / (
        mean["ce_loss_with_ablation"] - mean["ce_loss_without_sae"]
    )
    assert ours.ce_loss_score == pytest.approx(score, rel=1e-4)
    assert ours.ce_loss_score > 0.5  # a trained SAE recovers most of the loss
