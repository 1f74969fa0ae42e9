"""The PyTorch adapter: the input-shaped Explanation it produces, and trust in it.

Torch models stay as the user left them, and single outputs of any rank are explained
(issue #19, items 26 and 18): explaining a model restores every submodule's own
training flag (not ``module.train()``, which switches them all on), and a model whose
output is (n, 1, 1, 1) is explained as the same model with its output flattened to
(n, 1), with DeepLIFT/DeepSHAP adding up and agreeing with captum.
"""

import warnings

import numpy as np
import pytest

from tests._requires import lazy, requires
from whybox import Explanation, InputError, UnsupportedModelError

torch = requires("torch")
captum_attr = lazy("captum.attr")

from torch import nn  # noqa: E402

from whybox.adapters._torch import adapt_torch_model, eval_mode, input_axes  # noqa: E402
from whybox.gradients import (  # noqa: E402
    DeepLift,
    DeepShap,
    IntegratedGradients,
    Saliency,
)


def _cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 6 * 6, 4),
    ).double()


def test_saliency_is_the_gradient_of_the_targeted_output():
    model = _cnn().eval()
    x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    target = [0, 1, 2, 3, 0]
    ex = Saliency(model, absolute=False)(x, target=target)
    for i, t in enumerate(target):
        xi = x[i : i + 1].clone().requires_grad_(True)
        model(xi)[0, t].backward()
        np.testing.assert_allclose(ex.values[i, ..., 0], xi.grad[0].numpy(), atol=1e-12)
    assert ex.axes == ("samples", "channels", "height", "width", "outputs")
    assert ex.params["target"] == target
    assert ex.output_names == ("target",)
    out = model(x).detach().numpy()
    np.testing.assert_allclose(ex.model_output[:, 0], out[np.arange(5), target])
    assert np.isnan(ex.additivity_error).all()  # a gradient has no baseline


def test_default_target_is_the_predicted_class_and_abs_is_default():
    model = _cnn().eval()
    x = torch.randn(6, 1, 6, 6, dtype=torch.float64)
    ex = Saliency(model)(x)
    assert ex.params["target"] == model(x).argmax(1).tolist()
    assert (ex.values >= 0).all()


def test_callable_target_and_batch_size_do_not_change_values():
    model = _cnn().eval()
    x = torch.randn(7, 1, 6, 6, dtype=torch.float64)

    def logit_gap(out):
        return out[:, 0] - out[:, 1]

    whole = Saliency(model, absolute=False)(x, target=logit_gap)
    batched = Saliency(model, absolute=False, batch_size=3)(x.numpy(), target=logit_gap)
    np.testing.assert_allclose(whole.values, batched.values, atol=1e-12)
    assert whole.output_names == ("logit_gap",)
    assert whole.params["target"] == "callable"


def test_probability_output_and_output_names():
    model = _cnn().eval()
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    ex = Saliency(model, output="probability", output_names=["a", "b", "c", "d"])(x, target=2)
    p = torch.softmax(model(x), 1)[:, 2].detach().numpy()
    np.testing.assert_allclose(ex.model_output[:, 0], p)
    assert ex.output_names == ("c",) and ex.output_space == "probability"


def test_image_explanation_slices_and_round_trips_json():
    model = _cnn().eval()
    ex = Saliency(model)(torch.randn(4, 1, 6, 6, dtype=torch.float64))
    one = ex[1]
    assert one.values.shape == (1, 6, 6, 1) and one.data.shape == (1, 6, 6)
    assert ex[:, 0].values.shape == (4, 6, 6, 1)  # the channel axis dropped
    assert ex[:2].data.shape == (2, 1, 6, 6)
    back = Explanation.from_dict(ex.to_dict())
    np.testing.assert_array_equal(back.values, ex.values)
    assert back.axes == ex.axes


def test_tabular_mlp_gets_feature_names():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 1)).double().eval()
    ex = Saliency(mlp, absolute=False)(np.ones((2, 3)), feature_names=["a", "b", "c"])
    assert ex.axes == ("samples", "features", "outputs")
    np.testing.assert_allclose(ex[:, "b"].values[:, 0], mlp[0].weight[0, 1].item())


def test_input_axes_by_rank():
    assert input_axes((5,)) == ("features",)
    assert input_axes((7, 16)) == ("tokens", "embedding")
    assert input_axes((3, 8, 8)) == ("channels", "height", "width")
    assert input_axes((2, 3, 4, 5)) == ("input_1", "input_2", "input_3", "input_4")


