"""Concepts and internals: TCAV, linear probes with a control task, activation patching."""

import numpy as np
import pytest
from _requires import requires

torch = requires("torch")
nn = torch.nn

from whybox import InputError  # noqa: E402
from whybox.adapters._torch import adapt_torch_model  # noqa: E402
from whybox.concepts import (  # noqa: E402
    TCAV,
    PatchingResult,
    ProbeResult,
    TCAVResult,
    activation_patching,
    probe,
)
from whybox.concepts._activations import layer_activations, layer_gradients  # noqa: E402

D = 6


# ---------------------------------------------------------------------- models
class QuadraticHead(nn.Module):
    """f(h) = w.h + (u.h)^2 / 2 on an identity encoder: grad_h f = w + (u.h) u."""

    def __init__(self, w, u):
        super().__init__()
        self.encoder = nn.Linear(D, D)
        with torch.no_grad():
            self.encoder.weight.copy_(torch.eye(D))
            self.encoder.bias.zero_()
        self.register_buffer("w", torch.as_tensor(w))
        self.register_buffer("u", torch.as_tensor(u))
        self.unused = nn.Linear(D, 1)

    def forward(self, x):
        h = self.encoder(x)
        f = h @ self.w + 0.5 * (h @ self.u) ** 2
        return torch.stack([f, -f], dim=1)


