"""What every gradient method shares: targets, batches, seeds, inputs, axioms, errors.

Saliency, InputXGradient, IntegratedGradients, SmoothGrad and GradientShap through the
same contract: per-sample and callable targets, batch_size, numpy/pandas/tensor inputs,
the dummy axiom, eval mode and the input errors.
"""

import re

import numpy as np
import pandas as pd
import pytest

from tests.gradients._helpers import (
    IGNORE_CAPTUM_INPUT_WARNING,
    IgnoresLast,
    TwoInputs,
    captum_attr,
    images,
    make_cnn,
    make_mlp,
    table,
    torch,
    two_inputs,
    vals,
)
from whybox import Explanation, InputError
from whybox.gradients import (
    DeepLift,
    DeepShap,
    GradCAM,
    GradientShap,
    GradientShapDraws,
    InputXGradient,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
)

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


def test_a_dummy_input_gets_exactly_zero():
    model, x = IgnoresLast().double().eval(), table()
    background = table(4, seed=5)
    explainers = [
        Saliency(model),
        InputXGradient(model),
        IntegratedGradients(model, baseline=0.3),
        SmoothGrad(model, n_draws=3, random_state=0, variant="vargrad"),
        GradientShap(model, background, n_draws=3, stdev=0.1, random_state=0),
    ]
    for explainer in explainers:
        v = vals(explainer(x, target=1))
        assert np.all(v[:, 4] == 0.0), type(explainer).__name__
        assert np.all(np.abs(v[:, :4]).sum(1) > 0)


def explainers_for(model, background):
    return [
        IntegratedGradients(model, n_steps=9, completeness_tolerance=None),
        SmoothGrad(model, n_draws=5, random_state=1),
        GradientShap(model, background, n_draws=5, stdev=0.1, random_state=1),
        InputXGradient(model),
    ]


def test_per_sample_targets_equal_row_by_row():
    model, x = make_mlp().eval(), table()
    target = [2, 0, 1, 1, 0, 2]
    for explainer in explainers_for(model, table(3, seed=6)):
        if isinstance(explainer, (SmoothGrad, GradientShap)):
            continue  # their draws depend on the row's position; checked below
        whole = explainer(x, target=target)
        assert whole.params["target"] == target
        for i in range(len(x)):
            row = explainer(x[i : i + 1], target=target[i])
            np.testing.assert_allclose(vals(whole)[i], vals(row)[0], atol=1e-13)
            np.testing.assert_allclose(whole.base_values[i], row.base_values[0], atol=1e-13)
    # stochastic methods: per-sample targets equal one call per target on the same draws
    ig = GradientShap(model, table(3, seed=6), n_draws=4, random_state=2)
    whole = ig(x, target=target)
    for t in (0, 1, 2):
        rows = np.flatnonzero(np.asarray(target) == t)
        np.testing.assert_allclose(vals(whole)[rows], vals(ig(x, target=t))[rows], atol=1e-13)
    sg = SmoothGrad(model, n_draws=4, random_state=2)
    whole = sg(x, target=target)
    for t in (0, 1, 2):
        rows = np.flatnonzero(np.asarray(target) == t)
        np.testing.assert_allclose(vals(whole)[rows], vals(sg(x, target=t))[rows], atol=1e-13)


def test_callable_targets_and_default_target():
    model, x = make_mlp().eval(), table()

    def margin(out):
        return out[:, 2] - out[:, 0]

    for explainer in explainers_for(model, table(3, seed=6)):
        by_callable = explainer(x, target=lambda out: out[:, 2])
        by_index = explainer(x, target=2)
        np.testing.assert_allclose(vals(by_callable), vals(by_index), atol=1e-13)
        assert by_callable.params["target"] == "callable"
        # a difference of outputs: attributions are linear in the output
        diff = explainer(x, target=margin)
        expected = vals(by_index) - vals(explainer(x, target=0))
        np.testing.assert_allclose(vals(diff), expected, atol=1e-12)
        assert diff.output_names == ("margin",)
    predicted = model(x).argmax(1).tolist()
    ex = IntegratedGradients(model)(x)
    assert ex.params["target"] == predicted


