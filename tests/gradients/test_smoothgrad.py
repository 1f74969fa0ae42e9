"""SmoothGrad and VarGrad: captum's NoiseTunnel on the same seed, and the mean over the noise."""

import numpy as np
import pytest

from tests.gradients._helpers import (
    IGNORE_CAPTUM_INPUT_WARNING,
    captum_attr,
    images,
    loop_gradient,
    make_cnn,
    make_mlp,
    table,
    torch,
    vals,
)
from whybox.gradients import SmoothGrad

pytestmark = IGNORE_CAPTUM_INPUT_WARNING


@pytest.mark.parametrize("variant", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("absolute", [False, True])
def test_smoothgrad_equals_captum_noise_tunnel_with_same_seed(variant, absolute):
    # an int random_state draws each image's noise as torch.manual_seed(seed) then
    # torch.normal does in captum; 8x8 images keep torch's normal stream splittable
    model, x = make_cnn(), images()
    ours = SmoothGrad(
        model, n_draws=8, noise_level=0.2, variant=variant, absolute=absolute, random_state=11
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


def test_smoothgrad_is_the_mean_over_its_noise_on_any_shape():
    # 5 features: not a multiple of 16, so this also checks the per-sample draw order
    model, x = make_mlp(smooth=True).eval(), table(3)
    ex = SmoothGrad(model, n_draws=4, noise_level=0.3, random_state=21)(x, target=0)
    gen = torch.Generator().manual_seed(21)
    for i in range(len(x)):
        sigma = 0.3 * (x[i].max() - x[i].min())
        noise = torch.randn((4, 5), generator=gen, dtype=torch.float64) * sigma
        grads = torch.stack([loop_gradient(model, x[i] + e, 0) for e in noise])
        np.testing.assert_allclose(vals(ex)[i], grads.mean(0).numpy(), atol=1e-13)
        se = grads.std(0, correction=1) / 2.0
        np.testing.assert_allclose(ex.quality["standard_error"][i, :, 0], se.numpy(), atol=1e-13)
        np.testing.assert_allclose(ex.quality["noise_std"][i, 0], float(sigma), atol=1e-15)
