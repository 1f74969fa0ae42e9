"""Image attributions (gradient methods, Grad-CAM) drawn as a heat map over the image."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_int
from whybox.plots._common import (
    CMAP,
    check_result,
    figure_and_axes,
    literal,
    require_matplotlib,
    select_target,
)

SIGNS = ("absolute", "positive", "negative", "all")
DEFAULT_CMAPS = {"absolute": "Reds", "positive": "Reds", "negative": "Blues", "all": CMAP}
_SOURCE = "a gradient method, e.g. whybox.gradients.GradCAM(model, layer)(X)"
IMAGE_AXES = (("channels", "height", "width"), ("height", "width"))


def attribution_map(explanation: Explanation, sign: str = "absolute") -> np.ndarray:
    """The normalised attribution map of one sample and one output, shape (height, width).

    Parameters
    ----------
    explanation : Explanation
        Axes ("channels", "height", "width") (a gradient method's values for one
        image and one output) or ("height", "width") (a Grad-CAM map).
    sign : {"absolute", "positive", "negative", "all"}, default "absolute"
        Which part of the signed map ``m`` (the values summed over channels) to
        show: ``|m|``, ``max(m, 0)``, ``max(-m, 0)``, or ``m`` itself.

    Returns
    -------
    ndarray of shape (height, width), float64
        The chosen part divided by its largest absolute value: in [0, 1] (in
        [-1, 1] for ``"all"``); all zeros when that part is zero everywhere.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    signed = values.sum(axis=0) if explanation.axes[0] == "channels" else values
    part = {
        "absolute": np.abs(signed),
        "positive": np.maximum(signed, 0.0),
        "negative": np.maximum(-signed, 0.0),
        "all": signed,
    }[sign]
    scale = float(np.abs(part).max()) if part.size else 0.0
    return part / scale if scale > 0 else np.zeros_like(part)


def image(
    explanation: Any,
    images: Any = None,
    *,
    row: int = 0,
    target: Any = None,
    sign: str = "absolute",
    cmap: Any = None,
    opacity: float = 0.5,
    ax: Any = None,
) -> Any:
    """Draw one image with its attribution map as a heat overlay.

    Parameters
    ----------
    explanation : Explanation
        An image attribution: axes ("samples", "channels", "height", "width",
        "outputs") from a gradient method (Saliency, IntegratedGradients, ...),
        or ("samples", "height", "width", "outputs") from Grad-CAM; one sample of
        either (``ex[i]``) is accepted too.
    images : ndarray, optional
        The images to draw under the map, one per explained sample, each of shape
        (channels, height, width), (height, width, channels) or (height, width);
        without a sample axis when the explanation holds one sample. Default: the
        explained inputs, ``explanation.data``. Pass the original (unnormalised)
        images to see them in their own colours.
    row : int, default 0
        The position of the sample drawn.
    target : str or int, optional
        The output drawn (name or position); needed only when the explanation has
        several.
    sign : {"absolute", "positive", "negative", "all"}, default "absolute"
        The part of the map drawn (see :func:`attribution_map`); per-channel
        attributions are summed over channels first.
    cmap : str or matplotlib Colormap, optional
        The overlay's colours; default "Reds" ("Blues" for ``"negative"``,
        "coolwarm" centred on zero for ``"all"``).
    opacity : float, default 0.5
        The overlay's opacity, in [0, 1].
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The image (first image of the axes: grey for one channel, RGB(A) for three
        (four), the mean over channels otherwise; uint8 scaled by 255, floats
        outside [0, 1] min-max scaled), then the overlay (second image): the
        normalised map of :func:`attribution_map`, with colour limits [0, 1]
        ([-1, 1] for ``"all"``), stretched over the whole image (a Grad-CAM map
        at layer resolution included). The title gives the method, the output
        and the sample.

    Raises
    ------
    InputError
        If the explanation's axes are not an image's, ``row`` is out of range,
        the explanation has several outputs and no ``target``, ``sign``, ``opacity``
        or ``cmap`` is invalid, or no image is known (``data`` is None and no
        ``images``) or the image's size does not match the explanation's input.
    """
    ex, one, row = _one_image(explanation, row, target, "image")
    sign = _check_sign(sign)
    opacity = _check_opacity(opacity)
    cmap = _check_cmap(DEFAULT_CMAPS[sign] if cmap is None else cmap)
    heat = attribution_map(one, sign)
    size = _input_size(ex, heat.shape)
    if images is None:
        if one.data is None:
            raise InputError(
                "image needs the explained images but the explanation has no data; pass "
                "them with images=."
            )
        picture = np.asarray(one.data)
    else:
        picture = np.asarray(images)
        if "samples" in ex.axes:
            if picture.ndim < 3 or picture.shape[0] != len(ex):
                raise InputError(
                    f"images must hold one image per explained sample ({len(ex)}), got shape "
                    f"{picture.shape}; pass an array of shape (n_samples, ...) as the inputs."
                )
            picture = picture[row]
    shown = _display_image(picture, size)
    height, width = size
    fig, ax = figure_and_axes(ax, (4.0, 4.0 * height / max(width, 1)))
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.imshow(
        heat,
        cmap=cmap,
        vmin=-1.0 if sign == "all" else 0.0,
        vmax=1.0,
        alpha=opacity,
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
    )
    title = f"{ex.method or 'attribution'}: {one.output_names[0]}"
    if "samples" in ex.axes:
        title += f" (sample {row})"
    ax.set_title(literal(title))
    ax.set_axis_off()
    return fig


