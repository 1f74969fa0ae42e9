"""DeepLift and DeepShap: captum agreement, closed forms, summation-to-delta, hooks, errors."""

import warnings

import numpy as np
import pytest

from tests.gradients._helpers import captum_attr, torch
from whybox._exceptions import InputError, UnsupportedModelError
from whybox.gradients import DeepLift, DeepShap

nn = torch.nn

# Every model and input here is float64, as are captum's references: the same products
# and sums in another order differ by a few ulps. Measured: values against captum at most
# 2.8e-17 (values up to 0.45), additivity and completeness gaps at most 2.2e-16.
TOL = 1e-12


def _identity_conv(channels):
    """A 1x1 convolution that returns its input exactly (weights 1 on the diagonal)."""
    conv = nn.Conv2d(channels, channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(channels).reshape(channels, channels, 1, 1))
        conv.bias.zero_()
    return conv


def _cnn():
    """conv, in-place ReLU, max pool, conv, ReLU, linear on 1x8x8 images (float64)."""
    torch.manual_seed(0)
    return (
        nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(3, 2, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8, 4),
        )
        .double()
        .eval()
    )


def _separated(cnn):
    """The same function with an exact identity between the ReLU and the max pool.

    captum 0.9 gives a supported module directly followed by another one a stale
    output gradient (captum issue #1104), so captum is run on this twin.
    """
    layers = list(cnn)
    return nn.Sequential(*layers[:2], _identity_conv(3).double(), *layers[2:]).eval()


def _mlp():
    """Linear layers separated by Tanh, Sigmoid, Softplus, ELU and LeakyReLU (float64)."""
    torch.manual_seed(1)
    return (
        nn.Sequential(
            nn.Linear(6, 8),
            nn.Tanh(),
            nn.Linear(8, 8),
            nn.Sigmoid(),
            nn.Linear(8, 8),
            nn.Softplus(beta=2.0),
            nn.Linear(8, 8),
            nn.ELU(alpha=0.7),
            nn.Linear(8, 8),
            nn.LeakyReLU(0.1),
            nn.Linear(8, 3),
        )
        .double()
        .eval()
    )


def _images(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64)


