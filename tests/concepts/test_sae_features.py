"""Feature views of a sparse autoencoder: top activations, logit attribution, steering."""

import numpy as np
import pytest

from tests._requires import requires
from whybox._exceptions import InputError

torch = requires("torch")

from whybox.concepts import (  # noqa: E402
    LogitAttribution,
    SparseAutoencoder,
    SteeringResult,
    TopActivations,
)

nn = torch.nn
D = 6


class LinearReadout(nn.Module):
    """x -> hidden (the layer, (n, D)) -> linear head: outputs are affine in the layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(4, D)
        self.head = nn.Linear(D, 3)
        self.eval()

    def forward(self, x):
        return self.head(self.hidden(x))


class Tokens(nn.Module):
    """Token ids -> embeddings (the layer ``emb``, (n, T, D)) -> per-token linear logits."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.emb = nn.Embedding(20, D)
        self.head = nn.Linear(D, 5)
        self.eval()

    def forward(self, input_ids, attention_mask=None):
        return self.head(self.emb(input_ids))


@pytest.fixture(scope="module")
def sae():
    x = np.random.default_rng(0).standard_normal((3000, D)).astype(np.float32)
    return SparseAutoencoder(16, k=3, batch_size=100, epochs=2, learning_rate=1e-2).fit(x)


