"""LIME views: signed weights as bars, highlighted text (HTML) and a superpixel overlay."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_int
from whybox.lime import LimeTabularExplainer, conditions
from whybox.plots._common import (
    NEGATIVE,
    POSITIVE,
    check_explanation,
    check_max_display,
    figure_and_axes,
    label_text,
    literal,
    one_row,
)


def _lime_row(explanation: Any, target: Any, plot: str, method: str | None = None) -> Explanation:
    """One row and one output of a LIME explanation (axes ("features",))."""
    ex = check_explanation(explanation, plot)
    if not ex.method.startswith("lime") or (method is not None and ex.method != method):
        want = method or "a LIME explainer's"
        raise InputError(
            f"{plot} draws a {want} result, got an explanation made by {ex.method!r}; pass "
            "the result of the matching whybox.lime explainer."
        )
    return one_row(ex, target, plot)


def _local_r2(ex: Explanation) -> float | None:
    r2 = ex.quality.get("local_r2")
    return None if r2 is None else float(np.asarray(r2, dtype=np.float64).reshape(-1)[0])


def _title(ex: Explanation) -> str:
    r2 = _local_r2(ex)
    fit = "" if r2 is None else f"local R\N{SUPERSCRIPT TWO} = {r2:.3f}"
    return f"{ex.output_names[0]}: {fit}" if fit else ex.output_names[0]


def lime_bar(explanation: Any, *, max_display: int = 10, target: Any = None, ax: Any = None) -> Any:
    """Draw one row's LIME weights as signed horizontal bars, labelled with their conditions.

    Parameters
    ----------
    explanation : Explanation
        One row of a :mod:`whybox.lime` result (``ex[i]``, or an explanation of one
        row): axes ("features", "outputs") or ("features",).
    max_display : int, default=10
        The most bars: the features with the largest absolute weights. Features the
        surrogate did not select (weight 0) are not drawn.
    target, ax
        As in :func:`whybox.plots.waterfall`.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per selected feature, largest absolute weight on top; its signed
        width is the weight in the explanation's output space (red: raises the
        output, blue: lowers it). Tabular bars are labelled with the row's
        condition (``whybox.lime.conditions``, e.g. ``"mean radius > 17.2"``), text
        and image bars with the word or superpixel. The title gives the output and
        the surrogate's local R^2.

    Raises
    ------
    InputError
        If the explanation is not a LIME result, holds more than one row (fix: pass
        ``ex[i]``), has more than one output and no ``target``, or ``max_display`` is
        not an integer >= 1.

    References
    ----------
    .. [1] M. T. Ribeiro, S. Singh and C. Guestrin, "'Why should I trust you?':
       Explaining the predictions of any classifier", KDD 2016.
    """
    max_display = check_max_display(max_display)
    ex = _lime_row(explanation, target, "lime_bar")
    weights = np.asarray(ex.values, dtype=np.float64)
    if ex.method == LimeTabularExplainer.method and ex.data is not None:
        labels = list(conditions(ex))
    else:
        labels = list(ex.feature_names)
    selected = np.flatnonzero(weights != 0)
    order = selected[np.argsort(-np.abs(weights[selected]), kind="stable")][:max_display]
    fig, ax = figure_and_axes(ax, (7.0, 0.45 * max(len(order), 1) + 1.4))
    y = np.arange(len(order))[::-1]  # largest on top
    widths = weights[order]
    ax.barh(y, widths, color=[POSITIVE if w > 0 else NEGATIVE for w in widths], height=0.7)
    ax.axvline(0.0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, label_text([labels[j] for j in order], 40))
    ax.set_xlabel(f"LIME weight ({ex.output_space})")
    ax.set_title(literal(_title(ex)))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _rgba(weight: float, largest: float) -> str:
    color = POSITIVE if weight > 0 else NEGATIVE
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {0.15 + 0.75 * abs(weight) / largest:.3f})"


def lime_text(explanation: Any, *, target: Any = None) -> str:
    """Highlight the words of a text LIME explanation, as an HTML fragment.

    Parameters
    ----------
    explanation : Explanation
        A :class:`whybox.lime.LimeTextExplainer` result (or its one row).
    target : str or int, optional
        The class to show (name or position); required when more than one class was
        explained.

    Returns
    -------
    str
        A ``<div>`` holding a caption (the class, the classifier's probability and
        the surrogate's local R^2) and the document, every occurrence of a selected
        word highlighted in red (raises the probability) or blue (lowers it), more
        opaque for larger weights, with the weight as its tooltip. Every piece of
        user text (document, class name) is escaped with ``html.escape``; the
        fragment has no scripts.

    Raises
    ------
    InputError
        If the explanation is not a text LIME result, or has more than one class and
        no ``target``.
    """
    ex = _lime_row(explanation, target, "lime_text", "lime_text")
    text = str(ex.params["text"])
    weights = np.asarray(ex.values, dtype=np.float64)
    largest = float(np.abs(weights).max())
    marks = sorted(
        (int(s), int(e), j)
        for j, spans in enumerate(ex.params["spans"])
        if weights[j] != 0
        for s, e in spans
    )
    parts = []
    pos = 0
    for start, end, j in marks:
        parts.append(html.escape(text[pos:start]))
        parts.append(
            f'<span style="background-color: {_rgba(weights[j], largest)}" '
            f'title="{weights[j]:+.4f}">{html.escape(text[start:end])}</span>'
        )
        pos = end
    parts.append(html.escape(text[pos:]))
    caption = f"{html.escape(ex.output_names[0])}"
    if ex.model_output is not None:
        caption += f": probability {float(np.asarray(ex.model_output).reshape(-1)[0]):.3f}"
    r2 = _local_r2(ex)
    if r2 is not None:
        caption += f", local R\N{SUPERSCRIPT TWO} {r2:.3f}"
    return (
        '<div class="whybox-lime-text">'
        f'<p class="whybox-lime-caption">{caption}</p>'
        f'<p style="white-space: pre-wrap">{"".join(parts)}</p>'
        "</div>"
    )


def lime_image(
    explanation: Any,
    image: Any,
    *,
    n_superpixels: int = 5,
    positive_only: bool = False,
    target: Any = None,
    ax: Any = None,
) -> Any:
    """Draw an image with the superpixels of largest LIME weight tinted over it.

    Parameters
    ----------
    explanation : Explanation
        A :class:`whybox.lime.LimeImageExplainer` result (or its one row); its
        superpixel map is read from ``params["segments"]``.
    image : ndarray of shape (height, width) or (height, width, channels)
        The explained image.
    n_superpixels : int, default=5
        How many superpixels to tint: those of largest absolute weight (largest
        positive weight with ``positive_only``), among the selected ones.
    positive_only : bool, default=False
        Tint only superpixels that raise the probability.
    target : str or int, optional
        The class to show (name or position); required when more than one class was
        explained.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The image, then an RGBA overlay (the second image of the axes): tinted
        superpixels are red (raise the probability) or blue (lower it) at 45%
        opacity, with their outlines opaque; every other pixel is transparent. The
        title gives the class and the surrogate's local R^2.

    Raises
    ------
    InputError
        If the explanation is not an image LIME result, ``image`` does not have the
        explained image's height and width, or ``n_superpixels`` is not an integer >= 1.
    """
    n_superpixels = check_int(n_superpixels, "n_superpixels", 1, "n_superpixels=5")
    ex = _lime_row(explanation, target, "lime_image", "lime_image")
    segments = np.asarray(ex.params["segments"], dtype=np.intp)
    img = np.asarray(image)
    if img.shape[:2] != segments.shape or img.ndim not in (2, 3):
        raise InputError(
            f"image has shape {img.shape} but the explained image was {segments.shape} "
            "(height x width); pass the image that was explained."
        )
    weights = np.asarray(ex.values, dtype=np.float64)
    score = weights if positive_only else np.abs(weights)
    eligible = np.flatnonzero((weights > 0) if positive_only else (weights != 0))
    chosen = eligible[np.argsort(-score[eligible], kind="stable")][:n_superpixels]
    overlay = np.zeros(segments.shape + (4,))
    edge = np.zeros(segments.shape, dtype=bool)
    edge[:-1] |= segments[:-1] != segments[1:]
    edge[1:] |= segments[1:] != segments[:-1]
    edge[:, :-1] |= segments[:, :-1] != segments[:, 1:]
    edge[:, 1:] |= segments[:, 1:] != segments[:, :-1]
    for j in chosen:
        color = POSITIVE if weights[j] > 0 else NEGATIVE
        rgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        inside = segments == j
        overlay[inside] = rgb + [0.45]
        overlay[inside & edge] = rgb + [1.0]
    fig, ax = figure_and_axes(ax, (5.0, 5.0 * segments.shape[0] / max(segments.shape[1], 1)))
    shown = img.astype(np.float64)
    if img.dtype.kind != "u" and (shown.min() < 0 or shown.max() > 1):
        span = shown.max() - shown.min()
        shown = (shown - shown.min()) / (span if span > 0 else 1.0)
    elif img.dtype.kind == "u":
        shown = shown / np.iinfo(img.dtype).max
    if shown.ndim == 3 and shown.shape[2] not in (3, 4):
        shown = shown[..., 0]  # one (or two) channels: drawn grey
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.imshow(overlay)
    ax.set_title(literal(_title(ex)))
    ax.set_axis_off()
    return fig
