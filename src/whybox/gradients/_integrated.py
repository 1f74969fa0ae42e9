"""Integrated gradients: the path integral of the gradient from a baseline to the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import check_int
from whybox.adapters._torch import TargetLike, import_torch
from whybox.gradients._common import (
    Explanations,
    Inputs,
    TorchExplainer,
    describe_baseline,
    take_rows,
)

IG_RULES = (
    "gausslegendre",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
)


def quadrature(rule: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of an integration rule on [0, 1].

    Parameters
    ----------
    rule : {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle", \
"riemann_trapezoid"}
        Gauss-Legendre quadrature, a Riemann sum over ``n_steps`` equal intervals
        evaluated at their left ends, right ends or midpoints, or the trapezoid rule
        on ``n_steps`` equally spaced points including both ends.
    n_steps : int
        The number of points (at least 2 for the trapezoid rule).

    Returns
    -------
    (alphas, weights) : ndarrays of shape (n_steps,), float64
        ``integral_0^1 g(a) da ~= sum_k weights[k] * g(alphas[k])``; the weights sum
        to 1, so the rule integrates constants exactly (and Gauss-Legendre every
        polynomial of degree below ``2 * n_steps``).
    """
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    k = np.arange(n_steps, dtype=np.float64)
    if rule == "riemann_trapezoid":
        weights = np.full(n_steps, 1.0 / (n_steps - 1))
        weights[[0, -1]] /= 2.0
        return k / (n_steps - 1), weights
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[rule]
    return (k + offset) / n_steps, np.full(n_steps, 1.0 / n_steps)


