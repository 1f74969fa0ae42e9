"""DeepLIFT (Rescale rule) and DeepSHAP for PyTorch models.

DeepLIFT runs each input ``x`` and its reference (baseline) ``r`` through the model
in one pass, as the two halves of one batch, and back-propagates *multipliers*
instead of gradients: at every supported nonlinearity the local derivative is
replaced by the secant slope ``(out(x) - out(r)) / (in(x) - in(r))`` (the Rescale
rule). Linear layers keep their weights, so the attribution
``(x - r) * multiplier`` adds up to ``f_t(x) - f_t(r)`` (summation-to-delta).
DeepSHAP averages DeepLIFT over the rows of a background set.

The rules are attached with forward hooks on the nonlinearity *modules* and a
custom autograd function; nothing is stored on the modules, and every hook is
removed when the call ends, also on error.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox.adapters._torch import batches, import_torch
from whybox.gradients._common import (
    Explanations,
    Inputs,
    TorchExplainer,
    background_inputs,
    batch_target,
    describe_baseline,
    expand_target,
    join_targets,
)

# Functional activations that, called outside a supported module, DeepLIFT cannot
# see: they are differentiated as usual, which breaks summation-to-delta.
_WATCHED_FUNCTIONS = frozenset(
    {
        "relu",
        "relu_",
        "relu6",
        "elu",
        "elu_",
        "selu",
        "celu",
        "leaky_relu",
        "leaky_relu_",
        "prelu",
        "rrelu",
        "gelu",
        "silu",
        "mish",
        "hardswish",
        "hardsigmoid",
        "hardtanh",
        "sigmoid",
        "sigmoid_",
        "tanh",
        "tanh_",
        "softplus",
        "softsign",
        "logsigmoid",
        "tanhshrink",
        "softmax",
        "log_softmax",
        "softmin",
        "glu",
        "threshold",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "adaptive_max_pool3d",
    }
)


def _check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
        raise InputError(
            f"eps must be a positive float (the smallest input difference divided by), "
            f"got {type(eps).__name__} {eps!r}; the default is 1e-10."
        )
    if not np.isfinite(eps) or eps <= 0:
        raise InputError(
            f"eps must be a positive finite float (the smallest input difference "
            f"divided by), got {eps!r}; the default is 1e-10."
        )
    return float(eps)


# ---------------------------------------------------------------------- rules
@functools.cache
def _multiplier_function() -> Any:
    """The autograd function that swaps a module's backward for a DeepLIFT rule.

    ``apply(inp, out, rule)`` returns ``out``'s values; its backward sends
    ``rule(grad_out)`` to ``inp`` (and nothing through the module's own graph).
    """
    torch = import_torch()

    class _Multiplier(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, inp: Any, out: Any, rule: Callable[[Any], Any]) -> Any:
            ctx.rule = rule
            return out.view_as(out)

        @staticmethod
        def backward(ctx: Any, grad_out: Any) -> Any:
            return ctx.rule(grad_out), None, None

    return _Multiplier


def _local_vjp(fn: Callable[[Any], Any], inp: Any, grad_out: Any) -> Any:
    """The ordinary gradient of ``fn`` at ``inp`` times ``grad_out`` (for the fallback)."""
    torch = import_torch()
    with torch.enable_grad():
        leaf = inp.detach().requires_grad_(True)
        out = fn(leaf.clone())  # the clone lets in-place modules run on a leaf
        if isinstance(out, tuple):
            out = out[0]
        (grad,) = torch.autograd.grad(out, leaf, grad_out)
    return grad


def _halves(inp: Any, out: Any, eps: float) -> tuple[Any, Any, Any]:
    """Input and output differences of the input half minus the reference half.

    Returns ``(delta_in, delta_out, small)``, each of half the rows, where ``small``
    marks ``|delta_in| < eps`` (the units that take the ordinary derivative).
    """
    x_in, r_in = inp.chunk(2)
    x_out, r_out = out.chunk(2)
    delta_in = x_in - r_in
    return delta_in, x_out - r_out, delta_in.abs() < eps


def _both(t: Any) -> Any:
    """A half-batch tensor repeated for the input half and the reference half."""
    return import_torch().cat([t, t])


def _rescale_rule(
    fn: Callable[[Any], Any],
    inp: Any,
    out: Any,
    eps: float,
    derivative: Callable[[Any, Any], Any] | None = None,
) -> Callable:
    """Rescale rule of an elementwise nonlinearity: grad * delta_out / delta_in.

    Where ``|delta_in| < eps`` the ordinary derivative at each half is used
    instead: ``derivative(inp, out)`` when the closed form is known, otherwise
    ``fn`` differentiated by autograd (only when such units exist).
    """
    torch = import_torch()
    d_in, d_out, small = _halves(inp, out, eps)
    secant = _both(d_out / torch.where(small, torch.ones_like(d_in), d_in))
    if derivative is not None:
        slope = torch.where(_both(small), derivative(inp, out), secant)
        return lambda grad_out: grad_out * slope
    if not bool(small.any()):
        return lambda grad_out: grad_out * secant
    both_small = _both(small)

    def rule(grad_out: Any) -> Any:
        return torch.where(both_small, _local_vjp(fn, inp, grad_out), grad_out * secant)

    return rule


def _derivative(module: Any) -> Callable[[Any, Any], Any] | None:
    """The closed-form derivative ``(inp, out) -> d out / d inp`` of a module, if known.

    Each equals torch's own backward, also at 0 (ReLU 0, LeakyReLU its slope, ELU
    ``alpha``); None for the modules differentiated by autograd (Softplus).
    """
    torch = import_torch()
    nn = torch.nn
    if isinstance(module, nn.ReLU):
        return lambda inp, out: (inp > 0).to(inp.dtype)
    if isinstance(module, nn.LeakyReLU):
        slope = module.negative_slope
        return lambda inp, out: torch.where(inp > 0, 1.0, slope).to(inp.dtype)
    if isinstance(module, nn.ELU):
        alpha = module.alpha
        return lambda inp, out: torch.where(inp > 0, 1.0, out + alpha).to(inp.dtype)
    if isinstance(module, nn.Sigmoid):
        return _sigmoid_derivative
    if isinstance(module, nn.Tanh):
        return lambda inp, out: 1 - out * out
    return None


def _sigmoid_derivative(inp: Any, out: Any) -> Any:
    return out * (1 - out)


def _softmax_rule(fn: Callable[[Any], Any], inp: Any, out: Any, eps: float, dim: int) -> Callable:
    """Rescale rule of a softmax, made shift-invariant as in captum.

    The elementwise secant multipliers minus their mean over the softmax axis,
    so that adding one constant to all of a sample's logits contributes nothing.
    The mean is taken per sample and per half (captum takes it over the whole
    batch, which makes a row's values depend on the other rows).
    """
    elementwise = _rescale_rule(fn, inp, out, eps)

    def rule(grad_out: Any) -> Any:
        grad = elementwise(grad_out)
        return grad - grad.mean(dim=dim, keepdim=True)

    return rule


def _maxpool_rule(leaf: Any, pooled: Any, eps: float) -> Callable:
    """DeepLIFT's rule for max pooling (captum's convention).

    In each window the output difference ``out(x) - out(r)`` goes to the input
    that is the maximum of ``x``'s window when it is positive and to the maximum of
    ``r``'s window when it is negative, and is divided there by the input
    difference; where ``|delta_in| < eps`` the ordinary gradient is used.
    ``pooled`` is the module's output computed from ``leaf`` with its autograd
    graph, whose backward routes a window's value to that window's maximum (each
    half to its own), so overlapping windows add up (captum's unpooling keeps only
    one of them) and every pooling option (padding, dilation, ceil mode) is honoured.
    """
    torch = import_torch()
    d_in, d_out, small = _halves(leaf.detach(), pooled.detach(), eps)
    inverse = _both(torch.where(small, torch.zeros_like(d_in), 1 / d_in))
    rising, falling = d_out.clamp(min=0), d_out.clamp(max=0)
    any_small = bool(small.any())
    both_small = _both(small) if any_small else None

    def rule(grad_out: Any) -> Any:
        g_x, g_r = grad_out.chunk(2)
        routed = torch.cat([g_x * rising, g_r * falling])
        (to_max,) = torch.autograd.grad(pooled, leaf, routed, retain_graph=True)
        grad = _both(sum(to_max.chunk(2))) * inverse
        if any_small:
            (plain,) = torch.autograd.grad(pooled, leaf, grad_out, retain_graph=True)
            grad = torch.where(both_small, plain, grad)
        return grad

    return rule


_MAX_POOLS = ("MaxPool1d", "MaxPool2d", "MaxPool3d")


def _is_max_pool(module: Any) -> bool:
    nn = import_torch().nn
    return isinstance(module, tuple(getattr(nn, name) for name in _MAX_POOLS))


def _rule_for(module: Any, inp: Any, out: Any, eps: float) -> Callable:
    """The DeepLIFT rule of a supported elementwise module or softmax."""
    torch = import_torch()
    nn = torch.nn
    fn = module.forward  # calling forward directly skips the hooks
    if isinstance(module, (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus)):
        return _rescale_rule(fn, inp, out, eps, _derivative(module))
    if isinstance(module, nn.Softmax):
        dim = module.dim if module.dim is not None else (0 if inp.ndim in (0, 1, 3) else 1)
        return _softmax_rule(fn, inp, out, eps, dim)
    raise UnsupportedModelError(f"DeepLift has no rule for {type(module).__name__}.")


SUPPORTED_MODULES = (
    "ReLU",
    "ELU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
)
"""The torch.nn module types whose backward DeepLIFT replaces by its rule."""


def _supported(module: Any) -> bool:
    nn = import_torch().nn
    return isinstance(module, tuple(getattr(nn, name) for name in SUPPORTED_MODULES))


# ---------------------------------------------------------------------- hooks
class _Hooks:
    """Forward hooks that attach the DeepLIFT rules to a model for one pass.

    ``n_rows`` is the size of the paired batch (inputs then references); a
    nonlinearity that sees another leading size raises, since its rule would pair
    the wrong rows. ``depth`` counts supported modules being run (for the watcher).
    """

    def __init__(self, root: Any, eps: float) -> None:
        self.eps = eps
        self.n_rows = 0
        self.depth = 0
        self.stack: list[Any] = []
        self.handles: list[Any] = []
        for module in root.modules():
            if _supported(module):
                self.handles.append(module.register_forward_pre_hook(self._pre))
                self.handles.append(module.register_forward_hook(self._post))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _pre(self, module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        inp = args[0]
        if inp.ndim == 0 or inp.shape[0] != self.n_rows:
            raise UnsupportedModelError(
                f"DeepLift needs every nonlinearity to see the samples on the first axis, "
                f"but {type(module).__name__} got a tensor of shape {tuple(inp.shape)} in a "
                f"pass of {self.n_rows} rows; move the sample axis first, or use "
                "IntegratedGradients."
            )
        self.stack.append(inp)
        self.depth += 1
        # The module runs on a detached copy, so an in-place module cannot overwrite
        # the tensor the rule is attached to. Its own backward is never part of the
        # model's graph; a max pool keeps it on the copy, for its rule to route with.
        copy = inp.detach().clone()
        if _is_max_pool(module):
            copy.requires_grad_(True)
        return (copy, *args[1:])

    def _post(self, module: Any, args: tuple[Any, ...], out: Any) -> Any:
        inp = self.stack.pop()
        values = out[0] if isinstance(out, tuple) else out
        if _is_max_pool(module):
            rule = _maxpool_rule(args[0], values, self.eps)
        else:
            rule = _rule_for(module, inp.detach(), values.detach(), self.eps)
        wrapped = _multiplier_function().apply(inp, values.detach(), rule)
        self.depth -= 1
        return (wrapped, *out[1:]) if isinstance(out, tuple) else wrapped


@contextmanager
def _watch_activations(hooks: _Hooks) -> Iterator[dict[str, int]]:
    """Count activation functions called outside the supported modules."""
    from torch.overrides import TorchFunctionMode

    seen: dict[str, int] = {}

    class _Watch(TorchFunctionMode):
        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            name = getattr(func, "__name__", "")
            if hooks.depth == 0 and name in _WATCHED_FUNCTIONS:
                seen[name] = seen.get(name, 0) + 1
            return func(*args, **(kwargs or {}))

    with _Watch():
        yield seen


# ---------------------------------------------------------------------- explainers
class _DeepLiftBase(TorchExplainer):
    """The paired pass shared by :class:`DeepLift` and :class:`DeepShap`."""

    def __init__(
        self,
        model: Any,
        *,
        eps: float = 1e-10,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        self.eps = _check_eps(eps)

    def _pairs_per_pass(self, n_pairs: int) -> int:
        """Pairs per forward/backward pass: each pair is two rows (input, reference)."""
        return n_pairs if not self.batch_size else max(1, self.batch_size // 2)

    def _deeplift(
        self, inp: Inputs, refs: Any, target: Any, i_idx: Any, r_idx: Any
    ) -> tuple[Any, ...]:
        """DeepLIFT of the pairs ``(x[i_idx[p]], refs[r_idx[p]])``, in batches.

        ``x`` and ``refs`` are packed (see :class:`Inputs`); both halves of a pair are
        called with the additional arguments of sample ``i_idx[p]``.

        ``target`` is what ``TorchModel.target_rows`` returns for the samples of
        ``x``; it is resolved per pair from the pair's own output at the input, so
        no separate forward pass is needed. Returns the attributions (n_pairs,
        *input_shape), the targeted outputs at the references (n_pairs,), the
        outputs at the inputs (n_pairs, n_outputs) and the resolved target of each
        pair.
        """
        torch = import_torch()
        x = inp.x
        raw = dataclasses.replace(self.model, output="raw")
        n_pairs = len(i_idx)
        values = torch.empty((n_pairs, *x.shape[1:]), dtype=x.dtype, device=x.device)
        f_r = torch.empty(n_pairs, dtype=x.dtype, device=x.device)
        rows = target[i_idx.cpu().numpy()] if isinstance(target, np.ndarray) else target
        outs, parts = [], []
        seen: dict[str, int] = {}
        hooks = _Hooks(self.model.module, self.eps)
        try:
            for sl in batches(n_pairs, self._pairs_per_pass(n_pairs)):
                xs, rs = x[i_idx[sl]], refs[r_idx[sl]]
                m = len(xs)
                with torch.enable_grad():
                    points = torch.cat([xs, rs]).requires_grad_(True)
                    hooks.n_rows, hooks.depth = len(points), 0
                    hooks.stack.clear()
                    owners = None
                    if inp.per_sample_args:
                        owners = torch.cat([i_idx[sl], i_idx[sl]])
                    with _watch_activations(hooks) as found:
                        logits = inp.forward(points, owners, raw)
                    for name, count in found.items():
                        seen[name] = seen.get(name, 0) + count
                    out = self._link(logits)
                    t = self.model.resolve_target(batch_target(rows, sl), out[:m].detach())
                    scalars = self.model.target_scalar(out, expand_target(t, 2))
                    (grad,) = torch.autograd.grad(scalars.sum(), points)
                values[sl] = (xs - rs) * grad[:m]
                f_r[sl] = scalars.detach()[m:]
                outs.append(out[:m].detach())
                parts.append(t)
        finally:
            hooks.remove()
        if seen:
            calls = ", ".join(f"{name} ({count}x)" for name, count in sorted(seen.items()))
            warnings.warn(
                f"the model calls activation functions outside the supported modules: "
                f"{calls}; DeepLift cannot replace their gradients, so the values may not add "
                f"up (see quality['completeness_delta']). Use the modules "
                f"({', '.join(SUPPORTED_MODULES)}) instead of functional calls.",
                UserWarning,
                stacklevel=4,  # _deeplift, _attribute, __call__, the caller
            )
        return values, f_r, torch.cat(outs), join_targets(rows, parts)

    def _link(self, logits: Any) -> Any:
        """The output space, with the Rescale rule on the sigmoid or softmax link."""
        torch = import_torch()
        if self.model.output != "probability":
            return logits
        if logits.shape[1] == 1:
            probs = torch.sigmoid(logits)
            rule = _rescale_rule(
                torch.sigmoid, logits.detach(), probs.detach(), self.eps, _sigmoid_derivative
            )
        else:
            probs = torch.softmax(logits, dim=1)
            soft = functools.partial(torch.softmax, dim=1)
            rule = _softmax_rule(soft, logits.detach(), probs.detach(), self.eps, 1)
        return _multiplier_function().apply(logits, probs.detach(), rule)

    def _finish(
        self, inp: Inputs, values: Any, out: Any, target: Any, base: Any, params: dict[str, Any]
    ) -> Explanations:
        return self._explanation(
            inp,
            values,
            out,
            target,
            params={**params, "eps": self.eps},
            base_values=base,
            completeness=True,
        )


class DeepLift(_DeepLiftBase):
    """DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje 2017).

    The attribution of input element ``x_i`` is ``(x_i - r_i) * m_i``, where the
    multiplier ``m_i`` is the gradient of the targeted output ``f_t`` computed with
    every supported nonlinearity's local derivative replaced by its secant slope
    between the input and the reference ``r`` (the baseline):
    ``(out(x) - out(r)) / (in(x) - in(r))``. The values add up to
    ``f_t(x) - f_t(r)`` (summation-to-delta) for networks of linear layers
    (linear, convolution, average pooling, eval-mode batch norm) and the supported
    nonlinearities.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called. Its
        nonlinearities must be modules of the supported types (``SUPPORTED_MODULES``:
        ReLU, ELU, LeakyReLU, Sigmoid, Tanh, Softplus, Softmax, MaxPool1d/2d/3d);
        a module may be used several times in one forward pass. Samples must stay
        independent and on the first axis (eval mode guarantees it for batch norm).
    baseline : float, array-like, torch.Tensor, or tuple of them, optional
        The reference ``r``: a scalar, one input of shape ``input_shape``, or one per
        sample ``(n_samples, *input_shape)``; None (default) is all zeros. For a
        tuple X, a tuple with one such baseline per input (None or a scalar stands
        for every input).
    eps : float, default 1e-10
        Where ``|in(x) - in(r)| < eps`` the ordinary derivative replaces the secant
        slope (captum's convention).
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`; a pass holds an input and
        its reference per pair, ``max(1, batch_size // 2)`` pairs. With
        ``output="probability"`` the sigmoid or softmax link gets the Rescale rule
        too.

    Raises
    ------
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    InputError
        Bad ``eps``, ``output`` or ``batch_size``.

    Notes
    -----
    Called as ``explainer(X, target)`` (see :meth:`TorchExplainer.__call__`), it
    returns values in the units of the output space; ``base_values`` is
    ``f_t(baseline)`` and ``model_output`` ``f_t(x)``, so ``additivity_error`` is the
    summation-to-delta gap. ``quality["completeness_delta"]`` (n_samples, 1) is
    ``|sum(values) - (f_t(x) - f_t(baseline))|`` and
    ``quality["relative_completeness_delta"]`` that gap divided by
    ``|f_t(x) - f_t(baseline)|``. A supported nonlinearity that sees a tensor whose
    first axis is not the sample axis raises ``UnsupportedModelError``.

    Nonlinearities called as functions (``torch.relu``, ``F.relu``, ``x.sigmoid()``)
    or of unsupported types (GELU, SiLU, adaptive max pooling ...) keep their
    ordinary gradient, which breaks summation-to-delta; a ``UserWarning`` names the
    common activation functions found outside the supported modules, and
    ``quality["completeness_delta"]`` measures the damage. Softmax follows
    captum's shift-invariant rule, which does not add up exactly either.
    Differences from captum's ``DeepLift``: reused modules are supported, the
    softmax normalisation is per sample (captum's mixes the rows of a batch), the
    max-pooling fallback uses each row's own gradient (captum's uses the first
    row's) and overlapping pooling windows add up.
    """

    method = "deeplift"

    def __init__(
        self,
        model: Any,
        *,
        baseline: Any = None,
        eps: float = 1e-10,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(
            model, eps=eps, output=output, output_names=output_names, batch_size=batch_size
        )
        self.baseline = baseline

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        torch = import_torch()
        x = inp.x
        spec = self.model.target_rows(target, len(x))
        ref = inp.baseline(self.baseline)
        idx = torch.arange(len(x), device=x.device)
        values, f_ref, out, tgt = self._deeplift(inp, ref, spec, idx, idx)
        return self._finish(
            inp, values, out, tgt, f_ref, {"baseline": describe_baseline(self.baseline)}
        )


class DeepShap(_DeepLiftBase):
    """DeepSHAP: DeepLIFT averaged over background references (Lundberg & Lee 2017).

    The attribution of ``x_i`` is the mean over the background rows ``b`` of the
    DeepLIFT (Rescale) attribution with reference ``b``; it approximates the SHAP
    values of the targeted output with the background as the reference
    distribution, and adds up to ``f_t(x) - mean_b f_t(b)``.

    Parameters
    ----------
    model : torch.nn.Module
        As in :class:`DeepLift` (supported nonlinearity modules, samples on the first
        axis).
    background : array-like or torch.Tensor of shape (n_background, *input_shape), or tuple
        The reference rows; a few dozen to a few hundred are typical. Each explained
        sample goes through the model once per background row. For a tuple X, a
        tuple with one tensor per input, each with the same rows.
    eps : float, default 1e-10
        As in :class:`DeepLift`.
    output, output_names, batch_size
        As in :class:`DeepLift`; the ``n_samples * n_background`` pairs go through
        the model ``max(1, batch_size // 2)`` at a time.

    Raises
    ------
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    InputError
        ``background`` that is not numeric, has no sample axis or no rows; bad
        ``eps``, ``output`` or ``batch_size``.

    Notes
    -----
    Called as ``explainer(X, target)`` (see :meth:`TorchExplainer.__call__`), it
    returns values in the units of the output space; ``base_values`` is the mean of
    ``f_t`` over the background and ``model_output`` ``f_t(x)``, so
    ``additivity_error`` is the summation-to-delta gap (also in
    ``quality["completeness_delta"]``, with ``quality["relative_completeness_delta"]``).
    Inputs whose shape differs from the background's raise ``InputError``.

    The same limits as :class:`DeepLift` (functional activations, softmax). The
    values equal captum's ``DeepLiftShap``: the plain mean of the DeepLIFT values
    over the background rows.
    """

    method = "deepshap"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        eps: float = 1e-10,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(
            model, eps=eps, output=output, output_names=output_names, batch_size=batch_size
        )
        self.background = background_inputs(self.model, background)

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        torch = import_torch()
        bg = inp.background(self.background)
        x = inp.x
        spec = self.model.target_rows(target, len(x))
        n, k = len(x), len(bg)
        pairs = torch.arange(n * k, device=x.device)
        i_idx, r_idx = pairs // k, pairs % k
        values, f_ref, outs, targets = self._deeplift(inp, bg, spec, i_idx, r_idx)
        out, tgt = outs[::k], targets if callable(targets) else targets[::k]
        values = values.reshape(n, k, *x.shape[1:]).mean(dim=1)
        base = f_ref.reshape(n, k).mean(dim=1)
        return self._finish(inp, values, out, tgt, base, {"n_background": k})
