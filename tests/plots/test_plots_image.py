"""Tests of the image-attribution plots: the arrays drawn, not the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from tests._requires import requires
from whybox import Explanation, InputError
from whybox.plots import image, image_grid

PIXEL_AXES = ("samples", "channels", "height", "width", "outputs")
MAP_AXES = ("samples", "height", "width", "outputs")


def pixel_explanation(n=3, c=3, h=6, w=5, seed=0, output="cat"):
    """Per-channel attributions of RGB images in [0, 1], as a gradient method gives."""
    rng = np.random.default_rng(seed)
    return Explanation(
        values=rng.normal(size=(n, c, h, w, 1)),
        base_values=np.full((n, 1), np.nan),
        data=rng.uniform(size=(n, c, h, w)),
        feature_names=(),
        output_names=(output,),
        method="saliency",
        params={"input_shape": [c, h, w]},
        axes=PIXEL_AXES,
    )


def cam_explanation(n=4, h=3, w=3, size=(6, 6), seed=1):
    """A Grad-CAM map at layer resolution (h, w) of grey images of ``size``."""
    rng = np.random.default_rng(seed)
    return Explanation(
        values=rng.uniform(size=(n, h, w, 1)),
        base_values=np.full((n, 1), np.nan),
        data=rng.normal(size=(n, 1, *size)) * 3.0,
        feature_names=(),
        output_names=("7",),
        method="grad_cam",
        params={"input_shape": [1, *size], "map_shape": [h, w]},
        axes=MAP_AXES,
    )


def test_image_draws_the_rgb_input_and_the_normalised_absolute_map():
    ex = pixel_explanation()
    fig = image(ex, row=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.images) == 2
    picture, overlay = ax.images
    np.testing.assert_array_equal(picture.get_array(), np.moveaxis(ex.data[1], 0, -1))
    summed = ex.values[1, :, :, :, 0].sum(axis=0)
    np.testing.assert_allclose(overlay.get_array(), np.abs(summed) / np.abs(summed).max())
    assert overlay.get_clim() == (0.0, 1.0)
    assert overlay.get_alpha() == 0.5 and overlay.get_cmap().name == "Reds"
    assert overlay.get_extent() == [-0.5, 4.5, 5.5, -0.5]  # over the 6 x 5 image
    assert ax.get_title() == "saliency: cat (sample 1)"


@pytest.mark.parametrize(
    "sign, part, clim, cmap",
    [
        ("absolute", np.abs, (0.0, 1.0), "Reds"),
        ("positive", lambda m: np.clip(m, 0, None), (0.0, 1.0), "Reds"),
        ("negative", lambda m: np.clip(-m, 0, None), (0.0, 1.0), "Blues"),
        ("all", lambda m: m, (-1.0, 1.0), "coolwarm"),
    ],
)
def test_sign_chooses_the_part_of_the_map_and_its_colours(sign, part, clim, cmap):
    ex = pixel_explanation(seed=2)
    overlay = image(ex, row=2, sign=sign).axes[0].images[1]
    m = part(ex.values[2, ..., 0].sum(axis=0))
    assert (m != 0).any()
    np.testing.assert_allclose(overlay.get_array(), m / np.abs(m).max())
    assert overlay.get_clim() == clim and overlay.get_cmap().name == cmap


def test_an_all_zero_part_gives_a_zero_overlay_and_cmap_opacity_are_used():
    ex = pixel_explanation()
    zero = Explanation(
        np.abs(ex.values), ex.base_values, ex.data, (), ex.output_names, axes=PIXEL_AXES
    )
    overlay = image(zero, sign="negative", cmap="viridis", opacity=0.3).axes[0].images[1]
    assert (overlay.get_array() == 0).all()
    assert overlay.get_cmap().name == "viridis" and overlay.get_alpha() == 0.3
    assert zero.method == "" and image(zero).axes[0].get_title() == "attribution: cat (sample 0)"


def test_a_grad_cam_map_at_layer_resolution_covers_the_grey_image():
    ex = cam_explanation()
    fig = image(ex[3])  # one sample, no samples axis
    picture, overlay = fig.axes[0].images
    grey = ex.data[3, 0]
    np.testing.assert_allclose(picture.get_array(), (grey - grey.min()) / np.ptp(grey))
    assert picture.get_cmap().name == "gray"
    np.testing.assert_allclose(overlay.get_array(), ex.values[3, ..., 0] / ex.values[3].max())
    assert overlay.get_array().shape == (3, 3)
    assert overlay.get_extent() == [-0.5, 5.5, 5.5, -0.5]  # stretched over the 6 x 6 image
    assert fig.axes[0].get_title() == "grad_cam: 7"


def test_images_argument_in_channels_last_uint8_and_an_existing_axes():
    ex = pixel_explanation(n=2)
    rgb = np.random.default_rng(3).integers(0, 256, size=(2, 6, 5, 3), dtype=np.uint8)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert image(ex, rgb, row=-1, ax=right) is fig
    assert not left.images and len(right.images) == 2
    np.testing.assert_allclose(right.images[0].get_array(), rgb[1] / 255.0)
    assert right.get_title() == "saliency: cat (sample 1)"
    # a single-sample explanation takes one image, channels first
    one = image(ex[0], rgb[0].transpose(2, 0, 1).astype(float) / 255.0)
    np.testing.assert_allclose(one.axes[0].images[0].get_array(), rgb[0] / 255.0)


def test_titles_are_drawn_literally():
    ex = pixel_explanation(output="$x^2$ class")
    assert image(ex).axes[0].get_title() == r"saliency: \$x^2\$ class (sample 0)"


def test_errors_name_the_argument_and_the_fix():
    ex = pixel_explanation()
    tabular = Explanation(np.ones((2, 3, 1)), np.zeros((2, 1)), None, ["a", "b", "c"], ["y"])
    with pytest.raises(InputError, match=r"draws image attributions, .* e\.g\. plots\.bar"):
        image(tabular)
    with pytest.raises(InputError, match="image takes Explanation, got ndarray"):
        image(ex.values)
    with pytest.raises(InputError, match=r"sign must be one of \('absolute'"):
        image(ex, sign="abs")
    with pytest.raises(InputError, match=r"opacity must be a number in \[0, 1\]"):
        image(ex, opacity=1.5)
    with pytest.raises(InputError, match="cmap must be a matplotlib colormap or its name"):
        image(ex, cmap="no-such-map")
    with pytest.raises(InputError, match=r"row=3 is out of range .* position in 0\.\.2"):
        image(ex, row=3)
    with pytest.raises(InputError, match="row=1 was given but the explanation holds one"):
        image(ex[0], row=1)
    no_data = Explanation(ex.values, ex.base_values, None, (), ex.output_names, axes=PIXEL_AXES)
    with pytest.raises(InputError, match="has no data; pass them with images="):
        image(no_data)
    with pytest.raises(InputError, match=r"images must hold one image per explained sample \(3\)"):
        image(ex, np.zeros((2, 6, 5)))
    with pytest.raises(InputError, match=r"the image has shape \(5, 6\) but the explained"):
        image(ex, np.zeros((3, 5, 6)))
    two = Explanation(
        np.ones((1, 4, 4, 2)), np.zeros((1, 2)), np.ones((1, 1, 4, 4)), (), ["a", "b"],
        axes=MAP_AXES,
    )  # fmt: skip
    with pytest.raises(InputError, match="needs target= for an explanation with 2 outputs"):
        image(two)
    np.testing.assert_allclose(image(two, target="b").axes[0].images[1].get_array(), 1.0)


def test_image_grid_draws_one_axes_per_sample():
    ex = cam_explanation(n=7)
    fig = image_grid(ex, max_display=5, ncols=3, sign="all")
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    for i, ax in enumerate(fig.axes):
        assert len(ax.images) == 2 and ax.get_title() == f"sample {i}"
        heat = ex.values[i, ..., 0]
        np.testing.assert_allclose(ax.images[1].get_array(), heat / np.abs(heat).max())
    assert fig.get_suptitle() == "grad_cam: 7"
    assert len(image_grid(ex).axes) == 7  # max_display=8 but only 7 samples
    with pytest.raises(InputError, match="holds one .* use plots.image for one sample"):
        image_grid(ex[0])
    with pytest.raises(InputError, match="max_display must be a positive integer"):
        image_grid(ex, max_display=0)


def test_plots_of_real_grad_cam_and_saliency_results():
    torch = requires("torch")
    from whybox.gradients import GradCAM, Saliency

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(72, 2)
    ).double().eval()  # fmt: skip
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    for ex in (GradCAM(model, "1", upsample=False)(x), Saliency(model)(x)):
        fig = image_grid(ex)
        assert len(fig.axes) == 2
        picture, overlay = fig.axes[1].images
        np.testing.assert_allclose(picture.get_array(), np.moveaxis(x[1].numpy(), 0, -1))
        assert overlay.get_extent() == [-0.5, 7.5, 7.5, -0.5]
