"""A layer's activations, their gradients and patched forward passes, in batches.

Every function here attaches a forward hook to one submodule of a
:class:`~whybox.adapters._torch.TorchModel`, runs the model in batches of
``batch_size`` inputs and removes the hook in a ``finally`` block, so an error in
the model never leaves a hook behind. The activation of a layer is its forward
output (the first element when the layer returns a tuple, as Hugging Face blocks
do), of shape (batch, *activation_shape).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.adapters._torch import TorchModel, batches, forward_args_rows, import_torch


def layer_name(model: TorchModel, module: Any) -> str:
    """The dotted name of ``module`` in the model (``"<model>"`` for the model itself)."""
    for name, candidate in model.module.named_modules():
        if candidate is module:
            return name or "<model>"
    return type(module).__name__  # pragma: no cover - model.layer() checked membership


def _first_tensor(output: Any, name: str) -> Any:
    """The activation tensor in a layer's forward output."""
    torch = import_torch()
    value = output[0] if isinstance(output, (tuple, list)) and len(output) > 0 else output
    if not isinstance(value, torch.Tensor):
        raise InputError(
            f"layer {name!r} returns {type(value).__name__}, not a tensor; choose a layer "
            "whose forward output (or its first element) is a tensor of shape "
            "(n_samples, ...)."
        )
    return value


def _replace_first(output: Any, value: Any) -> Any:
    """The layer's forward output with its activation tensor replaced by ``value``."""
    if isinstance(output, tuple):
        return (value, *output[1:])
    if isinstance(output, list):
        return [value, *output[1:]]
    return value


@contextlib.contextmanager
def hooked(module: Any, hook: Callable[[Any, Any, Any], Any]) -> Iterator[None]:
    """Attach a forward hook to ``module`` for the block; it is removed in all cases."""
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _Recorder:
    """A forward hook that records (and may replace) a layer's activation per call."""

    def __init__(self, name: str, replace: Callable[[Any], Any] | None = None) -> None:
        self.name = name
        self.replace = replace
        self.values: list[Any] = []

    def __call__(self, module: Any, inputs: Any, output: Any) -> Any:
        value = _first_tensor(output, self.name)
        if self.replace is None:
            self.values.append(value)
            return None
        new = self.replace(value)
        self.values.append(new)
        return _replace_first(output, new)

    def take(self, n_rows: int) -> Any:
        """The one activation recorded during the last forward pass of ``n_rows`` inputs."""
        values, self.values = self.values, []
        if not values:
            raise InputError(
                f"layer {self.name!r} was not called during the model's forward pass; "
                "choose a submodule that the forward pass uses."
            )
        if len(values) > 1:
            raise InputError(
                f"layer {self.name!r} is called {len(values)} times per forward pass, so "
                "its activation is ambiguous; choose a submodule that runs once."
            )
        value = values[0]
        if value.ndim < 1 or value.shape[0] != n_rows:
            raise InputError(
                f"layer {self.name!r} output has shape {tuple(value.shape)}, with no sample "
                f"axis of length {n_rows} first; choose a layer whose output is "
                "(n_samples, ...)."
            )
        return value


def as_tuple(x: Any) -> tuple[Any, ...]:
    """Inputs as a tuple: a tuple as it is, one tensor as a one-tuple."""
    return x if isinstance(x, tuple) else (x,)


def n_rows(x: Any) -> int:
    """The number of samples of one input tensor or of a tuple of them."""
    return len(as_tuple(x)[0])


def forward_rows(
    model: TorchModel, x: Any, rows: slice, additional_forward_args: Any = None
) -> Any:
    """The model's output (n_rows, n_outputs) on ``rows`` of the inputs ``x``.

    ``x`` is one tensor or a tuple of tensors (one per forward argument); the
    additional forward arguments follow, their per-sample tensors (first axis of
    length n_samples) taken at the same rows.
    """
    inputs = as_tuple(x)
    args = forward_args_rows(model.forward_args(additional_forward_args), len(inputs[0]), rows)
    return model.forward_inputs(tuple(t[rows] for t in inputs), args)


def layer_activations(
    model: TorchModel,
    layer: Any,
    x: Any,
    batch_size: int | None,
    additional_forward_args: Any = None,
) -> Any:
    """The layer's activations for inputs ``x``, a detached tensor (n, *activation_shape).

    ``x`` is one tensor or a tuple of tensors (integer token ids stay integers).
    """
    torch = import_torch()
    recorder = _Recorder(layer_name(model, layer))
    parts = []
    with hooked(layer, recorder), torch.no_grad():
        for sl in batches(n_rows(x), batch_size):
            forward_rows(model, x, sl, additional_forward_args)
            parts.append(recorder.take(sl.stop - sl.start).detach())
    return torch.cat(parts)