def test_top_activations_are_the_brute_force_top_k(sae):
    acts = np.random.default_rng(2).standard_normal((50, 7, D)).astype(np.float32)
    result = sae.top_activations(acts, latents=[0, 3, 9], top_k=4)
    assert isinstance(result, TopActivations)
    z = sae.encode(acts)  # (50, 7, 16)
    for row, latent in enumerate([0, 3, 9]):
        values = z[..., latent].ravel()
        order = np.argsort(-values, kind="stable")[:4]
        np.testing.assert_allclose(result.activation[row], values[order], rtol=1e-6)
        np.testing.assert_array_equal(result.sample[row], order // 7)
        np.testing.assert_array_equal(result.position[row], order % 7)
    frame = result.to_frame()
    assert list(frame.columns) == ["latent", "rank", "sample", "position", "token", "activation"]
    assert len(frame) == 12


def test_top_activations_over_a_model_skip_padding_and_name_tokens(sae):
    model = Tokens()
    gen = np.random.default_rng(3)
    ids = gen.integers(1, 20, (30, 5))
    mask = (gen.random((30, 5)) > 0.3).astype(np.int64)
    batches = [
        {"input_ids": ids[i : i + 10], "attention_mask": mask[i : i + 10]} for i in (0, 10, 20)
    ]
    words = [[f"w{t}" for t in row] for row in ids]
    with torch.no_grad():
        h = model.emb(torch.as_tensor(ids)).numpy()
    codes = sae.encode(h)
    latent = int(((codes > 0) & (mask == 1)[..., None]).sum(axis=(0, 1)).argmax())
    result = sae.top_activations((model, "emb", batches), latents=latent, top_k=5, tokens=words)
    z = np.where(mask == 1, codes[..., latent], -np.inf)
    best = np.sort(z[z > 0])[::-1][:5]  # equal tokens tie: compare values, then places
    shown = ~np.isnan(result.activation[0])
    assert shown.sum() == len(best) >= 1
    np.testing.assert_allclose(result.activation[0, shown], best, rtol=1e-6)
    for s, p, value in zip(result.sample[0, shown], result.position[0, shown], best, strict=True):
        assert mask[s, p] == 1 and z[s, p] == pytest.approx(value, rel=1e-6)
        assert result.token[0][list(result.sample[0]).index(s)] != ""
    assert result.token[0][0] == words[result.sample[0, 0]][result.position[0, 0]]
    assert result.params["n_vectors"] == int(mask.sum())


def test_a_latent_that_never_fires_has_no_top_activations(sae):
    acts = np.random.default_rng(4).standard_normal((20, D)).astype(np.float32)
    dead = SparseAutoencoder(16, k=3)
    weights = {name: getattr(sae, name) for name in ("W_enc", "b_enc", "W_dec", "b_dec")}
    weights["b_enc"][5] = -1e6
    dead._set_weights(**weights)
    result = dead.top_activations(acts, latents=5, top_k=3)
    assert np.isnan(result.activation).all() and (result.sample == -1).all()
    assert result.to_frame().empty


def test_logit_attribution_of_a_linear_readout_is_the_decoder_row_through_it(sae):
    model = LinearReadout()
    x = np.random.default_rng(5).standard_normal((40, 4)).astype(np.float32)
    result = sae.logit_attribution(model, "hidden", x, batch_size=16)
    assert isinstance(result, LogitAttribution)
    expected = sae.W_dec.astype(np.float64) @ model.head.weight.detach().double().numpy().T
    np.testing.assert_allclose(result.effect, expected, rtol=1e-5, atol=1e-6)
    assert result.to_frame().shape == (16 * 3, 3)


def test_logit_attribution_of_a_nonlinear_head_is_the_mean_directional_derivative(sae, quad):
    """f(h) = w.h + (u.h)^2/2: d f / d eps along v is (w + (u.h) u).v, averaged."""
    from tests.concepts._helpers import U, W

    x = np.random.default_rng(6).standard_normal((25, D))
    result = sae.logit_attribution(quad, "encoder", x, latents=[1, 4], target=0)
    uh = x @ U  # the encoder is the identity
    grad = W[None, :] + uh[:, None] * U[None, :]
    expected = sae.W_dec[[1, 4]].astype(np.float64) @ grad.mean(axis=0)
    np.testing.assert_allclose(result.effect[:, 0], expected, rtol=1e-5)


def test_steering_moves_the_outputs_by_the_clamped_change(sae):
    """Linear readout: the change is (value - z) times the decoder row through the head."""
    model = LinearReadout()
    x = np.random.default_rng(7).standard_normal((12, 4)).astype(np.float32)
    result = sae.steer(model, "hidden", x, latent=7, value=4.0)
    assert isinstance(result, SteeringResult)
    with torch.no_grad():
        h = model.hidden(torch.as_tensor(x)).numpy()
    z = sae.encode(h)[:, 7]
    np.testing.assert_allclose(result.latent_activation, z, rtol=1e-5, atol=1e-6)
    row = sae.W_dec[7].astype(np.float64) @ model.head.weight.detach().double().numpy().T
    np.testing.assert_allclose(result.change, (4.0 - z)[:, None] * row[None, :], atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(result.clean_output, model(torch.as_tensor(x)).numpy())
    frame = result.to_frame()
    assert len(frame) == 36 and set(frame.columns) >= {"clean", "steered", "change"}


def test_steering_only_the_chosen_positions_changes_only_their_outputs(sae):
    model = Tokens()
    ids = np.random.default_rng(8).integers(0, 20, (6, 5))
    result = sae.steer(model, "emb", ids, latent=2, value=0.0, positions=[1])
    change = result.change.reshape(6, 5, 5)
    assert np.abs(change[:, [0, 2, 3, 4]]).max() == 0
    with torch.no_grad():
        h = model.emb(torch.as_tensor(ids)).numpy()
    z = sae.encode(h)[:, 1, 2]
    row = sae.W_dec[2].astype(np.float64) @ model.head.weight.detach().double().numpy().T
    np.testing.assert_allclose(change[:, 1], -z[:, None] * row[None, :], atol=1e-5)


def test_feature_view_input_errors(sae):
    model = LinearReadout()
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(InputError, match="latent 16 is out of range"):
        sae.steer(model, "hidden", x, latent=16, value=1.0)
    with pytest.raises(InputError, match="value must be a finite number"):
        sae.steer(model, "hidden", x, latent=1, value=float("nan"))
    with pytest.raises(InputError, match="positions"):
        sae.steer(model, "hidden", x, latent=1, value=1.0, positions=[0])
    with pytest.raises(InputError, match="target 3 is out of range"):
        sae.logit_attribution(model, "hidden", x, target=3)
    with pytest.raises(InputError, match="latents must be"):
        sae.top_activations(np.zeros((3, D)), latents=[])


class TwoInputs(nn.Module):
    """forward(a, b, scale): hidden = lin(a) + b (the layer ``hidden``), logits = scale * head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.lin = nn.Linear(4, D)
        self.hidden = nn.Identity()
        self.head = nn.Linear(D, 3)
        self.eval()

    def forward(self, a, b, scale):
        return scale * self.head(self.hidden(self.lin(a) + b))


def test_several_inputs_and_additional_forward_args(sae):
    """A tuple X is one tensor per forward argument; additional_forward_args follow."""
    model = TwoInputs()
    gen = np.random.default_rng(9)
    a = gen.standard_normal((10, 4)).astype(np.float32)
    b = gen.standard_normal((10, D)).astype(np.float32)
    result = sae.steer(
        model, "hidden", (a, b), latent=3, value=2.0, additional_forward_args=3.0, batch_size=4
    )
    with torch.no_grad():
        h = (model.lin(torch.as_tensor(a)) + torch.as_tensor(b)).numpy()
    z = sae.encode(h)[:, 3]
    row = 3.0 * sae.W_dec[3].astype(np.float64) @ model.head.weight.detach().double().numpy().T
    np.testing.assert_allclose(result.change, (2.0 - z)[:, None] * row[None, :], atol=1e-5)
    effect = sae.logit_attribution(
        model, "hidden", (a, b), latents=[3], additional_forward_args=(3.0,)
    ).effect
    np.testing.assert_allclose(effect[0], row, rtol=1e-5)
