"""LIME for images: toy classifiers keyed on one superpixel, the hiding, the segmentations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests._requires import requires
from whybox import Explanation, InputError
from whybox.lime import LimeImageExplainer


def quadrants(image):
    """Four superpixels, the quadrants of the image, labelled 10, 20, 30, 40."""
    h, w = image.shape[:2]
    rows = (np.arange(h) >= h // 2)[:, None]
    cols = (np.arange(w) >= w // 2)[None, :]
    return 10 + 10 * (2 * rows + cols)


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    img = rng.uniform(0.2, 0.8, size=(16, 12, 3))
    img[:8, 6:] = [1.0, 0.0, 0.0]  # the top-right quadrant is red
    return img


def red_detector(batch):
    """p = 0.1 + 0.8 * the share of pure red pixels in the top-right quadrant."""
    red = np.all(batch[:, :8, 6:] == [1.0, 0.0, 0.0], axis=-1).mean(axis=(1, 2))
    p = 0.1 + 0.8 * red
    return np.c_[1 - p, p]


def test_finds_the_superpixel_a_classifier_keys_on_exactly(image):
    ex = LimeImageExplainer(
        red_detector, segmentation=quadrants, hide_color=0.0, ridge=0.0,
        feature_selection="none", n_perturbations=200, random_state=0,
    )(image)  # fmt: skip
    assert ex.shape == (1, 4, 1) and ex.feature_names[1] == "superpixel 1"
    np.testing.assert_allclose(ex.values[0, :, 0], [0.0, 0.8, 0.0, 0.0], atol=1e-10)
    np.testing.assert_allclose(ex.base_values, [[0.1]], atol=1e-10)
    np.testing.assert_allclose(ex.quality["local_r2"], [[1.0]], atol=1e-12)
    assert ex.additivity_error[0] < 1e-10
    np.testing.assert_array_equal(np.asarray(ex.params["segments"]), (quadrants(image) - 10) // 10)
    # with the default ridge penalty and selection the same superpixel stands out
    ex = LimeImageExplainer(red_detector, segmentation=quadrants, hide_color=0, random_state=0)(
        image
    )
    assert int(np.argmax(ex.values[0, :, 0])) == 1


def test_hidden_superpixels_take_their_mean_colour_or_the_hide_color(image):
    batches = []

    def record(batch):
        batches.append(batch.copy())
        return red_detector(batch)

    LimeImageExplainer(record, segmentation=quadrants, n_perturbations=50, random_state=1)(image)
    seg = (quadrants(image) - 10) // 10
    images = np.concatenate(batches)
    np.testing.assert_array_equal(images[0], image)  # the image itself first
    for j in range(4):
        inside = seg == j
        mean = image[inside].mean(axis=0)
        for img in images[1:]:
            shown = np.array_equal(img[inside], image[inside])
            hidden = np.allclose(img[inside], mean, atol=1e-12)
            assert shown or hidden
    batches.clear()
    LimeImageExplainer(
        record, segmentation=quadrants, hide_color=[0.0, 0.5, 1.0], n_perturbations=20
    )(image)
    hidden = [np.all(img[seg == 0] == [0.0, 0.5, 1.0]) for img in np.concatenate(batches)]
    assert any(hidden)


def test_uint8_grey_image_keeps_its_dtype_and_slic_segments():
    slic = requires("skimage.segmentation").slic

    img = np.zeros((20, 20), dtype=np.uint8)
    img[:, 10:] = 200
    img[5:10, 2:7] = 90
    dtypes = []

    def predict_fn(batch):
        dtypes.append(batch.dtype)
        p = (batch[:, 5:10, 2:7] == 90).mean(axis=(1, 2)) * 0.5 + 0.25
        return np.c_[1 - p, p]

    explainer = LimeImageExplainer(
        predict_fn, segmentation="slic", segmentation_params={"n_segments": 6},
        hide_color=0, n_perturbations=100, random_state=0,
    )  # fmt: skip
    ex = explainer(img)
    assert set(dtypes) == {np.dtype(np.uint8)}
    ref = slic(np.stack([img] * 3, axis=-1), n_segments=6, compactness=10.0, start_label=0)
    segments = np.asarray(ex.params["segments"])
    np.testing.assert_array_equal(segments, np.unique(ref, return_inverse=True)[1].reshape(20, 20))
    key = np.bincount(segments[5:10, 2:7].ravel()).argmax()  # the superpixel of the patch
    assert int(np.argmax(ex.values[0, :, 0])) == key
    assert ex.params["segmentation_params"]["n_segments"] == 6


def test_deterministic_batch_size_invariant_multiclass_and_json(image):
    def three(batch):
        r = np.all(batch[:, :8, 6:] == [1.0, 0.0, 0.0], axis=-1).mean(axis=(1, 2))
        return np.c_[0.2 + 0.5 * r, 0.5 - 0.5 * r, np.full(len(r), 0.3)]

    def explain(**kw):
        return LimeImageExplainer(
            three, segmentation=quadrants, class_names=["red", "other", "flat"],
            feature_selection="none", n_perturbations=64, random_state=5, **kw,
        )  # fmt: skip

    a = explain()(image)
    b = explain(batch_size=9)(image)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(explain(batch_size=None)(image).values, a.values)
    assert a.shape == (1, 4, 3) and a.output_names == ("red", "other", "flat")
    np.testing.assert_allclose(a.values.sum(axis=2), 0.0, atol=1e-10)
    np.testing.assert_allclose(a.values[0, :, 2], 0.0, atol=1e-10)  # a constant class
    np.testing.assert_allclose(a.quality["local_r2"][0, 2], 1.0)
    back = Explanation.from_dict(json.loads(a.to_json()))
    assert back.params["segments"] == a.params["segments"]
    np.testing.assert_array_equal(back.values, a.values)


def test_bad_input_is_named(image):
    with pytest.raises(InputError, match="model must be a callable"):
        LimeImageExplainer(None)
    with pytest.raises(InputError, match="segmentation must be one of"):
        LimeImageExplainer(red_detector, segmentation="watershed")
    with pytest.raises(InputError, match="segmentation_params must be a dict"):
        LimeImageExplainer(red_detector, segmentation_params=[("n_segments", 5)])
    with pytest.raises(InputError, match="bind its parameters"):
        LimeImageExplainer(red_detector, segmentation=quadrants, segmentation_params={"a": 1})
    with pytest.raises(InputError, match="kernel_width must be a finite number > 0"):
        LimeImageExplainer(red_detector, kernel_width=-0.25)
    with pytest.raises(InputError, match="n_perturbations must be an integer >= 2"):
        LimeImageExplainer(red_detector, n_perturbations="many")
    ex = LimeImageExplainer(red_detector, segmentation=quadrants, n_perturbations=10)
    with pytest.raises(InputError, match="image must be an array of numbers"):
        ex(np.zeros((2, 4, 4, 3)))
    with pytest.raises(InputError, match="non-finite pixels"):
        ex(np.full((4, 4), np.nan))
    with pytest.raises(InputError, match="returned \\(10,\\) for 10 inputs"):
        LimeImageExplainer(lambda b: np.ones(len(b)), segmentation=quadrants, n_perturbations=10)(
            image
        )
    with pytest.raises(InputError, match="segmentation returned"):
        LimeImageExplainer(red_detector, segmentation=lambda im: np.zeros(3), n_perturbations=10)(
            image
        )
    with pytest.raises(InputError, match="hide_color must be one number or one per channel"):
        LimeImageExplainer(
            red_detector, segmentation=quadrants, hide_color=[0, 0], n_perturbations=10
        )(image)
    with pytest.raises(InputError, match="were not accepted by skimage.segmentation.slic"):
        LimeImageExplainer(red_detector, segmentation="slic", segmentation_params={"k": 1})(image)
