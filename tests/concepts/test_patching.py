"""Activation patching: closed forms, positions, NaN where nothing is restored, hooks removed."""

import json

import numpy as np
import pytest

from tests.concepts._helpers import TwoBranch, tiny_cnn, torch
from whybox import InputError
from whybox.adapters._torch import adapt_torch_model
from whybox.concepts import PatchingResult, activation_patching
from whybox.concepts._activations import layer_activations

nn = torch.nn


@pytest.fixture(scope="module")
def branch():
    return TwoBranch().double().eval()


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    clean = rng.normal(size=(6, 4))
    return clean, clean + rng.normal(size=(6, 4))


def test_patching_whole_layer_restores_exactly_and_unused_branch_restores_nothing(branch, pair):
    clean, corrupted = pair
    r = activation_patching(branch, ["a", "b"], clean, corrupted, target=0)
    assert isinstance(r, PatchingResult)
    assert r.layers == ("a", "b")
    with torch.no_grad():
        f_clean = branch(torch.as_tensor(clean))[:, 0].numpy()
        f_corrupted = branch(torch.as_tensor(corrupted))[:, 0].numpy()
    np.testing.assert_array_equal(r.clean_output, f_clean)
    np.testing.assert_array_equal(r.corrupted_output, f_corrupted)
    np.testing.assert_array_equal(r.patched_output[0], f_clean)
    np.testing.assert_array_equal(r.restored_fraction[0], 1.0)
    np.testing.assert_array_equal(r.patched_output[1], f_corrupted)
    np.testing.assert_array_equal(r.restored_fraction[1], 0.0)
    np.testing.assert_array_equal(r.mean_restored_fraction, [1.0, 0.0])
    frame = r.to_frame()
    assert frame.shape == (12, 6)
    assert list(frame["layer"]) == ["a"] * 6 + ["b"] * 6
    # The other output reads branch b only: the roles swap.
    r1 = activation_patching(branch, ["a", "b"], clean, corrupted, target=1)
    np.testing.assert_allclose(r1.restored_fraction, [[0.0] * 6, [1.0] * 6], atol=1e-12)


def test_patching_positions_matches_the_closed_form(branch, pair):
    clean, corrupted = pair
    c, k = torch.as_tensor(clean), torch.as_tensor(corrupted)
    with torch.no_grad():
        mixed = branch.a(k).clone()
        mixed[:, [0, 2]] = branch.a(c)[:, [0, 2]]
        expected = branch.head(torch.tanh(mixed))[:, 0].numpy()
        f_clean, f_cor = branch(c)[:, 0].numpy(), branch(k)[:, 0].numpy()
    r = activation_patching(branch, "a", clean, corrupted, target=0, positions=[0, 2])
    np.testing.assert_allclose(r.patched_output[0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        r.restored_fraction[0], (expected - f_cor) / (f_clean - f_cor), rtol=1e-10
    )
    mask = np.array([True, False, True])
    rm = activation_patching(branch, "a", clean, corrupted, target=0, positions=mask)
    np.testing.assert_array_equal(rm.patched_output, r.patched_output)
    assert r.params["positions"] == [0, 2]


def test_patching_conv_channels_and_batching():
    model = tiny_cnn().eval()
    rng = np.random.default_rng(8)
    clean = rng.normal(size=(5, 1, 8, 8))
    corrupted = clean + rng.normal(size=(5, 1, 8, 8))
    c, k = torch.as_tensor(clean), torch.as_tensor(corrupted)
    with torch.no_grad():
        mixed = model[0](k).clone()
        mixed[:, 1] = model[0](c)[:, 1]
        expected = model[1:](mixed)
        target = model(c).argmax(dim=1)
    expected = expected.gather(1, target[:, None])[:, 0].numpy()
    r = activation_patching(model, "0", clean, corrupted, positions=1)
    np.testing.assert_allclose(r.patched_output[0], expected, rtol=0, atol=1e-12)
    assert r.params["target"] == target.tolist()
    rb = activation_patching(model, "0", clean, corrupted, positions=1, batch_size=2)
    np.testing.assert_allclose(rb.patched_output, r.patched_output, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rb.restored_fraction, r.restored_fraction, rtol=0, atol=1e-10)


def test_patching_identical_inputs_gives_nan_with_a_warning(branch, pair):
    clean, corrupted = pair
    corrupted = corrupted.copy()
    corrupted[2] = clean[2]
    with pytest.warns(UserWarning, match="NaN for 1 of 6 sample.*nothing to restore"):
        r = activation_patching(branch, "a", clean, corrupted, target=0)
    assert np.isnan(r.restored_fraction[0, 2])
    assert np.isfinite(np.delete(r.restored_fraction[0], 2)).all()
    with pytest.warns(UserWarning, match="NaN for 6 of 6"):
        same = activation_patching(branch, "a", clean, clean, target=0)
    assert np.isnan(same.restored_fraction).all()
    assert np.isnan(same.mean_restored_fraction).all()
    assert same.to_dict()["restored_fraction"] == [[None] * 6]


def test_patching_restores_training_mode(pair):
    model = TwoBranch().double().train()
    clean, corrupted = pair
    with pytest.warns(UserWarning, match="training mode"):
        activation_patching(model, "a", clean, corrupted, target=0)
    assert model.training


def test_patching_errors_and_hooks_are_removed(branch, pair):
    clean, corrupted = pair
    with pytest.raises(InputError, match="'c' is not a submodule of the model"):
        activation_patching(branch, "c", clean, corrupted)
    with pytest.raises(InputError, match=r"clean has shape \(6, 4\) but corrupted has shape"):
        activation_patching(branch, "a", clean, corrupted[:5])
    with pytest.raises(InputError, match="positions 3 is out of range for layer 'a'"):
        activation_patching(branch, "a", clean, corrupted, positions=[0, 3])
    with pytest.raises(InputError, match="does not broadcast"):
        activation_patching(branch, "a", clean, corrupted, positions=np.ones(4, bool))
    with pytest.raises(InputError, match="layer is an empty list"):
        activation_patching(branch, [], clean, corrupted)
    assert not branch.a._forward_hooks and not branch.b._forward_hooks


def test_patching_layer_with_tuple_output():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x), "cache"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.block = Block()
            self.out = nn.Linear(3, 2)

        def forward(self, x):
            h, cache = self.block(x)
            assert cache == "cache"
            return self.out(h)

    model = Net().double().eval()
    rng = np.random.default_rng(10)
    clean, corrupted = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    r = activation_patching(model, "block", clean, corrupted, target=1)
    np.testing.assert_array_equal(r.restored_fraction, 1.0)
    tm = adapt_torch_model(model)
    acts = layer_activations(tm, model.block, torch.as_tensor(clean), None)
    np.testing.assert_array_equal(acts.numpy(), model.block.lin(torch.as_tensor(clean)).detach())


