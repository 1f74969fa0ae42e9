"""Gradient attributions: Saliency, InputXGradient, IntegratedGradients, SmoothGrad, GradientShap.

References: captum (float64 models, same points and draws), closed forms on linear
models, the completeness and dummy axioms, and direct loops over autograd.
"""

import numpy as np
import pandas as pd
import pytest
from _requires import lazy, requires

torch = requires("torch")
captum_attr = lazy("captum.attr")

from whybox import InputError  # noqa: E402
from whybox.gradients import (  # noqa: E402
    GradientShap,
    GradientShapDraws,
    InputXGradient,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
)

# captum warns that it switched requires_grad on for our inputs
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")

RULES = ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]


# ---------------------------------------------------------------------- models
def make_cnn():
    torch.manual_seed(0)
    return (
        torch.nn.Sequential(
            torch.nn.Conv2d(1, 3, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(48, 4),
        )
        .double()
        .eval()
    )


def make_mlp(n_in=5, smooth=False):
    torch.manual_seed(1)
    act = torch.nn.Tanh() if smooth else torch.nn.ReLU()
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, 8), act, torch.nn.Linear(8, 8), torch.nn.Softplus(),
        torch.nn.Linear(8, 3),
    ).double().eval()  # fmt: skip


def make_linear(n_in=5, bias=0.7):
    torch.manual_seed(2)
    lin = torch.nn.Linear(n_in, 2).double().eval()
    with torch.no_grad():
        lin.bias.fill_(bias)
    return lin


class IgnoresLast(torch.nn.Module):
    """An MLP that never looks at its last input feature (a dummy input)."""

    def __init__(self):
        super().__init__()
        self.net = make_mlp(4, smooth=True)

    def forward(self, x):
        return self.net(x[:, :4])


def images(n=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64)
    # every image spans exactly [0, 1], so SmoothGrad's sigma is noise_level for each
    x[:, 0, 0, 0], x[:, 0, 0, 1] = 0.0, 1.0
    return x


def table(n=6, d=5, seed=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def vals(ex):
    return ex.values[..., 0]


# ---------------------------------------------------------------------- captum agreement
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


@pytest.mark.parametrize("variant", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("absolute", [False, True])
def test_smoothgrad_equals_captum_noise_tunnel_with_same_seed(variant, absolute):
    # an int random_state draws each image's noise as torch.manual_seed(seed) then
    # torch.normal does in captum; 8x8 images keep torch's normal stream splittable
    model, x = make_cnn(), images()
    ours = SmoothGrad(
        model, n_samples=8, noise_level=0.2, variant=variant, absolute=absolute, random_state=11
    )(x, target=2)
    np.testing.assert_allclose(ours.quality["noise_std"][:, 0], 0.2)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # captum builds its noise std in the default dtype
    try:
        torch.manual_seed(11)
        ref = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
            x, nt_type=variant, nt_samples=8, stdevs=0.2, target=2, abs=absolute
        )
    finally:
        torch.set_default_dtype(old)
    np.testing.assert_allclose(vals(ours), ref.detach().numpy(), rtol=0, atol=1e-10)


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
        alpha=alpha.reshape(n, n_samples),
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
    assert ours.params["draws"] == "given" and ours.params["n_samples"] == 6


# ---------------------------------------------------------------------- direct computations
def loop_gradient(model, point, target):
    p = point[None].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(p)[0, target], p)
    return g[0]


def test_smoothgrad_is_the_mean_over_its_noise_on_any_shape():
    # 5 features: not a multiple of 16, so this also checks the per-sample draw order
    model, x = make_mlp(smooth=True).eval(), table(3)
    ex = SmoothGrad(model, n_samples=4, noise_level=0.3, random_state=21)(x, target=0)
    gen = torch.Generator().manual_seed(21)
    for i in range(len(x)):
        sigma = 0.3 * (x[i].max() - x[i].min())
        noise = torch.randn((4, 5), generator=gen, dtype=torch.float64) * sigma
        grads = torch.stack([loop_gradient(model, x[i] + e, 0) for e in noise])
        np.testing.assert_allclose(vals(ex)[i], grads.mean(0).numpy(), atol=1e-13)
        se = grads.std(0, correction=1) / 2.0
        np.testing.assert_allclose(ex.quality["standard_error"][i, :, 0], se.numpy(), atol=1e-13)
        np.testing.assert_allclose(ex.quality["noise_std"][i, 0], float(sigma), atol=1e-15)


def test_gradient_shap_on_a_linear_model_is_the_mean_over_its_draws():
    model, x = make_linear(), table(4)
    background = table(9, seed=12)
    w = model.weight[1].detach().numpy()
    explainer = GradientShap(model, background, n_samples=5, stdev=0.2, random_state=3)
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
    many = GradientShap(model, background, n_samples=4000, random_state=0)(x, target=1)
    exact = (x.numpy() - background.numpy().mean(0)) * w
    assert np.abs(vals(many) - exact).max() < 5 * many.quality["standard_error"].max()
    assert many.additivity_error.max() < 0.05


# ---------------------------------------------------------------------- closed forms and axioms
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


