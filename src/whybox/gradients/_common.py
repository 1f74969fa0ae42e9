"""What every gradient method shares: inputs, targets, batched input gradients, random
draws and the Explanation they return."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
    forward_args_rows,
    frame_columns,
    import_torch,
    input_axes,
    is_per_sample,
    target_param,
)

# What a torch method's call returns: one Explanation, or one per input for a tuple X.
Explanations = Explanation | tuple[Explanation, ...]

EMBEDDINGS_WRAPPER = "whybox.adapters.TokenEmbeddings"


@dataclass(frozen=True, eq=False)
class Inputs:
    """The inputs of one call, as the model takes them and packed for the arithmetic.

    A gradient method computes on :attr:`x`: the input itself when there is one, and
    for several the inputs flattened per sample and joined, shape (n, D_1 + ... +
    D_k). Any tensor of that layout (points on a path, baselines, gradients) is
    turned back into one tensor per input by :meth:`unpack`, to call the model or to
    build one Explanation per input.

    Attributes
    ----------
    model : TorchModel
        The adapted model.
    xs : tuple of torch.Tensor
        One tensor per forward argument, each (n, *input_shape).
    args : tuple
        The additional forward arguments, passed after the inputs.
    several : bool
        X was a tuple: the call returns a tuple of Explanations.
    feature_names : tuple
        Per input, the feature names of a 1-D input (None for the defaults).
    """

    model: TorchModel
    xs: tuple[Any, ...]
    args: tuple[Any, ...] = ()
    several: bool = False
    feature_names: tuple[Any, ...] = (None,)

    @property
    def n(self) -> int:
        """The number of samples."""
        return int(self.xs[0].shape[0])

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Each input's shape without the sample axis."""
        return tuple(tuple(int(s) for s in t.shape[1:]) for t in self.xs)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Each input's number of elements per sample."""
        return tuple(math.prod(shape) for shape in self.shapes)

    @functools.cached_property
    def x(self) -> Any:
        """The inputs packed into one tensor: the input itself when there is one."""
        return self.pack(self.xs)

    @functools.cached_property
    def per_sample_args(self) -> bool:
        """Whether an additional argument has one entry per sample (indexed per pass)."""
        return any(is_per_sample(a, self.n) for a in self.args)

    def pack(self, parts: Sequence[Any]) -> Any:
        """One tensor per input, each (m, *input_shape), as one (m, ...) tensor."""
        if len(parts) == 1:
            return parts[0]
        return import_torch().cat([p.reshape(len(p), -1) for p in parts], dim=1)

    def unpack(self, t: Any) -> tuple[Any, ...]:
        """A packed tensor (m, ...) as one tensor per input, each (m, *input_shape).

        Views of ``t`` when its rows are contiguous (writing to them writes to ``t``).
        """
        if len(self.xs) == 1:
            return (t,)
        m = t.shape[0]
        parts = t.reshape(m, -1).split(self.sizes, dim=1)
        return tuple(p.view(m, *shape) for p, shape in zip(parts, self.shapes, strict=True))

    def leaves(self, points: Any) -> tuple[Any, ...]:
        """Packed points as one contiguous tensor per input that requires its gradient.

        Differentiating these (rather than the packed tensor) gives each input's
        gradient without routing it back through the packing.
        """
        return tuple(t.detach().contiguous().requires_grad_(True) for t in self.unpack(points))

    def write(self, dest: Any, parts: Sequence[Any]) -> None:
        """Copy one tensor per input (m, *input_shape) into the packed rows ``dest``."""
        if len(self.xs) == 1:
            dest.copy_(parts[0])
            return
        for view, part in zip(self.unpack(dest), parts, strict=True):
            view.copy_(part)

    def forward(self, points: Any, rows: Any = None, model: TorchModel | None = None) -> Any:
        """The model's output (m, n_outputs) at packed points.

        ``rows`` names the sample each point belongs to (a slice or a LongTensor),
        which picks the per-sample entries of the additional arguments; None when the
        points are the samples themselves, in order.
        """
        return (model or self.model).forward_inputs(self.unpack(points), self.args_of(rows))

    def args_of(self, rows: Any) -> tuple[Any, ...]:
        """The additional arguments of the points of samples ``rows`` (None: all, in order)."""
        if rows is None or not self.per_sample_args:
            return self.args
        return forward_args_rows(self.args, self.n, rows)

    def point_rows(self, block: int, reps: int, samples: Any = None) -> Any:
        """The sample of each of ``reps`` blocks of ``block`` points (None when not needed).

        ``samples`` is the sample of each row of a block (a LongTensor), None for
        the samples 0..block-1 in order.
        """
        if not self.per_sample_args:
            return None
        torch = import_torch()
        if samples is None:
            samples = torch.arange(block, device=self.xs[0].device)
        return samples.repeat(reps) if reps > 1 else samples

    def baseline(self, given: Any, name: str = "baseline") -> Any:
        """A baseline (one per input for several inputs) broadcast and packed like x.

        Raises
        ------
        InputError
            For several inputs, a baseline that is neither None, a scalar nor a tuple
            with one baseline per input; a baseline whose shape fits no input.
        """
        if not self.several:
            return self.model.as_baseline(given, self.x, name)
        k = len(self.xs)
        if given is None or np.isscalar(given):
            parts = (given,) * k
        elif isinstance(given, tuple) and len(given) == k:
            parts = given
        else:
            got = f"a tuple of {len(given)}" if isinstance(given, tuple) else type(given).__name__
            raise InputError(
                f"{name} must be None, a scalar or a tuple with one baseline per input ({k}) "
                f"when X is a tuple, got {got}; give e.g. {name}=(0.0,) * {k}."
            )
        return self.pack(
            tuple(
                self.model.as_baseline(b, x, f"{name}[{i}]")
                for i, (b, x) in enumerate(zip(parts, self.xs, strict=True))
            )
        )

    def background(self, background: tuple[Any, ...]) -> Any:
        """Background rows (one tensor per input, from ``as_inputs``) packed like x.

        Raises
        ------
        InputError
            The background has another number of inputs, or another input shape.
        """
        k = len(self.xs)
        if len(background) != k:
            raise InputError(
                f"the background has {len(background)} input(s) but X has {k}; give a "
                "background with one tensor per input, in X's order."
            )
        for i, (b, shape) in enumerate(zip(background, self.shapes, strict=True)):
            if tuple(b.shape[1:]) != shape:
                which = "X" if k == 1 else f"X[{i}]"
                dims = ", ".join(str(s) for s in shape)
                raise InputError(
                    f"{which} has input shape {shape} but the background has "
                    f"{tuple(b.shape[1:])}; give a background of shape (n_background, {dims})."
                )
        return self.pack(background)

    def explanations(
        self,
        values: Any,
        out: Any,
        target: Any,
        *,
        method: str,
        params: dict[str, Any],
        base_values: Any = None,
        quality: dict[str, Any] | None = None,
        completeness: bool = False,
    ) -> Explanations:
        """One :func:`build_explanation` per input from packed ``values`` (n, ...).

        Completeness holds jointly: ``quality["completeness_delta"]`` is the gap of the
        sum over *all* inputs' values, the same in each Explanation. A ``quality``
        entry given as a tuple holds one value per input; a float64 array shaped like
        the packed values (n, D, 1) is split per input.
        """
        quality = dict(quality or {})
        if completeness:
            n = self.n
            total = _numpy(values).reshape(n, -1).sum(axis=1, keepdims=True)
            model_output = _numpy(self.model.target_scalar(out, target)).reshape(n, 1)
            quality.update(
                completeness_quality(total, _numpy(base_values).reshape(n, 1), model_output)
            )
        k = len(self.xs)
        if not self.several:
            return build_explanation(
                self.model,
                self.x,
                values,
                out,
                target,
                method=method,
                params=params,
                base_values=base_values,
                quality=quality,
                feature_names=self.feature_names[0],
            )
        packed = (self.n, sum(self.sizes), 1)
        cuts = np.cumsum(self.sizes)[:-1]
        split: dict[str, tuple[Any, ...]] = {}
        for key, q in quality.items():
            if isinstance(q, tuple):
                split[key] = q
            elif k > 1 and isinstance(q, np.ndarray) and q.shape == packed:
                parts = np.split(q, cuts, axis=1)
                split[key] = tuple(
                    part.reshape(self.n, *shape, 1)
                    for part, shape in zip(parts, self.shapes, strict=True)
                )
            else:
                split[key] = (q,) * k
        return tuple(
            build_explanation(
                self.model,
                x,
                v,
                out,
                target,
                method=method,
                params={**params, "input": i, "n_inputs": k},
                base_values=base_values,
                quality={key: q[i] for key, q in split.items()},
                feature_names=self.feature_names[i],
            )
            for i, (x, v) in enumerate(zip(self.xs, self.unpack(values), strict=True))
        )