def test_training_mode_warns_and_is_restored():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5)).double().train()
    x = np.ones((4, 3))
    with pytest.warns(UserWarning, match="training mode"):
        a = Saliency(model)(x)
    assert model.training
    b = Saliency(model.eval())(x)
    np.testing.assert_array_equal(a.values, b.values)  # dropout was off


def test_bad_input_errors():
    model = _cnn().eval()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(InputError, match="target 4 is out of range"):
        Saliency(model)(x, target=4)
    with pytest.raises(InputError, match="one int per sample"):
        Saliency(model)(x, target=[0, 1, 2])
    with pytest.raises(InputError, match="is on device meta"):
        Saliency(model)(torch.empty(2, 1, 6, 6, device="meta"))
    with pytest.raises(InputError, match="sample axis"):
        Saliency(model)(np.ones(3))
    with pytest.raises(InputError, match="numeric"):
        Saliency(model)([["a", "b"]])
    with pytest.raises(UnsupportedModelError, match="torch.nn.Module"):
        Saliency(lambda v: v)
    with pytest.raises(InputError, match="output must be one of"):
        Saliency(model, output="log_odds")
    with pytest.raises(InputError, match="batch_size"):
        Saliency(model, batch_size=0)
    with pytest.raises(InputError, match="one scalar per sample"):
        Saliency(model)(x, target=lambda out: out)


def test_layer_lookup_names_the_closest_layers():
    tm = adapt_torch_model(_cnn())
    assert tm.layer("0") is tm.module[0]
    with pytest.raises(InputError, match="not a submodule"):
        tm.layer("conv9")
    with pytest.raises(InputError, match="not part of the model"):
        tm.layer(torch.nn.ReLU())


def test_baseline_shapes():
    tm = adapt_torch_model(_cnn())
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    assert torch.equal(tm.as_baseline(None, x), torch.zeros_like(x))
    assert torch.equal(tm.as_baseline(0.5, x), torch.full_like(x, 0.5))
    one = np.random.default_rng(0).normal(size=(1, 6, 6))
    assert torch.allclose(tm.as_baseline(one, x)[2], torch.as_tensor(one))
    with pytest.raises(InputError, match="baseline has shape"):
        tm.as_baseline(np.zeros((2, 1, 6, 6)), x)


