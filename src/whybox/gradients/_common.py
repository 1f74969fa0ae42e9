"""What every gradient method shares: inputs, targets, batched input gradients, results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_batch_size
from whybox._version import __version__
from whybox.adapters._torch import TorchModel, adapt_torch_model, batches, import_torch, input_axes


class TorchExplainer:
    """Base of the PyTorch explainers: the model, its output space and the batch size.

    Parameters
    ----------
    model : torch.nn.Module
        Called on a float tensor (n_samples, *input_shape); returns (n_samples,
        n_outputs) or (n_samples,), with any further axes of length 1 (a convolution
        head's (n_samples, n_outputs, 1, 1)). Explained in eval mode (a model with
        submodules in training mode is switched for the call, with a warning, and each
        submodule's own mode is restored).
    output : {"raw", "probability"}, default "raw"
        The output space explained: the module's own output (logits), or softmax
        probabilities (the sigmoid for a single output).
    output_names : sequence of str, optional
        One name per output (class names), used to name the explained output.
    batch_size : int, optional
        The most inputs per forward/backward pass; None puts each call's points in
        one pass. Changes memory and speed, never the values.

    Raises
    ------
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    InputError
        Bad ``output`` or ``batch_size``.
    """

    method = ""

    def __init__(
        self,
        model: Any,
        *,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.model: TorchModel = adapt_torch_model(model, output=output, output_names=output_names)
        self.batch_size = check_batch_size(batch_size)

    def _start(self, X: Any, target: Any) -> tuple[Any, Any, Any]:
        """(inputs tensor, model output at the inputs (n, k), resolved target)."""
        torch = import_torch()
        x = self.model.as_input(X)
        with torch.no_grad():
            out = torch.cat([self.model.forward(x[sl]) for sl in batches(len(x), self.batch_size)])
        return x, out, self.model.resolve_target(target, out)

    def _first_pass(self, X: Any, target: Any) -> tuple[Any, Any, Any, Any]:
        """One forward and backward pass per batch at the inputs themselves.

        The target is resolved from each batch's own output, so no separate forward
        pass is needed. Returns (inputs, outputs (n, k), resolved target, gradients
        of the targeted output with respect to the inputs).
        """
        torch = import_torch()
        x = self.model.as_input(X)
        spec = self.model.target_rows(target, len(x))
        grads = torch.empty_like(x)
        outs, parts = [], []
        with torch.enable_grad():
            for sl in batches(len(x), self.batch_size):
                p = x[sl].detach().requires_grad_(True)
                out = self.model.forward(p)
                t = self.model.resolve_target(batch_target(spec, sl), out)
                (g,) = torch.autograd.grad(self.model.target_scalar(out, t).sum(), p)
                grads[sl] = g
                outs.append(out.detach())
                parts.append(t)
        return x, torch.cat(outs), join_targets(spec, parts), grads

    def _scalars(self, points: Any, target: Any, reps: int) -> Any:
        """The targeted output at points (reps blocks of the n samples), no gradient."""
        torch = import_torch()
        rows = expand_target(target, reps)
        with torch.no_grad():
            return torch.cat(
                [
                    self.model.target_scalar(self.model.forward(points[sl]), _take(rows, sl))
                    for sl in batches(len(points), self.batch_size)
                ]
            )

    def _gradients(self, points: Any, target: Any, reps: int) -> tuple[Any, Any]:
        """Gradient of the targeted output at each point, and the output itself.

        ``points`` holds ``reps`` consecutive blocks of the n samples (block r, row i
        belongs to sample i); returns (gradients shaped like points, scalars (m,)).
        """
        return input_gradients(self.model, points, target, reps, self.batch_size)

    def _explanation(
        self,
        x: Any,
        values: Any,
        out: Any,
        target: Any,
        *,
        params: dict[str, Any],
        base_values: Any = None,
        quality: dict[str, Any] | None = None,
        feature_names: Sequence[str] | None = None,
        completeness: bool = False,
    ) -> Explanation:
        return build_explanation(
            self.model,
            x,
            values,
            out,
            target,
            method=self.method,
            params={**params, "batch_size": self.batch_size},
            base_values=base_values,
            quality=quality,
            feature_names=feature_names,
            completeness=completeness,
        )


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, or an InputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(
            f"{name} must be an int of at least {minimum}, got {value!r}; "
            f"pass e.g. {name}={max(minimum, 50)}."
        )
    return int(value)


def describe_baseline(baseline: Any) -> Any:
    """What ``params`` records of a baseline: the scalar, or the array's shape."""
    if baseline is None:
        return 0.0
    if np.isscalar(baseline):
        return float(baseline)
    shape = getattr(baseline, "shape", None)
    shape = np.shape(baseline) if shape is None else shape
    return f"array of shape {tuple(int(s) for s in shape)}"


def batch_target(spec: Any, sl: slice) -> Any:
    """The part of a target (from ``TorchModel.target_rows``) for the samples in ``sl``."""
    return spec[sl] if isinstance(spec, np.ndarray) else spec


def join_targets(spec: Any, parts: list[Any]) -> Any:
    """The resolved target of all samples from the batches' parts."""
    return spec if callable(spec) else import_torch().cat(parts)


def expand_target(target: Any, reps: int) -> Any:
    """Per-row targets for ``reps`` blocks of the samples (a callable stays itself)."""
    if callable(target) or reps == 1:
        return target
    return target.repeat(reps)


def _take(rows: Any, sl: slice) -> Any:
    return rows if callable(rows) else rows[sl]


def input_gradients(
    model: TorchModel, points: Any, target: Any, reps: int, batch_size: int | None
) -> tuple[Any, Any]:
    """Batched gradients of the targeted output with respect to the input points.

    Returns
    -------
    (grads, scalars) : tensors of shape points.shape and (len(points),)
    """
    torch = import_torch()
    rows = expand_target(target, reps)
    grads = torch.empty_like(points)
    scalars = torch.empty(len(points), dtype=points.dtype, device=points.device)
    with torch.enable_grad():
        for sl in batches(len(points), batch_size):
            p = points[sl].detach().requires_grad_(True)
            s = model.target_scalar(model.forward(p), _take(rows, sl))
            (g,) = torch.autograd.grad(s.sum(), p)
            grads[sl] = g
            scalars[sl] = s.detach()
    return grads, scalars


def build_explanation(
    model: TorchModel,
    x: Any,
    values: Any,
    out: Any,
    target: Any,
    *,
    method: str,
    params: dict[str, Any],
    base_values: Any = None,
    quality: dict[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    completeness: bool = False,
) -> Explanation:
    """An :class:`Explanation` of one targeted output per sample.

    ``values`` (n, *input_shape) becomes (n, *input_shape, 1) on axes named by
    :func:`input_axes`; ``base_values`` (n,) is the targeted output at the baseline
    (NaN for methods without one); ``model_output`` is the targeted output at x.
    With ``completeness``, ``quality`` gains ``"completeness_delta"`` (n, 1),
    ``|sum(values) - (f_t(x) - f_t(baseline))|`` in float64 (equal to
    ``additivity_error``), and ``"relative_completeness_delta"``, that gap divided by
    ``|f_t(x) - f_t(baseline)|`` (inf where the two outputs are equal and the gap is not 0).
    """
    n = x.shape[0]
    in_shape = tuple(int(s) for s in x.shape[1:])
    axes = ("samples", *input_axes(in_shape), "outputs")
    vals = _numpy(values).reshape(n, *in_shape, 1)
    model_output = _numpy(model.target_scalar(out, target)).reshape(n, 1)
    base = np.full((n, 1), np.nan) if base_values is None else _numpy(base_values).reshape(n, 1)
    names: tuple[str, ...] = ()
    if axes[1] == "features":
        names = (
            tuple(feature_names)
            if feature_names is not None
            else tuple(f"x{i}" for i in range(in_shape[0]))
        )
    quality = dict(quality or {})
    if completeness:
        gap = np.abs(vals.reshape(n, -1).sum(axis=1, keepdims=True) + base - model_output)
        change = np.abs(model_output - base)
        with np.errstate(divide="ignore", invalid="ignore"):
            quality["completeness_delta"] = gap
            quality["relative_completeness_delta"] = np.where(gap == 0, 0.0, gap / change)
    if callable(target):
        target_param: Any = "callable"
    else:
        target_param = [int(t) for t in target.cpu().numpy()]
    return Explanation(
        values=vals,
        base_values=base,
        data=_numpy(x),
        feature_names=names,
        output_names=model.target_names(target, int(out.shape[1])),
        output_space="probability" if model.output == "probability" else "raw",
        method=method,
        params={
            **params,
            "target": target_param,
            "input_shape": list(in_shape),
            "whybox_version": __version__,
        },
        model_output=model_output,
        axes=axes,
        quality=quality,
    )


def _numpy(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.astype(np.float64)
    return t.detach().cpu().to(dtype=_float64()).numpy()


def _float64() -> Any:
    return import_torch().float64