def test_batch_size_never_changes_the_values():
    model, x = make_cnn().eval(), images(6)
    background = images(4, seed=9)
    cases = [
        lambda bs: IntegratedGradients(model, n_steps=7, batch_size=bs),
        lambda bs: SmoothGrad(model, n_draws=5, random_state=4, batch_size=bs),
        lambda bs: GradientShap(
            model, background, n_draws=5, stdev=0.1, random_state=4, batch_size=bs
        ),  # fmt: skip
    ]
    for make in cases:
        ref = make(None)(x, target=[0, 1, 2, 3, 0, 1])
        for bs in (1, 4, 11):
            ex = make(bs)(x, target=[0, 1, 2, 3, 0, 1])
            np.testing.assert_allclose(vals(ex), vals(ref), rtol=0, atol=1e-12)
            np.testing.assert_allclose(ex.base_values, ref.base_values, rtol=0, atol=1e-12)
            assert ex.params["batch_size"] == bs


def test_same_seed_same_values_and_generators_accepted():
    model, x = make_cnn().eval(), images(2)
    a = SmoothGrad(model, n_draws=3, random_state=5)(x)
    b = SmoothGrad(model, n_draws=3, random_state=5)(x)
    c = SmoothGrad(model, n_draws=3, random_state=6)(x)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    assert a.params["random_state"] == 5
    g = GradientShap(model, images(3, seed=1), n_draws=3, random_state=np.random.default_rng(0))
    first, second = g(x), g(x)  # a Generator moves on between calls
    assert not np.allclose(first.values, second.values)
    assert "Generator" in first.params["random_state"]


def test_numpy_pandas_and_tensor_inputs_agree():
    model, x = make_mlp().eval(), table()
    frame = pd.DataFrame(x.numpy(), columns=list("abcde"))
    ig = IntegratedGradients(model, n_steps=8)
    from_tensor = ig(x, target=1)
    from_numpy = ig(x.numpy(), target=1)
    from_frame = ig(frame, target=1, feature_names=list(frame.columns))
    np.testing.assert_array_equal(from_tensor.values, from_numpy.values)
    np.testing.assert_array_equal(from_tensor.values, from_frame.values)
    assert from_frame.feature_names == tuple("abcde")
    assert from_frame.axes == ("samples", "features", "outputs")
    assert from_frame[:, "c"].values.shape == (6, 1)
    # float32 models get float32 inputs, results are float64
    ex = IntegratedGradients(make_mlp().float().eval(), n_steps=8)(x.numpy(), target=1)
    assert ex.values.dtype == np.float64
    np.testing.assert_allclose(ex.values, from_tensor.values, atol=1e-4)


def test_image_explanations_keep_the_input_shape():
    model, x = make_cnn().eval(), images(3)
    ex = IntegratedGradients(model, n_steps=5)(x, target=1)
    assert ex.values.shape == (3, 1, 8, 8, 1)
    assert ex.axes == ("samples", "channels", "height", "width", "outputs")
    assert ex.base_values.shape == ex.model_output.shape == (3, 1)
    assert ex.params["rule"] == "gausslegendre" and ex.params["baseline"] == 0.0
    sg = SmoothGrad(model, n_draws=3, random_state=0)(x, target=1)
    assert sg.quality["standard_error"].shape == sg.values.shape
    assert np.isnan(sg.base_values).all()
    gs = GradientShap(model, images(2, seed=7), n_draws=3, random_state=0)(x, target=1)
    assert gs.quality["standard_error"].shape == gs.values.shape
    assert gs[0].values.shape == (1, 8, 8, 1)


