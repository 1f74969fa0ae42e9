"""Attention weights of transformers, attention rollout and attention times gradient.

Two kinds of models are read:

* Hugging Face transformers (``transformers.PreTrainedModel``): called with
  ``output_attentions=True``; the returned ``attentions`` (one tensor (n, heads, T, T)
  per layer) are the softmax probabilities the model multiplies its values with.
* any ``torch.nn.Module`` built from ``torch.nn.MultiheadAttention`` layers (for
  example ``nn.TransformerEncoderLayer``): for the duration of the call, hooks make
  every attention layer return its per-head weights (``need_weights=True,
  average_attn_weights=False``) and hand its caller exactly what it asked for; the
  hooks, and PyTorch's fused "fast path" setting, are restored afterwards.

Attention is not attribution: a large weight says where a head read from, not that
the token mattered to the prediction (Jain & Wallace 2019; Wiegreffe & Pinter 2019).
:func:`attention_x_gradient` weights attention by its gradient with respect to the
explained output, which ties it to the prediction.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_batch_size
from whybox._version import __version__
from whybox.adapters._torch import (
    TargetLike,
    TorchModel,
    adapt_torch_model,
    batches,
    import_torch,
    output_matrix,
)

HEAD_FUSIONS = ("mean", "max", "min")

_MHA_ARGS = (
    "query",
    "key",
    "value",
    "key_padding_mask",
    "need_weights",
    "attn_mask",
    "average_attn_weights",
    "is_causal",
)


# ---------------------------------------------------------------------- result type
@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """The attention weights of every layer and head of a transformer, per sample.

    Attention is not attribution: ``weights[i, l, h, q, k]`` says how much head ``h``
    of layer ``l`` mixed token ``k`` into token ``q``, not how much token ``k``
    mattered to the prediction. Attention can be changed a lot without changing the
    prediction (Jain & Wallace 2019), though not always freely (Wiegreffe & Pinter
    2019); use :func:`attention_x_gradient` or an attribution method to explain an
    output.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_layers, n_heads, n_tokens, n_tokens), float64
        Softmax attention probabilities: query tokens on the fourth axis, key tokens
        on the last; each row sums to 1 over the keys the model did not mask.
        Layers are in the order the model ran them.
    layer_names : tuple of str
        One name per layer: ``"layer 0"``, ``"layer 1"`` ... for Hugging Face models,
        the module's name in ``named_modules()`` for ``nn.MultiheadAttention`` layers
        (``"name#2"`` for its second call when a layer runs twice).
    padding_mask : ndarray of shape (n_samples, n_tokens), bool
        True at padding positions (PyTorch's ``key_padding_mask`` convention; a
        Hugging Face ``attention_mask`` is its negation). Rows and columns of padding
        tokens carry no information.
    tokens : tuple of tuple of str, or None
        Per sample, the ``n_tokens`` token strings (padding included), when known.
    method : str
        ``"attention_weights"``.
    params : dict
        How the maps were made: ``source`` (``"huggingface"`` or
        ``"multihead_attention"``), ``batch_size``, ``heads`` (``"all"``, or
        ``"mean"`` after :meth:`mean_heads`) and the whybox version.

    Raises
    ------
    InputError
        Arrays of inconsistent shapes.

    References
    ----------
    Jain, S. & Wallace, B. C. (2019). Attention is not explanation. NAACL.
    Wiegreffe, S. & Pinter, Y. (2019). Attention is not not explanation. EMNLP.
    """

    weights: np.ndarray
    layer_names: tuple[str, ...]
    padding_mask: np.ndarray
    tokens: tuple[tuple[str, ...], ...] | None = None
    method: str = "attention_weights"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64)
        object.__setattr__(self, "weights", weights)
        if weights.ndim != 5 or weights.shape[3] != weights.shape[4]:
            raise InputError(
                "weights must have shape (n_samples, n_layers, n_heads, n_tokens, n_tokens), "
                f"got {weights.shape}."
            )
        n, n_layers, _, t, _ = weights.shape
        names = tuple(str(s) for s in self.layer_names)
        object.__setattr__(self, "layer_names", names)
        if len(names) != n_layers:
            raise InputError(
                f"layer_names has {len(names)} names but weights has {n_layers} layers; give "
                "one name per layer."
            )
        mask = np.asarray(self.padding_mask, dtype=bool)
        object.__setattr__(self, "padding_mask", mask)
        if mask.shape != (n, t):
            raise InputError(
                f"padding_mask must have shape (n_samples, n_tokens) = {(n, t)}, got {mask.shape}."
            )
        if self.tokens is not None:
            tokens = tuple(tuple(str(w) for w in row) for row in self.tokens)
            if len(tokens) != n or any(len(row) != t for row in tokens):
                raise InputError(
                    f"tokens must hold {n} sequences of {t} token strings (padding included), "
                    f"got {len(tokens)} sequences of lengths {sorted({len(r) for r in tokens})}."
                )
            object.__setattr__(self, "tokens", tokens)

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``weights``: (n_samples, n_layers, n_heads, n_tokens, n_tokens)."""
        return self.weights.shape

    def __len__(self) -> int:
        return self.weights.shape[0]

    @property
    def n_layers(self) -> int:
        return self.weights.shape[1]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[2]

    @property
    def n_tokens(self) -> int:
        return self.weights.shape[3]

    # ------------------------------------------------------------------ views
    def mean_heads(self) -> AttentionMaps:
        """The same maps with the heads of each layer averaged into one.

        Returns
        -------
        AttentionMaps
            weights of shape (n_samples, n_layers, 1, n_tokens, n_tokens); rows
            still sum to 1 over the unmasked keys.
        """
        return replace(
            self,
            weights=self.weights.mean(axis=2, keepdims=True),
            params={**self.params, "heads": "mean"},
        )

    def layer(self, layer: int | str) -> AttentionMaps:
        """The maps of one layer, given by position (negative counts from the last) or name.

        Returns
        -------
        AttentionMaps
            weights of shape (n_samples, 1, n_heads, n_tokens, n_tokens).

        Raises
        ------
        InputError
            No layer has that position or name.
        """
        i = self._layer_index(layer)
        return replace(self, weights=self.weights[:, i : i + 1], layer_names=(self.layer_names[i],))

    def _layer_index(self, layer: Any) -> int:
        n_layers = self.n_layers
        if isinstance(layer, str):
            if layer not in self.layer_names:
                raise InputError(
                    f"layer {layer!r} is not one of the layer names; choose one of "
                    f"{list(self.layer_names)} or give a position."
                )
            return self.layer_names.index(layer)
        if (
            isinstance(layer, bool)
            or not isinstance(layer, (int, np.integer))
            or not -n_layers <= layer < n_layers
        ):
            raise InputError(
                f"layer must be a layer name or a position in {-n_layers}..{n_layers - 1}, "
                f"got {layer!r}."
            )
        return int(layer) % n_layers

    def real_tokens(self, index: int) -> list[str]:
        """The tokens of sample ``index`` without padding (positions as strings if unknown)."""
        keep = np.flatnonzero(~self.padding_mask[index])
        if self.tokens is None:
            return [str(j) for j in keep]
        return [self.tokens[index][j] for j in keep]

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (arrays as nested lists)."""
        return {
            "weights": self.weights.tolist(),
            "layer_names": list(self.layer_names),
            "padding_mask": self.padding_mask.tolist(),
            "tokens": None if self.tokens is None else [list(r) for r in self.tokens],
            "method": self.method,
            "params": self.params,
        }

    def to_json(self) -> str:
        """The maps as a JSON string; :meth:`from_dict` reads the parsed dict back."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttentionMaps:
        """Rebuild the maps from :meth:`to_dict` output (or parsed JSON)."""
        tokens = d.get("tokens")
        return cls(
            weights=np.asarray(d["weights"], dtype=np.float64),
            layer_names=tuple(d["layer_names"]),
            padding_mask=np.asarray(d["padding_mask"], dtype=bool),
            tokens=None if tokens is None else tuple(tuple(r) for r in tokens),
            method=d.get("method", "attention_weights"),
            params=dict(d.get("params", {})),
        )

    def __repr__(self) -> str:
        return (
            f"AttentionMaps(n_samples={len(self)}, n_layers={self.n_layers}, "
            f"n_heads={self.n_heads}, n_tokens={self.n_tokens}, "
            f"source={self.params.get('source', '?')!r})"
        )