# ---------------------------------------------------------------------- submodule modes (issue #19, item 26)
class _Wrapper(nn.Module):
    """A new head trained on top of a pretrained backbone that is kept in eval mode."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


def _frozen_backbone_model():
    model = _Wrapper().double()
    model.train()
    model.backbone.eval()  # pretrained: dropout off while the head trains
    return model


def _modes(model):
    return {name: m.training for name, m in model.named_modules()}


@pytest.mark.parametrize(
    "explain",
    [
        lambda m, x: Saliency(m)(x),
        lambda m, x: IntegratedGradients(m, n_steps=4)(x, target=0),
        lambda m, x: DeepLift(m)(x, target=1),
    ],
    ids=["saliency", "integrated_gradients", "deeplift"],
)
def test_every_submodule_keeps_its_own_mode(explain):
    model = _frozen_backbone_model()
    before = _modes(model)
    assert before[""] and not before["backbone"] and not before["backbone.2"]
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with pytest.warns(UserWarning, match="the model is in training mode"):
        explain(model, x)
    assert _modes(model) == before
    # the user's model is as deterministic as before: its dropout is still off
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second)


def test_a_training_submodule_inside_an_eval_model_is_switched_off_and_back():
    model = _Wrapper().double().eval()
    model.backbone[2].train()  # dropout on although the model says eval
    before = _modes(model)
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with pytest.warns(UserWarning, match=r"1 submodule\(s\) of the model are in training mode"):
        a = Saliency(model)(x, target=0)
    assert _modes(model) == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = Saliency(model.eval())(x, target=0)  # all in eval now: no warning
    np.testing.assert_array_equal(a.values, b.values)  # dropout was off during the call


def test_eval_mode_restores_each_flag_when_the_block_raises():
    model = _frozen_backbone_model()
    before = _modes(model)
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode(model, warn=False):
            assert not any(m.training for m in model.modules())
            raise RuntimeError("boom")
    assert _modes(model) == before


def test_eval_mode_leaves_an_eval_model_untouched_and_silent():
    model = _Wrapper().double().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with eval_mode(model):
            pass
    assert not any(m.training for m in model.modules())


def test_a_model_that_refuses_to_switch_modes_is_left_as_it_was():
    class Fixed(nn.Linear):
        """Refuses mode switches, as a torch.export program does."""

        def train(self, mode=True):
            raise NotImplementedError("fixed graph")

    model = nn.Sequential(nn.Dropout(0.5), Fixed(2, 2))
    for m in model.modules():
        m.training = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing switched, so nothing to warn about
        with eval_mode(model):
            inside = [m.training for m in model.modules()]
    # the Sequential and the Dropout were switched before Fixed refused: put back at once
    assert inside == [True, True, True]
    assert [m.training for m in model.modules()] == [True, True, True]


# ---------------------------------------------------------------------- outputs of rank four (issue #19, item 18)
def _conv_head(out_channels=1):
    """8x8 grey images -> (n, out_channels, 1, 1): convolutions and ReLUs only."""
    torch.manual_seed(4)
    return (
        nn.Sequential(
            nn.Conv2d(1, 3, 3, stride=2, padding=1),  # 4x4
            nn.ReLU(),
            nn.Conv2d(3, 2, 3),  # 2x2
            nn.ReLU(),
            nn.Conv2d(2, out_channels, 2),  # 1x1
        )
        .double()
        .eval()
    )


def _images(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, dtype=torch.float64, generator=g)


def _captum(cls, model, x, baselines, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(model).attribute(x, baselines=baselines, target=target).detach().numpy()


@pytest.mark.parametrize("target", [None, 0])
def test_deeplift_on_a_single_output_of_rank_four_adds_up(target):
    model = _conv_head()
    flat = nn.Sequential(model, nn.Flatten()).eval()
    x, b = _images(4, 1), _images(4, 2)
    with torch.no_grad():
        assert model(x).shape == (4, 1, 1, 1)
        f_x, f_b = model(x).reshape(-1).numpy(), model(b).reshape(-1).numpy()
    ex = DeepLift(model, baseline=b)(x, target=target)
    assert ex.values.shape == (4, 1, 8, 8, 1) and ex.params["target"] == [0, 0, 0, 0]
    np.testing.assert_allclose(ex.model_output[:, 0], f_x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ex.base_values[:, 0], f_b, rtol=0, atol=1e-15)
    total = ex.values.reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(total, f_x - f_b, rtol=0, atol=1e-12)  # summation-to-delta
    np.testing.assert_array_equal(ex.values, DeepLift(flat, baseline=b)(x, target=target).values)
    # captum takes the rank-4 output with target=0 too
    ref = _captum(captum_attr.DeepLift, model, x, b, 0)
    np.testing.assert_allclose(ex.values[..., 0], ref, rtol=0, atol=1e-12)


def test_deepshap_on_a_single_output_of_rank_four_adds_up_and_equals_captum():
    model = _conv_head()
    flat = nn.Sequential(model, nn.Flatten()).eval()
    x, bg = _images(3, 3), _images(5, 4)
    ex = DeepShap(model, bg)(x)
    with torch.no_grad():
        f_x = model(x).reshape(-1).numpy()
        f_bg = model(bg).reshape(-1).numpy().mean()
    total = ex.values.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(total, f_x - f_bg, rtol=0, atol=1e-12)
    assert ex.quality["completeness_delta"].max() <= 1e-12
    np.testing.assert_array_equal(ex.values, DeepShap(flat, bg)(x).values)
    ref = _captum(captum_attr.DeepLiftShap, model, x, bg, 0)
    np.testing.assert_allclose(ex.values[..., 0], ref, rtol=0, atol=1e-12)


def test_probability_of_a_single_output_of_rank_four_is_its_sigmoid():
    model = _conv_head()
    x, b = _images(3, 5), _images(3, 6)
    ex = DeepLift(model, baseline=b, output="probability")(x)
    with torch.no_grad():
        p_x, p_b = torch.sigmoid(model(x)).reshape(-1), torch.sigmoid(model(b)).reshape(-1)
    np.testing.assert_allclose(ex.model_output[:, 0], p_x.numpy(), rtol=0, atol=1e-15)
    total = ex.values.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(total, (p_x - p_b).numpy(), rtol=0, atol=1e-12)


def test_integrated_gradients_on_outputs_with_trailing_unit_axes():
    x = _images(3, 7)
    for k in (1, 3):  # one output, and a convolutional classifier's (n, k, 1, 1)
        model = _conv_head(k)
        flat = nn.Sequential(model, nn.Flatten()).eval()
        ex = IntegratedGradients(model, n_steps=8)(x)
        ref = IntegratedGradients(flat, n_steps=8)(x)
        np.testing.assert_array_equal(ex.values, ref.values)
        np.testing.assert_array_equal(ex.model_output, ref.model_output)
        assert ex.params["target"] == ref.params["target"]
        with torch.no_grad():
            predicted = model(x).reshape(3, k).argmax(dim=1).tolist()
        assert ex.params["target"] == predicted


def test_integrated_gradients_on_a_single_output_of_rank_four_equals_captum():
    model = _conv_head()
    x, b = _images(4, 9), _images(4, 10)
    ours = IntegratedGradients(model, baseline=b, n_steps=50, completeness_tolerance=None)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, delta = captum_attr.IntegratedGradients(model).attribute(
            x, baselines=b, target=0, n_steps=50, method="gausslegendre",
            return_convergence_delta=True,
        )  # fmt: skip
    # captum rounds its step weights to float32 (see test_gradients.py), hence 1e-8
    np.testing.assert_allclose(ours.values[..., 0], ref.detach().numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        ours.quality["completeness_delta"][:, 0], np.abs(delta.detach().numpy()), atol=1e-8
    )


def test_other_output_shapes_get_a_fix_that_works():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1)).double().eval()  # (n, 2, 8, 8)
    x = _images(2, 8)
    with pytest.raises(UnsupportedModelError, match=r"torch\.nn\.Flatten\(\)"):
        Saliency(model)(x, target=0)
    # the fix the message gives: every element becomes an output to pick with target=
    fixed = nn.Sequential(model, nn.Flatten()).eval()
    ex = Saliency(fixed)(x, target=64 + 8 * 3 + 5)  # channel 1, row 3, column 5
    xr = x.clone().requires_grad_(True)
    model(xr)[:, 1, 3, 5].sum().backward()
    g = xr.grad.abs()
    np.testing.assert_allclose(ex.values[..., 0], g.numpy(), rtol=0, atol=1e-15)


def test_a_forward_that_fails_on_the_input_shape_is_one_input_error():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    model = adapt_torch_model(net)
    with pytest.raises(InputError, match=r"cannot take inputs of shape \(5,\) .*mat1 and mat2"):
        model.forward(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(InputError, match=r"inputs of shape \(5,\)"):
        Saliency(net)(np.zeros((2, 5)))


def test_a_forward_that_fails_for_another_reason_keeps_its_error():
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

    with pytest.raises(RuntimeError, match="illegal memory access"):
        adapt_torch_model(Broken()).forward(torch.zeros(2, 4))


# ---------------------------------------------------------------------- several inputs (#25)
class _TwoInputs(nn.Module):
    """An image branch and a metadata branch, scaled by an optional extra argument."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten())
        self.meta = nn.Linear(3, 2 * 4 * 4)
        self.head = nn.Linear(2 * 4 * 4, 2)

    def forward(self, image, meta, scale=1.0):
        return self.head(self.conv(image) + self.meta(meta)) * scale