class TwoBranch(nn.Module):
    """Output 0 reads branch ``a`` only, output 1 reads branch ``b`` only."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        ha = torch.tanh(self.a(x))
        hb = self.b(x)
        return torch.cat([self.head(ha), hb.sum(dim=1, keepdim=True)], dim=1)


def tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 2, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(2 * 8 * 8, 3),
    ).double()


E = np.eye(D)
W = 2.0 * E[0]
U = E[1]


@pytest.fixture(scope="module")
def quad():
    return QuadraticHead(W, U).double().eval()


@pytest.fixture(scope="module")
def tcav_data():
    rng = np.random.default_rng(0)
    random = rng.normal(size=(80, D))
    return {
        "inputs": rng.normal(size=(30, D)),
        "aligned": rng.normal(size=(40, D)) + 2.0 * E[0],
        "random": random,
        # A "concept" that is the random examples themselves: no direction to find.
        "no_concept": random,
    }


@pytest.fixture(scope="module")
def tcav_result(quad, tcav_data):
    d = tcav_data
    tcav = TCAV(quad, "encoder", n_random=20, random_state=0)
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    return tcav(d["inputs"], concepts, d["random"], target=0)


# ---------------------------------------------------------------------- activations
def test_layer_gradients_match_captum_and_batching():
    captum_attr = requires("captum.attr")
    model = tiny_cnn().eval()
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(5, 1, 8, 8)))
    tm = adapt_torch_model(model)
    layer = model[2]
    target = torch.tensor([0, 1, 2, 0, 1])
    acts, grads = layer_gradients(tm, layer, x, target, None)
    ref = captum_attr.LayerGradientXActivation(model, layer, multiply_by_inputs=False)
    expected = ref.attribute(x, target=target.tolist())
    assert float((grads - expected).abs().max()) <= 1e-10
    np.testing.assert_array_equal(acts.numpy(), model[2](model[1](model[0](x))).detach().numpy())
    acts2, grads2 = layer_gradients(tm, layer, x, target, 2)
    assert float((grads2 - grads).abs().max()) <= 1e-12
    np.testing.assert_array_equal(layer_activations(tm, layer, x, 3).numpy(), acts.numpy())
    assert not layer._forward_hooks


def test_layer_that_is_not_called_is_reported(quad):
    tm = adapt_torch_model(quad)
    x = torch.zeros((2, D), dtype=torch.float64)
    with pytest.raises(InputError, match="'unused' was not called during the model's forward"):
        layer_activations(tm, quad.unused, x, None)
    assert not quad.unused._forward_hooks


# ---------------------------------------------------------------------- TCAV
def test_tcav_result_shapes_and_frame(tcav_result):
    r = tcav_result
    assert isinstance(r, TCAVResult)
    assert r.concepts == ("aligned", "no_concept")
    assert r.layer == "encoder"
    assert r.scores.shape == (2, 20) and r.random_scores.shape == (20,)
    assert r.cavs.shape == (2, 20, D)
    np.testing.assert_allclose(np.linalg.norm(r.cavs, axis=2), 1.0, atol=1e-12)
    frame = r.to_frame()
    assert list(frame.index) == ["aligned", "no_concept"]
    np.testing.assert_allclose(frame["tcav_score"], r.scores.mean(axis=1))
    assert r.params["random_state"] == 0 and r.params["target"] == [0] * 30
    assert r.to_dict()["significant"] == [bool(s) for s in r.significant]


def test_tcav_scores_equal_the_closed_form_directional_derivative(tcav_result, tcav_data):
    # The encoder is the identity, so h = x and grad_h f = w + (u.h) u.
    h = tcav_data["inputs"]
    grad = W[None, :] + (h @ U)[:, None] * U[None, :]
    expected = (np.einsum("crd,nd->crn", tcav_result.cavs, grad) > 0).mean(axis=2)
    np.testing.assert_array_equal(tcav_result.scores, expected)


def test_tcav_aligned_concept_scores_one_and_is_significant(tcav_result):
    r = tcav_result
    np.testing.assert_array_equal(r.scores[0], 1.0)
    assert r.p_values[0] < 0.05 / 2
    assert r.significant[0]
    # Two unit Gaussians 2 apart: the Bayes accuracy is Phi(1) = 0.84, chance is 0.5.
    assert 0.7 < r.cav_accuracies[0].mean() < 0.9
    # The random-vs-random scores spread out (the null distribution is not degenerate).
    assert r.random_scores.std() > 0.1


def test_tcav_cav_recovers_the_planted_direction(tcav_result):
    # The runs' CAVs are noisy estimates (40 examples per side); their mean is close.
    assert tcav_result.mean_cavs[0] @ E[0] > 0.9


def test_tcav_concept_like_the_random_examples_is_not_significant(tcav_result):
    r = tcav_result
    assert not r.significant[1]
    assert r.p_values[1] > 0.05
    assert 0.3 < r.cav_accuracies[1].mean() < 0.7


def test_tcav_layer_without_influence_gives_zero_scores_and_p_one(quad, tcav_data):
    class Ignores(nn.Module):
        def __init__(self):
            super().__init__()
            self.probe = nn.Linear(D, D)
            self.out = nn.Linear(D, 2)

        def forward(self, x):
            self.probe(x)  # computed, never used: zero gradient
            return self.out(x)

    torch.manual_seed(0)
    model = Ignores().double().eval()
    d = tcav_data
    r = TCAV(model, "probe", n_random=3, random_state=1)(
        d["inputs"], {"aligned": d["aligned"]}, d["random"], target=1
    )
    np.testing.assert_array_equal(r.scores, 0.0)
    np.testing.assert_array_equal(r.random_scores, 0.0)
    assert r.p_values[0] == 1.0 and not r.significant[0]


def test_tcav_is_deterministic_and_batch_invariant(quad, tcav_data, tcav_result):
    d = tcav_data
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    again = TCAV(quad, quad.encoder, n_random=20, random_state=0, batch_size=7)(
        d["inputs"], concepts, d["random"], target=0
    )
    np.testing.assert_array_equal(again.scores, tcav_result.scores)
    np.testing.assert_allclose(again.cavs, tcav_result.cavs, atol=1e-12)
    np.testing.assert_array_equal(again.p_values, tcav_result.p_values)


def test_tcav_sgd_classifier_and_linear_model_closed_form(tcav_data):
    # A linear head: grad_h f = w for every input, so each run scores 1 if v.w > 0 else 0.
    model = QuadraticHead(W, np.zeros(D)).double().eval()
    d = tcav_data
    r = TCAV(model, "encoder", n_random=4, random_state=3, classifier="sgd")(
        d["inputs"], {"aligned": d["aligned"]}, d["random"], target=0
    )
    np.testing.assert_array_equal(r.scores[0], (r.cavs[0] @ W > 0).astype(float))
    np.testing.assert_array_equal(r.scores[0], 1.0)
    assert r.params["classifier"] == "sgd"


def test_tcav_errors(quad, tcav_data):
    d = tcav_data
    with pytest.raises(InputError, match="'encodr' is not a submodule"):
        TCAV(quad, "encodr")
    with pytest.raises(InputError, match="n_random must be at least 2"):
        TCAV(quad, "encoder", n_random=1)
    with pytest.raises(InputError, match="classifier must be one of"):
        TCAV(quad, "encoder", classifier="svm")
    with pytest.raises(InputError, match="alpha must be a number in"):
        TCAV(quad, "encoder", alpha=1.5)
    tcav = TCAV(quad, "encoder", n_random=2, random_state=0)
    with pytest.raises(InputError, match=r"concepts\['few'\] has 1 example; give at least 2"):
        tcav(d["inputs"], {"few": d["aligned"][:1]}, d["random"])
    with pytest.raises(InputError, match="concepts must be a non-empty dict"):
        tcav(d["inputs"], {}, d["random"])
    with pytest.raises(InputError, match="random_examples has 3 example"):
        tcav(d["inputs"], {"a": d["aligned"]}, d["random"][:3])
    with pytest.raises(InputError, match=r"concepts\['a'\] has examples of shape \(5,\)"):
        tcav(d["inputs"], {"a": d["aligned"][:, :5]}, d["random"])
    with pytest.raises(InputError, match="target 7 is out of range"):
        tcav(d["inputs"], {"a": d["aligned"]}, d["random"], target=7)


# ---------------------------------------------------------------------- probing
def test_probe_linearly_encoded_labels_are_selective():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    y = (X @ rng.normal(size=10) > 0).astype(int)
    r = probe(X, y, cv=5, random_state=0)
    assert isinstance(r, ProbeResult)
    assert r.accuracy > 0.9
    assert abs(r.control_accuracy - 0.5) < 0.15
    assert r.selectivity > 0.3
    assert r.selectivity == pytest.approx(r.accuracy - r.control_accuracy, abs=0)
    assert r.fold_scores.shape == (5,) and r.n_features == 10 and r.n_samples == 200
    assert r.task == "classification" and r.scoring == "accuracy"
    assert list(r.to_frame().columns) == ["task", "control", "selectivity"]
    # Every sample is its own type: the control labels are a permutation of the labels.
    np.testing.assert_array_equal(np.sort(r.control_labels), np.sort(y))


def test_probe_random_activations_have_no_selectivity():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 10))
    y = rng.integers(0, 2, size=200)
    r = probe(X, y, random_state=0)
    assert abs(r.accuracy - 0.5) < 0.15
    assert abs(r.selectivity) < 0.15


def test_control_labels_are_constant_per_type_and_keep_the_distribution():
    rng = np.random.default_rng(2)
    n_types, reps = 20, 5
    types = np.repeat(np.arange(n_types), reps)
    type_label = np.array(["noun"] * 12 + ["verb"] * 6 + ["adj"] * 2)
    labels = type_label[types]
    X = rng.normal(size=(n_types * reps, 4))
    r = probe(X, labels, types=types, cv=2, random_state=5)
    control = r.control_labels.reshape(n_types, reps)
    assert (control == control[:, :1]).all()
    np.testing.assert_array_equal(np.sort(control[:, 0]), np.sort(type_label))
    assert not np.array_equal(control[:, 0], type_label)
    again = probe(X, labels, types=types, cv=2, random_state=5)
    np.testing.assert_array_equal(again.control_labels, r.control_labels)
    np.testing.assert_array_equal(again.fold_scores, r.fold_scores)


def test_probe_that_memorises_types_has_low_selectivity():
    # Ten types, each a point in 40 dimensions: any labelling of the types is linearly
    # separable, so the probe fits the control task as well as the task (Hewitt & Liang).
    rng = np.random.default_rng(3)
    types = np.repeat(np.arange(10), 12)
    X = rng.normal(size=(10, 40))[types] + 0.01 * rng.normal(size=(120, 40))
    labels = np.array([0, 1] * 5)[types]
    r = probe(X, labels, types=types, cv=3, random_state=0)
    assert r.accuracy > 0.95 and r.control_accuracy > 0.95
    assert abs(r.selectivity) < 0.05


def test_probe_regression_uses_r2():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    r = probe(X, y, random_state=0)
    assert r.task == "regression" and r.scoring == "r2"
    assert r.accuracy > 0.99
    assert r.control_accuracy < 0.2
    np.testing.assert_allclose(np.sort(r.control_labels), np.sort(y))


def test_probe_captures_activations_from_model_layer_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double().eval()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 3))
    labels = (x[:, 0] > 0).astype(int)
    with torch.no_grad():
        weight, bias = model[0].weight.numpy(), model[0].bias.numpy()
    acts = x @ weight.T + bias
    control = rng.integers(0, 2, size=60)
    from_model = probe((model, "0", x), labels, control_labels=control, cv=3, random_state=0)
    from_acts = probe(acts, labels, control_labels=control, cv=3, random_state=0)
    np.testing.assert_array_equal(from_model.fold_scores, from_acts.fold_scores)
    np.testing.assert_array_equal(from_model.control_fold_scores, from_acts.control_fold_scores)
    assert from_model.params["layer"] == "0" and from_model.n_features == 4
    np.testing.assert_array_equal(from_model.control_labels, control)
    # Default types are the distinct inputs: duplicates share a control label.
    dup = np.concatenate([x[:30], x[:30]])
    r = probe((model, "0", dup), np.r_[labels[:30], labels[:30]], cv=3, random_state=0)
    np.testing.assert_array_equal(r.control_labels[:30], r.control_labels[30:])


def test_probe_errors():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(20, 3))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    with pytest.raises(InputError, match=r"labels must have one entry per sample, shape \(20,\)"):
        probe(X, y[:-1])
    with pytest.raises(InputError, match="labels has 1 distinct class"):
        probe(X, np.zeros(20, int))
    with pytest.raises(InputError, match="class 1 of labels has 2 sample"):
        probe(X, np.r_[np.zeros(18, int), np.ones(2, int)], cv=5)
    with pytest.raises(InputError, match=r"control_labels must have one entry per sample"):
        probe(X, y, control_labels=y[:5])
    with pytest.raises(InputError, match=r"types must have one entry per sample"):
        probe(X, y, types=np.arange(3))
    with pytest.raises(InputError, match="cv must be an int of at least 2"):
        probe(X, y, cv=1)
    with pytest.raises(InputError, match="task must be one of"):
        probe(X, y, task="ranking")
    with pytest.raises(InputError, match=r"activations must have shape \(n_samples"):
        probe(X[:, 0], y)
    with pytest.raises(InputError, match=r"must be \(model, layer, inputs\)"):
        probe((nn.Linear(3, 1), X), y)
    with pytest.raises(InputError, match="'nope' is not a submodule"):
        probe((nn.Linear(3, 1).double(), "nope", X), y)


# ---------------------------------------------------------------------- patching
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


def test_probe_fold_with_one_control_class_predicts_that_class():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(20, 3))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    control = np.zeros(20, int)
    control[0] = 1  # the fold that tests sample 0 trains on one class only
    r = probe(X, y, control_labels=control, cv=2, random_state=0)
    assert 0.9 in r.control_fold_scores.tolist()


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
