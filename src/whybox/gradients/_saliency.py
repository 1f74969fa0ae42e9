"""Saliency maps: the gradient of the targeted output with respect to the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whybox.gradients._common import Explanations, Inputs, TorchExplainer


class Saliency(TorchExplainer):
    """Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014).

    The attribution of input element ``x_i`` is ``d f_t(x) / d x_i``, the gradient of
    the targeted output ``f_t``; with ``absolute=True`` (the paper's map) its absolute
    value.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    absolute : bool, default True
        Report ``|gradient|`` (True) or the signed gradient (False).
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`.

    Notes
    -----
    Called as ``explainer(X, target)`` (see :meth:`TorchExplainer.__call__`), it
    returns values in the units of the output space per unit of input. A gradient is
    local sensitivity, not a share of the output: the values do not add up to
    anything, so ``base_values`` is NaN and ``additivity_error`` NaN.

    References
    ----------
    Simonyan, K., Vedaldi, A. & Zisserman, A. (2014). Deep inside convolutional
    networks: visualising image classification models and saliency maps. ICLR
    workshop, arXiv:1312.6034.

    Examples
    --------
    The saliency of a linear model is the absolute value of its weights:

    >>> import torch
    >>> from whybox.gradients import Saliency
    >>> model = torch.nn.Linear(3, 2).eval()
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]))
    >>> explanation = Saliency(model)(torch.ones(2, 3), target=0)
    >>> explanation.values[..., 0]
    array([[1. , 2. , 0.5],
           [1. , 2. , 0.5]])
    """

    method = "saliency"

    def __init__(
        self,
        model: Any,
        *,
        absolute: bool = True,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        self.absolute = bool(absolute)

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        out, tgt, grads = self._first_pass(inp, target)
        values = grads.abs() if self.absolute else grads
        return self._explanation(inp, values, out, tgt, params={"absolute": self.absolute})


class InputXGradient(TorchExplainer):
    """Input times gradient (Shrikumar, Greenside, Shcherbina & Kundaje 2016).

    The attribution of input element ``x_i`` is ``x_i * d f_t(x) / d x_i``: the
    gradient of the targeted output ``f_t`` weighted by the input itself, so that
    features at zero get zero.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`.

    Notes
    -----
    Called as ``explainer(X, target)`` (see :meth:`TorchExplainer.__call__`), it
    returns values in the units of the output space. For a model that is linear
    through the origin (``f(x) = w . x``) the values add
    up to ``f(x) - f(0)``; for other models they add up to nothing in particular, so
    ``base_values`` is NaN (and ``additivity_error`` NaN). Integrated gradients with
    a zero baseline is the method whose values do add up to ``f(x) - f(0)``.

    References
    ----------
    Shrikumar, A., Greenside, P., Shcherbina, A. & Kundaje, A. (2016). Not just a
    black box: learning important features through propagating activation
    differences. arXiv:1605.01713.
    """

    method = "input_x_gradient"

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        out, tgt, grads = self._first_pass(inp, target)
        return self._explanation(inp, inp.x * grads, out, tgt, params={})
