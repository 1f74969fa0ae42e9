"""SmoothGrad and VarGrad: gradients averaged over noisy copies of the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whybox._exceptions import InputError
from whybox.gradients._common import (
    DrawingExplainer,
    Explanations,
    Inputs,
    check_scale,
    mean_and_error,
    mean_over_draws,
    standard_normal,
)

SMOOTHGRAD_VARIANTS = ("smoothgrad", "smoothgrad_sq", "vargrad")


# ---------------------------------------------------------------------- SmoothGrad
class SmoothGrad(DrawingExplainer):
    """SmoothGrad (Smilkov et al. 2017) and VarGrad (Adebayo et al. 2018).

    Draws ``n_draws`` noisy copies ``x + e`` of each input, with
    ``e ~ N(0, sigma^2 I)`` and ``sigma = noise_level * (max(x) - min(x))`` (the
    paper's noise level, relative to the sample's own range), and aggregates the
    gradients ``g = d f_t(x + e) / d x`` of the targeted output ``f_t``:

    - ``"smoothgrad"``: their mean, ``E[g]``;
    - ``"smoothgrad_sq"``: the mean of their squares, ``E[g^2]``;
    - ``"vargrad"``: their variance, ``E[(g - E[g])^2]`` (over the draws, divided by
      ``n_draws``).

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    n_draws : int, default 50
        Noisy copies per input.
    noise_level : float, default 0.15
        The noise's standard deviation as a fraction of each sample's value range
        (the paper recommends 0.1 to 0.2). 0 gives the plain gradient.
    variant : {"smoothgrad", "smoothgrad_sq", "vargrad"}, default "smoothgrad"
        How the gradients are aggregated (see above).
    absolute : bool, default False
        Take the absolute value of each noisy gradient before aggregating (as a
        smoothed absolute saliency map).
    random_state : int, numpy Generator or None, default 0
        Seeds the noise. An int gives the same values on every call, whatever
        ``batch_size`` and device: it seeds a CPU ``torch.Generator`` (as
        ``torch.manual_seed`` would) that draws the noise input by input, one call
        of shape (n_draws, *input_shape) per input. None draws fresh noise.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`; each pass holds all the
        noisy copies of as many inputs as ``batch_size`` allows (at least one input).

    Raises
    ------
    InputError
        Bad ``n_draws``, ``noise_level``, ``variant`` or ``random_state``.

    Notes
    -----
    Called as ``explainer(X, target)`` (see :meth:`TorchExplainer.__call__`), it
    returns values in output units per input unit (squared for ``"smoothgrad_sq"``
    and ``"vargrad"``) and ``model_output``, the targeted output at the noise-free
    input. ``quality["noise_std"]`` (n_samples, 1) is each input's ``sigma``; for
    ``"smoothgrad"`` and ``"smoothgrad_sq"``, ``quality["standard_error"]`` (shaped
    like the values) is the Monte Carlo standard error of each value.

    The values are local sensitivities and add up to nothing, so ``base_values`` is
    NaN. The target (None: each sample's predicted class) is resolved at the
    noise-free input and kept for its noisy copies.

    References
    ----------
    Smilkov, D., Thorat, N., Kim, B., Viegas, F. & Wattenberg, M. (2017).
    SmoothGrad: removing noise by adding noise. arXiv:1706.03825.
    Adebayo, J., Gilmer, J., Goodfellow, I. & Kim, B. (2018). Local explanation
    methods for deep neural networks lack sensitivity to parameter values. ICLR
    workshop, arXiv:1810.03307.
    """

    method = "smoothgrad"

    def __init__(
        self,
        model: Any,
        *,
        n_draws: int = 50,
        noise_level: float = 0.15,
        variant: str = "smoothgrad",
        absolute: bool = False,
        random_state: Any = 0,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(
            model,
            n_draws=n_draws,
            random_state=random_state,
            output=output,
            output_names=output_names,
            batch_size=batch_size,
        )
        self.noise_level = check_scale(noise_level, "noise_level")
        if variant not in SMOOTHGRAD_VARIANTS:
            raise InputError(
                f"variant must be one of {SMOOTHGRAD_VARIANTS}, got {variant!r}; the "
                "default 'smoothgrad' averages the noisy gradients."
            )
        self.variant = variant
        self.absolute = bool(absolute)

    def _attribute(self, inp: Inputs, target: Any) -> Explanations:
        gen = self._generator()
        ns = self.n_draws
        out, tgt = self._start(inp, target)
        x = inp.x
        n, in_shape = x.shape[0], tuple(x.shape[1:])
        # each input's noise scale comes from that input's own range per sample
        sigmas = tuple(
            self.noise_level
            * (t.reshape(n, -1).max(dim=1).values - t.reshape(n, -1).min(dim=1).values)
            for t in inp.xs
        )
        if len(inp.xs) == 1:
            scales = sigmas[0].reshape(n, *([1] * len(in_shape)))
        else:
            scales = inp.pack(
                tuple(
                    s.reshape(n, *([1] * (t.ndim - 1))).expand_as(t)
                    for s, t in zip(sigmas, inp.xs, strict=True)
                )
            )

        def chunk(sl: slice) -> tuple[Any, Any]:
            noise = standard_normal(gen, ns, sl.stop - sl.start, in_shape, x)
            return x[sl][None] + noise * scales[sl][None], self._aggregate

        values, error = self._over_draws(inp, tgt, ns, chunk)
        noise_std = tuple(s.detach().cpu().double().numpy()[:, None] for s in sigmas)
        quality: dict[str, Any] = {"noise_std": noise_std if inp.several else noise_std[0]}
        if self.variant != "vargrad":
            quality["standard_error"] = error
        return self._explanation(
            inp,
            values,
            out,
            tgt,
            params={
                "n_draws": ns,
                "noise_level": self.noise_level,
                "variant": self.variant,
                "absolute": self.absolute,
                "random_state": self._random_state_param(),
            },
            quality=quality,
        )

    def _aggregate(self, grads: Any) -> tuple[Any, Any]:
        """(values, standard errors or None) of the gradients (n_draws, m, *input_shape)."""
        if self.absolute:
            grads = grads.abs()
        if self.variant == "vargrad":
            return mean_over_draws((grads - mean_over_draws(grads)).square()), None
        if self.variant == "smoothgrad_sq":
            grads = grads.square()
        return mean_and_error(grads)