class IntegratedGradients(TorchExplainer):
    """Integrated gradients (Sundararajan, Taly & Yan 2017).

    The attribution of input element ``x_i`` is

    ``(x_i - b_i) * integral_0^1 d f_t(b + a (x - b)) / d x_i da``,

    the gradient of the targeted output ``f_t`` integrated along the straight path
    from the baseline ``b`` to the input, times the input's distance from the
    baseline. The values add up to ``f_t(x) - f_t(b)`` (completeness) up to the
    error of the numerical integration, which each explanation reports.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    baseline : None, float, array-like, torch.Tensor, or tuple of them, optional
        The reference input ``b``: None for zeros, a scalar for a constant input,
        one input of shape ``input_shape`` for every sample, or one per sample,
        shape (n_samples, *input_shape); for a tuple X, a tuple with one such
        baseline per input. A baseline given to the call overrides it.
    n_steps : int, default 50
        Points at which the gradient is evaluated along the path (at least 2 for
        the trapezoid rule).
    completeness_tolerance : float or None, default 0.01
        A sample whose relative completeness gap
        ``|sum(values) - (f_t(x) - f_t(b))| / |f_t(x) - f_t(b)|`` exceeds this is
        integrated again with twice the steps, until it does not or ``max_steps``
        is reached (the steps used are in ``quality["n_steps"]``). ReLU networks
        are piecewise linear along the path, and a fixed rule misses some kinks.
        None keeps ``n_steps`` for every sample (values then equal captum's).
    max_steps : int, default 400
        The most steps a refined sample gets.
    rule : {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle", \
"riemann_trapezoid"}, default "gausslegendre"
        The integration rule; see :func:`quadrature`. Gauss-Legendre is the most
        accurate for a given ``n_steps`` on smooth models.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`. All ``n_steps`` points of
        all samples go through the model in as few passes as ``batch_size`` allows.

    Raises
    ------
    InputError
        ``n_steps`` is not a positive int, or ``rule`` is not one of the rules.

    Notes
    -----
    Every rule's weights sum to 1, so on a model linear in its input the values are
    exactly ``(x - b) * w`` whatever ``n_steps``. captum's ``riemann_trapezoid``
    uses weights that sum to ``(n_steps - 1) / n_steps`` instead; its values are
    ours times that factor.

    References
    ----------
    Sundararajan, M., Taly, A. & Yan, Q. (2017). Axiomatic attribution for deep
    networks. ICML, PMLR 70, 3319-3328.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from whybox.gradients import IntegratedGradients
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
    ... ).eval()
    >>> X = torch.randn(5, 3)
    >>> explanation = IntegratedGradients(model)(X, target=1)
    >>> explanation.values.shape  # (n_samples, n_features, 1 output)
    (5, 3, 1)
    >>> explanation.axes
    ('samples', 'features', 'outputs')

    Completeness: the values add up to ``f_1(x) - f_1(baseline)`` (float32 model):

    >>> gap = explanation.model_output - explanation.base_values
    >>> bool(np.allclose(explanation.values.sum(axis=1), gap, atol=1e-5))
    True

    A model with two inputs and an extra argument: one Explanation per input, whose
    values add up together:

    >>> class TwoInputs(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a, self.b = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    ...     def forward(self, x_a, x_b, scale):
    ...         return torch.tanh(self.a(x_a) + self.b(x_b)) * scale
    >>> two = TwoInputs().eval()
    >>> X = (torch.randn(5, 3), torch.randn(5, 4))
    >>> ex_a, ex_b = IntegratedGradients(two)(X, target=0, additional_forward_args=2.0)
    >>> ex_a.values.shape, ex_b.values.shape
    ((5, 3, 1), (5, 4, 1))
    >>> total = ex_a.values.sum(axis=1) + ex_b.values.sum(axis=1)
    >>> bool(np.allclose(total, ex_a.model_output - ex_a.base_values, atol=1e-5))
    True
    """

    method = "integrated_gradients"

    def __init__(
        self,
        model: Any,
        *,
        baseline: Any = None,
        n_steps: int = 50,
        rule: str = "gausslegendre",
        completeness_tolerance: float | None = 0.01,
        max_steps: int = 400,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        if completeness_tolerance is not None and not (
            isinstance(completeness_tolerance, (int, float, np.floating))
            and completeness_tolerance > 0
        ):
            raise InputError(
                "completeness_tolerance must be a positive number (a relative gap such as "
                f"0.01) or None to keep n_steps for every sample, got {completeness_tolerance!r}."
            )
        self.completeness_tolerance = completeness_tolerance
        self.max_steps = check_int(max_steps, "max_steps", 1, "max_steps=400")
        if rule not in IG_RULES:
            raise InputError(
                f"rule must be one of {IG_RULES}, got {rule!r}; the default "
                "'gausslegendre' is the most accurate."
            )
        self.rule = rule
        self.n_steps = check_int(
            n_steps, "n_steps", 2 if rule == "riemann_trapezoid" else 1, "n_steps=50"
        )
        self.baseline = baseline

    def __call__(
        self,
        X: Any,
        target: TargetLike = None,
        *,
        baseline: Any = None,
        additional_forward_args: Any = None,
        feature_names: Sequence[str] | None = None,
    ) -> Explanations:
        """Integrated gradients of the targeted output for each input.

        Parameters
        ----------
        X, target, additional_forward_args, feature_names
            The inputs (n_samples, *input_shape), or a tuple with one per forward
            argument; the output explained; arguments passed after the inputs; the
            feature names of 1-D inputs, as in :meth:`TorchExplainer.__call__`.
        baseline : None, float, array-like, torch.Tensor, or tuple of them, optional
            Overrides the explainer's baseline for this call (same forms). For a
            tuple X: None or a scalar for every input, or a tuple with one baseline
            per input (each None, a scalar, one input or one per sample).

        Returns
        -------
        Explanation or tuple of Explanation
            values (n_samples, *input_shape, 1) float64 in the units of the output
            space, one Explanation per input for a tuple X; ``base_values`` is
            ``f_t(baseline)`` and ``model_output`` ``f_t(x)``.
            ``quality["completeness_delta"]`` (n_samples, 1) is
            ``|sum(values) - (f_t(x) - f_t(baseline))|`` and
            ``quality["relative_completeness_delta"]`` that gap divided by
            ``|f_t(x) - f_t(baseline)|`` (inf or NaN where the two outputs are equal).
            For one input ``additivity_error`` is that gap; for several the sum
            runs over all inputs' values (completeness holds jointly), so each
            Explanation's ``additivity_error`` alone also holds the other inputs' share.

        Raises
        ------
        InputError
            Inputs that are not numeric, are integer tensors or are on another
            device; a baseline whose shape fits neither one input nor one per sample,
            or for a tuple X not one baseline per input; a target out of range.
        """
        given = self.baseline if baseline is None else baseline
        with self.model.evaluation():
            inp = self._inputs(X, additional_forward_args, feature_names)
            x = inp.x
            out, tgt = self._start(inp, target)
            b = inp.baseline(given)
            diff = x - b
            f_base = self._scalars(inp, b, tgt)
            values = diff * self._path_integral(inp, b, diff, tgt, self.n_steps)
            steps = np.full(len(x), self.n_steps)
            f_x = self.model.target_scalar(out, tgt)
            while self.completeness_tolerance is not None:
                # rows whose integral is still coarse get twice the steps (kinks of ReLU
                # networks along the path are what a fixed rule misses)
                rows = np.flatnonzero(
                    (_relative_gap(values, f_x, f_base) > self.completeness_tolerance)
                    & (steps * 2 <= self.max_steps)
                )
                if rows.size == 0:
                    break
                steps[rows] *= 2
                idx = import_torch().as_tensor(rows, device=x.device)
                values[idx] = diff[idx] * self._path_integral(
                    inp, b[idx], diff[idx], take_rows(tgt, idx), int(steps[rows[0]]), idx
                )
        return self._explanation(
            inp,
            values,
            out,
            tgt,
            params={
                "n_steps": self.n_steps,
                "rule": self.rule,
                "completeness_tolerance": self.completeness_tolerance,
                "max_steps": self.max_steps,
                "baseline": describe_baseline(given),
            },
            base_values=f_base,
            completeness=True,
            quality={"n_steps": steps.astype(np.float64)[:, None]},
        )

    def _path_integral(
        self, inp: Inputs, start: Any, diff: Any, target: Any, n_steps: int, samples: Any = None
    ) -> Any:
        """``sum_k w_k grad f_t(start + alpha_k diff)``, shaped like ``start``.

        The points of several steps go through the model together: each pass holds
        whole steps (all samples), as many as ``batch_size`` allows. ``samples`` is
        the sample of each row of ``start`` (None: all samples in order).
        """
        torch = import_torch()
        alphas, weights = quadrature(self.rule, n_steps)
        n, in_shape = start.shape[0], tuple(start.shape[1:])
        per_pass = n_steps if not self.batch_size else max(1, self.batch_size // n)
        total = torch.zeros_like(start)
        for first in range(0, n_steps, per_pass):
            a = alphas[first : first + per_pass]
            k = len(a)
            a_t = torch.as_tensor(a, dtype=start.dtype, device=start.device)
            a_t = a_t.reshape(k, 1, *([1] * len(in_shape)))
            points = torch.addcmul(start[None], a_t, diff[None]).reshape(k * n, *in_shape)
            grads, _ = self._gradients(inp, points, target, k, samples)
            grads = grads.reshape(k, n, *in_shape)
            for j in range(k):
                total.add_(grads[j], alpha=float(weights[first + j]))
        return total


def _relative_gap(values: Any, f_x: Any, f_base: Any) -> np.ndarray:
    """|sum(values) - (f(x) - f(b))| / |f(x) - f(b)| per sample, in float64."""
    total = values.detach().reshape(len(values), -1).sum(dim=1).double().cpu().numpy()
    change = (f_x - f_base).detach().double().cpu().numpy()
    gap = np.abs(total - change)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap == 0, 0.0, gap / np.abs(change))
