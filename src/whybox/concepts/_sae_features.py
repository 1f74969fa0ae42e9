"""Feature views of a sparse autoencoder, and the model plumbing its training shares.

- :func:`top_activations`: the inputs (and token positions) where each latent fires
  most, collected over a stream with a running top-k (bounded memory).
- :func:`logit_attribution`: each latent's effect on the outputs, the derivative of
  the outputs along its decoder row added at the layer.
- :func:`steer`: the outputs with a latent clamped to a value during the forward pass.

The plumbing (``as_batch``, ``call_module``, ``model_activation_chunks``,
``vector_chunks``, ...) reads activation vectors from arrays, iterables of arrays or
a ``(model, layer, inputs)`` tuple, for :mod:`whybox.concepts._sae` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_int
from whybox.adapters._torch import TorchModel, adapt_torch_model, import_torch
from whybox.concepts._activations import hooked, layer_name

#: Inputs per model call when ``inputs`` is one array or tensor.
INPUT_BLOCK = 64


class StopForward(Exception):
    """Raised by a capture hook to end a forward pass at the layer."""


# ---------------------------------------------------------------------- model calls
def as_batch(model: TorchModel, batch: Any) -> Any:
    """One batch of model inputs on the model's device: a tensor, a tuple or a mapping.

    Floating arrays take the model's parameter dtype; integer arrays (token ids)
    stay integers; tensors must already be on the model's device.
    """
    torch = import_torch()
    if isinstance(batch, Mapping):
        return {key: as_batch(model, value) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return tuple(as_batch(model, value) for value in batch)
    if isinstance(batch, torch.Tensor):
        t = model.on_device(batch, "inputs")
    else:
        arr = np.asarray(batch)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise InputError(
                f"inputs must hold numeric arrays or tensors, got {type(batch).__name__} "
                f"of dtype {arr.dtype}; give token ids or numbers."
            )
        t = torch.as_tensor(np.ascontiguousarray(arr), device=model.device)
    return model.in_parameter_dtype(t) if torch.is_floating_point(t) else t


def call_module(model: TorchModel, batch: Any, extra: tuple[Any, ...] = ()) -> Any:
    """The module's raw output on one prepared batch (``as_batch``).

    A tuple is several forward arguments; ``extra`` (``additional_forward_args``)
    follows the inputs unchanged, as captum passes it.
    """
    if isinstance(batch, dict):
        return model.module(*extra, **batch)
    if isinstance(batch, tuple):
        return model.module(*batch, *extra)
    return model.module(batch, *extra)


def extra_args(additional_forward_args: Any) -> tuple[Any, ...]:
    """``additional_forward_args`` as a tuple (None: none; one object: a 1-tuple)."""
    if additional_forward_args is None:
        return ()
    if isinstance(additional_forward_args, tuple):
        return additional_forward_args
    return (additional_forward_args,)


def output_logits(out: Any) -> Any:
    """The logits tensor in a module's output: ``.logits``, the first element, or itself."""
    torch = import_torch()
    if hasattr(out, "logits"):
        out = out.logits
    elif isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim < 1:
        raise InputError(
            f"the model returned {type(out).__name__}, not a tensor of outputs; wrap it "
            "in a module that returns logits of shape (n_samples, n_outputs) or "
            "(n_samples, n_tokens, n_outputs)."
        )
    return out if out.ndim > 1 else out[:, None]


def batch_rows(batch: Any) -> int:
    """The number of inputs in one prepared batch."""
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch
    first = first[0] if isinstance(first, tuple) else first
    return int(first.shape[0])


def batch_mask(batch: Any, activation: Any) -> Any:
    """The token mask (n, n_tokens) of a mapping batch with ``attention_mask`` when the
    activation has that token axis, else None."""
    if not isinstance(batch, dict) or "attention_mask" not in batch:
        return None
    mask = batch["attention_mask"]
    if activation.ndim == 3 and tuple(mask.shape) == tuple(activation.shape[:2]):
        return mask != 0
    return None


def input_batches(inputs: Any) -> Iterable[Any]:
    """``inputs`` as an iterable of batches (one array or tensor is cut into blocks)."""
    torch = import_torch()
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        if inputs.ndim < 1 or len(inputs) == 0:
            raise InputError(f"inputs has shape {tuple(inputs.shape)}; give one input or more.")
        return [inputs[i : i + INPUT_BLOCK] for i in range(0, len(inputs), INPUT_BLOCK)]
    if isinstance(inputs, Mapping) or not isinstance(inputs, Iterable):
        raise InputError(
            f"inputs must be an array or tensor of inputs, or an iterable of batches (a "
            f"DataLoader), got {type(inputs).__name__}; e.g. (model, 'layer', loader)."
        )
    return inputs