def test_as_inputs_gives_a_tuple_and_keeps_integer_tensors():
    tm = adapt_torch_model(_TwoInputs().double())
    image, meta = np.random.default_rng(0).normal(size=(2, 1, 6, 6)), torch.randn(2, 3)
    ids = torch.tensor([[1, 2], [3, 4]])
    (x,) = tm.as_inputs(image)
    assert x.dtype == torch.float64 and x.shape == (2, 1, 6, 6)
    xs = tm.as_inputs((image, meta, ids, ids > 2))
    assert [t.dtype for t in xs] == [torch.float64, torch.float64, torch.int64, torch.bool]
    assert torch.equal(xs[2], ids)
    (single_ids,) = tm.as_inputs(ids)
    assert single_ids.dtype == torch.int64


def test_forward_inputs_calls_the_module_with_every_input_and_the_extra_arguments():
    model = _TwoInputs().double().eval()
    tm = adapt_torch_model(model)
    image, meta = torch.randn(3, 1, 6, 6, dtype=torch.float64), torch.randn(3, 3)
    xs = tm.as_inputs((image, meta))
    expected = model(image, meta.double(), 2.5)
    torch.testing.assert_close(tm.forward_inputs(xs, 2.5), expected, rtol=0, atol=0)
    torch.testing.assert_close(tm.forward_inputs(xs, (2.5,)), expected, rtol=0, atol=0)
    torch.testing.assert_close(tm.forward_inputs(xs), model(image, meta.double()), rtol=0, atol=0)
    assert tm.forward_args(None) == ()
    flag = [1, 2]
    assert tm.forward_args(flag)[0] is flag  # passed unchanged, wrapped in a one-tuple


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ((), r"^X is an empty tuple; give one tensor per forward argument of the model\.$"),
        (
            (torch.randn(3, 1, 6, 6), torch.randn(2, 3)),
            r"^X\[1\] has 2 samples but X\[0\] has 3; give every input the same number of samples",
        ),
        ((torch.randn(3, 1, 6, 6), [["a", "b", "c"]] * 3), r"^X\[1\] must be a numeric array"),
        (
            (torch.randn(3, 1, 6, 6), torch.tensor([[0.0] * 3, [0.0, float("nan"), 0.0]] * 2)[:3]),
            r"^X\[1\] contains NaN or infinite values \(the first in sample 1\)",
        ),
        ((torch.randn(3, 1, 6, 6), torch.randn(3)), r"^X\[1\] must have a sample axis first"),
        ((torch.randn(3, 1, 6, 6), (torch.randn(3, 3),)), r"^X\[1\] is a tuple; give X as a flat"),
    ],
)
def test_several_inputs_are_checked_with_one_sentence(X, message):
    tm = adapt_torch_model(_TwoInputs())
    with pytest.raises(InputError, match=message) as info:
        tm.as_inputs(X)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_a_wrong_number_of_inputs_is_an_input_error_not_a_type_error():
    tm = adapt_torch_model(_TwoInputs())
    image = torch.randn(2, 1, 6, 6)
    with pytest.raises(InputError, match=r"does not take 1 input\(s\) and 0 additional .*tuple"):
        tm.forward_inputs(tm.as_inputs(image))
    xs = tm.as_inputs((image, torch.randn(2, 3)))
    with pytest.raises(InputError, match=r"does not take 2 input\(s\) and 2 additional"):
        tm.forward_inputs(xs, (1.0, 2.0))


