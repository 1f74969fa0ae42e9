"""Saliency and InputXGradient: captum (float64 models) and closed forms."""

import numpy as np
import pytest

from tests.gradients._helpers import (
    IGNORE_CAPTUM_INPUT_WARNING,
    captum_attr,
    images,
    make_cnn,
    make_linear,
    make_mlp,
    table,
    vals,
)
from whybox.gradients import InputXGradient, Saliency

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_saliency_and_input_x_gradient_equal_captum(kind):
    model, x = (make_cnn(), images()) if kind == "cnn" else (make_mlp(), table())
    target = [0, 1, 2, 1, 0, 2][: len(x)]
    for absolute in (True, False):
        ours = Saliency(model, absolute=absolute)(x, target=target)
        ref = captum_attr.Saliency(model).attribute(x, target=target, abs=absolute)
        np.testing.assert_allclose(vals(ours), ref.detach().numpy(), rtol=0, atol=1e-12)
    ours = InputXGradient(model)(x, target=target)
    ref = captum_attr.InputXGradient(model).attribute(x, target=target)
    np.testing.assert_allclose(vals(ours), ref.detach().numpy(), rtol=0, atol=1e-12)
    assert ours.method == "input_x_gradient"
    assert np.isnan(ours.base_values).all()


def test_input_x_gradient_of_a_model_linear_through_the_origin():
    model, x = make_linear(bias=0.0), table()
    ex = InputXGradient(model)(x, target=1)
    np.testing.assert_allclose(vals(ex), x.numpy() * model.weight[1].detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(vals(ex).sum(1), ex.model_output[:, 0], atol=1e-12)
