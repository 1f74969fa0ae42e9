"""What every gradient method shares: targets, batches, seeds, inputs, axioms, errors.

Saliency, InputXGradient, IntegratedGradients, SmoothGrad and GradientShap through the
same contract: per-sample and callable targets, batch_size, numpy/pandas/tensor inputs,
the dummy axiom, eval mode and the input errors.
"""

import numpy as np
import pandas as pd
import pytest

from tests.gradients._helpers import (
    IGNORE_CAPTUM_INPUT_WARNING,
    IgnoresLast,
    images,
    make_cnn,
    make_mlp,
    table,
    torch,
    vals,
)
from whybox import InputError
from whybox.gradients import (
    GradientShap,
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
