"""What every gradient method shares: inputs, targets, batched input gradients, random
draws and the Explanation they return."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_batch_size, check_int, check_random_state, json_value
from whybox._version import __version__
from whybox.adapters._torch import (
    TargetLike,
    TorchModel,
    adapt_torch_model,
    batches,
    frame_columns,
    import_torch,
    input_axes,
    target_param,
)


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
                    self.model.target_scalar(self.model.forward(points[sl]), take_rows(rows, sl))
                    for sl in batches(len(points), self.batch_size)
                ]
            )

    def _gradients(self, points: Any, target: Any, reps: int) -> tuple[Any, Any]:
        """Gradient of the targeted output at each point, and the output itself.

        ``points`` holds ``reps`` consecutive blocks of the n samples (block r, row i
        belongs to sample i); returns (gradients shaped like points, scalars (m,)).
        """
        return input_gradients(self.model, points, target, reps, self.batch_size)

    def __call__(
        self, X: Any, target: TargetLike = None, *, feature_names: Sequence[str] | None = None
    ) -> Explanation:
        """Attributions of the targeted output for each input.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
            Numeric inputs; a tensor must be on the model's device.
        target : None, int, sequence of int or callable, optional
            The output explained: None for each sample's largest output (the
            predicted class), an output index for all samples, one index per sample,
            or a callable mapping the output tensor (n, n_outputs) to one scalar per
            sample, row by row.
        feature_names : sequence of str, optional
            Names of the features of 1-D inputs; default: a DataFrame's columns, else
            ``x0``, ``x1``, ...

        Returns
        -------
        Explanation
            values (n_samples, *input_shape, 1) float64 on the axes ("samples",
            *input axes, "outputs"): ("features",) for 1-D inputs, ("tokens",
            "embedding") for 2-D, ("channels", "height", "width") for 3-D.
            ``model_output`` is the targeted output at ``X``; what ``base_values``
            and ``quality`` hold, and the values' units, are in the class's Notes.

        Raises
        ------
        InputError
            Inputs that are not numeric, hold NaN or infinite values or are on another
            device, a target out of range, and the errors the class lists.
        """
        with self.model.evaluation():
            return self._attribute(X, target, frame_columns(X, feature_names))

    def _attribute(self, X: Any, target: Any, feature_names: Sequence[str] | None) -> Explanation:
        """The explanation of one call, computed in eval mode (each method's own rule)."""
        raise NotImplementedError  # pragma: no cover - every method defines it

    def _explanation(
        self, x: Any, values: Any, out: Any, target: Any, *, params: dict[str, Any], **options: Any
    ) -> Explanation:
        """:func:`build_explanation` for this explainer's model, method and batch size."""
        return build_explanation(
            self.model,
            x,
            values,
            out,
            target,
            method=self.method,
            params={**params, "batch_size": self.batch_size},
            **options,
        )


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


def take_rows(target: Any, rows: Any) -> Any:
    """The targets of some samples (a slice or positions); a callable target stays itself."""
    return target if callable(target) else target[rows]


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
            s = model.target_scalar(model.forward(p), take_rows(rows, sl))
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
    map_axes: tuple[str, ...] | None = None,
) -> Explanation:
    """An :class:`Explanation` of one targeted output per sample.

    ``values`` (n, *input_shape) becomes (n, *input_shape, 1) on axes named by
    :func:`input_axes`; ``base_values`` (n,) is the targeted output at the baseline
    (NaN for methods without one); ``model_output`` is the targeted output at x.
    With ``completeness``, ``quality`` gains ``"completeness_delta"`` (n, 1),
    ``|sum(values) - (f_t(x) - f_t(baseline))|`` in float64 (equal to
    ``additivity_error``), and ``"relative_completeness_delta"``, that gap divided by
    ``|f_t(x) - f_t(baseline)|`` (inf where the two outputs are equal and the gap is not 0).
    With ``map_axes`` the values are a map of their own shape (n, *map_shape) on those
    axes (Grad-CAM), not one value per input element.
    """
    n = x.shape[0]
    in_shape = tuple(int(s) for s in x.shape[1:])
    if map_axes is None:
        axes = ("samples", *input_axes(in_shape), "outputs")
        vals = _numpy(values).reshape(n, *in_shape, 1)
    else:
        axes = ("samples", *map_axes, "outputs")
        vals = _numpy(values)[..., None]
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
            "target": target_param(target),
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