class LayerCapture:
    """A forward hook recording a layer's activation; may stop the pass or replace it."""

    def __init__(self, name: str, *, stop: bool = False) -> None:
        self.name = name
        self.stop = stop
        self.replace: Any = None
        self.value: Any = None

    def __call__(self, module: Any, inputs: Any, output: Any) -> Any:
        torch = import_torch()
        value = output[0] if isinstance(output, (tuple, list)) and output else output
        if not isinstance(value, torch.Tensor) or value.ndim < 2:
            raise InputError(
                f"layer {self.name!r} returns {type(value).__name__}, not a tensor of "
                "activation vectors (n_samples, ..., d); choose a layer whose output (or "
                "its first element) is one."
            )
        self.value = value
        if self.stop:
            raise StopForward
        if self.replace is None:
            return None
        new = self.replace(value)
        self.value = new  # what the rest of the network reads (a leaf for gradients)
        if isinstance(output, tuple):
            return (new, *output[1:])
        if isinstance(output, list):
            return [new, *output[1:]]
        return new


def resolve_model_layer(model: Any, layer: Any) -> tuple[TorchModel, Any, str]:
    """The adapted model, the layer's module and its dotted name."""
    tm = adapt_torch_model(model)
    module = tm.layer(layer)
    return tm, module, layer_name(tm, module)


def model_activation_chunks(model: Any, layer: Any, inputs: Any) -> Iterator[tuple[Any, Any, Any]]:
    """Per batch of inputs: (prepared batch, layer activation tensor, token mask or None).

    The forward pass stops at the layer (later layers never run).
    """
    torch = import_torch()
    tm, module, name = resolve_model_layer(model, layer)
    capture = LayerCapture(name, stop=True)
    for raw in input_batches(inputs):
        batch = as_batch(tm, raw)
        with tm.evaluation(), hooked(module, capture), torch.no_grad():
            try:
                call_module(tm, batch)
            except StopForward:
                pass
        if capture.value is None:
            raise InputError(
                f"layer {name!r} was not called during the model's forward pass; choose a "
                "submodule that the forward pass uses."
            )
        activation, capture.value = capture.value, None
        yield batch, activation, batch_mask(batch, activation)


def vectors(activation: Any, mask: Any) -> Any:
    """A layer activation (n, ..., d) as a matrix of vectors (rows, d), masked tokens out."""
    if mask is not None:
        return activation[mask]
    return activation.reshape(-1, activation.shape[-1])


# ---------------------------------------------------------------------- activation sources
def is_model_source(activations: Any) -> bool:
    """Whether ``activations`` is a ``(model, layer, inputs)`` tuple."""
    if not isinstance(activations, tuple) or len(activations) != 3:
        return False
    try:
        torch = import_torch()
    except Exception:  # pragma: no cover - without torch nothing here runs
        return False
    return isinstance(activations[0], (torch.nn.Module, TorchModel))


def as_matrix(chunk: Any, name: str) -> Any:
    """One chunk of activation vectors as a float32 CPU-or-device tensor (rows, d)."""
    torch = import_torch()
    if isinstance(chunk, torch.Tensor):
        t = chunk.detach()
    else:
        arr = np.asarray(chunk)
        if arr.dtype.kind not in "biuf":
            raise InputError(
                f"{name} must hold numbers, got dtype {arr.dtype}; give activation "
                "vectors of shape (n_samples, d)."
            )
        t = torch.as_tensor(np.ascontiguousarray(arr, dtype=np.float32))
    if t.ndim < 2:
        raise InputError(
            f"{name} must be activation vectors of shape (n_samples, d), got shape "
            f"{tuple(t.shape)}; add a sample axis."
        )
    t = t.reshape(-1, t.shape[-1]).to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} contains NaN or infinite values; drop those vectors.")
    return t


def is_array(activations: Any) -> bool:
    torch = import_torch()
    return isinstance(activations, (np.ndarray, torch.Tensor)) or (
        hasattr(activations, "shape") and hasattr(activations, "__getitem__")
    )


