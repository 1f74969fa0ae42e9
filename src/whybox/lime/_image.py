"""LIME for images: which superpixels move a classifier's probabilities."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import json_value
from whybox.lime._surrogate import PresenceLime, cosine_distance_to_ones

SEGMENTATIONS: dict[str, dict[str, Any]] = {
    "quickshift": {"kernel_size": 4, "max_dist": 200, "ratio": 0.2},
    "slic": {"n_segments": 50, "compactness": 10.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.5, "min_size": 50},
}
"""The scikit-image segmentations by name, with their default parameters here."""


class LimeImageExplainer(PresenceLime):
    """LIME for image classifiers: a weighted linear surrogate on the presence of superpixels.

    The image is cut into superpixels (segments of similar colour, by scikit-image's
    quickshift, SLIC or Felzenszwalb algorithm, or any function that labels pixels).
    Each perturbation keeps every superpixel with probability 1/2 and hides the
    others, painting them with ``hide_color`` or, by default, with each superpixel's
    own mean colour (Ribeiro, Singh & Guestrin 2016). Each perturbation is weighed by
    ``exp(-d^2 / (2 kernel_width^2))`` with ``d`` the cosine distance between its 0/1
    presence vector and the image's (all ones). The model sees the perturbed images
    ``batch_size`` at a time.

    Parameters
    ----------
    model : callable
        ``model(images) -> array-like of shape (n_images, n_classes)``: class
        probabilities for a batch ``images`` of shape (n_images, *image.shape): a
        fresh C-contiguous array in the image's dtype. A two-class model explains the
        positive class (column 1) only, as everywhere in whybox; with more classes every
        class is explained.
    class_names : sequence of str, optional
        One name per column of ``model``'s output; default ``class_0, ...``.
    segmentation : {"quickshift", "slic", "felzenszwalb"} or callable, default="quickshift"
        How superpixels are made: a scikit-image segmentation (run on the image's RGB
        channels; a grey image is repeated into three), or a callable
        ``segmentation(image) -> ndarray of shape (height, width)`` of integer labels.
    segmentation_params : dict, optional
        Keyword arguments for the scikit-image function, updating the defaults in
        :data:`SEGMENTATIONS` (quickshift: ``kernel_size=4, max_dist=200, ratio=0.2``
        as in the LIME authors' code).
    hide_color : float or sequence of float, optional
        The colour of hidden superpixels: one value, or one per channel. Default: each
        superpixel's mean colour.
    n_perturbations : int, default=1000
        Samples: the image itself and ``n_perturbations - 1`` perturbations.
    kernel_width : float, default=0.25
        Width of the proximity kernel, on the scale of the cosine distance.
    max_features : int, default=10
        The most superpixels a surrogate uses (fewer when there are fewer).
    feature_selection : {"auto", "forward_selection", "lasso_path", "highest_weights", "none"}
        As in :class:`LimeTabularExplainer`.
    ridge : float, default=1.0
        Ridge penalty of the surrogate; 0 gives weighted least squares.
    random_state : int, numpy Generator or None, default=0
        Seeds the perturbations (None: fresh entropy); the same seed gives the same
        explanation whatever ``batch_size``. (The segmentations are deterministic.)
    batch_size : int or None, default=100
        Images per call of ``model`` (None: all in one call). Never changes the result.
    progress : bool or None, default=None
        Show a tqdm progress bar over the perturbed images; None shows it for 100 or
        more.

    Raises
    ------
    InputError
        If ``model`` is not callable, ``segmentation`` is unknown,
        ``segmentation_params`` is not a dict, or a parameter is out of range.

    References
    ----------
    .. [1] M. T. Ribeiro, S. Singh and C. Guestrin, "'Why should I trust you?':
       Explaining the predictions of any classifier", KDD 2016.
    """

    method = "lime_image"

    def __init__(
        self,
        model: Callable[[np.ndarray], Any],
        *,
        class_names: Sequence[str] | None = None,
        segmentation: str | Callable[[np.ndarray], np.ndarray] = "quickshift",
        segmentation_params: Mapping[str, Any] | None = None,
        hide_color: float | Sequence[float] | None = None,
        n_perturbations: int = 1000,
        kernel_width: float = 0.25,
        max_features: int = 10,
        feature_selection: str = "auto",
        ridge: float = 1.0,
        random_state: Any = 0,
        batch_size: int | None = 100,
        progress: bool | None = None,
    ) -> None:
        self._presence_settings(
            model, class_names, "images", "a function wrapping net.predict",
            n_perturbations=n_perturbations, kernel_width=kernel_width,
            max_features=max_features, feature_selection=feature_selection, ridge=ridge,
            random_state=random_state, batch_size=batch_size, progress=progress,
            default_perturbations=1000, default_width=0.25,
        )  # fmt: skip
        if not callable(segmentation) and segmentation not in SEGMENTATIONS:
            raise InputError(
                f"segmentation must be one of {tuple(SEGMENTATIONS)} or a callable image -> "
                f"labels, got {segmentation!r}; e.g. segmentation='slic'."
            )
        if segmentation_params is not None and not isinstance(segmentation_params, Mapping):
            raise InputError(
                f"segmentation_params must be a dict of keyword arguments, got "
                f"{type(segmentation_params).__name__}; e.g. {{'n_segments': 30}}."
            )
        if segmentation_params and callable(segmentation):
            raise InputError(
                "segmentation_params are for the scikit-image segmentations, but segmentation "
                "is a callable; bind its parameters in the callable (functools.partial)."
            )
        self.segmentation = segmentation
        self.segmentation_params = dict(segmentation_params or {})
        self.hide_color = hide_color

    def segments(self, image: np.ndarray) -> np.ndarray:
        """The superpixel of every pixel, labelled 0..n_superpixels-1.

        Parameters
        ----------
        image : ndarray of shape (height, width) or (height, width, channels)

        Returns
        -------
        ndarray of shape (height, width), int64

        Raises
        ------
        InputError
            If a callable segmentation returns labels of another shape, or scikit-image
            rejects ``segmentation_params``.
        """
        image = _check_image(image)
        if callable(self.segmentation):
            labels = np.asarray(self.segmentation(image))
            if labels.shape != image.shape[:2] or labels.dtype.kind not in "iub":
                raise InputError(
                    f"segmentation returned {labels.dtype} labels of shape {labels.shape} for "
                    f"an image of height x width {image.shape[:2]}; return one integer label "
                    "per pixel."
                )
        else:
            import skimage.segmentation as skseg

            rgb = _rgb(image)
            params = {**SEGMENTATIONS[self.segmentation], **self.segmentation_params}
            try:
                labels = getattr(skseg, self.segmentation)(rgb, **params)
            except TypeError as exc:
                raise InputError(
                    f"segmentation_params {self.segmentation_params} were not accepted by "
                    f"skimage.segmentation.{self.segmentation} ({exc}); check their names."
                ) from None
        return np.unique(labels, return_inverse=True)[1].reshape(image.shape[:2])

    def __call__(self, image: Any) -> Explanation:
        """Explain the model's prediction for one image.

        Parameters
        ----------
        image : array-like of shape (height, width) or (height, width, channels)
            Numbers (any dtype the classifier takes; perturbed images keep it).

        Returns
        -------
        Explanation
            One sample: ``values`` of shape (1, n_superpixels, n_outputs), float64,
            the surrogate's weight of each superpixel's presence on the class
            probability (0 for superpixels not selected); features named
            ``"superpixel 0"``, ... ; ``data`` is None. ``base_values``: the
            surrogate's intercept (everything hidden), so ``values.sum(features) +
            base_values`` is its prediction for the whole image and
            ``additivity_error`` its distance from ``model_output``, the model's
            probability. ``quality["local_r2"]`` (1, n_outputs): the weighted R^2 on
            the perturbations. ``params["segments"]`` holds the superpixel map
            (height x width labels) for :func:`whybox.plots.lime_image`.

        Raises
        ------
        InputError
            If ``image`` is not a 2-D or 3-D array of finite numbers, or
            ``model`` returns something other than (n_images, n_classes)
            probabilities.
        """
        image = _check_image(image)
        segments = self.segments(image)
        d = int(segments.max()) + 1
        hidden = self._hidden_image(image, segments, d)
        rng = np.random.default_rng(self.random_state)
        Z = np.ones((self.n_perturbations, d))
        Z[1:] = rng.integers(0, 2, size=(self.n_perturbations - 1, d))
        Y = self._predict(image, hidden, segments, Z > 0)
        hide = self.hide_color
        return self._explain(
            Z,
            Y,
            cosine_distance_to_ones(Z),
            feature_names=[f"superpixel {j}" for j in range(d)],
            data=None,
            params={
                "segments": segments.tolist(),
                "image_shape": list(image.shape),
                "segmentation": (
                    repr(self.segmentation) if callable(self.segmentation) else self.segmentation
                ),
                "segmentation_params": (
                    None
                    if callable(self.segmentation)
                    else {
                        k: json_value(v)
                        for k, v in {
                            **SEGMENTATIONS[self.segmentation],
                            **self.segmentation_params,
                        }.items()
                    }
                ),
                "hide_color": (
                    "superpixel_mean" if hide is None else np.asarray(hide, np.float64).tolist()
                ),
                "kernel": "exp(-d^2 / (2 kernel_width^2)), d = cosine distance",
            },
        )

    def _hidden_image(self, image: np.ndarray, segments: np.ndarray, d: int) -> np.ndarray:
        """The image with every superpixel hidden: its mean colour, or ``hide_color``."""
        pixels = image.reshape(image.shape[0] * image.shape[1], -1).astype(np.float64)
        if self.hide_color is None:
            flat = segments.reshape(-1)
            count = np.bincount(flat, minlength=d)
            means = (
                np.stack(
                    [
                        np.bincount(flat, weights=pixels[:, c], minlength=d)
                        for c in range(pixels.shape[1])
                    ],
                    axis=1,
                )
                / count[:, None]
            )
            out = means[segments]
        else:
            color = np.asarray(self.hide_color, dtype=np.float64).reshape(-1)
            if color.size not in (1, pixels.shape[1]) or not np.all(np.isfinite(color)):
                raise InputError(
                    f"hide_color must be one number or one per channel ({pixels.shape[1]}), got "
                    f"{self.hide_color!r}; e.g. hide_color=0."
                )
            out = np.broadcast_to(color, image.shape[:2] + (pixels.shape[1],))
        out = out.reshape(image.shape)
        if np.issubdtype(image.dtype, np.integer):
            info = np.iinfo(image.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return out.astype(image.dtype)

    def _predict(
        self, image: np.ndarray, hidden: np.ndarray, segments: np.ndarray, keep: np.ndarray
    ) -> np.ndarray:
        """Class probabilities of the perturbed images (a superpixel shown where ``keep``)."""

        def images(start: int, stop: int) -> np.ndarray:
            # a fresh C-contiguous batch in the image's dtype: ``keep[:, segments]`` puts
            # the sample axis innermost in memory, and np.where would keep that layout,
            # which a torch model reads about 1.5x slower
            shown = np.take(keep[start:stop], segments, axis=1)  # (b, height, width)
            if image.ndim == 3:
                shown = shown[..., None]
            batch = np.empty((stop - start, *image.shape), dtype=image.dtype)
            batch[...] = hidden
            np.copyto(batch, image, where=shown)
            return batch

        return self._predict_batches(images, keep.shape[0])


def _check_image(image: Any) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.dtype.kind not in "iufb" or arr.size == 0:
        raise InputError(
            f"image must be an array of numbers of shape (height, width) or (height, width, "
            f"channels), got {arr.dtype} of shape {arr.shape}; explain one image at a time."
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError("image has non-finite pixels (NaN or inf); replace them first.")
    return arr


def _rgb(image: np.ndarray) -> np.ndarray:
    """The RGB channels of ``image``; a grey image (one channel) repeated into three."""
    if image.ndim == 3 and image.shape[2] >= 3:
        return image[..., :3]
    grey = image if image.ndim == 2 else image[..., 0]
    return np.stack([grey] * 3, axis=-1)