def _rows(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def _captum(cls, model, x, baselines, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr = cls(model).attribute(x, baselines=baselines, target=target)
    return attr.detach().numpy()


def _no_hooks(model):
    return all(
        not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        for m in model.modules()
    )


# ---------------------------------------------------------------------- captum
def test_deeplift_cnn_matches_captum_and_adds_up():
    cnn = _cnn()
    x, b = _images(3, 2), _images(3, 3)
    ex = DeepLift(cnn, baseline=b)(x, target=[0, 1, 3])
    ref = _captum(captum_attr.DeepLift, _separated(cnn), x, b, [0, 1, 3])
    assert ex.values.shape == (3, 1, 8, 8, 1)
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL
    assert ex.quality["completeness_delta"].shape == (3, 1)
    assert ex.quality["completeness_delta"].max() <= TOL
    with torch.no_grad():
        f_b = cnn(b)[torch.arange(3), [0, 1, 3]].numpy()
    np.testing.assert_allclose(ex.base_values[:, 0], f_b, rtol=0, atol=1e-12)
    assert ex.params["eps"] == 1e-10
    assert ex.params["baseline"] == "array of shape (3, 1, 8, 8)"


def test_deeplift_mlp_matches_captum():
    mlp = _mlp()
    x = _rows(4, 6, 4)
    ex = DeepLift(mlp, baseline=0.5)(x)
    target = ex.params["target"]
    ref = _captum(captum_attr.DeepLift, mlp, x, 0.5, target)
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL
    assert ex.params["baseline"] == 0.5


def test_maxpool1d_matches_captum():
    torch.manual_seed(5)
    model = (
        nn.Sequential(
            nn.Conv1d(2, 3, 3, padding=1),
            nn.MaxPool1d(2),
            nn.Conv1d(3, 2, 3),
            nn.Tanh(),
            nn.Flatten(),
            nn.Linear(4, 2),
        )
        .double()
        .eval()
    )
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 2, 8, generator=g, dtype=torch.float64)
    ex = DeepLift(model)(x, target=1)
    ref = _captum(captum_attr.DeepLift, model, x, None, 1)
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL


def test_deepshap_matches_captum_and_batch_size_changes_nothing():
    cnn = _cnn()
    x, bg = _images(3, 7), _images(4, 8)
    ex = DeepShap(cnn, bg)(x, target=[2, 0, 1])
    ref = _captum(captum_attr.DeepLiftShap, _separated(cnn), x, bg, [2, 0, 1])
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL
    with torch.no_grad():
        mean_bg = cnn(bg)[:, [2, 0, 1]].mean(dim=0).numpy()
    np.testing.assert_allclose(ex.base_values[:, 0], mean_bg, rtol=0, atol=1e-12)
    assert ex.params["n_background"] == 4
    small = DeepShap(cnn, bg, batch_size=5)(x, target=[2, 0, 1])  # 2 pairs a pass
    assert np.abs(small.values - ex.values).max() <= 1e-12


def test_deepshap_mlp_matches_captum_and_one_row_is_deeplift():
    mlp = _mlp()
    x, bg = _rows(3, 6, 9), _rows(5, 6, 10)
    ex = DeepShap(mlp, bg)(x, target=2)
    ref = _captum(captum_attr.DeepLiftShap, mlp, x, bg, 2)
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL
    one = DeepShap(mlp, bg[:1])(x, target=2)
    dl = DeepLift(mlp, baseline=bg[0])(x, target=2)
    assert np.abs(one.values - dl.values).max() <= 1e-12
    np.testing.assert_allclose(one.base_values, dl.base_values, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- closed forms, axioms
def test_linear_model_closed_form():
    torch.manual_seed(11)
    lin = nn.Linear(5, 3).double().eval()
    x, b, bg = _rows(4, 5, 12), _rows(4, 5, 13), _rows(6, 5, 14)
    w = lin.weight.detach().numpy()
    ex = DeepLift(lin, baseline=b)(x, target=2)
    expected = (x - b).numpy() * w[2]
    assert np.abs(ex.values[..., 0] - expected).max() <= 1e-12
    shap = DeepShap(lin, bg)(x, target=1)
    expected = (x.numpy() - bg.numpy().mean(axis=0)) * w[1]
    assert np.abs(shap.values[..., 0] - expected).max() <= 1e-12


def test_dummy_input_gets_zero():
    mlp = _mlp()
    with torch.no_grad():
        mlp[0].weight[:, 3] = 0.0
    x, bg = _rows(3, 6, 15), _rows(4, 6, 16)
    ex = DeepLift(mlp, baseline=bg[0])(x, target=0)
    assert np.all(ex.values[:, 3] == 0.0)
    assert np.abs(ex.values[:, [0, 1, 2, 4, 5]]).min() > 0
    assert np.all(DeepShap(mlp, bg)(x, target=0).values[:, 3] == 0.0)


def test_zero_input_difference_uses_the_gradient():
    """A unit whose input difference is exactly 0 takes its ordinary derivative (eps)."""
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).double().eval()
    with torch.no_grad():
        model[0].weight.copy_(
            torch.tensor([[1.0, 1.0, 0.0], [0.5, -1.0, 2.0]], dtype=torch.float64)
        )
        model[0].bias.copy_(torch.tensor([0.2, -0.1], dtype=torch.float64))
        model[2].weight.copy_(torch.tensor([[1.5, -0.7]], dtype=torch.float64))
    x = torch.tensor([[0.5, -0.5, 1.0], [0.25, -0.25, -1.0]], dtype=torch.float64)
    ex = DeepLift(model)(x, target=0)  # unit 0 sees the same input at x and at 0
    ref = _captum(captum_attr.DeepLift, model, x, None, 0)
    assert np.abs(ex.values[..., 0] - ref).max() <= 1e-12
    # sample 0: unit 0 has input 0.2 at x and at 0 (derivative 1, weight 1.5); unit 1
    # goes from -0.1 to 2.65, so its ReLU multiplier is 2.65 / 2.75 (weight -0.7)
    m0, m1 = 1.5, -0.7 * 2.65 / 2.75
    expected = [0.5 * (m0 + 0.5 * m1), -0.5 * (m0 - m1), 1.0 * (2.0 * m1)]
    assert np.abs(ex.values[0, :, 0] - expected).max() <= 1e-12
    assert ex.additivity_error.max() <= 1e-12


def test_adjacent_modules_and_overlapping_pools_add_up():
    """ReLU straight into max pooling, overlapping windows, MaxPool3d: exact deltas."""
    torch.manual_seed(17)
    model = (
        nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=1, padding=1),
            nn.Sigmoid(),
            nn.Flatten(),
            nn.Linear(128, 2),
        )
        .double()
        .eval()
    )
    x, b = _images(3, 18), _images(3, 19)
    ex = DeepLift(model, baseline=b)(x, target=0)
    assert ex.additivity_error.max() <= TOL
    pool3d = nn.Sequential(nn.MaxPool3d(2), nn.Flatten(), nn.Linear(8, 1)).double().eval()
    g = torch.Generator().manual_seed(20)
    v = torch.randn(2, 1, 4, 4, 4, generator=g, dtype=torch.float64)
    assert DeepLift(pool3d, baseline=-0.3)(v).additivity_error.max() <= TOL