# ---------------------------------------------------------------------- random draws
class DrawingExplainer(TorchExplainer):
    """Base of the explainers that average gradients over random draws per input.

    SmoothGrad (noisy copies) and GradientShap (points between baselines and the
    input): ``n_draws`` points per input, drawn from a CPU ``torch.Generator`` seeded
    by ``random_state``, their gradients reduced to a value and a Monte Carlo
    standard error per input element.
    """

    def __init__(
        self,
        model: Any,
        *,
        n_draws: int,
        random_state: Any,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        self.n_draws = check_int(n_draws, "n_draws", 1, "n_draws=50")
        self.random_state = check_random_state(random_state)

    def _generator(self) -> Any:
        """A fresh generator for one call (the same draws on every call for an int seed)."""
        return torch_generator(self.random_state)

    def _random_state_param(self) -> Any:
        """What ``params`` records of ``random_state`` (an int, None, or a repr)."""
        return json_value(self.random_state)

    def _over_draws(self, x: Any, target: Any, n_draws: int, chunk: Any) -> tuple[Any, np.ndarray]:
        """Values (a tensor shaped like ``x``) and their Monte Carlo standard errors
        (float64, shaped like the explanation's values), a chunk of inputs at a time.

        ``chunk(sl)`` gives, for the inputs ``x[sl]``, the points (n_draws, m,
        *input_shape) in draw-major layout (block r holds draw r of each input) and a
        function that reduces their gradients, of the same shape, to (values, errors)
        of shape (m, *input_shape), errors None where there are none (left NaN). Each
        pass holds all the draws of as many inputs as ``batch_size`` allows.
        """
        torch = import_torch()
        in_shape = tuple(x.shape[1:])
        values = torch.empty_like(x)
        error = torch.full_like(x, float("nan"))
        for sl in sample_chunks(len(x), n_draws, self.batch_size):
            points, reduce = chunk(sl)
            grads, _ = self._gradients(
                points.reshape(-1, *in_shape), take_rows(target, sl), n_draws
            )
            values[sl], chunk_error = reduce(grads.reshape(points.shape))
            if chunk_error is not None:
                error[sl] = chunk_error
        return values, per_value(error)


def torch_generator(random_state: Any) -> Any:
    """A CPU ``torch.Generator`` seeded from ``random_state``.

    An int seeds it directly (so the draws equal those of ``torch.manual_seed`` with
    that int); a numpy Generator (or another numpy seed) gives it a seed drawn from
    it; None a fresh random seed. Draws are made on the CPU and then moved, so they
    do not depend on the model's device.
    """
    torch = import_torch()
    gen = torch.Generator()
    if random_state is None:
        gen.seed()
    elif isinstance(random_state, (int, np.integer)):
        gen.manual_seed(int(random_state))
    else:  # a numpy Generator, RandomState, SeedSequence or BitGenerator
        gen.manual_seed(int(np.random.default_rng(random_state).integers(0, 2**63 - 1)))
    return gen


def check_scale(value: Any, name: str) -> float:
    """``value`` as a finite float >= 0, or an InputError naming ``name``."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = float("nan")
    if isinstance(value, bool) or not math.isfinite(scale) or scale < 0:
        raise InputError(
            f"{name} must be a finite number >= 0, got {value!r}; pass e.g. {name}=0.15."
        )
    return scale


def sample_chunks(n: int, per_sample: int, batch_size: int | None) -> Iterator[slice]:
    """Consecutive sample ranges whose ``per_sample`` points each fit one pass."""
    step = n if not batch_size else max(1, batch_size // per_sample)
    for first in range(0, n, step):
        yield slice(first, min(first + step, n))


def standard_normal(gen: Any, n_draws: int, count: int, shape: tuple[int, ...], like: Any) -> Any:
    """Standard normal draws of shape (n_draws, count, *shape), drawn sample by sample.

    Each of the ``count`` samples gets one generator call of shape (n_draws, *shape),
    made in sample order, so a sample's draws never depend on how the samples are
    split into passes. The draws are made on the CPU in ``like``'s dtype and moved
    to ``like``'s device.
    """
    torch = import_torch()
    draws = [torch.randn((n_draws, *shape), generator=gen, dtype=like.dtype) for _ in range(count)]
    return torch.stack(draws, dim=1).to(like.device)


def mean_over_draws(draws: Any) -> Any:
    """The mean over the first axis, summed draw after draw.

    The draws of one input are added in draw order whatever else is in the tensor,
    so an input's mean does not depend on how many inputs share a pass (a reduction
    over the axis may add in another order for another shape: ``batch_size`` would
    change the last bits).
    """
    total = draws[0].clone()
    for r in range(1, draws.shape[0]):
        total += draws[r]
    return total / draws.shape[0]


def mean_and_error(draws: Any) -> tuple[Any, Any]:
    """Mean over the first axis and its standard error (NaN for a single draw).

    Both are summed draw after draw (see :func:`mean_over_draws`); the standard error
    is ``sqrt(sum_r (d_r - mean)^2 / (n - 1) / n)``.
    """
    torch = import_torch()
    n = draws.shape[0]
    mean = mean_over_draws(draws)
    if n < 2:
        return mean, torch.full_like(mean, float("nan"))
    variance = mean_over_draws((draws - mean).square()) * (n / (n - 1))
    return mean, variance.sqrt() / math.sqrt(n)


def per_value(t: Any) -> np.ndarray:
    """A (n, *input_shape) tensor as a float64 array shaped like the values."""
    return _numpy(t)[..., None]
