"""Grad-CAM and Grad-CAM++.

References: captum's LayerGradCam (+ LayerAttribution.interpolate) on float64 CNNs,
the Grad-CAM++ closed form written out with loops over samples, channels and
pixels, and the paper's formula with autograd derivatives of Y = exp(S).
"""

import numpy as np
import pytest

from tests.gradients._helpers import IGNORE_CAPTUM_INPUT_WARNING, captum_attr, float64_net, torch
from whybox import InputError
from whybox.gradients import GradCAM, GradCAMPlusPlus

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


# ---------------------------------------------------------------------- models
def make_cnn(inplace=True):
    return float64_net(
        0,
        lambda nn: [
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=inplace), nn.Conv2d(4, 5, 3),
            nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(20, 3),
        ],
    )  # fmt: skip


def make_cnn1d():
    return float64_net(
        1,
        lambda nn: [
            nn.Conv1d(2, 3, 3),
            nn.Tanh(),
            nn.AdaptiveMaxPool1d(2),
            nn.Flatten(),
            nn.Linear(6, 2),
        ],
    )


def make_gap_head():
    """conv -> ReLU (the explained layer) -> global average pool -> linear: S linear in A."""
    return float64_net(
        2,
        lambda nn: [
            nn.Conv2d(1, 2, 3),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2, 3),
        ],
    )


def images(n=4, c=3, size=8, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, size, size, generator=g, dtype=torch.float64)


def captum_cam(forward, layer, x, target, relu, size=None, mode="bilinear"):
    cam = captum_attr.LayerGradCam(forward, layer).attribute(
        x, target=target, relu_attributions=relu
    )
    if size is not None:
        cam = captum_attr.LayerAttribution.interpolate(cam, size, mode)
    return cam.detach()[:, 0].numpy()


# ---------------------------------------------------------------------- Grad-CAM vs captum
@pytest.mark.parametrize("layer", ["0", "2"])
@pytest.mark.parametrize("relu", [True, False])
def test_grad_cam_equals_captum_upsampled_and_at_layer_resolution(layer, relu):
    model, x, target = make_cnn(), images(), [0, 2, 1, 2]
    for upsample, size in [(True, (8, 8)), (False, None)]:
        ex = GradCAM(model, layer, relu=relu, upsample=upsample)(x, target)
        ref = captum_cam(model, model.get_submodule(layer), x, target, relu, size)
        assert ex.values.shape == (*ref.shape, 1)
        assert np.abs(ex.values[..., 0] - ref).max() <= 1e-10
    if relu:
        assert (ex.values >= 0).all() and (ex.values > 0).any()
    else:
        assert (ex.values < 0).any()  # the signed map keeps negative regions


