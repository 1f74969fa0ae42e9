"""Integrated gradients: captum, closed forms on linear models, completeness and refinement."""

import numpy as np
import pytest

from tests.gradients._helpers import (
    IGNORE_CAPTUM_INPUT_WARNING,
    RULES,
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
from whybox.gradients import IntegratedGradients

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
@pytest.mark.parametrize("rule", RULES)
def test_integrated_gradients_equal_captum(kind, rule):
    model, x = (make_cnn(), images()) if kind == "cnn" else (make_mlp(), table())
    baseline = 0.25 * torch.ones_like(x[0])
    ours = IntegratedGradients(model, rule=rule, baseline=baseline, completeness_tolerance=None)(
        x, target=1
    )
    ref, delta = captum_attr.IntegratedGradients(model).attribute(
        x, baselines=baseline[None], target=1, method=rule, n_steps=50,
        return_convergence_delta=True,
    )  # fmt: skip
    ref = ref.detach().numpy()
    if rule == "riemann_trapezoid":
        # captum's trapezoid weights (1/2n, 1/n, ..., 1/2n) sum to (n - 1) / n on
        # points spaced 1 / (n - 1); ours are the trapezoid rule's, which sum to 1.
        ref = ref * 50 / 49
    else:
        # the same gap to completeness as captum reports
        delta = np.abs(delta.detach().numpy())
        np.testing.assert_allclose(ours.quality["completeness_delta"][:, 0], delta, atol=1e-8)
    # captum rounds its step weights (and its Riemann points) to float32, so float64
    # models agree to ~1e-9 here rather than to machine precision
    np.testing.assert_allclose(vals(ours), ref, rtol=0, atol=1e-8)


def test_captum_trapezoid_is_ours_scaled_on_a_linear_model():
    model, x = make_linear(), table()
    ours = IntegratedGradients(
        model, rule="riemann_trapezoid", n_steps=10, completeness_tolerance=None
    )(x, target=0)
    ref = captum_attr.IntegratedGradients(model).attribute(
        x, target=0, method="riemann_trapezoid", n_steps=10
    )
    exact = (x * model.weight[0]).detach().numpy()
    np.testing.assert_allclose(vals(ours), exact, atol=1e-12)
    np.testing.assert_allclose(ref.detach().numpy(), exact * 9 / 10, atol=1e-7)


@pytest.mark.parametrize("rule", RULES)
def test_integrated_gradients_closed_form_on_a_linear_model(rule):
    model, x = make_linear(), table()
    w = model.weight[0].detach().numpy()
    per_sample = table(seed=9)
    for baseline, b in ((None, 0.0), (0.5, 0.5), (per_sample[0], per_sample[0].numpy()),
                        (per_sample, per_sample.numpy())):  # fmt: skip
        ex = IntegratedGradients(model, rule=rule, n_steps=2)(x, target=0, baseline=baseline)
        np.testing.assert_allclose(vals(ex), (x.numpy() - b) * w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ex.additivity_error, 0.0, atol=1e-12)
    if rule != "riemann_trapezoid":
        one = IntegratedGradients(model, rule=rule, n_steps=1)(x, target=0)
        np.testing.assert_allclose(vals(one), x.numpy() * w, atol=1e-12)


def test_integrated_gradients_completeness_at_default_steps_on_a_smooth_model():
    model, x = make_mlp(smooth=True), 3 * table()
    fixed = {"baseline": table(1, seed=7)[0], "completeness_tolerance": None}
    ex = IntegratedGradients(model, **fixed)(x, target=2)
    rel = ex.quality["relative_completeness_delta"]
    assert rel.shape == (len(x), 1)
    assert rel.max() < 0.01
    gap = ex.model_output - ex.base_values
    np.testing.assert_allclose(ex.quality["completeness_delta"], np.abs(gap) * rel, rtol=1e-10)
    np.testing.assert_allclose(
        ex.quality["completeness_delta"][:, 0], ex.additivity_error, rtol=0, atol=1e-12
    )
    # the second-order Riemann rules are within 1% too (left and right sums are
    # first-order and need more steps)
    for rule in ("riemann_middle", "riemann_trapezoid"):
        coarse = IntegratedGradients(model, rule=rule, **fixed)(x, target=2)
        assert coarse.quality["relative_completeness_delta"].max() < 0.01
    # base_values is f_t(baseline)
    b = table(1, seed=7)
    np.testing.assert_allclose(ex.base_values, model(b)[:, 2].item(), atol=1e-14)


def test_integrated_gradients_refines_samples_whose_completeness_gap_is_large():
    """Samples above the tolerance get doubled steps; their values are those of that step count."""
    model, x = make_cnn().eval(), 3 * images(8)
    coarse = IntegratedGradients(model, n_steps=4, completeness_tolerance=None)(x, target=1)
    refined = IntegratedGradients(model, n_steps=4, completeness_tolerance=0.01, max_steps=64)(
        x, target=1
    )
    steps = refined.quality["n_steps"][:, 0]
    rel = refined.quality["relative_completeness_delta"][:, 0]
    was_coarse = coarse.quality["relative_completeness_delta"][:, 0] > 0.01
    assert was_coarse.any()  # the test needs a sample that 4 steps integrate badly
    np.testing.assert_array_equal(steps[~was_coarse], 4)
    assert np.all(steps[was_coarse] > 4)
    assert np.all((rel <= 0.01) | (steps == 64))
    for k in np.unique(steps):
        rows = steps == k
        direct = IntegratedGradients(model, n_steps=int(k), completeness_tolerance=None)(
            x[rows], target=1
        )
        np.testing.assert_allclose(vals(refined)[rows], vals(direct), rtol=0, atol=1e-12)
    assert refined.params["completeness_tolerance"] == 0.01
    with pytest.raises(InputError, match="completeness_tolerance must be a positive number"):
        IntegratedGradients(model, completeness_tolerance=0)