def image_grid(
    explanation: Any,
    images: Any = None,
    *,
    max_display: int = 8,
    ncols: int = 4,
    target: Any = None,
    sign: str = "absolute",
    cmap: Any = None,
    opacity: float = 0.5,
) -> Any:
    """Draw the first ``max_display`` images of an explanation with their attribution maps.

    Parameters
    ----------
    explanation : Explanation
        An image attribution with a samples axis, as in :func:`image`.
    images : ndarray, optional
        The images to draw, one per explained sample, as in :func:`image`.
    max_display : int, default 8
        The most images drawn: samples 0 .. max_display - 1 (slice the explanation,
        and ``images``, to choose others).
    ncols : int, default 4
        Images per row.
    target, sign, cmap, opacity
        As in :func:`image`.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per drawn sample, each as drawn by :func:`image`, in rows of
        ``ncols``.

    Raises
    ------
    InputError
        As in :func:`image`; also if the explanation holds one sample (use
        :func:`image`) or ``max_display`` or ``ncols`` is not a positive integer.
    """
    ex = _check_image_explanation(explanation, "image_grid")
    if "samples" not in ex.axes:
        raise InputError(
            f"image_grid draws several samples but the explanation holds one (axes "
            f"{ex.axes}); use plots.image for one sample."
        )
    max_display = check_int(max_display, "max_display", 1, "max_display=8")
    ncols = check_int(ncols, "ncols", 1, "ncols=4")
    shown = min(max_display, len(ex))
    ncols = min(ncols, shown)
    nrows = math.ceil(shown / ncols)
    require_matplotlib()
    from matplotlib.figure import Figure

    height, width = _input_size(
        ex, (ex.shape[ex.axes.index("height")], ex.shape[ex.axes.index("width")])
    )
    fig = Figure(figsize=(2.8 * ncols, 2.8 * nrows * height / max(width, 1) + 0.3))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
    for i in range(shown):
        image(ex, images, row=i, target=target, sign=sign, cmap=cmap, opacity=opacity, ax=axes[i])
        axes[i].set_title(f"sample {i}", fontsize=9)  # the method is in the figure's title
    fig.suptitle(literal(f"{ex.method}: {ex.output_names[0]}"), fontsize=10)
    for extra in axes[shown:]:
        fig.delaxes(extra)
    return fig