def test_bad_targets_and_baselines_are_input_errors():
    model, x = make_mlp().eval(), table()
    ig = IntegratedGradients(model, n_steps=4)
    with pytest.raises(InputError, match="target 3 is out of range"):
        ig(x, target=3)
    with pytest.raises(InputError, match="target 7 is out of range"):
        SmoothGrad(model, n_draws=2)(x, target=[0, 1, 7, 0, 0, 0])
    with pytest.raises(InputError, match=r"baseline has shape \(1, 4\)"):
        ig(x, baseline=np.zeros(4))
    with pytest.raises(InputError, match=r"baseline has shape \(3, 5\)"):
        IntegratedGradients(model, baseline=np.zeros((3, 5)))(x)


def test_input_on_another_device_is_an_input_error():
    model = make_mlp().eval()
    on_meta = torch.empty(6, 5, dtype=torch.float64, device="meta")
    for explainer in (IntegratedGradients(model), SmoothGrad(model), InputXGradient(model)):
        with pytest.raises(InputError, match="X is on device meta but the model is on cpu"):
            explainer(on_meta)
    with pytest.raises(InputError, match="background is on device meta"):
        GradientShap(model, on_meta)
    with pytest.raises(InputError, match="baseline is on device meta"):
        IntegratedGradients(model)(table(), baseline=on_meta)


def test_training_mode_warns_and_is_restored():
    torch.manual_seed(3)
    model = (
        torch.nn.Sequential(
            torch.nn.Linear(5, 8), torch.nn.Dropout(0.5), torch.nn.Tanh(), torch.nn.Linear(8, 2)
        )
        .double()
        .eval()
    )
    x = table()
    model.eval()
    expected = IntegratedGradients(model, n_steps=6)(x, target=0)
    model.train()
    for explainer in (
        IntegratedGradients(model, n_steps=6),
        SmoothGrad(model, n_draws=2, random_state=0),
        GradientShap(model, table(3), n_draws=2, random_state=0),
        InputXGradient(model),
    ):
        with pytest.warns(UserWarning, match="training mode"):
            ex = explainer(x, target=0)
        assert model.training
        if isinstance(explainer, IntegratedGradients):
            np.testing.assert_array_equal(ex.values, expected.values)  # dropout was off


def test_bad_parameters_are_input_errors():
    model = make_mlp()
    with pytest.raises(InputError, match="n_steps must be a positive integer, got 0"):
        IntegratedGradients(model, n_steps=0)
    with pytest.raises(InputError, match="n_steps must be a positive integer, got 2.5"):
        IntegratedGradients(model, n_steps=2.5)
    with pytest.raises(InputError, match="n_steps must be an integer >= 2, got 1"):
        IntegratedGradients(model, n_steps=1, rule="riemann_trapezoid")
    with pytest.raises(InputError, match="rule must be one of .* got 'simpson'"):
        IntegratedGradients(model, rule="simpson")
    with pytest.raises(InputError, match="n_draws must be a positive integer, got -1"):
        SmoothGrad(model, n_draws=-1)
    with pytest.raises(InputError, match="noise_level must be a finite number >= 0, got -0.1"):
        SmoothGrad(model, noise_level=-0.1)
    with pytest.raises(InputError, match="variant must be one of .* got 'var'"):
        SmoothGrad(model, variant="var")
    with pytest.raises(InputError, match="random_state must be None, a non-negative int"):
        SmoothGrad(model, random_state="seed")
    with pytest.raises(InputError, match="stdev must be a finite number >= 0, got nan"):
        GradientShap(model, table(2), stdev=float("nan"))
    with pytest.raises(InputError, match="n_draws must be a positive integer, got True"):
        GradientShap(model, table(2), n_draws=True)


class Rowwise(torch.nn.Module):
    """Each output row computed from its input row alone, elementwise then summed."""

    def forward(self, x):
        return torch.stack([torch.tanh(x).sum(1), (x * x).sum(1)], dim=1)


