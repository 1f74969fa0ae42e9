"""Saliency maps: the gradient of the targeted output with respect to the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whybox._explanation import Explanation
from whybox.adapters._torch import TargetLike
from whybox.gradients._common import TorchExplainer


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
    A gradient is local sensitivity, not a share of the output: the values do not add
    up to anything, so ``base_values`` is NaN and ``additivity_error`` NaN.
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

    def __call__(
        self, X: Any, target: TargetLike = None, *, feature_names: Sequence[str] | None = None
    ) -> Explanation:
        """Saliency of the targeted output for each input.

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
            Names of the features of 1-D inputs.

        Returns
        -------
        Explanation
            values (n_samples, *input_shape, 1) float64, in the units of the output
            space per unit of input; ``model_output`` is the targeted output.

        Raises
        ------
        InputError
            Inputs that are not numeric or are on another device, a target out of
            range.
        """
        with self.model.evaluation():
            x, out, tgt, grads = self._first_pass(X, target)
        values = grads.abs() if self.absolute else grads
        return self._explanation(
            x, values, out, tgt, params={"absolute": self.absolute}, feature_names=feature_names
        )


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
    For a model that is linear through the origin (``f(x) = w . x``) the values add
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

    def __call__(
        self, X: Any, target: TargetLike = None, *, feature_names: Sequence[str] | None = None
    ) -> Explanation:
        """Input times gradient of the targeted output for each input.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
            Numeric inputs; a tensor must be on the model's device.
        target : None, int, sequence of int or callable, optional
            The output explained, as in :meth:`Saliency.__call__`.
        feature_names : sequence of str, optional
            Names of the features of 1-D inputs.

        Returns
        -------
        Explanation
            values (n_samples, *input_shape, 1) float64, in the units of the output
            space; ``model_output`` is the targeted output, ``base_values`` NaN.

        Raises
        ------
        InputError
            Inputs that are not numeric or are on another device, a target out of
            range.
        """
        with self.model.evaluation():
            x, out, tgt, grads = self._first_pass(X, target)
        return self._explanation(x, x * grads, out, tgt, params={}, feature_names=feature_names)