# ---------------------------------------------------------------------- public functions
def attention_weights(
    model: Any,
    inputs: Any,
    *,
    tokens: Sequence[Sequence[str]] | None = None,
    tokenizer: Any = None,
    padding_mask: Any = None,
    batch_size: int | None = None,
) -> AttentionMaps:
    """Collect the attention weights of every layer and head for each input.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face ``PreTrainedModel`` loaded with an attention implementation
        that returns weights (``attn_implementation="eager"``), or any module whose
        attention layers are ``torch.nn.MultiheadAttention`` (self-attention: queries
        and keys the same length). Run in eval mode (a model in training mode is
        switched for the call, with a warning, and switched back).
    inputs : mapping, torch.Tensor or array-like
        What the model is called with: a mapping (a tokenizer's ``BatchEncoding``,
        or keyword tensors) as ``model(**inputs)``, otherwise ``model(inputs)`` (token
        ids of shape (n_samples, n_tokens), or embeddings). Every tensor whose first
        axis has the samples is split into batches; tensors must be on the model's
        device.
    tokens : sequence of sequences of str, optional
        The token strings of each sample, ``n_tokens`` each (padding included).
    tokenizer : object with ``convert_ids_to_tokens``, optional
        Gives the tokens from the token ids (``inputs["input_ids"]``, or the integer
        input tensor) when ``tokens`` is not given: a Hugging Face tokenizer, or the
        demo's :class:`~whybox.datasets.TextTransformer`.
    padding_mask : array-like of bool of shape (n_samples, n_tokens), optional
        True at padding positions. Default: ``inputs["attention_mask"] == 0`` for
        mappings holding one, else the ``key_padding_mask`` the first attention layer
        was called with, else no padding.
    batch_size : int, optional
        The most samples per forward pass; None runs all at once. Never changes the
        values.

    Returns
    -------
    AttentionMaps
        weights (n_samples, n_layers, n_heads, n_tokens, n_tokens), float64
        probabilities; see its caveat: attention is not attribution.

    Raises
    ------
    InputError
        The model has no ``nn.MultiheadAttention`` layer and is not a Hugging Face
        model; a Hugging Face model that returned no attention weights (``sdpa`` or
        flash attention: reload it with ``attn_implementation="eager"``); attention
        that is not square self-attention or differs in shape between layers; inputs
        on another device or of the wrong kind; bad ``tokens``, ``tokenizer``,
        ``padding_mask`` or ``batch_size``.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    """
    run = _AttentionRun(model, inputs, batch_size=batch_size)
    weights, layer_names, pad_found = run.collect(gradients=False)
    return AttentionMaps(
        weights=weights,
        layer_names=layer_names,
        padding_mask=run.padding(padding_mask, pad_found, weights.shape[-1]),
        tokens=run.tokens(tokens, tokenizer, weights.shape[-1]),
        method="attention_weights",
        params={
            "source": run.source,
            "batch_size": run.batch_size,
            "heads": "all",
            "whybox_version": __version__,
        },
    )


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
    """
    maps = _check_maps(maps, "attention_rollout")
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
    maps = _check_maps(maps, "rollout_relevance")
    rollout = attention_rollout(
        maps,
        head_fusion=head_fusion,
        add_residual=add_residual,
        discard_ratio=discard_ratio,
        start_layer=start_layer,
    )
    return _query_rows(rollout, query, maps.padding_mask)


def attention_x_gradient(
    model: Any,
    inputs: Any,
    target: TargetLike = None,
    *,
    query: Any = 0,
    tokens: Sequence[Sequence[str]] | None = None,
    tokenizer: Any = None,
    padding_mask: Any = None,
    output: str = "raw",
    output_names: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> Explanation:
    """Token relevance from attention weighted by its gradient (Chefer, Gur & Wolf 2021).

    For every layer ``l`` and head ``h`` the attention probabilities ``A_lh`` are
    multiplied elementwise by the gradient of the targeted output ``f_t`` with respect
    to them, ``A_lh * d f_t / d A_lh``; the positive part is averaged over the heads,
    ``Abar_l = mean_h (A_lh * dA_lh)^+``. Relevance is propagated through the layers
    in the order they run, starting from the identity: ``R <- R + Abar_l R``. The
    relevance of token ``k`` is ``(R - I)[query, k]``: what flowed into the query
    token through attention that raises the output, without the token's own residual
    stream (so a model whose output does not depend on its attention gets zero).

    Parameters
    ----------
    model : torch.nn.Module
        As in :func:`attention_weights`; its output (the ``logits`` of a Hugging Face
        output, the first element of a tuple) of shape (n_samples, n_outputs) is
        explained in ``output`` space, or any output reduced by a callable target.
    inputs : mapping, torch.Tensor or array-like
        As in :func:`attention_weights`.
    target : None, int, sequence of int or callable, optional
        The output explained: None for each sample's largest output (the predicted
        class), an output index for all samples, one index per sample, or a callable
        mapping the model's output tensor to one scalar per sample (e.g. a norm of
        the ``[CLS]`` embedding of a model without a head).
    query : int, sequence of int or "mean", default 0
        The token whose relevance row is reported, as in :func:`rollout_relevance`
        (0: ``[CLS]``).
    tokens, tokenizer, padding_mask, batch_size
        As in :func:`attention_weights`.
    output : {"raw", "probability"}, default "raw"
        The output space explained (softmax, or the sigmoid of a single output).
    output_names : sequence of str, optional
        One name per output (class names).

    Returns
    -------
    Explanation
        values (n_samples, n_tokens, 1) float64 on axes ("samples", "tokens",
        "outputs"): nonnegative relevance, 0 at padding positions, in the output's
        units (an attention probability times a gradient). ``data`` holds the token
        strings (object array (n_samples, n_tokens)) when known, else the token ids;
        ``model_output`` is the targeted output; ``base_values`` is NaN (the values
        do not add up to the output). ``params`` records the target, the query, the
        layer names and the source.

    Raises
    ------
    InputError
        As in :func:`attention_weights`, plus a target out of range, a model output
        that is not (n_samples, n_outputs) with a non-callable target, or a bad query.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.

    References
    ----------
    Chefer, H., Gur, S. & Wolf, L. (2021). Generic attention-model explainability for
    interpreting bi-modal and encoder-decoder transformers. ICCV.
    """
    if output not in ("raw", "probability"):
        raise InputError(
            f"output must be one of ('raw', 'probability'), got {output!r}; 'raw' explains "
            "the logits."
        )
    run = _AttentionRun(model, inputs, batch_size=batch_size, output_names=output_names)
    weights, layer_names, pad_found = run.collect(gradients=True, target=target, output=output)
    grads = run.gradients
    n, _, _, t, _ = weights.shape
    mask = run.padding(padding_mask, pad_found, t)
    keep = ~mask
    cam = np.clip(weights * grads, 0.0, None).mean(axis=2)  # (n, L, T, T)
    cam = cam * keep[:, None, None, :] * keep[:, None, :, None]
    eye = np.eye(t)
    relevance = np.broadcast_to(eye, (n, t, t)).copy()
    for layer in range(cam.shape[1]):
        relevance = relevance + cam[:, layer] @ relevance
    values = _query_rows(relevance - eye, query, mask)
    token_strings = run.tokens(tokens, tokenizer, t)
    if token_strings is not None:
        data: Any = np.array([list(r) for r in token_strings], dtype=object)
    elif run.token_ids is not None:
        data = run.token_ids
    else:
        data = None
    resolved = run.resolved_target
    if callable(resolved):
        target_param: Any = "callable"
        out_names = (getattr(resolved, "__name__", "target"),)
    else:
        target_param = [int(v) for v in resolved.cpu().numpy()]
        out_names = run.torch_model.target_names(resolved, run.n_outputs)
    return Explanation(
        values=values[:, :, None],
        base_values=np.full((n, 1), np.nan),
        data=data,
        feature_names=(),
        output_names=out_names,
        output_space="probability" if output == "probability" else "raw",
        method="attention_x_gradient",
        params={
            "target": target_param,
            "query": _query_param(query),
            "head_fusion": "mean_positive",
            "layer_names": list(layer_names),
            "source": run.source,
            "output": output,
            "batch_size": run.batch_size,
            "whybox_version": __version__,
        },
        model_output=run.model_output[:, None],
        axes=("samples", "tokens", "outputs"),
    )


# ---------------------------------------------------------------------- the model run
class _AttentionRun:
    """One model, one set of inputs: run in batches, capture attention (and gradients)."""

    def __init__(
        self,
        model: Any,
        inputs: Any,
        *,
        batch_size: int | None,
        output_names: Sequence[str] | None = None,
    ) -> None:
        self.torch_model: TorchModel = adapt_torch_model(model, output_names=output_names)
        self.module = self.torch_model.module
        self.batch_size = check_batch_size(batch_size)
        self.source = "huggingface" if _is_huggingface(self.module) else "multihead_attention"
        self.mha = {} if self.source == "huggingface" else _mha_layers(self.module)
        if self.source == "multihead_attention" and not self.mha:
            raise InputError(
                f"model ({type(self.module).__name__}) has no torch.nn.MultiheadAttention "
                "layer and is not a Hugging Face PreTrainedModel, so whybox cannot read its "
                "attention; pass a model built from nn.MultiheadAttention (e.g. "
                "nn.TransformerEncoderLayer) or a transformers model."
            )
        self.kind, self.inputs, self.n = _prepare_inputs(self.torch_model, inputs)
        self.token_ids = _token_ids(self.kind, self.inputs)
        self.gradients: np.ndarray = np.empty(0)
        self.model_output: np.ndarray = np.empty(0)
        self.resolved_target: Any = None
        self.n_outputs = 0

    # -------------------------------------------------------------- running
    def collect(
        self, *, gradients: bool, target: Any = None, output: str = "raw"
    ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None]:
        """(weights (n, L, H, T, T), layer names, padding found in the inputs or None).

        With ``gradients``, the gradients of the targeted output with respect to the
        weights are stored on ``self.gradients``, the targeted output on
        ``self.model_output`` and the resolved target on ``self.resolved_target``.
        """
        torch = import_torch()
        want_grad = bool(gradients)
        targets = _split_target(target, self.n)
        parts, grad_parts, scalar_parts, target_parts, pads = [], [], [], [], []
        names: tuple[str, ...] = ()
        with self.torch_model.evaluation():
            for sl in batches(self.n, self.batch_size):
                batch = self._slice(sl)
                with torch.enable_grad() if want_grad else torch.no_grad():
                    out, attn, names_b, pad_b = self._forward(batch, want_grad)
                    if want_grad:
                        scalars, resolved = self._target_scalars(out, _take(targets, sl), output)
                        if scalars.requires_grad:
                            found = torch.autograd.grad(scalars.sum(), attn, allow_unused=True)
                        else:  # the output depends on nothing that needs a gradient
                            found = (None,) * len(attn)
                        grad_parts.append(
                            torch.stack(
                                [
                                    torch.zeros_like(a) if g is None else g
                                    for g, a in zip(found, attn, strict=True)
                                ],
                                dim=1,
                            ).detach()
                        )
                        scalar_parts.append(scalars.detach())
                        target_parts.append(resolved)
                if names and names_b != names:
                    raise InputError(  # pragma: no cover - a model whose layers change per batch
                        "the model ran different attention layers for different batches; "
                        "pass batch_size=None."
                    )
                names = names_b
                parts.append(torch.stack([a.detach() for a in attn], dim=1))
                pads.append(pad_b)
        weights = _float64(torch.cat(parts))
        if want_grad:
            self.gradients = _float64(torch.cat(grad_parts))
            self.model_output = _float64(torch.cat(scalar_parts))
            first = target_parts[0]
            self.resolved_target = first if callable(first) else torch.cat(target_parts)
        pad = None if any(p is None for p in pads) else np.concatenate(pads)
        return weights, names, pad

    def _forward(self, batch: Any, want_grad: bool) -> tuple[Any, list[Any], tuple[str, ...], Any]:
        """(model output, attention tensors per layer, layer names, padding (b, T) or None)."""
        if self.source == "huggingface":
            return self._forward_huggingface(batch, want_grad)
        with _capture_mha(self.mha, replay=want_grad) as records:
            out = self.module(**batch) if self.kind == "mapping" else self.module(batch)
        if not records:
            raise InputError(
                "no nn.MultiheadAttention layer of the model ran during its forward pass; "
                "pass inputs that go through its attention layers."
            )
        attn = [r[1] for r in records]
        _check_square(attn, [r[0] for r in records])
        pad = _padding_from_key_mask(records[0][2], attn[0])
        if pad is None and self.kind == "mapping" and "attention_mask" in batch:
            pad = _padding_from_attention_mask(batch["attention_mask"])
        return out, attn, tuple(r[0] for r in records), pad

    def _forward_huggingface(
        self, batch: Any, want_grad: bool
    ) -> tuple[Any, list[Any], tuple[str, ...], Any]:
        kwargs = dict(batch) if self.kind == "mapping" else {"input_ids": batch}
        kwargs["output_attentions"] = True
        with _input_embeddings_need_grad(self.module, want_grad):
            out = self.module(**kwargs)
        attn = getattr(out, "attentions", None) or getattr(out, "encoder_attentions", None)
        if not attn:
            impl = getattr(getattr(self.module, "config", None), "_attn_implementation", "?")
            raise InputError(
                f"the Hugging Face model returned no attention weights (attention "
                f"implementation {impl!r} cannot return them); reload it with "
                'from_pretrained(..., attn_implementation="eager").'
            )
        attn = list(attn)
        names = [f"layer {i}" for i in range(len(attn))]
        _check_square(attn, names)
        pad = None
        if "attention_mask" in kwargs and kwargs["attention_mask"] is not None:
            pad = _padding_from_attention_mask(kwargs["attention_mask"])
        return out, attn, tuple(names), pad

    def _target_scalars(self, out: Any, target: Any, output: str) -> tuple[Any, Any]:
        """(targeted output per sample (b,), resolved target) of one batch."""
        torch = import_torch()
        out = _output_tensor(out)
        if callable(target):
            value = target(out)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != (out.shape[0],):
                raise InputError(
                    "the target callable must return a tensor of one scalar per sample, "
                    f"shape ({out.shape[0]},), got {tuple(getattr(value, 'shape', ()))}."
                )
            return value, target
        out = output_matrix(out)
        if out.ndim != 2:
            raise InputError(
                f"the model's output has shape {tuple(out.shape)}, not (n_samples, n_outputs); "
                "pass a callable target that reduces it to one scalar per sample, e.g. "
                "target=lambda out: out[:, 0].norm(dim=-1)."
            )
        if output == "probability":
            out = torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1)
        self.n_outputs = int(out.shape[1])
        resolved = self.torch_model.resolve_target(target, out.detach())
        return self.torch_model.target_scalar(out, resolved), resolved

    def _slice(self, sl: slice) -> Any:
        if self.kind == "mapping":
            return {k: v[sl] if _is_sample_tensor(v, self.n) else v for k, v in self.inputs.items()}
        return self.inputs[sl]

    # -------------------------------------------------------------- tokens and padding
    def padding(self, given: Any, found: np.ndarray | None, t: int) -> np.ndarray:
        if given is not None:
            if hasattr(given, "detach"):
                given = given.detach().cpu().numpy()
            mask = np.asarray(given)
            if mask.shape != (self.n, t) or mask.dtype.kind not in "bui":
                raise InputError(
                    f"padding_mask must be a boolean array of shape (n_samples, n_tokens) = "
                    f"{(self.n, t)}, True at padding, got {mask.dtype} of shape {mask.shape}."
                )
            return mask.astype(bool)
        if found is not None:
            return found
        return np.zeros((self.n, t), dtype=bool)

    def tokens(self, tokens: Any, tokenizer: Any, t: int) -> tuple[tuple[str, ...], ...] | None:
        if tokens is not None:
            if isinstance(tokens, str) or not isinstance(tokens, Sequence):
                raise InputError(
                    f"tokens must be a sequence of {self.n} sequences of token strings, got "
                    f"{type(tokens).__name__}."
                )
            rows = [list(r) for r in tokens]
            if len(rows) != self.n or any(len(r) != t for r in rows):
                raise InputError(
                    f"tokens must hold {self.n} sequences of {t} token strings (padding "
                    f"included), got {len(rows)} sequences of lengths "
                    f"{sorted({len(r) for r in rows})}."
                )
            return tuple(tuple(str(w) for w in r) for r in rows)
        if tokenizer is None:
            return None
        if not hasattr(tokenizer, "convert_ids_to_tokens"):
            raise InputError(
                f"tokenizer must have a convert_ids_to_tokens method (a Hugging Face "
                f"tokenizer), got {type(tokenizer).__name__}; or pass tokens= instead."
            )
        if self.token_ids is None:
            raise InputError(
                "tokenizer was given but the inputs hold no token ids (an integer tensor, or "
                "inputs['input_ids']); pass tokens= instead."
            )
        return tuple(
            tuple(str(w) for w in tokenizer.convert_ids_to_tokens([int(i) for i in row]))
            for row in self.token_ids
        )


def _split_target(target: Any, n: int) -> Any:
    """The target as given, with a per-sample sequence checked and made an array."""
    if target is None or callable(target) or isinstance(target, (int, np.integer)):
        return target
    torch = import_torch()
    arr = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
    if arr.ndim != 1 or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"target must be None, an int, one int per sample ({n}) or a callable; got "
            f"{type(target).__name__} of shape {arr.shape} and dtype {arr.dtype}."
        )
    return arr


def _take(target: Any, sl: slice) -> Any:
    return target[sl] if isinstance(target, np.ndarray) else target


# ---------------------------------------------------------------------- MultiheadAttention hooks
def _mha_layers(module: Any) -> dict[Any, str]:
    torch = import_torch()
    return {
        m: name or "<model>"
        for name, m in module.named_modules()
        if isinstance(m, torch.nn.MultiheadAttention)
    }


@contextlib.contextmanager
def _capture_mha(layers: dict[Any, str], *, replay: bool) -> Iterator[list[Any]]:
    """Hooks that record each attention call's (name, per-head weights, key padding mask).

    Every call is made with ``need_weights=True, average_attn_weights=False`` and its
    caller gets what it asked for (no weights, or head-averaged ones). With
    ``replay``, the attention output is recomputed from the recorded weights (the same
    numbers: ``out_proj(weights @ values)``) so the output depends on the weights
    tensor and ``autograd.grad`` can take gradients with respect to it. PyTorch's
    fused fast path, which skips the attention module, is off for the block.
    """
    torch = import_torch()
    records: list[Any] = []
    calls: dict[Any, int] = {}
    asked: dict[Any, list[tuple[bool, bool]]] = {}

    def pre_hook(module: Any, args: Any, kwargs: Any) -> Any:
        bound = dict(zip(_MHA_ARGS, args, strict=False))
        bound.update(kwargs)
        asked.setdefault(module, []).append(
            (bool(bound.get("need_weights", True)), bool(bound.get("average_attn_weights", True)))
        )
        q, k, v = bound.pop("query"), bound.pop("key"), bound.pop("value")
        bound["need_weights"] = True
        bound["average_attn_weights"] = False
        return (q, k, v), bound

    def hook(module: Any, args: Any, kwargs: Any, out: Any) -> Any:
        need, average = asked[module].pop()
        name = layers[module]
        calls[module] = calls.get(module, 0) + 1
        if calls[module] > 1:
            name = f"{name}#{calls[module]}"
        attn_out, weights = out
        if weights is None or weights.ndim != 4:
            raise InputError(
                f"attention layer {name!r} returned weights of shape "
                f"{None if weights is None else tuple(weights.shape)}, not (batch, heads, "
                "queries, keys); call it with batched inputs."
            )
        if module.bias_k is not None or module.add_zero_attn:
            raise InputError(
                f"attention layer {name!r} uses add_bias_kv or add_zero_attn, which add a key "
                "that is no token; whybox reads MultiheadAttention layers without them."
            )
        if replay:
            if not weights.requires_grad:
                weights = weights.detach().requires_grad_(True)
            attn_out = _replay_attention(module, args[2], weights)
        records.append((name, weights, kwargs.get("key_padding_mask")))
        if not need:
            return attn_out, None
        return attn_out, weights.mean(dim=1) if average else weights

    handles = []
    fast = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        for module in layers:
            handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(module.register_forward_hook(hook, with_kwargs=True))
        yield records
    finally:
        for handle in handles:
            handle.remove()
        torch.backends.mha.set_fastpath_enabled(fast)


def _replay_attention(module: Any, value: Any, weights: Any) -> Any:
    """``out_proj(weights @ V)`` for a MultiheadAttention layer: its output, from its weights."""
    torch = import_torch()
    f = torch.nn.functional
    e, h = module.embed_dim, module.num_heads
    if module._qkv_same_embed_dim:
        w_v = module.in_proj_weight[2 * e :]
    else:
        w_v = module.v_proj_weight
    b_v = None if module.in_proj_bias is None else module.in_proj_bias[2 * e :]
    if not module.batch_first:
        value = value.transpose(0, 1)  # (S, N, E) -> (N, S, E)
    v = f.linear(value, w_v, b_v)
    n, s, _ = v.shape
    v = v.reshape(n, s, h, e // h).transpose(1, 2)  # (N, H, S, d)
    mixed = (weights.to(v.dtype) @ v).transpose(1, 2).reshape(n, weights.shape[2], e)
    out = f.linear(mixed, module.out_proj.weight, module.out_proj.bias)
    return out if module.batch_first else out.transpose(0, 1)


# ---------------------------------------------------------------------- helpers
def _is_huggingface(module: Any) -> bool:
    transformers = sys.modules.get("transformers")
    if transformers is None:
        return False
    base = getattr(transformers, "PreTrainedModel", None)
    return base is not None and isinstance(module, base)


@contextlib.contextmanager
def _input_embeddings_need_grad(module: Any, want_grad: bool) -> Iterator[None]:
    """Make the embeddings need a gradient when every parameter is frozen.

    Otherwise the attention of a frozen model fed token ids would not be part of any
    graph and its gradient could not be taken.
    """
    if not want_grad or any(p.requires_grad for p in module.parameters()):
        yield
        return
    embeddings = module.get_input_embeddings()

    def hook(mod: Any, args: Any, out: Any) -> Any:
        return out.detach().requires_grad_(True)

    handle = embeddings.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _prepare_inputs(model: TorchModel, inputs: Any) -> tuple[str, Any, int]:
    """("mapping" or "tensor", tensors on the model's device, n_samples)."""
    torch = import_torch()
    if isinstance(inputs, Mapping):
        items = {str(k): _as_tensor(model, v, f"inputs[{k!r}]") for k, v in inputs.items()}
        sizes = {v.shape[0] for v in items.values() if isinstance(v, torch.Tensor) and v.ndim}
        if not sizes:
            raise InputError(
                "inputs is a mapping without any tensor; pass the tokenizer's output with "
                "return_tensors='pt', e.g. tokenizer(texts, padding=True, return_tensors='pt')."
            )
        n = int(max(sizes))
        if n == 0:
            raise InputError("inputs has no samples; give at least one.")
        return "mapping", items, n
    x = _as_tensor(model, inputs, "inputs")
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise InputError(
            "inputs must be a mapping of tensors (a tokenizer's output) or a tensor of shape "
            f"(n_samples, n_tokens, ...), got {type(inputs).__name__} of shape "
            f"{tuple(getattr(x, 'shape', ()))}; add a sample axis with inputs[None]."
        )
    if x.shape[0] == 0:
        raise InputError("inputs has no samples; give at least one.")
    return "tensor", x, int(x.shape[0])


def _as_tensor(model: TorchModel, value: Any, name: str) -> Any:
    """A tensor on the model's device (floats in the model's dtype); other values as given."""
    torch = import_torch()
    if isinstance(value, torch.Tensor):
        if value.device != model.device:
            raise InputError(
                f"{name} is on device {value.device} but the model is on {model.device}; move "
                f"it, e.g. {name}.to('{model.device}')."
            )
        t = value.detach()
    elif isinstance(value, (np.ndarray, list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError:
            arr = np.asarray(value, dtype=object)
        if arr.dtype.kind not in "biuf":
            raise InputError(
                f"{name} must be numeric (token ids or embeddings) of one shape, got "
                f"{type(value).__name__} with {arr.dtype} entries; pad the sequences, e.g. "
                "tokenizer(texts, padding=True, return_tensors='pt')."
            )
        t = torch.as_tensor(arr, device=model.device)
    else:
        return value
    if torch.is_floating_point(t):
        dtype = model.parameter_dtype()
        if dtype is not None and t.dtype != dtype:
            t = t.to(dtype)
    return t


def _is_sample_tensor(value: Any, n: int) -> bool:
    torch = import_torch()
    return isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == n


def _token_ids(kind: str, inputs: Any) -> np.ndarray | None:
    torch = import_torch()
    ids = inputs.get("input_ids") if kind == "mapping" else inputs
    if isinstance(ids, torch.Tensor) and ids.ndim == 2 and not torch.is_floating_point(ids):
        return ids.cpu().numpy().astype(np.int64)
    return None


def _check_square(attn: list[Any], names: Sequence[str]) -> None:
    first = tuple(attn[0].shape)
    for a, name in zip(attn, names, strict=True):
        shape = tuple(a.shape)
        if shape[-1] != shape[-2]:
            raise InputError(
                f"attention layer {name!r} has {shape[-2]} queries and {shape[-1]} keys; whybox "
                "reads self-attention over one token sequence (queries = keys), not "
                "cross-attention."
            )
        if shape != first:
            raise InputError(
                f"attention layer {name!r} has weights of shape {shape} but the first layer "
                f"{first}; whybox stacks layers with the same number of heads and tokens."
            )


def _padding_from_key_mask(mask: Any, weights: Any) -> np.ndarray | None:
    """True at padding, from a MultiheadAttention key_padding_mask (bool or additive float)."""
    torch = import_torch()
    if mask is None or tuple(mask.shape) != (weights.shape[0], weights.shape[-1]):
        return None
    if mask.dtype == torch.bool:
        return mask.cpu().numpy().copy()
    m = mask.detach().cpu().double().numpy()
    return ~np.isfinite(m) | (m < -1e4)


def _padding_from_attention_mask(mask: Any) -> np.ndarray | None:
    torch = import_torch()
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
        return None
    return mask.detach().cpu().numpy() == 0


def _output_tensor(out: Any) -> Any:
    """The explained tensor of a model's output: logits, the tensor itself, or element 0."""
    torch = import_torch()
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) or hasattr(out, "to_tuple"):
        first = out[0]
        if isinstance(first, torch.Tensor):
            return first
    raise InputError(
        f"the model returned {type(out).__name__}, with no tensor to explain; wrap it in a "
        "module that returns the output tensor (n_samples, n_outputs)."
    )


def _float64(t: Any) -> np.ndarray:
    return t.detach().cpu().to(dtype=import_torch().float64).numpy()


def _check_maps(maps: Any, name: str) -> AttentionMaps:
    if not isinstance(maps, AttentionMaps):
        raise InputError(
            f"{name} takes AttentionMaps, got {type(maps).__name__}; pass the result of "
            "whybox.gradients.attention_weights(model, inputs)."
        )
    return maps


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


def _query_param(query: Any) -> Any:
    """The query as JSON: a string, an int, or a list of ints."""
    if isinstance(query, str):
        return query
    if isinstance(query, (int, np.integer)):
        return int(query)
    return [int(q) for q in np.asarray(query).reshape(-1)]


def _query_rows(matrix: np.ndarray, query: Any, padding: np.ndarray) -> np.ndarray:
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