def test_batch_size_leaves_every_bit_of_the_averaged_draws_unchanged():
    # a model whose rows do not depend on the batch: only the averaging over the draws
    # could change with how many inputs share a pass, and it adds draw after draw
    model, x = Rowwise().double().eval(), table(7)
    cases = [
        lambda bs: SmoothGrad(model, n_draws=20, batch_size=bs),
        lambda bs: SmoothGrad(model, n_draws=20, variant="vargrad", batch_size=bs),
        lambda bs: GradientShap(model, table(3, seed=5), n_draws=20, stdev=0.1, batch_size=bs),
    ]
    for make in cases:
        ref = make(None)(x, target=0)
        for bs in (1, 20, 45):
            ex = make(bs)(x, target=0)
            np.testing.assert_array_equal(ex.values, ref.values)
            for name, value in ref.quality.items():
                np.testing.assert_array_equal(ex.quality[name], value)


def test_dataframe_columns_name_the_features_and_nan_inputs_are_input_errors():
    model, x = make_mlp().eval(), table()
    frame = pd.DataFrame(x.numpy(), columns=list("abcde"))
    background = table(3, seed=6)
    for explainer in [Saliency(model), *explainers_for(model, background)]:
        ex = explainer(frame, target=1)
        assert ex.feature_names == tuple("abcde"), type(explainer).__name__
        assert explainer(x, target=1).feature_names == ("x0", "x1", "x2", "x3", "x4")
        named = explainer(frame, target=1, feature_names=list("vwxyz"))
        assert named.feature_names == tuple("vwxyz")
        with_nan = x.clone()
        with_nan[2, 1] = float("nan")
        with pytest.raises(
            InputError, match=r"X contains NaN or infinite values \(the first in sample 2\)"
        ):
            explainer(with_nan, target=1)
    with pytest.raises(InputError, match="background contains NaN or infinite values"):
        GradientShap(model, np.full((2, 5), np.inf))


# ---------------------------------------------------------------------- several inputs (#25)
def _each(ours, ref):
    """The largest |ours - captum| over a tuple of Explanations and captum's tuple."""
    assert isinstance(ours, tuple) and len(ours) == len(ref)
    return max(np.abs(vals(o) - r.detach().numpy()).max() for o, r in zip(ours, ref, strict=True))


def _one_sentence(message):
    """One sentence: ends with a period, no '. X' sentence break inside."""
    return message.endswith(".") and not re.search(r"(?<!e\.g)\.\s+[A-Z]", message)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_integrated_gradients_of_two_inputs_equal_captum(batch_size):
    model, (X, args) = TwoInputs(), two_inputs()
    baseline = (0.1, torch.full((5, 3), -0.2, dtype=torch.float64))
    ours = IntegratedGradients(model, completeness_tolerance=None, batch_size=batch_size)(
        X, target=1, baseline=baseline, additional_forward_args=args
    )
    ref = captum_attr.IntegratedGradients(model).attribute(
        X, baselines=baseline, target=1, additional_forward_args=args, n_steps=50
    )
    assert _each(ours, ref) < 1e-9  # the same rule; sums in another order
    assert [e.axes for e in ours] == [
        ("samples", "channels", "height", "width", "outputs"),
        ("samples", "features", "outputs"),
    ]
    assert [e.params["input"] for e in ours] == [0, 1] and ours[1].params["n_inputs"] == 2
    assert ours[0].params["baseline"] == [0.1, "array of shape (5, 3)"]
    np.testing.assert_array_equal(ours[1].data, X[1].numpy())