def test_a_type_error_inside_forward_is_not_hidden():
    class Broken(nn.Module):
        def forward(self, x):
            return x + "text"

    tm = adapt_torch_model(Broken())
    with pytest.raises(TypeError):
        tm.forward_inputs(tm.as_inputs(torch.randn(2, 3)))


def test_float_ids_given_to_an_embedding_are_an_input_error():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2))
    tm = adapt_torch_model(model)
    with pytest.raises(InputError, match=r"takes integer indices .* integer tensor"):
        tm.forward_inputs(tm.as_inputs(np.array([[1, 2], [3, 4]])))
    out = tm.forward_inputs(tm.as_inputs(torch.tensor([[1, 2], [3, 4]])))
    assert out.shape == (2, 2)


def test_additional_arguments_on_another_device_are_refused():
    tm = adapt_torch_model(_TwoInputs())
    other = torch.ones(2, 1, device="meta")  # any device that is not the model's
    with pytest.raises(InputError, match=r"^additional_forward_args\[1\] is on device meta but"):
        tm.forward_args((1.0, other))
    assert tm.forward_args(torch.tensor(2.0, device="meta"))  # a 0-d tensor broadcasts anywhere


@pytest.mark.parametrize("dtype", ["uint8", "int64", "bool"])
def test_integer_inputs_a_layer_cannot_take_are_an_input_error(dtype):
    from whybox.gradients import GradCAM

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2)).eval()
    images = torch.zeros(2, 1, 6, 6, dtype=getattr(torch, dtype))
    with pytest.raises(
        InputError, match=rf"cannot take inputs of dtype torch.{dtype} .*X.float\(\)"
    ):
        GradCAM(model, "0")(images)
    tm = adapt_torch_model(nn.Linear(3, 2))
    with pytest.raises(InputError, match=rf"cannot take inputs of dtype torch.{dtype} "):
        tm.forward_inputs(tm.as_inputs(torch.zeros(2, 3, dtype=getattr(torch, dtype))))
