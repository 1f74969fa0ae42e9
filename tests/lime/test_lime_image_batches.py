"""LIME for images hands predict_fn C-contiguous batches in the image's dtype (#19, item 27).

A torch model reads a batch whose sample axis is innermost in memory about 1.5x
slower; every batch must be a fresh C-contiguous array holding exactly the perturbed
images: each superpixel the image's own pixels where kept, its hiding colour elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from whybox.lime import LimeImageExplainer


def _stripes(image):
    """Six superpixels: vertical stripes two pixels wide."""
    return np.broadcast_to(np.arange(image.shape[1]) // 2, image.shape[:2]).copy()


class _Recorder:
    """A predict_fn that checks each batch's layout and keeps a copy of it."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.batches = []

    def __call__(self, images):
        assert isinstance(images, np.ndarray)
        assert images.flags.c_contiguous, images.strides
        assert images.dtype == self.dtype
        self.batches.append(images.copy())
        score = images.reshape(len(images), -1).astype(np.float64).mean(axis=1)
        p = 1 / (1 + np.exp(-(score - score.mean())))
        return np.c_[1 - p, p]


@pytest.mark.parametrize(
    "make_image",
    [
        # channels last as a transposed view of a (channels, height, width) array
        lambda rng: rng.uniform(0, 1, size=(3, 10, 12)).astype(np.float32).transpose(1, 2, 0),
        lambda rng: np.asfortranarray(rng.uniform(0, 1, size=(10, 12, 3))),
        lambda rng: rng.integers(0, 256, size=(10, 12), dtype=np.uint8),
    ],
    ids=["float32_transposed_rgb", "float64_fortran_rgb", "uint8_grey"],
)
def test_predict_fn_gets_c_contiguous_batches_of_the_perturbed_images(make_image):
    rng = np.random.default_rng(0)
    image = make_image(rng)
    predict = _Recorder(image.dtype)
    hide = 7
    explainer = LimeImageExplainer(
        predict,
        segmentation=_stripes,
        hide_color=hide,
        n_perturbations=40,
        batch_size=16,
        random_state=3,
    )
    explainer(image)
    assert [len(b) for b in predict.batches] == [16, 16, 8]
    seen = np.concatenate(predict.batches)
    # the same draws as the explainer: row 0 is the image, then fair coins per superpixel
    draws = np.random.default_rng(3)
    keep = np.ones((40, 6), dtype=bool)
    keep[1:] = draws.integers(0, 2, size=(39, 6)) > 0
    stripe = _stripes(image)
    for i in range(40):
        expected = np.array(image, copy=True)
        expected[~keep[i][stripe]] = hide
        np.testing.assert_array_equal(seen[i], expected)