@pytest.mark.parametrize("absolute", [True, False])
def test_saliency_and_input_x_gradient_of_two_inputs_equal_captum(absolute):
    model, (X, args) = TwoInputs(), two_inputs()
    ours = Saliency(model, absolute=absolute, batch_size=2)(
        X, target=[0, 1, 2, 0, 1], additional_forward_args=args
    )
    ref = captum_attr.Saliency(model).attribute(
        X, target=[0, 1, 2, 0, 1], abs=absolute, additional_forward_args=args
    )
    assert _each(ours, ref) < 1e-12
    ours = InputXGradient(model, batch_size=3)(X, target=2, additional_forward_args=args)
    ref = captum_attr.InputXGradient(model).attribute(X, target=2, additional_forward_args=args)
    assert _each(ours, ref) < 1e-12


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks")
def test_deeplift_and_deepshap_of_two_inputs_equal_captum_and_add_up_jointly():
    model, (X, args) = TwoInputs(), two_inputs()
    baseline = (0.2, torch.full((5, 3), 0.5, dtype=torch.float64))
    ours = DeepLift(model, baseline=baseline, batch_size=4)(
        X, target=0, additional_forward_args=args
    )
    ref = captum_attr.DeepLift(model).attribute(
        X, baselines=baseline, target=0, additional_forward_args=args
    )
    assert _each(ours, ref) < 1e-12
    # summation-to-delta over both inputs, against the model's own outputs
    f_x = model(*X, *args)[:, 0].detach().numpy()
    f_b = model(torch.full_like(X[0], 0.2), baseline[1], *args)[:, 0].detach().numpy()
    total = sum(e.values.reshape(5, -1).sum(axis=1) for e in ours)
    np.testing.assert_allclose(total, f_x - f_b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours[0].model_output[:, 0], f_x, rtol=0, atol=1e-14)
    np.testing.assert_allclose(ours[1].base_values[:, 0], f_b, rtol=0, atol=1e-14)
    assert ours[0].quality["completeness_delta"].max() < 1e-12
    g = torch.Generator().manual_seed(9)
    background = (
        torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64),
        torch.randn(4, 3, generator=g, dtype=torch.float64),
    )
    ours = DeepShap(model, background, batch_size=6)(X, target=2, additional_forward_args=args)
    ref = captum_attr.DeepLiftShap(model).attribute(
        X, baselines=background, target=2, additional_forward_args=args
    )
    assert _each(ours, ref) < 1e-12
    assert ours[0].quality["completeness_delta"].max() < 1e-12


def test_gradient_shap_of_two_inputs_equals_captum_on_the_same_draws():
    # captum draws each input's background row on its own; with one background row per
    # input both libraries use that row, and the path positions are replayed
    model, (X, args) = TwoInputs(), two_inputs()
    g = torch.Generator().manual_seed(10)
    background = (
        torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64),
        torch.randn(1, 3, generator=g, dtype=torch.float64),
    )
    np.random.seed(4)  # noqa: NPY002
    np.random.choice(1, 5 * 6)  # noqa: NPY002 - captum: one index draw per input
    np.random.choice(1, 5 * 6)  # noqa: NPY002
    alpha = np.random.uniform(0.0, 1.0, 5 * 6).reshape(5, 6)  # noqa: NPY002
    draws = GradientShapDraws(np.zeros((5, 6), dtype=np.int64), alpha)
    np.random.seed(4)  # noqa: NPY002
    ref = captum_attr.GradientShap(model).attribute(
        X, baselines=background, n_samples=6, target=1, additional_forward_args=args
    )
    ours = GradientShap(model, background, batch_size=13)(
        X, target=1, draws=draws, additional_forward_args=args
    )
    assert _each(ours, ref) < 1e-12
    # the base value is the model's own output at the background row, with each sample's args
    f_b = model(background[0].expand(5, 1, 8, 8), background[1].expand(5, 3), *args)
    np.testing.assert_allclose(ours[0].base_values[:, 0], f_b[:, 1].detach().numpy(), atol=1e-14)


def test_gradient_shap_draws_one_background_row_for_all_inputs():
    model, (X, args) = TwoInputs(), two_inputs()
    g = torch.Generator().manual_seed(11)
    background = (
        torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64),
        torch.randn(3, 3, generator=g, dtype=torch.float64),
    )
    explainer = GradientShap(model, background, n_draws=4, random_state=2)
    draws = explainer.draw(X)
    ours = explainer(X, target=0, additional_forward_args=args)
    expected = [np.zeros((5, 1, 8, 8)), np.zeros((5, 3))]
    for i in range(5):
        for r in range(4):
            b = [t[draws.background_index[i, r]] for t in background]
            a = draws.path_positions[i, r]
            point = [
                (bt + a * (xt[i] - bt))[None].clone().requires_grad_(True)
                for bt, xt in zip(b, X, strict=True)
            ]
            out = model(*point, args[0][i : i + 1], args[1])[0, 0]
            grads = torch.autograd.grad(out, point)
            for j in range(2):
                expected[j][i] += ((X[j][i] - b[j]) * grads[j][0]).numpy() / 4
    for e, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(vals(e), want, rtol=0, atol=1e-12)
    per_sample = [
        model(*background, args[0][i : i + 1].expand(3, 8), 2.0)[:, 0].mean().item()
        for i in range(5)
    ]
    np.testing.assert_allclose(ours[1].base_values[:, 0], per_sample, rtol=0, atol=1e-14)