def test_patching_result_is_a_result_with_a_strict_json_round_trip(branch, pair):
    clean, corrupted = pair
    corrupted = corrupted.copy()
    corrupted[2] = clean[2]  # a NaN restored fraction
    with pytest.warns(UserWarning, match="NaN for 1 of 6"):
        r = activation_patching(branch, ["a", "b"], clean, corrupted, target=0, positions=[0])
    text = r.to_json()
    assert "NaN" not in text and "Infinity" not in text
    back = PatchingResult.from_dict(json.loads(text))
    assert back.layers == r.layers and back.params == r.params
    for name in ("clean_output", "corrupted_output", "patched_output", "restored_fraction"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
    assert np.isnan(back.restored_fraction[:, 2]).all()
    html = r._repr_html_()
    assert isinstance(html, str) and "restored_fraction" in html


# ---------------------------------------------------------------------- token ids
def test_patching_keeps_token_ids_integer_on_the_text_demo(text_demo):
    # Before: the ids were cast to float and the embedding raised a raw RuntimeError.
    demo = text_demo
    clean = demo.encode(["the movie was good", "a superb story and the cast"])
    corrupted = demo.encode(["the movie was bad", "a dull story and the cast"])
    assert clean.dtype == torch.long
    with torch.no_grad():
        f_clean = demo.model(clean)[:, 1].double().numpy()
        f_corrupted = demo.model(corrupted)[:, 1].double().numpy()
    # The ids differ only at token 4 (first sentence) and 2 (second); the rest of the
    # network sees them only through the embedding (the padding is the same), so
    # patching the embedding there restores the clean output exactly.
    r = activation_patching(demo.model, "embedding", clean, corrupted, target=1)
    np.testing.assert_array_equal(r.clean_output, f_clean)
    np.testing.assert_array_equal(r.corrupted_output, f_corrupted)
    np.testing.assert_array_equal(r.patched_output[0], f_clean)
    assert [tuple(t) for t in torch.nonzero(clean != corrupted).tolist()] == [(0, 4), (1, 2)]
    r = activation_patching(demo.model, "embedding", clean, corrupted, target=1, positions=[2, 4])
    np.testing.assert_array_equal(r.restored_fraction, 1.0)
    # The head reads only the [CLS] row of the encoder's output: patching token 0
    # restores everything, patching any other token nothing (to float32 rounding: a
    # hooked encoder layer leaves PyTorch's fused fast path for the plain one).
    r = activation_patching(demo.model, "encoder", clean, corrupted, target=1, positions=0)
    np.testing.assert_allclose(r.patched_output[0], f_clean, rtol=1e-6)
    r = activation_patching(demo.model, "encoder", clean, corrupted, target=1, positions=[1, 2, 3])
    np.testing.assert_allclose(r.patched_output[0], f_corrupted, rtol=1e-6)


def test_patching_takes_a_tuple_of_inputs_and_additional_forward_args():
    class Weighted(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(2, 3)

        def forward(self, x, z, weights, offset):
            return (self.a(x) + self.b(z)) * weights[:, None] + offset

    torch.manual_seed(0)
    model = Weighted().double().eval()
    rng = np.random.default_rng(3)
    clean = (torch.as_tensor(rng.normal(size=(5, 3))), torch.as_tensor(rng.normal(size=(5, 2))))
    corrupted = (clean[0] + 1.0, clean[1] - 1.0)
    weights = torch.as_tensor(rng.uniform(1, 2, size=5))
    r = activation_patching(
        model,
        ["a", "b"],
        clean,
        corrupted,
        target=0,
        batch_size=2,
        additional_forward_args=(weights, 0.5),
    )
    with torch.no_grad():
        a_clean = model.a(clean[0])[:, 0]
        b_corrupted = model.b(corrupted[1])[:, 0]
        f = lambda x, z: model(x, z, weights, 0.5)[:, 0].detach().numpy()  # noqa: E731
        expected_a = ((a_clean + b_corrupted) * weights + 0.5).numpy()
    np.testing.assert_allclose(r.clean_output, f(*clean), rtol=1e-12)
    np.testing.assert_allclose(r.corrupted_output, f(*corrupted), rtol=1e-12)
    np.testing.assert_allclose(r.patched_output[0], expected_a, rtol=1e-12)
    with pytest.raises(InputError, match=r"clean\[1\] has shape \(5, 2\) but corrupted\[1\]"):
        activation_patching(model, "a", clean, (corrupted[0], corrupted[1][:, :1]))
