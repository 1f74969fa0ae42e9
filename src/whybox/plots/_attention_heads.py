"""A grid of attention heatmaps: one per layer and head, for one sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.plots._common import check_result, literal, require_matplotlib

_MAX_TICK_TOKENS = 32
"""Tokens per heatmap above which the token tick labels are left out."""


def attention_heads(
    result: Any,
    *,
    row: int = 0,
    layer: int | str | None = None,
    scores: Any = None,
    cmap: Any = "Blues",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Draw every head's attention pattern for one sample as a grid of heatmaps.

    One row of heatmaps per layer, one column per head (query tokens down, key tokens
    across, each on its own 0-to-max colour scale), so the heads that look back one
    token (previous-token heads: a sub-diagonal) and the heads that look at the token
    after an earlier copy (induction heads: a diagonal offset by the repeat's length)
    stand out on a repeated sequence (Olsson et al. 2022).

    Parameters
    ----------
    result : AttentionMaps
        From :func:`whybox.concepts.attention_patterns` or
        :func:`whybox.attention.attention_weights`.
    row : int, default 0
        The position of the sample drawn.
    layer : int or str, optional
        Draw only this layer (a position, negative counts from the last, or a name in
        ``result.layer_names``); None draws all.
    scores : HeadScores, optional
        From :func:`whybox.concepts.head_scores` on the same model: each heatmap's
        title adds the head's prefix-matching and previous-token scores.
    cmap : str or matplotlib Colormap, default "Blues"
    figsize : (float, float), optional
        The figure's size in inches; default about 1.8 inches per heatmap.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per (layer, head), row-major (``fig.axes[l * n_heads + h]``), each
        holding one image of the weights without padding tokens, titled
        ``"L{l} H{h}"``; tick labels are the tokens when there are at most 32.
        Attention is not attribution: the heatmaps show where the heads read from.

    Raises
    ------
    InputError
        ``result`` is not an AttentionMaps; ``row`` or ``layer`` is out of range;
        ``scores`` is not a HeadScores of the same layers and heads.

    References
    ----------
    Olsson, C. et al. (2022). In-context learning and induction heads. Transformer
    Circuits Thread.
    """
    from whybox.attention import AttentionMaps
    from whybox.concepts import HeadScores

    maps = check_result(
        result,
        AttentionMaps,
        "attention_heads",
        "whybox.concepts.attention_patterns(model, inputs)",
    )
    n = len(maps)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not -n <= row < n:
        raise InputError(
            f"row must be a sample position in {-n}..{n - 1}, got {row!r}; pass e.g. row=0."
        )
    index = int(row) % n
    layers = list(range(maps.n_layers))
    if layer is not None:
        layers = [maps.layer_names.index(maps.layer(layer).layer_names[0])]
    if scores is not None:
        if not isinstance(scores, HeadScores):
            raise InputError(
                f"scores must be a HeadScores from whybox.concepts.head_scores, got "
                f"{type(scores).__name__}; pass scores=head_scores(model, inputs) or leave "
                "it out."
            )
        if scores.prefix_matching.shape != (maps.n_layers, maps.n_heads):
            raise InputError(
                f"scores has {scores.prefix_matching.shape} (layers, heads) but the maps have "
                f"{(maps.n_layers, maps.n_heads)}; compute both on the same model."
            )
    require_matplotlib()
    from matplotlib.figure import Figure

    n_heads = maps.n_heads
    size = figsize or (1.8 * n_heads + 0.8, 1.9 * len(layers) + 0.4)
    fig = Figure(figsize=size, layout="constrained")
    grid = fig.subplots(len(layers), n_heads, squeeze=False)
    keep = np.flatnonzero(~maps.padding_mask[index])
    labels = literal(maps.real_tokens(index)) if len(keep) <= _MAX_TICK_TOKENS else None
    for r, li in enumerate(layers):
        for h in range(n_heads):
            ax = grid[r, h]
            matrix = maps.weights[index, li, h][np.ix_(keep, keep)]
            ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=max(float(matrix.max()), 1e-12))
            title = f"L{li} H{h}"
            if scores is not None:
                title += (
                    f"\nprefix {scores.prefix_matching[li, h]:.2f}, "
                    f"prev {scores.previous_token[li, h]:.2f}"
                )
            ax.set_title(title, fontsize=8)
            if labels is None:
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                ticks = np.arange(len(keep))
                ax.set_xticks(ticks, labels if r == len(layers) - 1 else [], rotation=90)
                ax.set_yticks(ticks, labels if h == 0 else [])
                ax.tick_params(labelsize=5, length=1)
    fig.supxlabel("key token (attended to)", fontsize=9)
    fig.supylabel("query token (attending)", fontsize=9)
    return fig