@pytest.mark.parametrize("relu", [True, False])
def test_grad_cam_of_two_inputs_equals_captum_layer_grad_cam(relu):
    model, (X, args) = TwoInputs(), two_inputs()
    ours = GradCAM(model, "conv.1", relu=relu, batch_size=2)(
        X, target=2, additional_forward_args=args
    )
    assert isinstance(ours, Explanation) and ours.params["n_inputs"] == 2
    ref = captum_attr.LayerGradCam(model, model.conv[1]).attribute(
        X, target=2, additional_forward_args=args, relu_attributions=relu
    )
    ref = captum_attr.LayerAttribution.interpolate(ref, (8, 8), "bilinear")
    np.testing.assert_allclose(vals(ours), ref[:, 0].detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.data, X[0].numpy())


def test_integrated_gradients_add_up_over_all_inputs():
    # a smooth model: Gauss-Legendre integrates it to rounding (ReLU kinks it would not)
    model, (X, args) = TwoInputs(smooth=True), two_inputs()
    ours = IntegratedGradients(model, completeness_tolerance=None)(
        X, target=0, additional_forward_args=args
    )
    f_x = model(*X, *args)[:, 0].detach().numpy()
    f_0 = model(torch.zeros_like(X[0]), torch.zeros_like(X[1]), *args)[:, 0].detach().numpy()
    total = sum(e.values.reshape(5, -1).sum(axis=1) for e in ours)
    np.testing.assert_allclose(total, f_x - f_0, rtol=0, atol=1e-12)
    for e in ours:  # the joint gap, in every Explanation of the tuple
        gap = e.quality["completeness_delta"][:, 0]
        np.testing.assert_allclose(gap, np.abs(total - (f_x - f_0)), rtol=0, atol=1e-14)
        np.testing.assert_allclose(e.base_values[:, 0], f_0, rtol=0, atol=1e-14)
        np.testing.assert_allclose(e.model_output[:, 0], f_x, rtol=0, atol=1e-14)
    # neither input alone adds up: both carry part of the change
    assert all(np.abs(e.values.reshape(5, -1).sum(axis=1)).max() > 1e-3 for e in ours)


def test_additional_forward_args_reach_the_forward_pass():
    model, (X, (mask, _)) = TwoInputs(), two_inputs()
    once = Saliency(model, absolute=False)(X, target=1, additional_forward_args=(mask, 1.0))
    twice = Saliency(model, absolute=False)(X, target=1, additional_forward_args=(mask, 2.0))
    for a, b in zip(once, twice, strict=True):
        np.testing.assert_allclose(b.values, 2 * a.values, rtol=1e-14, atol=0)
    np.testing.assert_allclose(
        twice[0].model_output[:, 0], model(*X, mask, 2.0)[:, 1].detach().numpy(), atol=1e-14
    )
    # a per-sample mask goes with its samples whatever the batches
    closed = Saliency(model, absolute=False)(
        X, target=1, additional_forward_args=(torch.zeros_like(mask), 1.0)
    )
    assert np.abs(vals(closed[1])).max() == 0  # the metadata branch is switched off
    whole = IntegratedGradients(model, completeness_tolerance=None)(
        X, additional_forward_args=(mask, 1.0)
    )
    parts = IntegratedGradients(model, completeness_tolerance=None, batch_size=3)(
        X, additional_forward_args=(mask, 1.0)
    )
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-13)


