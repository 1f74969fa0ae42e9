"""GradientShap: captum on the same draws, the mean over its draws, draws as a Result."""

import json

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
    torch,
    vals,
)
from whybox import InputError
from whybox.gradients import GradientShap, GradientShapDraws

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


def captum_gradient_shap_draws(seed, n, n_bg, n_samples, stdev, shape):
    """Replays captum's draws: baseline indices, then noise, then positions.

    captum draws from numpy's legacy global state, so this has to as well.
    """
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)
    index = np.random.choice(n_bg, n * n_samples)  # noqa: NPY002
    std = torch.tensor(stdev, dtype=torch.float64).repeat((n * n_samples, *shape))
    noise = torch.normal(0, std)
    alpha = np.random.uniform(0.0, 1.0, n * n_samples)  # noqa: NPY002
    return GradientShapDraws(
        background_index=index.reshape(n, n_samples),
        path_positions=alpha.reshape(n, n_samples),
        noise=noise.numpy().reshape(n, n_samples, *shape),
    )


@pytest.mark.parametrize("stdev", [0.0, 0.1])
def test_gradient_shap_equals_captum_on_the_same_draws(stdev):
    model, x = make_cnn(), images()
    background = images(7, seed=8)
    draws = captum_gradient_shap_draws(5, len(x), len(background), 6, stdev, (1, 8, 8))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        np.random.seed(5)  # noqa: NPY002
        torch.manual_seed(5)
        ref = captum_attr.GradientShap(model).attribute(
            x, baselines=background, n_samples=6, stdevs=stdev, target=3
        )
    finally:
        torch.set_default_dtype(old)
    ours = GradientShap(model, background, batch_size=13)(x, target=3, draws=draws)
    np.testing.assert_allclose(vals(ours), ref.detach().numpy(), rtol=0, atol=1e-12)
    assert ours.params["draws"] == "given" and ours.params["n_draws"] == 6


def test_gradient_shap_on_a_linear_model_is_the_mean_over_its_draws():
    model, x = make_linear(), table(4)
    background = table(9, seed=12)
    w = model.weight[1].detach().numpy()
    explainer = GradientShap(model, background, n_draws=5, stdev=0.2, random_state=3)
    draws = explainer.draw(x)
    assert draws.background_index.shape == (4, 5) and draws.noise.shape == (4, 5, 5)
    ex = explainer(x, target=1)
    z = x.numpy()[:, None] + draws.noise
    expected = ((z - background.numpy()[draws.background_index]) * w).mean(axis=1)
    np.testing.assert_allclose(vals(ex), expected, atol=1e-13)
    # the call's own draws are draw()'s
    np.testing.assert_array_equal(vals(ex), vals(explainer(x, target=1, draws=draws)))
    np.testing.assert_allclose(ex.base_values[:, 0], model(background)[:, 1].mean().item())
    assert ex.params["random_state"] == 3 and ex.params["n_background"] == 9
    # without noise the estimate is unbiased: with many draws it approaches (x - E b) w
    many = GradientShap(model, background, n_draws=4000, random_state=0)(x, target=1)
    exact = (x.numpy() - background.numpy().mean(0)) * w
    assert np.abs(vals(many) - exact).max() < 5 * many.quality["standard_error"].max()
    assert many.additivity_error.max() < 0.05


def test_gradient_shap_shape_and_draw_errors():
    model, x = make_mlp().eval(), table(3)
    gs = GradientShap(model, table(4), n_draws=2, random_state=0)
    with pytest.raises(InputError, match=r"X has input shape \(4,\) but the background has"):
        gs(np.zeros((3, 4)))
    draws = gs.draw(x)
    with pytest.raises(InputError, match="draws must be a GradientShapDraws"):
        gs(x, draws={"path_positions": draws.path_positions})
    with pytest.raises(InputError, match=r"must both have shape \(n_inputs=2, n_draws\)"):
        gs(x[:2], draws=draws)
    bad_index = GradientShapDraws(draws.background_index + 4, draws.path_positions)
    with pytest.raises(InputError, match=r"background_index must hold ints in 0\.\.3"):
        gs(x, draws=bad_index)
    with pytest.raises(InputError, match=r"draws.path_positions must lie in \[0, 1\]"):
        gs(x, draws=GradientShapDraws(draws.background_index, draws.path_positions + 1))
    with pytest.raises(InputError, match=r"draws.noise must have shape"):
        gs(
            x,
            draws=GradientShapDraws(draws.background_index, draws.path_positions, np.zeros((3, 2))),
        )


def test_gradient_shap_draws_are_a_result_with_a_strict_json_round_trip():
    model, x = make_linear(), table(3)
    explainer = GradientShap(model, table(4, seed=12), n_draws=5, stdev=0.2, random_state=3)
    for draws in (explainer.draw(x), GradientShap(model, table(4), n_draws=2).draw(x)):
        back = GradientShapDraws.from_dict(json.loads(draws.to_json()))
        np.testing.assert_array_equal(back.background_index, draws.background_index)
        assert back.background_index.dtype.kind == "i"
        np.testing.assert_array_equal(back.path_positions, draws.path_positions)
        if draws.noise is None:
            assert back.noise is None
        else:
            np.testing.assert_array_equal(back.noise, draws.noise)
        # the draws read back give the same estimate
        np.testing.assert_array_equal(
            vals(explainer(x, target=1, draws=back)), vals(explainer(x, target=1, draws=draws))
        )
        frame = draws.to_frame()
        assert frame.shape == ((15, 4) if draws.noise is not None else (6, 4))
        np.testing.assert_array_equal(
            frame["background_index"].to_numpy().reshape(draws.background_index.shape),
            draws.background_index,
        )
        html = draws._repr_html_()
        assert isinstance(html, str) and "path_position" in html