def vector_chunks(activations: Any, name: str = "activations") -> Iterator[Any]:
    """Activation vectors in chunks (rows, d) from any source, in order (no shuffling)."""
    if is_model_source(activations):
        model, layer, inputs = activations
        for _, activation, mask in model_activation_chunks(model, layer, inputs):
            yield vectors(activation, mask).to(import_torch().float32)
        return
    if is_array(activations):
        n = len(activations)
        if n == 0:
            raise InputError(f"{name} has no vectors; give at least one row.")
        step = 65536
        for start in range(0, n, step):
            yield as_matrix(activations[start : start + step], name)
        return
    if isinstance(activations, Iterable) and not isinstance(activations, (str, bytes, Mapping)):
        for chunk in activations:
            yield as_matrix(chunk, name)
        return
    raise InputError(
        f"{name} must be an array (n_samples, d), an iterable of such arrays, or a tuple "
        f"(model, layer, inputs), got {type(activations).__name__}."
    )


def activation_blocks(activations: Any) -> Iterator[tuple[Any, Any]]:
    """(activation tensor (n, ..., d), token mask or None) per block of samples.

    From a ``(model, layer, inputs)`` tuple (one block per batch of inputs) or an
    array / tensor of activations (n, ..., d) in blocks of 4096 samples.
    """
    torch = import_torch()
    if is_model_source(activations):
        model, layer, inputs = activations
        for _, activation, mask in model_activation_chunks(model, layer, inputs):
            yield activation.to(torch.float32), mask
        return
    if not is_array(activations):
        raise InputError(
            "activations must be an array of shape (n_samples, ..., d) or a tuple (model, "
            f"layer, inputs), got {type(activations).__name__}."
        )
    if activations.ndim < 2 or len(activations) == 0:
        raise InputError(
            f"activations must have shape (n_samples, ..., d) with samples, got shape "
            f"{tuple(activations.shape)}."
        )
    for start in range(0, len(activations), 4096):
        block = activations[start : start + 4096]
        t = (
            block.detach()
            if isinstance(block, torch.Tensor)
            else torch.as_tensor(np.asarray(block))
        )
        yield t.to(torch.float32), None


def _latent_list(latents: Any, n_latents: int) -> np.ndarray:
    """``latents`` (None = all, an int or a sequence of ints) as an int64 array."""
    if latents is None:
        return np.arange(n_latents)
    arr = np.atleast_1d(np.asarray(latents))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"latents must be None, an int or a non-empty sequence of ints, got "
            f"{latents!r}; e.g. latents=[0, 5]."
        )
    bad = (arr < 0) | (arr >= n_latents)
    if bool(bad.any()):
        raise InputError(
            f"latent {int(arr[bad][0])} is out of range: the SAE has {n_latents} latents "
            f"(0..{n_latents - 1})."
        )
    return arr.astype(np.int64)


