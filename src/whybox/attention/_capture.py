"""Capturing the attention weights of a transformer during its forward pass.

Two kinds of models are read:

* Hugging Face transformers (``transformers.PreTrainedModel``): called with
  ``output_attentions=True``; the returned ``attentions`` (one tensor (n, heads, T, T)
  per layer) are the softmax probabilities the model multiplies its values with.
* any ``torch.nn.Module`` built from ``torch.nn.MultiheadAttention`` layers (for
  example ``nn.TransformerEncoderLayer``): for the duration of the call, hooks make
  every attention layer return its per-head weights (``need_weights=True,
  average_attn_weights=False``) and hand its caller exactly what it asked for; the
  hooks, and PyTorch's fused "fast path" setting, are restored afterwards.

:class:`AttentionRun` runs a model on its inputs in batches and collects the weights
(and, for :func:`~whybox.attention.attention_x_gradient`, their gradients).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import check_batch_size
from whybox._version import __version__
from whybox.adapters._torch import (
    TorchModel,
    adapt_torch_model,
    batches,
    import_torch,
    output_matrix,
)
from whybox.attention._maps import AttentionMaps

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
        was called with, else no padding. Given with token ids but no
        ``attention_mask`` for a Hugging Face model, it is also passed to the model
        as its ``attention_mask`` (1 at real tokens), so the padding is masked out.
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

    Warns
    -----
    UserWarning
        A Hugging Face model given token ids that hold its padding id
        (``config.pad_token_id``) without an attention mask or ``padding_mask``: the
        model attends to the padding, so its weights mix the padding in.

    Examples
    --------
    A two-layer encoder with two heads, on two sequences of 5 token embeddings:

    >>> import numpy as np
    >>> import torch
    >>> from whybox.attention import attention_weights
    >>> _ = torch.manual_seed(0)
    >>> layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    >>> model = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    >>> maps = attention_weights(model, torch.randn(2, 5, 8))
    >>> maps.shape  # (n_samples, n_layers, n_heads, n_tokens, n_tokens)
    (2, 2, 2, 5, 5)
    >>> maps.layer_names
    ('layers.0.self_attn', 'layers.1.self_attn')
    >>> bool(np.allclose(maps.weights.sum(axis=-1), 1.0))  # softmax rows over the keys
    True
    """
    run = AttentionRun(model, inputs, batch_size=batch_size, padding_mask=padding_mask)
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


# ---------------------------------------------------------------------- the model run
class AttentionRun:
    """One model, one set of inputs: run in batches, capture attention (and gradients)."""

    def __init__(
        self,
        model: Any,
        inputs: Any,
        *,
        batch_size: int | None,
        output_names: Sequence[str] | None = None,
        padding_mask: Any = None,
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
        if self.source == "huggingface":
            self._mask_for_huggingface(padding_mask)
        self.gradients: np.ndarray = np.empty(0)
        self.model_output: np.ndarray = np.empty(0)
        self.resolved_target: Any = None
        self.n_outputs = 0

    def _mask_for_huggingface(self, padding_mask: Any) -> None:
        """Give a Hugging Face model its attention mask, or warn that padding is attended.

        Token ids without an ``attention_mask`` make a Hugging Face model attend to
        its padding tokens. A given ``padding_mask`` is passed to the model as the
        attention mask (``1`` at real tokens); otherwise, when the ids hold the
        model's padding id (``config.pad_token_id``), a warning says so.
        """
        torch = import_torch()
        if self.kind == "mapping" and self.inputs.get("attention_mask") is not None:
            return
        if self.token_ids is None:
            return
        ids = self.inputs["input_ids"] if self.kind == "mapping" else self.inputs
        if padding_mask is not None:
            mask = self.padding(padding_mask, None, int(ids.shape[1]))
            attention_mask = torch.as_tensor(~mask, device=ids.device).long()
            base = dict(self.inputs) if self.kind == "mapping" else {"input_ids": ids}
            self.kind, self.inputs = "mapping", {**base, "attention_mask": attention_mask}
            return
        pad_id = getattr(getattr(self.module, "config", None), "pad_token_id", None)
        if isinstance(pad_id, int) and bool(np.any(self.token_ids == pad_id)):
            warnings.warn(
                f"inputs holds padding tokens (id {pad_id}) but no attention mask, so the "
                "model attends to its padding and the weights mix it in; pass the mask "
                "with the ids, inputs={'input_ids': ids, 'attention_mask': mask} (a "
                "tokenizer's output as it is), or padding_mask=.",
                UserWarning,
                stacklevel=4,
            )

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
        targets = self.torch_model.target_rows(target, self.n)
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
        t = model.on_device(value, name)
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
    return model.in_parameter_dtype(t) if torch.is_floating_point(t) else t


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
