"""Activation patching (causal tracing): how much of a behaviour one layer carries."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_batch_size, json_value
from whybox._version import __version__
from whybox.adapters._torch import TargetLike, adapt_torch_model, import_torch, target_param
from whybox.concepts._activations import layer_name, patched_forward


@dataclass(frozen=True, eq=False)
class PatchingResult(Result):
    """Targeted outputs of clean, corrupted and patched runs, per layer and sample.

    Attributes
    ----------
    layers : tuple of str
        The dotted names of the patched layers, one per row of the arrays below.
    clean_output : ndarray of shape (n_samples,), float64
        The targeted output ``f_clean`` on the clean inputs.
    corrupted_output : ndarray of shape (n_samples,), float64
        The targeted output ``f_corrupted`` on the corrupted inputs.
    patched_output : ndarray of shape (n_layers, n_samples), float64
        The targeted output ``f_patched`` on the corrupted inputs with the layer's
        activation (at ``positions``) taken from the clean run of the same sample.
    restored_fraction : ndarray of shape (n_layers, n_samples), float64
        ``(f_patched - f_corrupted) / (f_clean - f_corrupted)``: 1 when patching the
        layer restores the clean output, 0 when it changes nothing. NaN where
        ``f_clean`` and ``f_corrupted`` are equal (within a few units of the model's
        float precision): the corruption did not move the output, so there is
        nothing to restore and the fraction is undefined.
    params : dict
        Target, positions, output space and batch size.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_dict()``/``to_json()`` write every field
    (strict JSON: NaN as null) and ``PatchingResult.from_dict`` reads them back;
    ``to_frame()`` is the tidy (layer, sample) table.
    """

    layers: tuple[str, ...]
    clean_output: np.ndarray
    corrupted_output: np.ndarray
    patched_output: np.ndarray
    restored_fraction: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_restored_fraction(self) -> np.ndarray:
        """Mean restored fraction per layer over the samples where it is defined (n_layers,).

        NaN for a layer when it is undefined for every sample.
        """
        defined = ~np.isnan(self.restored_fraction)
        total = np.where(defined, self.restored_fraction, 0.0).sum(axis=1)
        count = defined.sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: one row per (layer, sample) with the three outputs and the fraction."""
        n_layers, n = self.patched_output.shape
        return pd.DataFrame(
            {
                "layer": np.repeat(list(self.layers), n),
                "sample": np.tile(np.arange(n), n_layers),
                "clean": np.tile(self.clean_output, n_layers),
                "corrupted": np.tile(self.corrupted_output, n_layers),
                "patched": self.patched_output.ravel(),
                "restored_fraction": self.restored_fraction.ravel(),
            }
        )