def test_a_shared_argument_tensor_is_passed_unchanged():
    class Weighted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2).double()

        def forward(self, x, weights):
            assert weights.shape == (4,)
            return self.lin(x * weights)

    model, x = Weighted().eval(), table(6, 4)
    weights = torch.tensor([1.0, 0.0, 2.0, 3.0], dtype=torch.float64)
    ex = Saliency(model, absolute=False, batch_size=4)(x, target=0, additional_forward_args=weights)
    np.testing.assert_allclose(
        vals(ex),
        (model.lin.weight[0] * weights).detach().numpy().repeat(6).reshape(4, 6).T,
        atol=1e-15,
    )


def test_a_one_tuple_gives_a_one_tuple_of_the_same_explanation():
    model, x = make_mlp(), table()
    plain = IntegratedGradients(model)(x, target=2)
    (wrapped,) = IntegratedGradients(model)((x,), target=2)
    np.testing.assert_array_equal(plain.values, wrapped.values)
    np.testing.assert_array_equal(
        plain.quality["completeness_delta"], wrapped.quality["completeness_delta"]
    )


def test_smoothgrad_scales_each_inputs_noise_by_its_own_range():
    model, ((image, meta), args) = TwoInputs(), two_inputs()
    meta = meta * 10
    ex = SmoothGrad(model, n_draws=3, noise_level=0.1)(
        (image, meta),
        additional_forward_args=args,
        feature_names=(None, ["age", "height", "weight"]),
    )
    for e, t in zip(ex, (image, meta), strict=True):
        flat = t.reshape(5, -1)
        np.testing.assert_allclose(
            e.quality["noise_std"][:, 0], 0.1 * (flat.max(1).values - flat.min(1).values).numpy()
        )
        assert e.quality["standard_error"].shape == e.values.shape
    assert ex[1].feature_names == ("age", "height", "weight")
    still = SmoothGrad(model, n_draws=2, noise_level=0.0)(
        (image, meta), target=0, additional_forward_args=args
    )
    plain = Saliency(model, absolute=False)((image, meta), target=0, additional_forward_args=args)
    for a, b in zip(still, plain, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-14)


def test_grad_cam_takes_integer_token_ids():
    torch.manual_seed(3)
    nn = torch.nn

    class TextCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 4)
            self.conv = nn.Conv1d(4, 3, 3, padding=1)
            self.head = nn.Linear(3, 2)

        def forward(self, ids, mask):
            h = torch.relu(self.conv(self.embed(ids).transpose(1, 2))) * mask[:, None]
            return self.head(h.mean(dim=2))

    model = TextCNN().double().eval()
    ids = torch.randint(0, 20, (4, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(4, 7, dtype=torch.float64)
    mask[0, 5:] = 0
    ours = GradCAM(model, "conv", relu=False, upsample=False)(
        (ids,), target=1, additional_forward_args=mask
    )
    ref = captum_attr.LayerGradCam(model, model.conv).attribute(
        ids, target=1, additional_forward_args=mask
    )
    np.testing.assert_allclose(vals(ours), ref[:, 0].detach().numpy(), rtol=0, atol=1e-12)
    assert ours.axes == ("samples", "length", "outputs")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, X, a: Saliency(m)((X[0], X[1].long()), additional_forward_args=a),
            r"^X\[1\] is a torch.int64 tensor, which gradients cannot flow through; explain token "
            r"ids through their embeddings with whybox.adapters.TokenEmbeddings",
        ),
        (
            lambda m, X, a: IntegratedGradients(m)(
                X, baseline=np.zeros((5, 3)), additional_forward_args=a
            ),
            r"^baseline must be None, a scalar or a tuple with one baseline per input \(2\) when "
            r"X is a tuple, got ndarray",
        ),
        (
            lambda m, X, a: DeepLift(m, baseline=(0.0, np.zeros((5, 4))))(
                X, additional_forward_args=a
            ),
            r"^baseline\[1\] has shape \(5, 4\) but the inputs have shape \(5, 3\)",
        ),
        (
            lambda m, X, a: DeepShap(m, X[0][:2])(X, additional_forward_args=a),
            r"^the background has 1 input\(s\) but X has 2; give a background with one tensor",
        ),
        (
            lambda m, X, a: GradientShap(m, (X[0][:2], X[1][:2, :2]))(X, additional_forward_args=a),
            r"^X\[1\] has input shape \(3,\) but the background has \(2,\); give a background "
            r"of shape \(n_background, 3\)",
        ),
        (
            lambda m, X, a: Saliency(m)(
                X, additional_forward_args=a, feature_names=["a", "b", "c"]
            ),
            r"^feature_names must be None or a tuple with one entry per input \(2",
        ),
        (
            lambda m, X, a: Saliency(m)((X[0], X[1][:4]), additional_forward_args=a),
            r"^X\[1\] has 4 samples but X\[0\] has 5",
        ),
        (
            lambda m, X, a: Saliency(m)(X),
            r"^the model's forward does not take 2 input\(s\) and 0 additional argument\(s\)",
        ),
    ],
)
def test_several_input_errors_are_one_sentence(call, message):
    model, (X, args) = TwoInputs(), two_inputs()
    with pytest.raises(InputError, match=message) as info:
        call(model, X, args)
    assert _one_sentence(str(info.value)), str(info.value)


