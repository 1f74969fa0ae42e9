"""Attention heatmap of one sample, layer and head, with an optional rollout bar strip."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.plots._common import POSITIVE, check_result, figure_and_axes, literal


def attention(
    result: Any,
    *,
    row: int = 0,
    layer: int | str = -1,
    head: int | None = None,
    rollout_query: Any = None,
    ax: Any = None,
) -> Any:
    """Draw one sample's attention weights as a query-by-key heatmap labelled with its tokens.

    Parameters
    ----------
    result : AttentionMaps
        From :func:`whybox.attention.attention_weights`.
    row : int, default 0
        The position of the sample drawn.
    layer : int or str, default -1
        The layer: a position (negative counts from the last) or a name from
        ``result.layer_names``.
    head : int, optional
        The head drawn; None draws the mean over the layer's heads.
    rollout_query : int or "mean", optional
        When given, a bar strip above the heatmap shows the attention rollout
        (:func:`whybox.attention.rollout_relevance`, mean head fusion, all layers) of
        each key token for this query position (0: ``[CLS]``), on the heatmap's
        columns.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Padding tokens are left out. The first image of ``ax`` holds the weights
        (rows: query tokens, columns: key tokens, colour scale 0 to the largest
        weight, with a colour bar); tick labels are the tokens drawn literally (no
        mathtext). With ``rollout_query``, an inset Axes above holds one bar per key
        token. Attention is not attribution: the heatmap shows where the heads read
        from, not what mattered to the prediction.

    Raises
    ------
    InputError
        ``result`` is not an AttentionMaps; ``row``, ``layer`` or ``head`` is out of
        range; a bad ``rollout_query``.
    """
    from whybox.attention import AttentionMaps, rollout_relevance

    maps = check_result(
        result, AttentionMaps, "attention", "whybox.attention.attention_weights(model, inputs)"
    )
    n = len(maps)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not -n <= row < n:
        raise InputError(f"row must be a sample position in {-n}..{n - 1}, got {row!r}.")
    index = int(row) % n
    one_layer = maps.layer(layer)
    weights = one_layer.weights[index, 0]  # (H, T, T)
    if head is None:
        matrix, head_label = weights.mean(axis=0), f"mean of {maps.n_heads} heads"
    else:
        h = maps.n_heads
        if isinstance(head, bool) or not isinstance(head, (int, np.integer)) or not -h <= head < h:
            raise InputError(
                f"head must be None (the mean of the heads) or a head position in "
                f"{-h}..{h - 1}, got {head!r}."
            )
        matrix, head_label = weights[int(head)], f"head {int(head) % h}"
    keep = np.flatnonzero(~maps.padding_mask[index])
    matrix = matrix[np.ix_(keep, keep)]
    labels = literal(maps.real_tokens(index))
    size = 0.35 * len(keep) + 2.0
    fig, ax = figure_and_axes(ax, (size + 1.2, size + (1.2 if rollout_query is not None else 0)))
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=max(float(matrix.max()), 1e-12))
    ticks = np.arange(len(keep))
    ax.set_xticks(ticks, labels, rotation=90)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("key token (attended to)")
    ax.set_ylabel("query token (attending)")
    title = literal(f"{one_layer.layer_names[0]}, {head_label}")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
    if rollout_query is not None:
        relevance = rollout_relevance(maps, query=rollout_query)[index, keep]
        strip = ax.inset_axes((0.0, 1.12, 1.0, 0.25), sharex=ax)
        strip.bar(ticks, relevance, color=POSITIVE, width=0.8)
        strip.tick_params(axis="x", labelbottom=False)
        strip.set_ylabel("rollout")
        strip.spines[["top", "right"]].set_visible(False)
        ax.set_title("")
        strip.set_title(title)
    return fig
