"""A layer's activations and gradients, captured by hooks that are always removed."""

import numpy as np
import pytest

from tests._requires import requires
from tests.concepts._helpers import D, tiny_cnn, torch
from whybox import InputError
from whybox.adapters._torch import adapt_torch_model
from whybox.concepts._activations import layer_activations, layer_gradients


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
