"""The PyTorch adapter and the input-shaped Explanation it produces."""

import numpy as np
import pytest
from _requires import requires

from whybox import Explanation, InputError, UnsupportedModelError

torch = requires("torch")

from whybox.adapters._torch import adapt_torch_model, input_axes  # noqa: E402
from whybox.gradients import Saliency  # noqa: E402


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