def layer_gradients(
    model: TorchModel,
    layer: Any,
    x: Any,
    target: Any,
    batch_size: int | None,
    additional_forward_args: Any = None,
) -> tuple[Any, Any]:
    """The layer's activations and the gradient of the targeted output with respect to them.

    ``target`` is what :meth:`TorchModel.resolve_target` returned for ``x``. The hook
    hands the rest of the network a fresh leaf tensor equal to the activation, so the
    gradient exists even when the layers below have no trainable parameters; samples
    are independent in eval mode, so the gradient of the summed outputs is each
    sample's own gradient.

    Returns
    -------
    (activations, gradients) : two detached tensors of shape (n, *activation_shape)
    """
    torch = import_torch()
    recorder = _Recorder(layer_name(model, layer), lambda a: a.detach().requires_grad_(True))
    acts, grads = [], []
    with hooked(layer, recorder), torch.enable_grad():
        for sl in batches(n_rows(x), batch_size):
            out = forward_rows(model, x, sl, additional_forward_args)
            activation = recorder.take(sl.stop - sl.start)
            rows = target if callable(target) else target[sl]
            scalar = model.target_scalar(out, rows)
            (grad,) = torch.autograd.grad(scalar.sum(), activation, allow_unused=True)
            acts.append(activation.detach())
            grads.append(torch.zeros_like(activation) if grad is None else grad.detach())
    return torch.cat(acts), torch.cat(grads)


def patch_mask(positions: Any, shape: tuple[int, ...], name: str) -> Any:
    """A boolean mask (numpy) of the activation elements to patch, per-sample ``shape``.

    ``positions`` is None (everything), an int or a sequence of ints (indices on
    the first axis after the samples: channels, tokens or units), or a boolean array
    broadcastable to ``shape``.

    Raises
    ------
    InputError
        An index out of range, or a mask that does not broadcast to ``shape``.
    """
    mask = np.zeros(shape, dtype=bool)
    if positions is None:
        mask[...] = True
        return mask
    arr = np.asarray(positions)
    if arr.dtype == bool:
        try:
            return np.broadcast_to(arr, shape).copy()
        except ValueError:
            raise InputError(
                f"positions is a boolean mask of shape {arr.shape} that does not broadcast "
                f"to the activation shape {shape} of layer {name!r}; give a mask of that "
                "shape or channel/token indices."
            ) from None
    if arr.ndim > 1 or not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
        raise InputError(
            f"positions must be None, an int, a non-empty sequence of ints or a boolean "
            f"mask, got {type(positions).__name__} of shape {arr.shape} and dtype "
            f"{arr.dtype}; e.g. positions=[0, 3]."
        )
    if not shape:
        raise InputError(
            f"positions were given but layer {name!r} has one scalar activation per "
            "sample; leave positions=None."
        )
    bad = (arr < -shape[0]) | (arr >= shape[0])
    if bool(np.any(bad)):
        raise InputError(
            f"positions {int(np.ravel(arr)[np.ravel(bad)][0])} is out of range for layer "
            f"{name!r}, whose activations have {shape[0]} entries on the axis after the "
            f"samples (shape {shape}); give indices in 0..{shape[0] - 1}."
        )
    mask[np.ravel(arr)] = True
    return mask


def patched_forward(
    model: TorchModel,
    layer: Any,
    clean: Any,
    corrupted: Any,
    positions: Any,
    batch_size: int | None,
    additional_forward_args: Any = None,
) -> tuple[Any, Any, Any]:
    """Model outputs at clean, corrupted, and corrupted with the layer patched from clean.

    In each batch the clean inputs run first and the layer's activation is
    recorded; then the corrupted inputs run with the layer's activation replaced,
    at the elements selected by ``positions``, by the clean one of the same sample.
    ``clean`` and ``corrupted`` are tensors or tuples of tensors of one structure;
    both runs get the same ``additional_forward_args`` (per-sample tensors at the
    batch's rows).

    Returns
    -------
    (clean_out, corrupted_out, patched_out) : tensors of shape (n, n_outputs)
    """
    torch = import_torch()
    name = layer_name(model, layer)
    store: dict[str, Any] = {}

    def swap(activation: Any) -> Any:
        source = store["clean"]
        if tuple(source.shape) != tuple(activation.shape):
            raise InputError(
                f"layer {name!r} has activation shape {tuple(source.shape)} for the clean "
                f"inputs but {tuple(activation.shape)} for the corrupted ones; patching "
                "needs equal shapes (pad clean and corrupted sequences to one length)."
            )
        if "mask" not in store:
            shape = tuple(int(s) for s in activation.shape[1:])
            store["mask"] = torch.as_tensor(patch_mask(positions, shape, name)).to(
                activation.device
            )
        return torch.where(store["mask"], source.to(activation.dtype), activation)

    record = _Recorder(name)
    patch = _Recorder(name, swap)
    clean_out, corrupted_out, patched_out = [], [], []
    with torch.no_grad():
        args = additional_forward_args
        for sl in batches(n_rows(clean), batch_size):
            rows = sl.stop - sl.start
            with hooked(layer, record):
                clean_out.append(forward_rows(model, clean, sl, args))
                store["clean"] = record.take(rows)
            corrupted_out.append(forward_rows(model, corrupted, sl, args))
            with hooked(layer, patch):
                patched_out.append(forward_rows(model, corrupted, sl, args))
                patch.take(rows)
    return torch.cat(clean_out), torch.cat(corrupted_out), torch.cat(patched_out)


def flat_numpy(t: Any) -> np.ndarray:
    """A tensor (n, ...) as a float64 numpy matrix (n, prod(...))."""
    torch = import_torch()
    return t.detach().cpu().to(torch.float64).numpy().reshape(t.shape[0], -1)