# ---------------------------------------------------------------------- helpers
def _check_image_explanation(explanation: Any, plot: str) -> Explanation:
    check_result(explanation, Explanation, plot, _SOURCE)
    spatial = tuple(a for a in explanation.axes if a not in ("samples", "outputs"))
    if spatial not in IMAGE_AXES:
        raise InputError(
            f"{plot} draws image attributions, with axes (samples, [channels,] height, "
            f"width, outputs), but the explanation has axes {explanation.axes}; use a "
            "plot for its kind, e.g. plots.bar for tabular attributions."
        )
    return explanation


def _one_image(
    explanation: Any, row: Any, target: Any, plot: str
) -> tuple[Explanation, Explanation, int]:
    """(the explanation, its one sample and one output, the sample's position)."""
    ex = _check_image_explanation(explanation, plot)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
        raise InputError(f"row must be an int (the position of the sample drawn), got {row!r}.")
    row = int(row)
    if "samples" in ex.axes:
        n = len(ex)
        if not -n <= row < n:
            raise InputError(
                f"row={row} is out of range for an explanation of {n} samples; pass a "
                f"position in 0..{n - 1}."
            )
        row %= n
        one = ex[row]
    elif row != 0:
        raise InputError(
            f"row={row} was given but the explanation holds one sample; leave row out."
        )
    else:
        one = ex
    return ex, select_target(one, target, plot), row


def _input_size(ex: Explanation, map_size: tuple[int, ...]) -> tuple[int, int]:
    """The explained image's (height, width): from params["input_shape"] when recorded."""
    shape = ex.params.get("input_shape")
    if isinstance(shape, (list, tuple)) and len(shape) >= 2:
        return int(shape[-2]), int(shape[-1])
    return int(map_size[-2]), int(map_size[-1])


def _display_image(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image as (H, W) grey or (H, W, 3|4) colour, in [0, 1], for imshow."""
    if picture.ndim == 3 and picture.shape[1:] == size:
        picture = np.moveaxis(picture, 0, -1)  # channels first, as torch holds images
    if picture.shape[:2] != size or picture.ndim not in (2, 3):
        raise InputError(
            f"the image has shape {picture.shape} but the explained images are {size} "
            "(height x width); pass images of shape (channels, height, width), (height, "
            "width, channels) or (height, width)."
        )
    if picture.dtype.kind == "b":
        shown = picture.astype(np.float64)
    elif picture.dtype.kind == "u":
        shown = picture.astype(np.float64) / np.iinfo(picture.dtype).max
    else:
        shown = picture.astype(np.float64)
        low, high = float(shown.min()), float(shown.max())
        if low < 0.0 or high > 1.0:
            shown = (shown - low) / (high - low if high > low else 1.0)
    if shown.ndim == 3 and shown.shape[2] not in (3, 4):
        shown = shown.mean(axis=2)  # one channel (or an unusual count): drawn grey
    return shown


def _check_sign(sign: Any) -> str:
    if sign not in SIGNS:
        raise InputError(f"sign must be one of {SIGNS}, got {sign!r}; pass e.g. sign='absolute'.")
    return str(sign)


def _check_opacity(opacity: Any) -> float:
    if (
        isinstance(opacity, bool)
        or not isinstance(opacity, (int, float, np.integer, np.floating))
        or not 0.0 <= float(opacity) <= 1.0
    ):
        raise InputError(
            f"opacity must be a number in [0, 1] (the overlay's opacity), got {opacity!r}; "
            "e.g. opacity=0.5."
        )
    return float(opacity)


def _check_cmap(cmap: Any) -> Any:
    matplotlib = require_matplotlib()
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f"cmap must be a matplotlib colormap or its name, got {cmap!r}; pass e.g. "
            "cmap='viridis'."
        ) from None