def activation_patching(
    model: Any,
    layer: Any,
    clean: Any,
    corrupted: Any,
    *,
    target: TargetLike = None,
    positions: Any = None,
    output: str = "raw",
    batch_size: int | None = None,
    additional_forward_args: Any = None,
) -> PatchingResult:
    """Patch a layer's clean activation into a corrupted run and measure what returns.

    Activation patching, or causal tracing (Vig et al. 2020, "Investigating gender
    bias in language models using causal mediation analysis"; Meng et al. 2022,
    "Locating and editing factual associations in GPT"): run the model on a clean
    input and record the layer's activation; run it on a corrupted input (the same
    input with the relevant part changed or noised); then run the corrupted input
    again with the layer's activation replaced by the clean one. The fraction of the
    clean-vs-corrupted difference in the targeted output that the patch restores,

        ``restored_fraction = (f_patched - f_corrupted) / (f_clean - f_corrupted)``,

    says how much of the behaviour flows through that layer (at those positions).
    Given a list of layers, each is patched on its own (one row per layer).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(*inputs, *additional_forward_args)``; returns (n_samples,
        n_outputs) or (n_samples,). Run in eval mode.
    layer : str, torch.nn.Module, or a list of them
        The layer(s) to patch: dotted names from ``model.named_modules()`` or the
        submodules. Each layer's forward output (or its first element) is patched.
    clean, corrupted : array-like, torch.Tensor, or tuple of them, each (n_samples, ...)
        Paired inputs: sample i of ``corrupted`` is the corruption of sample i of
        ``clean``. A tuple holds one input per forward argument (e.g.
        ``(input_ids, attention_mask)``), the same structure and shapes for both;
        integer tensors (token ids) stay integers.
    target : None, int, sequence of int or callable, optional
        The output measured: None for each clean input's largest output (the
        clean prediction), an output index, one index per sample, or a callable
        mapping the output tensor (n, n_outputs) to one scalar per sample.
    positions : None, int, sequence of int or boolean array, optional
        Which activation elements to patch: None for the whole activation; indices
        on the first axis after the samples (channels of a conv layer (n, C, H, W),
        tokens of a sequence (n, T, D), units of a dense layer (n, D)); or a boolean
        mask broadcastable to the per-sample activation shape.
    output : {"raw", "probability"}, default "raw"
        The output space measured (logits or probabilities).
    batch_size : int, optional
        The most samples per forward pass (each batch runs three passes).
    additional_forward_args : None, tuple or object, optional
        Passed to the model after the inputs in the clean, corrupted and patched
        runs alike (``model(*inputs, *additional_forward_args)``); a tensor whose
        first axis has one entry per sample is taken at each batch's samples.

    Returns
    -------
    PatchingResult
        Clean and corrupted outputs (n_samples,), patched outputs and restored
        fractions (n_layers, n_samples), in the units of the output space (the
        fraction is unitless). A UserWarning is raised when the fraction is
        undefined (NaN) for some samples because clean and corrupted outputs agree.

    Raises
    ------
    InputError
        An unknown layer, clean and corrupted of different shapes, positions out of
        range, a target out of range.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    """
    torch = import_torch()
    tm = adapt_torch_model(model, output=output)
    batch_size = check_batch_size(batch_size)
    specs = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    if not specs:
        raise InputError("layer is an empty list; give at least one layer name.")
    modules = [tm.layer(spec) for spec in specs]
    names = tuple(layer_name(tm, m) for m in modules)
    x_clean = tm.as_inputs(clean, "clean")
    x_corrupted = tm.as_inputs(corrupted, "corrupted")
    if len(x_clean) != len(x_corrupted):
        raise InputError(
            f"clean has {len(x_clean)} input(s) but corrupted has {len(x_corrupted)}; give "
            "corrupted in the structure of clean (a tuple of the same length)."
        )
    for i, (a, b) in enumerate(zip(x_clean, x_corrupted, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            part = "" if len(x_clean) == 1 else f"[{i}]"
            raise InputError(
                f"clean{part} has shape {tuple(a.shape)} but corrupted{part} has shape "
                f"{tuple(b.shape)}; give one corrupted input per clean input, of the "
                "same shape."
            )
    if len(x_clean) == 1:
        x_clean, x_corrupted = x_clean[0], x_corrupted[0]
    patched_rows = []
    with tm.evaluation():
        for module in modules:
            out_clean, out_corrupted, out_patched = patched_forward(
                tm, module, x_clean, x_corrupted, positions, batch_size, additional_forward_args
            )
            if not patched_rows:
                tgt = tm.resolve_target(target, out_clean)
                f_clean = tm.target_scalar(out_clean, tgt)
                f_corrupted = tm.target_scalar(out_corrupted, tgt)
            patched_rows.append(tm.target_scalar(out_patched, tgt))
    to64 = torch.float64
    clean_np = f_clean.detach().cpu().to(to64).numpy()
    corrupted_np = f_corrupted.detach().cpu().to(to64).numpy()
    patched_np = torch.stack(patched_rows).detach().cpu().to(to64).numpy()

    gap = clean_np - corrupted_np
    eps = float(torch.finfo(f_clean.dtype).eps)
    scale = np.maximum(1.0, np.maximum(np.abs(clean_np), np.abs(corrupted_np)))
    undefined = np.abs(gap) <= 8 * eps * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (patched_np - corrupted_np) / np.where(undefined, 1.0, gap)
    fraction[:, undefined] = np.nan
    if undefined.any():
        warnings.warn(
            f"restored_fraction is NaN for {int(undefined.sum())} of {len(gap)} sample(s) "
            "whose clean and corrupted outputs are equal: the corruption did not change "
            "the targeted output, so there is nothing to restore; use a stronger "
            "corruption or another target.",
            UserWarning,
            stacklevel=2,
        )
    return PatchingResult(
        layers=names,
        clean_output=clean_np,
        corrupted_output=corrupted_np,
        patched_output=patched_np,
        restored_fraction=fraction,
        params={
            "method": "activation_patching",
            "target": target_param(tgt),
            "positions": _positions_param(positions),
            "output": tm.output,
            "batch_size": batch_size,
            "whybox_version": __version__,
        },
    )


def _positions_param(positions: Any) -> Any:
    if positions is None:
        return None
    arr = np.asarray(positions)
    if arr.dtype == bool:
        return arr.tolist()
    if isinstance(positions, Sequence) or arr.ndim == 1:
        return [int(p) for p in np.ravel(arr)]
    return json_value(positions if arr.ndim else int(arr))