class TorchExplainer:
    """Base of the PyTorch explainers: the model, its output space and the batch size.

    Parameters
    ----------
    model : torch.nn.Module
        Called on a float tensor (n_samples, *input_shape), or, for several inputs,
        as ``model(*X, *additional_forward_args)``; returns (n_samples, n_outputs) or
        (n_samples,), with any further axes of length 1 (a convolution head's
        (n_samples, n_outputs, 1, 1)). Explained in eval mode (a model with
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

    Notes
    -----
    Several inputs (a tuple ``X``, one tensor per forward argument) give one
    Explanation per input, in ``X``'s order; integer tensors (token ids) cannot be
    differentiated and are refused (explain their embeddings with
    ``whybox.adapters.TokenEmbeddings``, or pass inputs held fixed in
    ``additional_forward_args``). Methods with a baseline or a background take one per
    input (a tuple; a scalar stands for every input), draw one background row for
    all inputs of a sample, and add up jointly: the values of all the inputs
    together sum to the change in the output.
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

    def _inputs(
        self,
        X: Any,
        additional_forward_args: Any = None,
        feature_names: Any = None,
        *,
        differentiate: bool = True,
    ) -> Inputs:
        """The call's :class:`Inputs`: X checked, its extra arguments and feature names.

        Raises
        ------
        InputError
            Bad inputs (see ``TorchModel.as_inputs``), an integer input to a method
            that differentiates the inputs, bad ``feature_names`` for several inputs.
        """
        xs = self.model.as_inputs(X)
        several = isinstance(X, tuple)
        if differentiate:
            for i, t in enumerate(xs):
                if not t.is_floating_point():
                    name = f"X[{i}]" if several else "X"
                    raise InputError(
                        f"{name} is a {t.dtype} tensor, which gradients cannot flow through; "
                        f"explain token ids through their embeddings with {EMBEDDINGS_WRAPPER}, "
                        f"pass inputs held fixed in additional_forward_args, or give "
                        f"{name}.float() for numeric features."
                    )
        args = self.model.forward_args(additional_forward_args)
        if not several:
            names: tuple[Any, ...] = (frame_columns(X, feature_names),)
        elif feature_names is None:
            names = tuple(frame_columns(part, None) for part in X)
        elif isinstance(feature_names, (tuple, list)) and len(feature_names) == len(xs):
            names = tuple(
                frame_columns(part, given) for part, given in zip(X, feature_names, strict=True)
            )
        else:
            raise InputError(
                f"feature_names must be None or a tuple with one entry per input ({len(xs)}, "
                "each None or the names of a 1-D input's features) when X is a tuple, got "
                f"{type(feature_names).__name__}."
            )
        return Inputs(self.model, xs, args, several, names)

    def _start(self, inp: Inputs, target: Any) -> tuple[Any, Any]:
        """(model output at the inputs (n, k), resolved target)."""
        torch = import_torch()
        x = inp.x
        with torch.no_grad():
            out = torch.cat([inp.forward(x[sl], sl) for sl in batches(len(x), self.batch_size)])
        return out, self.model.resolve_target(target, out)

    def _first_pass(self, inp: Inputs, target: Any) -> tuple[Any, Any, Any]:
        """One forward and backward pass per batch at the inputs themselves.

        The target is resolved from each batch's own output, so no separate forward
        pass is needed. Returns (outputs (n, k), resolved target, gradients of the
        targeted output with respect to the packed inputs).
        """
        torch = import_torch()
        x = inp.x
        spec = self.model.target_rows(target, len(x))
        grads = torch.empty_like(x)
        outs, parts = [], []
        with torch.enable_grad():
            for sl in batches(len(x), self.batch_size):
                leaves = inp.leaves(x[sl])
                out = self.model.forward_inputs(leaves, inp.args_of(sl))
                t = self.model.resolve_target(batch_target(spec, sl), out)
                g = torch.autograd.grad(self.model.target_scalar(out, t).sum(), leaves)
                inp.write(grads[sl], g)
                outs.append(out.detach())
                parts.append(t)
        return torch.cat(outs), join_targets(spec, parts), grads

    def _scalars(self, inp: Inputs, points: Any, target: Any, samples: Any = None) -> Any:
        """The targeted output at points, no gradient.

        ``samples`` names the sample of each point (a LongTensor; None: the points
        are the samples in order) for the per-sample additional arguments.
        """
        torch = import_torch()
        with torch.no_grad():
            return torch.cat(
                [
                    self.model.target_scalar(
                        inp.forward(points[sl], sl if samples is None else samples[sl]),
                        take_rows(target, sl),
                    )
                    for sl in batches(len(points), self.batch_size)
                ]
            )

    def _gradients(
        self, inp: Inputs, points: Any, target: Any, reps: int, samples: Any = None
    ) -> tuple[Any, Any]:
        """Gradient of the targeted output at each point, and the output itself.

        ``points`` holds ``reps`` consecutive blocks of the samples (block r, row i
        belongs to sample i, or to ``samples[i]`` when given); returns (gradients
        shaped like points, scalars (m,)).
        """
        return input_gradients(inp, points, target, reps, self.batch_size, samples)

    def __call__(
        self,
        X: Any,
        target: TargetLike = None,
        *,
        additional_forward_args: Any = None,
        feature_names: Sequence[str] | None = None,
    ) -> Explanations:
        """Attributions of the targeted output for each input.

        Parameters
        ----------
        X : array-like, torch.Tensor, or tuple of them
            Numeric inputs of shape (n_samples, *input_shape); a tensor must be on the
            model's device. A tuple holds one input per forward argument of the model
            (e.g. an image and a metadata vector), each with the same n_samples; the
            model is called as ``model(*X, *additional_forward_args)``.
        target : None, int, sequence of int or callable, optional
            The output explained: None for each sample's largest output (the
            predicted class), an output index for all samples, one index per sample,
            or a callable mapping the output tensor (n, n_outputs) to one scalar per
            sample, row by row.
        additional_forward_args : None, tuple or object, optional
            Arguments passed to the model after the inputs and not explained (a mask,
            a flag); a single object is passed as a one-tuple. A tensor in it whose
            first axis has n_samples entries goes with its samples (each pass gets
            the rows of its samples, repeated for the points evaluated per sample, as
            in captum); anything else is passed unchanged.
        feature_names : sequence of str, optional
            Names of the features of 1-D inputs; default: a DataFrame's columns, else
            ``x0``, ``x1``, ... For a tuple X, a tuple with one entry per input (None
            or that input's names).

        Returns
        -------
        Explanation or tuple of Explanation
            One Explanation for one input; for a tuple X, a tuple with one
            Explanation per input, in X's order. Each has values (n_samples,
            *input_shape, 1) float64 on the axes ("samples", *input axes,
            "outputs"): ("features",) for 1-D inputs, ("tokens", "embedding") for
            2-D, ("channels", "height", "width") for 3-D. ``model_output`` is the
            targeted output at ``X``; what ``base_values`` and ``quality`` hold, and
            the values' units, are in the class's Notes. With several inputs
            ``params["input"]`` is the input's position and ``params["n_inputs"]``
            their number.

        Raises
        ------
        InputError
            Inputs that are not numeric, hold NaN or infinite values, are integer
            tensors (token ids: explain the embeddings), are on another device or
            have different numbers of samples; a target out of range; and the errors
            the class lists.
        """
        with self.model.evaluation():
            inp = self._inputs(X, additional_forward_args, feature_names)
            return self._attribute(inp, target)

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        """The explanation of one call, computed in eval mode (each method's own rule)."""
        raise NotImplementedError  # pragma: no cover - every method defines it

    def _explanation(
        self,
        inp: Inputs,
        values: Any,
        out: Any,
        target: Any,
        *,
        params: dict[str, Any],
        **options: Any,
    ) -> Explanations:
        """:meth:`Inputs.explanations` for this explainer's method and batch size."""
        return inp.explanations(
            values,
            out,
            target,
            method=self.method,
            params={**params, "batch_size": self.batch_size},
            **options,
        )


def background_inputs(model: TorchModel, background: Any) -> tuple[Any, ...]:
    """Background rows as float tensors, one per input (a tuple for several inputs).

    Raises
    ------
    InputError
        As ``TorchModel.as_inputs`` with the name ``background``.
    """
    torch = import_torch()
    return tuple(
        t if t.is_floating_point() else model.in_parameter_dtype(t.to(torch.get_default_dtype()))
        for t in model.as_inputs(background, "background")
    )


def describe_baseline(baseline: Any) -> Any:
    """What ``params`` records of a baseline: the scalar, or the array's shape (a list
    of them for one baseline per input)."""
    if isinstance(baseline, tuple):
        return [describe_baseline(b) for b in baseline]
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
    inp: Inputs, points: Any, target: Any, reps: int, batch_size: int | None, samples: Any = None
) -> tuple[Any, Any]:
    """Batched gradients of the targeted output with respect to the packed input points.

    ``points`` holds ``reps`` blocks of samples (``samples[i]`` the sample of row i of
    a block, None for the samples in order).

    Returns
    -------
    (grads, scalars) : tensors of shape points.shape and (len(points),)
    """
    torch = import_torch()
    model = inp.model
    rows = expand_target(target, reps)
    owners = inp.point_rows(len(points) // reps, reps, samples)
    grads = torch.empty_like(points)
    scalars = torch.empty(len(points), dtype=points.dtype, device=points.device)
    with torch.enable_grad():
        for sl in batches(len(points), batch_size):
            leaves = inp.leaves(points[sl])
            out = model.forward_inputs(leaves, inp.args_of(None if owners is None else owners[sl]))
            s = model.target_scalar(out, take_rows(rows, sl))
            inp.write(grads[sl], torch.autograd.grad(s.sum(), leaves))
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
        total = vals.reshape(n, -1).sum(axis=1, keepdims=True)
        quality.update(completeness_quality(total, base, model_output))
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


def completeness_quality(total: Any, base: Any, model_output: Any) -> dict[str, np.ndarray]:
    """``completeness_delta`` and ``relative_completeness_delta`` (n, 1) float64.

    ``total`` is the sum of a sample's values (over all its inputs), ``base`` and
    ``model_output`` the targeted output at the baseline and at the input.
    """
    gap = np.abs(total + base - model_output)
    change = np.abs(model_output - base)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(gap == 0, 0.0, gap / change)
    return {"completeness_delta": gap, "relative_completeness_delta": relative}


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

    def _over_draws(
        self, inp: Inputs, target: Any, n_draws: int, chunk: Any
    ) -> tuple[Any, np.ndarray]:
        """Values (a tensor shaped like ``x``) and their Monte Carlo standard errors
        (float64, shaped like the packed values), a chunk of inputs at a time.

        ``chunk(sl)`` gives, for the packed inputs ``inp.x[sl]``, the points (n_draws, m,
        *input_shape) in draw-major layout (block r holds draw r of each input) and a
        function that reduces their gradients, of the same shape, to (values, errors)
        of shape (m, *input_shape), errors None where there are none (left NaN). Each
        pass holds all the draws of as many inputs as ``batch_size`` allows.
        """
        torch = import_torch()
        x = inp.x
        in_shape = tuple(x.shape[1:])
        values = torch.empty_like(x)
        error = torch.full_like(x, float("nan"))
        for sl in sample_chunks(len(x), n_draws, self.batch_size):
            points, reduce = chunk(sl)
            samples = torch.arange(sl.start, sl.stop, device=x.device)
            grads, _ = self._gradients(
                inp, points.reshape(-1, *in_shape), take_rows(target, sl), n_draws, samples
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
