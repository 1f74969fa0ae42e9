"""Sanity checks (model randomisation, Adebayo et al. 2018).

Ground truths: scipy's spearmanr and scikit-image's structural_similarity recomputed on
the explanations the check produced, the state of the randomised copies (which layers
changed, cumulatively, from the top), and properties that must hold (an explanation that
ignores the model keeps similarity 1 and fails).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests._requires import requires
from tests.evaluate._helpers import assert_round_trip
from whybox._exceptions import InputError
from whybox.evaluate import model_randomization


# ---------------------------------------------------------------------- sanity: torch
def test_cascading_randomisation_of_the_digits_cnn(digits):
    import torch

    from whybox.gradients import Saliency

    X, y = digits.X_test[:24], digits.y_test[:24]
    before = {k: v.clone() for k, v in digits.model.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    calls = []

    def explain(model, Z):
        calls.append({k: v.clone() for k, v in model.state_dict().items()})
        return Saliency(model)(Z, target=y)

    res = model_randomization(digits.model, explain, X, random_state=0)
    # the model and torch's global RNG are untouched
    for k, v in digits.model.state_dict().items():
        assert torch.equal(v, before[k])
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    # cascading from the output layer down, cumulatively
    assert res.kind == "cascading" and res.steps == ("fc", "conv2", "conv1")
    changed = [
        {
            name
            for name in ("fc", "conv2", "conv1")
            if not torch.equal(c[f"{name}.weight"], before[f"{name}.weight"])
        }
        for c in calls[1:]
    ]
    assert changed == [{"fc"}, {"fc", "conv2"}, {"fc", "conv2", "conv1"}]
    # Saliency changes with the model: the check passes
    assert res.passes and res.final_similarity < 0.5
    assert np.all(res.similarity < 0.5)
    # the similarities equal scipy / scikit-image on the explanations themselves
    structural_similarity = requires("skimage.metrics").structural_similarity

    orig = Saliency(digits.model)(X, target=y).values.reshape(24, -1)
    model_copy = __import__("copy").deepcopy(digits.model)
    model_copy.load_state_dict(calls[-1])
    last = Saliency(model_copy)(X, target=y).values.reshape(24, -1)
    rho = [stats.spearmanr(np.abs(orig[i]), np.abs(last[i])).statistic for i in range(24)]
    np.testing.assert_allclose(res.spearman[-1], rho, atol=1e-12)

    def img(v):
        m = np.abs(v).reshape(8, 8)
        return m / m.max()

    ssim = [structural_similarity(img(orig[i]), img(last[i]), data_range=1.0) for i in range(24)]
    np.testing.assert_allclose(res.ssim[-1], ssim, atol=1e-12)
    # reproducible
    again = model_randomization(digits.model, explain, X, random_state=0)
    np.testing.assert_array_equal(again.spearman, res.spearman)
    assert res.to_frame().shape == (3, 6)
    back = assert_round_trip(res)  # SSIM maps, layer names
    assert back.passes == res.passes and back.message == res.message


def test_explanation_that_ignores_the_model_fails(digits):
    X = digits.X_test[:16]
    res = model_randomization(digits.model, lambda m, Z: np.asarray(Z), X, random_state=0)
    np.testing.assert_array_equal(res.spearman, 1.0)
    np.testing.assert_allclose(res.ssim, 1.0)
    np.testing.assert_array_equal(res.sign_agreement, 1.0)
    assert not res.passes and "FAILS" in res.message


def test_integrated_gradients_under_randomisation(digits):
    from whybox.gradients import IntegratedGradients

    X, y = digits.X_test[:24], digits.y_test[:24]

    seen = []

    def ig(baseline):
        def explain(m, Z):
            ex = IntegratedGradients(m, n_steps=16, completeness_tolerance=None, baseline=baseline)
            seen.append(ex(Z, target=y).values[..., 0])
            return seen[-1]

        return explain

    signed = model_randomization(digits.model, ig(None), X, similarity="spearman", random_state=0)
    # the signed attributions decorrelate from the original at every step
    assert signed.passes and np.all(signed.similarity < 0.5)
    # |IG| with a zero baseline is exactly 0 on the zero pixels for ANY model, so the
    # absolute ranking keeps the input's support: its correlation stays high; with a
    # non-zero baseline the absolute ranking decorrelates too
    assert len(seen) == 4 and all(np.all(v[X == 0] == 0.0) for v in seen)
    assert np.nanmean(signed.spearman[-1]) > np.nanmean(signed.spearman_signed[-1])
    half = model_randomization(digits.model, ig(0.5), X, random_state=0)
    assert half.passes and half.final_similarity < 0.5


def test_layers_option_and_errors(digits):
    X = digits.X_test[:4]
    res = model_randomization(digits.model, lambda m, Z: np.asarray(Z), X, layers=["conv1"])
    assert res.steps == ("conv1",)
    with pytest.raises(InputError, match="layers"):
        model_randomization(digits.model, lambda m, Z: np.asarray(Z), X, layers=["relu1"])
    with pytest.raises(InputError, match="torch model"):
        model_randomization(digits.model, lambda m, Z: np.asarray(Z), X, kind="labels", y=[0] * 4)
    with pytest.raises(InputError, match="similarity"):
        model_randomization(digits.model, lambda m, Z: np.asarray(Z), X, similarity="pearson")


# ---------------------------------------------------------------------- sanity: tabular
def test_data_randomisation_of_a_gradient_boosted_model(cancer):
    import whybox

    X, y, model = cancer
    res = model_randomization(model, lambda m, Z: whybox.explain(m, Z), X, y=y, random_state=0)
    assert res.kind == "labels" and res.steps == ("permuted labels",)
    assert res.passes and res.final_similarity < 0.5
    # ground truth: refit the clone on the same permutation, compare with scipy
    from sklearn.base import clone

    perm = np.random.default_rng(0).permutation(len(X))
    refit = clone(model).fit(X, np.asarray(y)[perm])
    a = whybox.explain(model, X).values[:, :, 0]
    b = whybox.explain(refit, X).values[:, :, 0]
    rho = [stats.spearmanr(np.abs(a[i]), np.abs(b[i])).statistic for i in range(len(X))]
    np.testing.assert_allclose(res.spearman[0], rho, atol=1e-12)
    assert res.ssim is None
    assert assert_round_trip(res).ssim is None
    # an explanation that ignores the model fails
    fixed = model_randomization(
        model, lambda m, Z: Z.to_numpy() - Z.to_numpy().mean(axis=0), X, y=y, random_state=0
    )
    assert not fixed.passes and fixed.final_similarity == 1.0


def test_tabular_sanity_errors(cancer):
    X, y, model = cancer
    fn = lambda m, Z: Z.to_numpy()  # noqa: E731
    with pytest.raises(InputError, match="y is needed"):
        model_randomization(model, fn, X)
    with pytest.raises(InputError, match="one label per row"):
        model_randomization(model, fn, X, y=y[:10])
    with pytest.raises(InputError, match="cascading"):
        model_randomization(model, fn, X, y=y, kind="cascading")
    with pytest.raises(InputError, match="kind"):
        model_randomization(model, fn, X, y=y, kind="weights")
    with pytest.raises(InputError, match="threshold"):
        model_randomization(model, fn, X, y=y, similarity_threshold=2.0)
    with pytest.raises(InputError, match="ssim"):
        model_randomization(model, fn, X, y=y, similarity="ssim")