# ---------------------------------------------------------------------- top activations
@dataclass(frozen=True, eq=False)
class TopActivations(Result):
    """The strongest activations of each latent and where they occurred.

    Attributes
    ----------
    latents : ndarray of shape (n_shown,), int64
        The latents reported, one row of the arrays below each.
    activation : ndarray of shape (n_shown, top_k), float64
        The latent's largest values, in decreasing order (NaN past the vectors seen,
        and for values of 0: a latent that never fires has none).
    sample : ndarray of shape (n_shown, top_k), int64
        The input (sample) each value came from; -1 where ``activation`` is NaN.
    position : ndarray of shape (n_shown, top_k), int64
        The position within the sample (the flat index over the axes between the
        samples and the vector: the token of a sequence); 0 for activations
        (n_samples, d); -1 where ``activation`` is NaN.
    token : tuple of tuple of str
        With ``tokens``: the token at each (sample, position), else empty strings.
    params : dict
        ``top_k`` and the number of vectors read.
    """

    latents: np.ndarray
    activation: np.ndarray
    sample: np.ndarray
    position: np.ndarray
    token: tuple[tuple[str, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (latent, rank) with a value: sample, position, token, activation."""
        rows = []
        for i, latent in enumerate(self.latents):
            for rank in range(self.activation.shape[1]):
                if np.isnan(self.activation[i, rank]):
                    continue
                rows.append(
                    {
                        "latent": int(latent),
                        "rank": rank,
                        "sample": int(self.sample[i, rank]),
                        "position": int(self.position[i, rank]),
                        "token": self.token[i][rank],
                        "activation": float(self.activation[i, rank]),
                    }
                )
        columns = ["latent", "rank", "sample", "position", "token", "activation"]
        return pd.DataFrame(rows, columns=columns)


def top_activations(
    sae: Any,
    activations: Any,
    *,
    latents: Any = None,
    top_k: int = 10,
    tokens: Any = None,
) -> TopActivations:
    """The inputs and tokens on which each latent fires most (see the method)."""
    torch = import_torch()
    chosen = _latent_list(latents, sae.n_latents)
    top_k = check_int(top_k, "top_k", 1, "top_k=10")
    index = torch.as_tensor(chosen)
    best = torch.full((len(chosen), 0), float("-inf"), dtype=torch.float64)
    where = torch.zeros((len(chosen), 0), dtype=torch.long)
    offset, n_vectors, width = 0, 0, 1
    for activation, mask in activation_blocks(activations):
        n = activation.shape[0]
        width = int(np.prod(activation.shape[1:-1], dtype=np.int64)) if activation.ndim > 2 else 1
        flat = activation.reshape(n * width, activation.shape[-1])
        with torch.no_grad():
            z = sae._encode_tensor(flat.to(sae_device(sae)))[:, index].to(torch.float64).cpu()
        if mask is not None:
            z[~mask.reshape(-1).cpu()] = float("-inf")
        n_vectors += int(mask.sum()) if mask is not None else n * width
        ids = (torch.arange(n) + offset)[:, None] * width + torch.arange(width)[None, :]
        ids = ids.reshape(-1)
        keep = min(top_k, z.shape[0])
        values, rows = z.topk(keep, dim=0)  # (keep, n_shown)
        candidates = torch.cat([best, values.T], dim=1)
        candidate_ids = torch.cat([where, ids[rows].T], dim=1)
        keep = min(top_k, candidates.shape[1])
        best, order = candidates.topk(keep, dim=1)
        where = candidate_ids.gather(1, order)
        offset += n
    fired = best > 0
    activation = np.where(fired.numpy(), best.numpy(), np.nan)
    sample = np.where(fired.numpy(), (where // width).numpy(), -1)
    position = np.where(fired.numpy(), (where % width).numpy(), -1)
    pad = top_k - activation.shape[1]
    if pad > 0:
        activation = np.pad(activation, ((0, 0), (0, pad)), constant_values=np.nan)
        sample = np.pad(sample, ((0, 0), (0, pad)), constant_values=-1)
        position = np.pad(position, ((0, 0), (0, pad)), constant_values=-1)
    token = tuple(
        tuple(_token_at(tokens, int(s), int(p)) for s, p in zip(srow, prow, strict=True))
        for srow, prow in zip(sample, position, strict=True)
    )
    return TopActivations(
        latents=chosen,
        activation=activation,
        sample=sample.astype(np.int64),
        position=position.astype(np.int64),
        token=token,
        params={"top_k": top_k, "n_vectors": n_vectors},
    )


def _token_at(tokens: Any, sample: int, position: int) -> str:
    if tokens is None or sample < 0:
        return ""
    try:
        return str(tokens[sample][position])
    except (IndexError, KeyError, TypeError):
        raise InputError(
            f"tokens has no token at sample {sample}, position {position}; give per sample "
            "the token strings of every position (padding included)."
        ) from None


def sae_device(sae: Any) -> Any:
    """The device of the SAE's weights."""
    return sae._require_fitted()["W_dec"].device


# ---------------------------------------------------------------------- outputs
def _prepared_inputs(model: TorchModel, X: Any, batch_size: int | None) -> list[Any]:  # noqa: N803
    """``X`` as prepared batches: an array/tensor in blocks, a tuple of them (one per
    forward argument) in blocks, a mapping in blocks, or a list of batches as given."""
    torch = import_torch()
    if isinstance(X, (np.ndarray, torch.Tensor)):
        step = batch_size or INPUT_BLOCK
        return [as_batch(model, X[i : i + step]) for i in range(0, len(X), step)]
    if isinstance(X, tuple) and X and all(isinstance(a, (np.ndarray, torch.Tensor)) for a in X):
        n = len(X[0])
        if any(len(a) != n for a in X):
            raise InputError(
                f"X is a tuple of inputs with {[len(a) for a in X]} samples; give every "
                "input the same number of samples."
            )
        step = batch_size or INPUT_BLOCK
        return [as_batch(model, tuple(a[i : i + step] for a in X)) for i in range(0, n, step)]
    if isinstance(X, Mapping):
        n = batch_rows(as_batch(model, X))
        step = batch_size or INPUT_BLOCK
        return [
            as_batch(model, {k: v[i : i + step] for k, v in X.items()}) for i in range(0, n, step)
        ]
    return [as_batch(model, b) for b in input_batches(X)]


def _output_columns(out: Any, target: Any) -> tuple[Any, np.ndarray]:
    """The outputs (n, n_outputs) flattened over non-sample axes, and the chosen columns."""
    flat = out.reshape(out.shape[0], -1)
    n_out = flat.shape[1]
    if target is None:
        return flat, np.arange(n_out)
    arr = np.atleast_1d(np.asarray(target))
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
        raise InputError(
            f"target must be None, an output index or a sequence of them, got {target!r}."
        )
    bad = (arr < 0) | (arr >= n_out)
    if bool(bad.any()):
        raise InputError(
            f"target {int(arr[bad][0])} is out of range: the model has {n_out} outputs "
            f"(0..{n_out - 1})."
        )
    return flat, arr.astype(np.int64)


@dataclass(frozen=True, eq=False)
class LogitAttribution(Result):
    """Each latent's effect on the outputs: the derivative along its decoder row.

    Attributes
    ----------
    latents : ndarray of shape (n_shown,), int64
    outputs : ndarray of shape (n_targets,), int64
        The output columns (the model's outputs flattened over non-sample axes).
    effect : ndarray of shape (n_shown, n_targets), float64
        ``d f_o(h + eps * W_dec[i]) / d eps`` at ``eps = 0``, the direction added at
        every position of the layer, averaged over the inputs. When the model after
        the layer is linear (a linear readout), this is ``W_dec[i]`` pushed through
        that readout, the same for every input.
    params : dict
    """

    latents: np.ndarray
    outputs: np.ndarray
    effect: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (latent, output) with the effect."""
        n_l, n_o = self.effect.shape
        return pd.DataFrame(
            {
                "latent": np.repeat(self.latents, n_o),
                "output": np.tile(self.outputs, n_l),
                "effect": self.effect.ravel(),
            }
        )


def logit_attribution(
    sae: Any,
    model: Any,
    layer: Any,
    X: Any,  # noqa: N803
    *,
    latents: Any = None,
    target: Any = None,
    additional_forward_args: Any = None,
    batch_size: int | None = None,
) -> LogitAttribution:
    """Each latent's effect on the outputs (see the method)."""
    torch = import_torch()
    extra = extra_args(additional_forward_args)
    tm, module, name = resolve_model_layer(model, layer)
    chosen = _latent_list(latents, sae.n_latents)
    capture = LayerCapture(name)
    capture.replace = lambda value: value.detach().requires_grad_(True)
    directions = sae._require_fitted()["W_dec"].detach()[torch.as_tensor(chosen)]
    total, n_seen, columns = None, 0, None
    with tm.evaluation(), hooked(module, capture), torch.enable_grad():
        for batch in _prepared_inputs(tm, X, batch_size):
            out = output_logits(call_module(tm, batch, extra))
            activation = capture.value
            flat, columns = _output_columns(out, target)
            if len(columns) > 256 and target is None:
                raise InputError(
                    f"the model has {len(columns)} outputs; choose the ones to attribute "
                    "with target (an index or a list), e.g. target=[0, 1]."
                )
            mask = batch_mask(batch, activation)
            grads = []
            for j, col in enumerate(columns):
                (g,) = torch.autograd.grad(
                    flat[:, int(col)].sum(),
                    activation,
                    retain_graph=j < len(columns) - 1,
                    allow_unused=True,
                )
                g = torch.zeros_like(activation) if g is None else g
                if mask is not None:
                    g = g * mask[..., None]
                grads.append(g.reshape(-1, g.shape[-1]).sum(dim=0))
            summed = torch.stack(grads).to(torch.float64)  # (n_targets, d)
            total = summed if total is None else total + summed
            n_seen += batch_rows(batch)
    effect = directions.to(torch.float64).cpu() @ (total.cpu() / n_seen).T
    return LogitAttribution(
        latents=chosen,
        outputs=columns,
        effect=effect.numpy(),
        params={"layer": name, "n_samples": n_seen},
    )


# ---------------------------------------------------------------------- steering
@dataclass(frozen=True, eq=False)
class SteeringResult(Result):
    """The model's outputs with a latent clamped, beside the clean outputs.

    Attributes
    ----------
    latent : int
        The clamped latent.
    value : float
        The value it was clamped to.
    clean_output : ndarray of shape (n_samples, n_outputs), float64
        The outputs without intervention (flattened over non-sample axes).
    steered_output : ndarray of shape (n_samples, n_outputs), float64
        The outputs with the latent clamped.
    latent_activation : ndarray of shape (n_samples,), float64
        The latent's mean value over the steered positions of each sample, before
        clamping.
    params : dict
        The layer and the positions.
    """

    latent: int
    value: float
    clean_output: np.ndarray
    steered_output: np.ndarray
    latent_activation: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> np.ndarray:
        """``steered_output - clean_output``, shape (n_samples, n_outputs)."""
        return self.steered_output - self.clean_output

    def to_frame(self) -> pd.DataFrame:
        """One row per (sample, output): clean, steered and the change."""
        n, n_o = self.clean_output.shape
        return pd.DataFrame(
            {
                "sample": np.repeat(np.arange(n), n_o),
                "output": np.tile(np.arange(n_o), n),
                "clean": self.clean_output.ravel(),
                "steered": self.steered_output.ravel(),
                "change": self.change.ravel(),
            }
        )


def steer(
    sae: Any,
    model: Any,
    layer: Any,
    X: Any,  # noqa: N803
    latent: int,
    value: float,
    *,
    positions: Any = None,
    additional_forward_args: Any = None,
    batch_size: int | None = None,
) -> SteeringResult:
    """The outputs with one latent clamped to ``value`` (see the method)."""
    torch = import_torch()
    extra = extra_args(additional_forward_args)
    tm, module, name = resolve_model_layer(model, layer)
    latent = int(_latent_list(latent, sae.n_latents)[0])
    if isinstance(value, bool) or not np.isfinite(np.asarray(value, dtype=float)).all():
        raise InputError(f"value must be a finite number, got {value!r}; e.g. value=5.0.")
    value = float(value)
    direction = sae._require_fitted()["W_dec"].detach()[latent]
    capture = LayerCapture(name)
    before: list[Any] = []

    def clamp(activation: Any) -> Any:
        flat = activation.reshape(-1, activation.shape[-1]).to(torch.float32)
        z = sae._encode_tensor(flat)[:, latent].reshape(activation.shape[:-1])
        select = _position_mask(positions, activation, name)
        if mask_now[0] is not None:
            select = select & mask_now[0]
        counts = select.reshape(len(select), -1).sum(dim=1).clamp_min(1)
        before.append((z * select).reshape(len(select), -1).sum(dim=1) / counts)
        shift = (value - z) * select
        return activation + (shift[..., None] * direction.to(activation)).to(activation.dtype)

    mask_now: list[Any] = [None]
    clean, steered = [], []
    with tm.evaluation(), hooked(module, capture), torch.no_grad():
        for batch in _prepared_inputs(tm, X, batch_size):
            capture.replace = None
            out = output_logits(call_module(tm, batch, extra))
            mask_now[0] = batch_mask(batch, capture.value)
            clean.append(out.reshape(out.shape[0], -1).to(torch.float64).cpu())
            capture.replace = clamp
            out = output_logits(call_module(tm, batch, extra))
            steered.append(out.reshape(out.shape[0], -1).to(torch.float64).cpu())
            capture.replace = None
    return SteeringResult(
        latent=latent,
        value=value,
        clean_output=torch.cat(clean).numpy(),
        steered_output=torch.cat(steered).numpy(),
        latent_activation=torch.cat(before).to(torch.float64).cpu().numpy(),
        params={
            "layer": name,
            "positions": None if positions is None else np.asarray(positions).tolist(),
        },
    )


def _position_mask(positions: Any, activation: Any, name: str) -> Any:
    """Boolean (n, ...) over the activation's positions: all, or the given token indices."""
    torch = import_torch()
    shape = tuple(activation.shape[:-1])
    if positions is None:
        return torch.ones(shape, dtype=torch.bool, device=activation.device)
    if len(shape) < 2:
        raise InputError(
            f"positions were given but layer {name!r} has one vector per sample; leave "
            "positions=None."
        )
    arr = np.atleast_1d(np.asarray(positions))
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"positions must be an int or a sequence of ints, got {positions!r}.")
    bad = (arr < -shape[1]) | (arr >= shape[1])
    if bool(bad.any()):
        raise InputError(
            f"positions {int(arr[bad][0])} is out of range for layer {name!r}, whose "
            f"activations have {shape[1]} positions."
        )
    mask = torch.zeros(shape, dtype=torch.bool, device=activation.device)
    mask[:, torch.as_tensor(arr % shape[1])] = True
    return mask