def test_an_integer_tensor_alone_is_refused_by_gradient_methods():
    model = torch.nn.Sequential(
        torch.nn.Embedding(10, 3), torch.nn.Flatten(), torch.nn.Linear(6, 2)
    ).eval()
    with pytest.raises(InputError, match=r"^X is a torch.int64 tensor, .*X.float\(\) for numeric"):
        IntegratedGradients(model)(torch.tensor([[1, 2], [3, 4]]))


def test_refined_samples_keep_their_own_additional_arguments():
    # the default tolerance integrates some samples again with more steps; each must be
    # called with its own mask, so explaining the samples together or one by one agrees
    model, (X, (mask, scale)) = TwoInputs(), two_inputs()
    explainer = IntegratedGradients(model, completeness_tolerance=0.01, max_steps=200)
    together = explainer(X, target=2, additional_forward_args=(mask, scale))
    steps = together[0].quality["n_steps"][:, 0]
    assert steps.min() == 50 and steps.max() > 50  # some samples were refined, some not
    for i in range(5):
        alone = explainer(
            (X[0][i : i + 1], X[1][i : i + 1]),
            target=2,
            additional_forward_args=(mask[i : i + 1], scale),
        )
        assert alone[0].quality["n_steps"][0, 0] == steps[i]
        for a, b in zip(together, alone, strict=True):
            np.testing.assert_allclose(a.values[i], b.values[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["smoothgrad", "gradient_shap", "deepshap"])
def test_batches_of_several_inputs_carry_each_samples_arguments(method):
    model, (X, args) = TwoInputs(), two_inputs()
    g = torch.Generator().manual_seed(12)
    background = (
        torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64),
        torch.randn(3, 3, generator=g, dtype=torch.float64),
    )

    def make(batch_size):
        if method == "smoothgrad":
            return SmoothGrad(model, n_draws=4, batch_size=batch_size)
        if method == "gradient_shap":
            return GradientShap(model, background, n_draws=4, batch_size=batch_size)
        return DeepShap(model, background, batch_size=batch_size)

    whole = make(None)(X, target=1, additional_forward_args=args)
    for batch_size in (1, 6):
        parts = make(batch_size)(X, target=1, additional_forward_args=args)
        for a, b in zip(whole, parts, strict=True):
            np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-14)
            np.testing.assert_allclose(a.base_values, b.base_values, rtol=0, atol=1e-14)
    if method == "deepshap":  # no random draws: a sample explained alone agrees too
        alone = make(None)(
            (X[0][2:3], X[1][2:3]), target=1, additional_forward_args=(args[0][2:3], args[1])
        )
        for a, b in zip(whole, alone, strict=True):
            np.testing.assert_allclose(a.values[2], b.values[0], rtol=0, atol=1e-14)