def test_reused_module_is_supported():
    class Shared(nn.Module):
        def __init__(self, act, act2):
            super().__init__()
            torch.manual_seed(21)
            self.fc1, self.fc2, self.fc3 = nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 2)
            self.act, self.act2 = act, act2

        def forward(self, x):
            return self.fc3(self.act2(self.fc2(self.act(self.fc1(x)))))

    relu = nn.ReLU()
    shared = Shared(relu, relu).double().eval()
    twin = Shared(nn.ReLU(), nn.ReLU()).double().eval()
    x, b = _rows(4, 5, 22), _rows(4, 5, 23)
    ex = DeepLift(shared, baseline=b)(x, target=1)
    ref = _captum(captum_attr.DeepLift, twin, x, b, 1)
    assert np.abs(ex.values[..., 0] - ref).max() <= TOL
    assert ex.additivity_error.max() <= TOL


def test_softmax_module_and_probability_output():
    mlp = _mlp()
    x = _rows(3, 6, 24)
    with_softmax = nn.Sequential(mlp, nn.Softmax(dim=1)).eval()
    ex = DeepLift(with_softmax)(x, target=2)
    # captum normalises over the whole batch, so it agrees on one row at a time
    for i in range(3):
        ref = _captum(captum_attr.DeepLift, with_softmax, x[i : i + 1], None, 2)
        assert np.abs(ex.values[i, ..., 0] - ref[0]).max() <= TOL
    prob = DeepLift(mlp, output="probability")(x, target=2)
    assert np.abs(prob.values - ex.values).max() <= 1e-12
    torch.manual_seed(25)
    binary = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1)).double().eval()
    sig = DeepLift(binary, output="probability", baseline=0.3)(x)
    assert sig.additivity_error.max() <= TOL
    with torch.no_grad():
        np.testing.assert_allclose(
            sig.model_output[:, 0], torch.sigmoid(binary(x))[:, 0].numpy(), atol=1e-12
        )


# ---------------------------------------------------------------------- hooks, determinism
def test_hooks_removed_and_calls_repeat():
    cnn = _cnn()
    x = _images(2, 26)
    explainer = DeepLift(cnn, baseline=-0.1)
    first = explainer(x, target=1)
    assert _no_hooks(cnn)
    second = explainer(x, target=1)
    assert np.array_equal(first.values, second.values)
    with pytest.raises(InputError, match="target callable returned shape"):
        explainer(x, target=lambda out: out)
    assert _no_hooks(cnn)


def test_functional_activation_warns_and_modules_do_not():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(27)
            self.fc1, self.fc2 = nn.Linear(4, 5), nn.Linear(5, 2)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    x = _rows(2, 4, 28)
    with pytest.warns(UserWarning, match=r"relu \(1x\)"):
        DeepLift(Functional().double().eval())(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DeepLift(_mlp())(_rows(2, 6, 29))


def test_sample_axis_not_first_raises():
    class Transposed(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act = nn.Linear(3, 5), nn.Tanh()

        def forward(self, x):
            return self.act(self.fc(x).T).T.sum(dim=1)

    with pytest.raises(UnsupportedModelError, match="samples on the first axis"):
        DeepLift(Transposed().double().eval())(_rows(2, 3, 30))


# ---------------------------------------------------------------------- errors
def test_bad_baseline_background_and_eps():
    mlp = _mlp()
    x = _rows(3, 6, 31)
    with pytest.raises(InputError, match=r"baseline has shape \(2, 6\)"):
        DeepLift(mlp, baseline=np.zeros((2, 6)))(x)
    with pytest.raises(InputError, match="background must have a sample axis first"):
        DeepShap(mlp, np.zeros(6))
    with pytest.raises(InputError, match="background has no samples"):
        DeepShap(mlp, np.zeros((0, 6)))
    with pytest.raises(InputError, match=r"but the background has \(5,\); give a background of"):
        DeepShap(mlp, np.zeros((4, 5)))(x)
    with pytest.raises(InputError, match="eps must be a positive finite float"):
        DeepLift(mlp, eps=0.0)
    with pytest.raises(InputError, match="eps must be a positive float"):
        DeepShap(mlp, np.zeros((2, 6)), eps="small")