def test_input_x_gradient_of_a_model_linear_through_the_origin():
    model, x = make_linear(bias=0.0), table()
    ex = InputXGradient(model)(x, target=1)
    np.testing.assert_allclose(vals(ex), x.numpy() * model.weight[1].detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(vals(ex).sum(1), ex.model_output[:, 0], atol=1e-12)


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


def test_a_dummy_input_gets_exactly_zero():
    model, x = IgnoresLast().double().eval(), table()
    background = table(4, seed=5)
    explainers = [
        Saliency(model),
        InputXGradient(model),
        IntegratedGradients(model, baseline=0.3),
        SmoothGrad(model, n_samples=3, random_state=0, variant="vargrad"),
        GradientShap(model, background, n_samples=3, stdev=0.1, random_state=0),
    ]
    for explainer in explainers:
        v = vals(explainer(x, target=1))
        assert np.all(v[:, 4] == 0.0), type(explainer).__name__
        assert np.all(np.abs(v[:, :4]).sum(1) > 0)


# ---------------------------------------------------------------------- targets, batches, inputs
def explainers_for(model, background):
    return [
        IntegratedGradients(model, n_steps=9, completeness_tolerance=None),
        SmoothGrad(model, n_samples=5, random_state=1),
        GradientShap(model, background, n_samples=5, stdev=0.1, random_state=1),
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
    ig = GradientShap(model, table(3, seed=6), n_samples=4, random_state=2)
    whole = ig(x, target=target)
    for t in (0, 1, 2):
        rows = np.flatnonzero(np.asarray(target) == t)
        np.testing.assert_allclose(vals(whole)[rows], vals(ig(x, target=t))[rows], atol=1e-13)
    sg = SmoothGrad(model, n_samples=4, random_state=2)
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
        lambda bs: SmoothGrad(model, n_samples=5, random_state=4, batch_size=bs),
        lambda bs: GradientShap(
            model, background, n_samples=5, stdev=0.1, random_state=4, batch_size=bs
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
    a = SmoothGrad(model, n_samples=3, random_state=5)(x)
    b = SmoothGrad(model, n_samples=3, random_state=5)(x)
    c = SmoothGrad(model, n_samples=3, random_state=6)(x)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    assert a.params["random_state"] == 5
    g = GradientShap(model, images(3, seed=1), n_samples=3, random_state=np.random.default_rng(0))
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
    sg = SmoothGrad(model, n_samples=3, random_state=0)(x, target=1)
    assert sg.quality["standard_error"].shape == sg.values.shape
    assert np.isnan(sg.base_values).all()
    gs = GradientShap(model, images(2, seed=7), n_samples=3, random_state=0)(x, target=1)
    assert gs.quality["standard_error"].shape == gs.values.shape
    assert gs[0].values.shape == (1, 8, 8, 1)


# ---------------------------------------------------------------------- errors and modes
def test_bad_targets_and_baselines_are_input_errors():
    model, x = make_mlp().eval(), table()
    ig = IntegratedGradients(model, n_steps=4)
    with pytest.raises(InputError, match="target 3 is out of range"):
        ig(x, target=3)
    with pytest.raises(InputError, match="target 7 is out of range"):
        SmoothGrad(model, n_samples=2)(x, target=[0, 1, 7, 0, 0, 0])
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
        SmoothGrad(model, n_samples=2, random_state=0),
        GradientShap(model, table(3), n_samples=2, random_state=0),
        InputXGradient(model),
    ):
        with pytest.warns(UserWarning, match="training mode"):
            ex = explainer(x, target=0)
        assert model.training
        if isinstance(explainer, IntegratedGradients):
            np.testing.assert_array_equal(ex.values, expected.values)  # dropout was off


def test_bad_parameters_are_input_errors():
    model = make_mlp()
    with pytest.raises(InputError, match="n_steps must be an int of at least 1, got 0"):
        IntegratedGradients(model, n_steps=0)
    with pytest.raises(InputError, match="n_steps must be an int of at least 1, got 2.5"):
        IntegratedGradients(model, n_steps=2.5)
    with pytest.raises(InputError, match="n_steps must be an int of at least 2, got 1"):
        IntegratedGradients(model, n_steps=1, rule="riemann_trapezoid")
    with pytest.raises(InputError, match="rule must be one of .* got 'simpson'"):
        IntegratedGradients(model, rule="simpson")
    with pytest.raises(InputError, match="n_samples must be an int of at least 1, got -1"):
        SmoothGrad(model, n_samples=-1)
    with pytest.raises(InputError, match="noise_level must be a finite number >= 0, got -0.1"):
        SmoothGrad(model, noise_level=-0.1)
    with pytest.raises(InputError, match="variant must be one of .* got 'var'"):
        SmoothGrad(model, variant="var")
    with pytest.raises(InputError, match="random_state must be None, a non-negative int"):
        SmoothGrad(model, random_state="seed")
    with pytest.raises(InputError, match="stdev must be a finite number >= 0, got nan"):
        GradientShap(model, table(2), stdev=float("nan"))
    with pytest.raises(InputError, match="n_samples must be an int of at least 1, got True"):
        GradientShap(model, table(2), n_samples=True)


def test_gradient_shap_shape_and_draw_errors():
    model, x = make_mlp().eval(), table(3)
    gs = GradientShap(model, table(4), n_samples=2, random_state=0)
    with pytest.raises(InputError, match=r"X has input shape \(4,\) but the background has"):
        gs(np.zeros((3, 4)))
    draws = gs.draw(x)
    with pytest.raises(InputError, match="draws must be a GradientShapDraws"):
        gs(x, draws={"alpha": draws.alpha})
    with pytest.raises(InputError, match=r"must both have shape \(n_inputs=2, n_samples\)"):
        gs(x[:2], draws=draws)
    bad_index = GradientShapDraws(draws.background_index + 4, draws.alpha)
    with pytest.raises(InputError, match=r"background_index must hold ints in 0\.\.3"):
        gs(x, draws=bad_index)
    with pytest.raises(InputError, match=r"draws.alpha must lie in \[0, 1\]"):
        gs(x, draws=GradientShapDraws(draws.background_index, draws.alpha + 1))
    with pytest.raises(InputError, match=r"draws.noise must have shape"):
        gs(x, draws=GradientShapDraws(draws.background_index, draws.alpha, np.zeros((3, 2))))


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