def test_grad_cam_result_fields_and_batches():
    model, x = make_cnn(inplace=False), images(5)
    ex = GradCAM(model, model[2])(x, target=1)  # the module itself, not its name
    assert ex.axes == ("samples", "height", "width", "outputs")
    assert ex.values.shape == (5, 8, 8, 1) and ex.values.dtype == np.float64
    assert ex.method == "grad_cam" and ex.output_names == ("1",)
    assert np.isnan(ex.base_values).all() and ex.base_values.shape == (5, 1)
    np.testing.assert_array_equal(ex.data, x.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(ex.model_output[:, 0], model(x)[:, 1].numpy(), rtol=0, atol=0)
    p = ex.params
    assert (p["layer"], p["relu"], p["upsample"], p["map_shape"]) == ("2", True, True, [6, 6])
    assert p["target"] == [1] * 5 and p["input_shape"] == [3, 8, 8] and p["batch_size"] is None
    # batching over samples changes nothing; the in-place ReLU model gives the same maps
    for kwargs in [{"batch_size": 2}, {"batch_size": 1}]:
        again = GradCAM(model, "2", **kwargs)(x, target=1)
        np.testing.assert_allclose(again.values, ex.values, rtol=0, atol=1e-12)
    inplace = GradCAM(make_cnn(inplace=True), "2")(x, target=1)
    np.testing.assert_allclose(inplace.values, ex.values, rtol=0, atol=1e-12)
    # a sample of the explanation keeps its input
    assert ex[2].data.shape == (3, 8, 8) and ex[2].values.shape == (8, 8, 1)


def test_grad_cam_1d_maps_equal_captum_linear_interpolation():
    model = make_cnn1d()
    x = torch.randn(3, 2, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ex = GradCAM(model, "0", relu=False)(x, target=[1, 0, 1])
    assert ex.axes == ("samples", "length", "outputs") and ex.values.shape == (3, 9, 1)
    ref = captum_cam(model, model[0], x, [1, 0, 1], False, (9,), "linear")
    assert np.abs(ex.values[..., 0] - ref).max() <= 1e-10
    small = GradCAM(model, "0", upsample=False)(x, target=[1, 0, 1])
    assert small.values.shape == (3, 7, 1) and small.params["map_shape"] == [7]


def test_grad_cam_probability_and_callable_targets_equal_captum():
    model, x = make_cnn(), images(3)
    ex = GradCAM(model, "2", output="probability")(x, target=0)
    ref = captum_cam(lambda t: torch.softmax(model(t), dim=1), model[2], x, 0, True, (8, 8))
    assert ex.output_space == "probability"
    assert np.abs(ex.values[..., 0] - ref).max() <= 1e-10

    def margin(out):
        return out[:, 0] - out[:, 1]

    ex = GradCAM(model, "2", relu=False)(x, target=margin)
    ref = captum_cam(lambda t: margin(model(t)), model[2], x, None, False, (8, 8))
    assert ex.params["target"] == "callable" and ex.output_names == ("margin",)
    assert np.abs(ex.values[..., 0] - ref).max() <= 1e-10


class TwoHeads(torch.nn.Module):
    """Output 0 reads only the first branch, output 1 only the second."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.a = torch.nn.Conv2d(1, 2, 3)
        self.b = torch.nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.stack([self.a(x).mean((1, 2, 3)), self.b(x).pow(2).mean((1, 2, 3))], 1)


def test_a_layer_the_output_does_not_read_gets_a_zero_map():
    model, x = TwoHeads().double().eval(), images(2, c=1)
    for method in (GradCAM, GradCAMPlusPlus):
        assert (method(model, "b", relu=False)(x, target=0).values == 0).all()
        assert (method(model, "a", relu=False)(x, target=0).values != 0).any()


# ---------------------------------------------------------------------- Grad-CAM++
def _loop_grad_cam_pp(acts, grads):
    """The paper's closed form, one sample, channel and pixel at a time."""
    n, k, h, w = acts.shape
    maps = np.zeros((n, h, w))
    for s in range(n):
        total = np.zeros((h, w))
        for c in range(k):
            a_sum = sum(acts[s, c, i, j] for i in range(h) for j in range(w))
            weight = 0.0
            for i in range(h):
                for j in range(w):
                    g = grads[s, c, i, j]
                    denominator = 2 * g**2 + a_sum * g**3
                    alpha = 0.0 if denominator == 0 else g**2 / denominator
                    weight += alpha * max(g, 0.0)
            total += weight * acts[s, c]
        maps[s] = np.maximum(total, 0.0)
    return maps


def test_grad_cam_plus_plus_equals_the_closed_form_written_out():
    model, x, target = make_cnn(inplace=False), images(3), [2, 0, 1]
    acts = model[:3](x).detach().requires_grad_(True)  # the output of layer "2"
    score = model[3:](acts)[torch.arange(3), torch.tensor(target)]
    (grads,) = torch.autograd.grad(score.sum(), acts)
    expected = _loop_grad_cam_pp(acts.detach().numpy(), grads.numpy())
    assert (grads == 0).any()  # the ReLU after the layer zeroes some gradients (alpha 0 there)
    ex = GradCAMPlusPlus(model, "2", upsample=False, batch_size=2)(x, target)
    assert ex.method == "grad_cam_plus_plus" and ex.values.shape == (3, 6, 6, 1)
    assert np.abs(ex.values[..., 0] - expected).max() <= 1e-12
    assert (expected > 0).any()
    up = GradCAMPlusPlus(model, "2")(x, target)
    ref = torch.nn.functional.interpolate(
        torch.as_tensor(expected)[:, None], size=(8, 8), mode="bilinear", align_corners=False
    )
    assert np.abs(up.values[..., 0] - ref[:, 0].numpy()).max() <= 1e-12


def test_grad_cam_plus_plus_is_the_paper_formula_for_an_exponential_output():
    """With S linear in A, the derivatives of Y = exp(S) from autograd give the paper's
    weights, which are ours times the positive factor exp(S)."""
    model, x = make_gap_head(), images(2, c=1, size=5)
    ex = GradCAMPlusPlus(model, "1", upsample=False)(x, target=1)
    for s in range(2):
        a = model[:2](x[s : s + 1]).detach()[0]  # (2, 3, 3)
        flat = a.reshape(-1).clone().requires_grad_(True)
        y = torch.exp(model[2:](flat.reshape(1, 2, 3, 3))[0, 1])
        (d1,) = torch.autograd.grad(y, flat, create_graph=True)
        d2 = torch.stack(
            [torch.autograd.grad(d1[i], flat, create_graph=True)[0][i] for i in range(18)]
        )
        d3 = torch.stack(
            [torch.autograd.grad(d2[i], flat, retain_graph=True)[0][i] for i in range(18)]
        )
        d1, d2, d3 = (t.detach().reshape(2, 9) for t in (d1, d2, d3))
        a_sum = a.reshape(2, 9).sum(1, keepdim=True)
        alpha = d2 / (2 * d2 + a_sum * d3)
        weights = (alpha * torch.relu(d1)).sum(1)
        paper = torch.relu((weights[:, None, None] * a).sum(0))
        ours = ex.values[s, ..., 0] * float(y.detach())
        assert np.abs(ours - paper.numpy()).max() <= 1e-10 * max(1.0, float(paper.max()))
        assert float(paper.max()) > 0


# ---------------------------------------------------------------------- errors, hooks, modes
class Reuses(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.head = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.conv(self.conv(x)).mean((2, 3)))


class AsImage(torch.nn.Module):
    """Flat inputs (n, 16) seen as 4x4 images by a convolution."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.conv(x.reshape(-1, 1, 4, 4)).flatten(1))


class Pair(torch.nn.Module):
    def forward(self, x):
        return x, x


class UsesPair(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.head = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.pair(x)[0].mean((2, 3)))


def test_errors_name_the_layer_and_the_fix():
    model, x = make_cnn(), images(2)
    with pytest.raises(InputError, match=r"layer 'conv9' is not a submodule .* e\.g\. \["):
        GradCAM(model, "conv9")
    with pytest.raises(InputError, match="layer is a module that is not part of the model"):
        GradCAM(model, torch.nn.Conv2d(3, 4, 3))
    with pytest.raises(
        InputError, match=r"layer '6' gives an output of shape \(2, 3\); Grad-CAM needs a feature"
    ):
        GradCAMPlusPlus(model, "6")(x)
    with pytest.raises(InputError, match="layer 'conv' was called 2 times in one forward pass"):
        GradCAM(Reuses().double().eval(), "conv")(x)
    with pytest.raises(InputError, match="layer 'pair' returned tuple; Grad-CAM needs a layer"):
        GradCAM(UsesPair().double().eval(), "pair")(x)
    flat = AsImage().double().eval()
    with pytest.raises(InputError, match="fewer than 2 spatial axes; pass upsample=False"):
        GradCAM(flat, "conv")(torch.rand(3, 16, dtype=torch.float64))
    small = GradCAM(flat, "conv", upsample=False)(torch.rand(3, 16, dtype=torch.float64))
    assert small.values.shape == (3, 2, 2, 1)
    with pytest.raises(InputError, match="target 5 is out of range"):
        GradCAM(model, "2")(x, target=5)


def test_hooks_are_removed_and_the_mode_restored_even_on_error():
    model, x = make_cnn(), images(2)
    layer = model[2]
    expected = GradCAM(model, "2")(x).values
    assert not layer._forward_hooks and not layer._backward_hooks

    def bad_target(out):
        return out  # (n, 3), not one scalar per sample

    with pytest.raises(InputError, match="target callable returned shape"):
        GradCAM(model, "2")(x, target=bad_target)
    assert not layer._forward_hooks
    with pytest.raises(InputError, match="gives an output of shape"):
        GradCAM(model, "5")(x)
    assert not model[5]._forward_hooks

    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        ex = GradCAM(model, "2")(x)
    assert model.training
    np.testing.assert_array_equal(ex.values, expected)
