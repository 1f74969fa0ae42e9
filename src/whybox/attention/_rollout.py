"""Attention rollout (Abnar & Zuidema 2020): attention multiplied through the layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.attention._maps import AttentionMaps, check_maps

HEAD_FUSIONS = ("mean", "max", "min")


def attention_rollout(
    maps: AttentionMaps,
    *,
    head_fusion: str = "mean",
    add_residual: bool = True,
    discard_ratio: float = 0.0,
    start_layer: int = 0,
) -> np.ndarray:
    """Attention rollout: how much of each token flows into each token through all layers.

    For each layer from ``start_layer`` on, the heads are fused into one matrix
    ``A`` (mean, max or min over heads), the weights of padding keys are set to 0,
    optionally the weakest weights of each row are dropped, the residual connection
    is modelled as ``A_hat = 0.5 A + 0.5 I``, and the rows are renormalised to sum to
    1. The rollout is the product ``A_hat_L ... A_hat_start`` (the last layer on the
    left): entry ``[q, k]`` is the share of token ``k`` in token ``q`` at the output,
    if information mixed linearly along the attention paths (Abnar & Zuidema 2020).

    Parameters
    ----------
    maps : AttentionMaps
        From :func:`attention_weights`.
    head_fusion : {"mean", "max", "min"}, default "mean"
        How the heads of a layer are fused.
    add_residual : bool, default True
        Add the identity for the residual connection (``0.5 A + 0.5 I``).
    discard_ratio : float in [0, 1), default 0.0
        In each row, the fraction of the smallest weights (of the non-padding keys,
        rounded down) set to 0 before the residual is added; the largest weight of a
        row is never dropped. (Dropping row by row, rather than over the whole
        matrix, keeps every token's strongest links.)
    start_layer : int, default 0
        The first layer rolled out (layers before it are skipped).

    Returns
    -------
    ndarray of shape (n_samples, n_tokens, n_tokens), float64
        Query tokens on the rows, key tokens on the columns. Rows of non-padding
        tokens sum to 1; rows and columns of padding tokens are 0 (a row whose fused
        weights are all 0 stays 0).

    Raises
    ------
    InputError
        ``maps`` is not an AttentionMaps, bad ``head_fusion``, ``discard_ratio``
        outside [0, 1) or ``start_layer`` out of range.

    References
    ----------
    Abnar, S. & Zuidema, W. (2020). Quantifying attention flow in transformers. ACL.

    Examples
    --------
    Two layers of one head that attends uniformly (``U``) over three tokens: with the
    residual the rollout is ``(0.5 U + 0.5 I)^2 = 0.25 I + 0.75 U``.

    >>> import numpy as np
    >>> from whybox.attention import AttentionMaps, attention_rollout
    >>> maps = AttentionMaps(
    ...     weights=np.full((1, 2, 1, 3, 3), 1 / 3),
    ...     layer_names=["layer 0", "layer 1"],
    ...     padding_mask=np.zeros((1, 3), dtype=bool),
    ... )
    >>> attention_rollout(maps)[0]
    array([[0.5 , 0.25, 0.25],
           [0.25, 0.5 , 0.25],
           [0.25, 0.25, 0.5 ]])
    """
    maps = check_maps(maps, "attention_rollout")
    fusion = _check_head_fusion(head_fusion)
    discard = _check_discard_ratio(discard_ratio)
    first = _check_start_layer(start_layer, maps.n_layers)
    keep = ~maps.padding_mask  # (n, T)
    fused = _fuse_heads(maps.weights[:, first:], fusion)  # (n, L, T, T)
    fused = fused * keep[:, None, None, :]
    if discard > 0:
        fused = _discard_weakest(fused, keep, discard)
    n, _, t, _ = fused.shape
    eye = np.eye(t)
    if add_residual:
        fused = 0.5 * fused + 0.5 * eye
    sums = fused.sum(axis=-1, keepdims=True)
    fused = np.divide(fused, sums, out=np.zeros_like(fused), where=sums > 0)
    rollout = np.broadcast_to(eye, (n, t, t)).copy()
    for layer in range(fused.shape[1]):
        rollout = fused[:, layer] @ rollout
    return rollout * keep[:, :, None] * keep[:, None, :]


def rollout_relevance(
    maps: AttentionMaps,
    *,
    query: Any = 0,
    head_fusion: str = "mean",
    add_residual: bool = True,
    discard_ratio: float = 0.0,
    start_layer: int = 0,
) -> np.ndarray:
    """The attention rollout of one query token: the relevance of each token to it.

    With ``query=0`` on a BERT-style model this is the share of each token in the
    ``[CLS]`` representation a classifier reads. A plain array, not an
    :class:`~whybox.Explanation`: rollout does not explain any output (it has no
    target and adds up to 1, not to a prediction), and the token strings stay on
    ``maps.tokens``.

    Parameters
    ----------
    maps : AttentionMaps
        From :func:`attention_weights`.
    query : int, sequence of int or "mean", default 0
        The query token: one position for every sample (negative counts from the
        end), one position per sample (e.g. each sample's last real token), or
        ``"mean"``: the average over the non-padding tokens (for mean-pooled models).
    head_fusion, add_residual, discard_ratio, start_layer
        As in :func:`attention_rollout`.

    Returns
    -------
    ndarray of shape (n_samples, n_tokens), float64
        Sums to 1 over each sample's tokens; 0 at padding positions.

    Raises
    ------
    InputError
        A query that is out of range or a padding position, or a bad rollout setting.
    """
    maps = check_maps(maps, "rollout_relevance")
    rollout = attention_rollout(
        maps,
        head_fusion=head_fusion,
        add_residual=add_residual,
        discard_ratio=discard_ratio,
        start_layer=start_layer,
    )
    return query_rows(rollout, query, maps.padding_mask)


# ---------------------------------------------------------------------- helpers
def _check_head_fusion(head_fusion: Any) -> str:
    if head_fusion not in HEAD_FUSIONS:
        raise InputError(
            f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}; "
            'the usual choice is "mean".'
        )
    return str(head_fusion)


def _check_discard_ratio(discard_ratio: Any) -> float:
    if (
        isinstance(discard_ratio, bool)
        or not isinstance(discard_ratio, (int, float, np.integer, np.floating))
        or not 0.0 <= float(discard_ratio) < 1.0
    ):
        raise InputError(
            f"discard_ratio must be a number in [0, 1), the fraction of each row's weakest "
            f"weights dropped, got {discard_ratio!r}."
        )
    return float(discard_ratio)


def _check_start_layer(start_layer: Any, n_layers: int) -> int:
    if (
        isinstance(start_layer, bool)
        or not isinstance(start_layer, (int, np.integer))
        or not 0 <= start_layer < n_layers
    ):
        raise InputError(
            f"start_layer must be an int in 0..{n_layers - 1} (the maps have {n_layers} "
            f"layers), got {start_layer!r}."
        )
    return int(start_layer)


def _fuse_heads(weights: np.ndarray, head_fusion: str) -> np.ndarray:
    """(n, L, H, T, T) -> (n, L, T, T) by the mean, max or min over heads."""
    return {"mean": np.mean, "max": np.max, "min": np.min}[head_fusion](weights, axis=2)


def _discard_weakest(fused: np.ndarray, keep: np.ndarray, ratio: float) -> np.ndarray:
    """Zero the ``floor(ratio * n_keys)`` smallest weights of each row (non-padding keys)."""
    n_keys = keep.sum(axis=1)  # (n,)
    n_drop = np.floor(ratio * n_keys).astype(np.intp)
    ranked = np.where(keep[:, None, None, :], fused, np.inf)
    order = np.argsort(ranked, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(fused.shape[-1]), axis=-1)
    drop = ranks < n_drop[:, None, None, None]
    return np.where(drop, 0.0, fused)


def query_param(query: Any) -> Any:
    """The query as JSON: a string, an int, or a list of ints."""
    if isinstance(query, str):
        return query
    if isinstance(query, (int, np.integer)):
        return int(query)
    return [int(q) for q in np.asarray(query).reshape(-1)]


def query_rows(matrix: np.ndarray, query: Any, padding: np.ndarray) -> np.ndarray:
    """Rows ``query`` of (n, T, T) matrices: one position, one per sample, or the mean."""
    n, t, _ = matrix.shape
    keep = ~padding
    if isinstance(query, str):
        if query != "mean":
            raise InputError(
                f"query must be a token position, one position per sample or 'mean', got {query!r}."
            )
        counts = np.maximum(keep.sum(axis=1), 1)
        return (matrix * keep[:, :, None]).sum(axis=1) / counts[:, None]
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        positions = np.full(n, int(query))
    else:
        arr = np.asarray(query)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(
                f"query must be a token position, one position per sample ({n}) or 'mean', "
                f"got {query!r}."
            )
        positions = arr.astype(np.intp)
    bad = (positions < -t) | (positions >= t)
    if bad.any():
        raise InputError(
            f"query {int(positions[bad][0])} is out of range for {t} tokens; give a position "
            f"in {-t}..{t - 1}."
        )
    positions = positions % t
    is_pad = padding[np.arange(n), positions]
    if is_pad.any():
        i = int(np.flatnonzero(is_pad)[0])
        raise InputError(
            f"query position {int(positions[i])} is padding in sample {i}; give one "
            "non-padding position per sample (e.g. each sample's last real token) or 'mean'."
        )
    return matrix[np.arange(n), positions]
