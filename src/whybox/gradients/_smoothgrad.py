"""SmoothGrad and VarGrad: gradients averaged over noisy copies of the input."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_random_state
from whybox.adapters._torch import TargetLike, import_torch
from whybox.gradients._common import TorchExplainer, check_count

SMOOTHGRAD_VARIANTS = ("smoothgrad", "smoothgrad_sq", "vargrad")


# ---------------------------------------------------------------------- shared helpers
def torch_generator(random_state: Any) -> Any:
    """A CPU ``torch.Generator`` seeded from ``random_state``.

    An int seeds it directly (so the draws equal those of ``torch.manual_seed`` with
    that int); a numpy Generator (or another numpy seed) gives it a seed drawn from it; None a fresh
    random seed. Draws are made on the CPU and then moved, so they do not depend
    on the model's device.
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


def random_state_param(random_state: Any) -> Any:
    """What ``params`` records of ``random_state`` (JSON-ready)."""
    if random_state is None or isinstance(random_state, int):
        return random_state
    if isinstance(random_state, np.integer):
        return int(random_state)
    return repr(random_state)


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


def take_target(target: Any, sl: slice) -> Any:
    """The targets of the samples in ``sl`` (a callable target stays itself)."""
    return target if callable(target) else target[sl]


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


def mean_and_error(draws: Any) -> tuple[Any, Any]:
    """Mean over the first axis and its standard error (NaN for a single draw)."""
    torch = import_torch()
    mean = draws.mean(dim=0)
    if draws.shape[0] < 2:
        return mean, torch.full_like(mean, float("nan"))
    return mean, draws.std(dim=0, correction=1) / math.sqrt(draws.shape[0])


def per_value(t: Any) -> np.ndarray:
    """A (n, *input_shape) tensor as a float64 array shaped like the values."""
    return t.detach().cpu().double().numpy()[..., None]


# ---------------------------------------------------------------------- SmoothGrad
class SmoothGrad(TorchExplainer):
    """SmoothGrad (Smilkov et al. 2017) and VarGrad (Adebayo et al. 2018).

    Draws ``n_samples`` noisy copies ``x + e`` of each input, with
    ``e ~ N(0, sigma^2 I)`` and ``sigma = noise_level * (max(x) - min(x))`` (the
    paper's noise level, relative to the sample's own range), and aggregates the
    gradients ``g = d f_t(x + e) / d x`` of the targeted output ``f_t``:

    - ``"smoothgrad"``: their mean, ``E[g]``;
    - ``"smoothgrad_sq"``: the mean of their squares, ``E[g^2]``;
    - ``"vargrad"``: their variance, ``E[(g - E[g])^2]`` (over the draws, divided by
      ``n_samples``).

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    n_samples : int, default 50
        Noisy copies per input.
    noise_level : float, default 0.15
        The noise's standard deviation as a fraction of each sample's value range
        (the paper recommends 0.1 to 0.2). 0 gives the plain gradient.
    variant : {"smoothgrad", "smoothgrad_sq", "vargrad"}, default "smoothgrad"
        How the gradients are aggregated (see above).
    absolute : bool, default False
        Take the absolute value of each noisy gradient before aggregating (as a
        smoothed absolute saliency map).
    random_state : int, numpy Generator or None, default None
        Seeds the noise. An int gives the same values on every call, whatever
        ``batch_size`` and device: it seeds a CPU ``torch.Generator`` (as
        ``torch.manual_seed`` would) that draws the noise input by input, one call
        of shape (n_samples, *input_shape) per input.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`; each pass holds all the
        noisy copies of as many inputs as ``batch_size`` allows (at least one input).

    Raises
    ------
    InputError
        Bad ``n_samples``, ``noise_level``, ``variant`` or ``random_state``.

    Notes
    -----
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
        n_samples: int = 50,
        noise_level: float = 0.15,
        variant: str = "smoothgrad",
        absolute: bool = False,
        random_state: Any = None,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        self.n_samples = check_count(n_samples, "n_samples")
        self.noise_level = check_scale(noise_level, "noise_level")
        if variant not in SMOOTHGRAD_VARIANTS:
            raise InputError(
                f"variant must be one of {SMOOTHGRAD_VARIANTS}, got {variant!r}; the "
                "default 'smoothgrad' averages the noisy gradients."
            )
        self.variant = variant
        self.absolute = bool(absolute)
        self.random_state = check_random_state(random_state)

    def __call__(
        self, X: Any, target: TargetLike = None, *, feature_names: Sequence[str] | None = None
    ) -> Explanation:
        """Smoothed gradients of the targeted output for each input.

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
            values (n_samples, *input_shape, 1) float64: output units per input unit
            (squared for ``"smoothgrad_sq"`` and ``"vargrad"``); ``base_values`` NaN,
            ``model_output`` the targeted output at the noise-free input.
            ``quality["noise_std"]`` (n_samples, 1) is each input's ``sigma``; for
            ``"smoothgrad"`` and ``"smoothgrad_sq"``, ``quality["standard_error"]``
            (shaped like values) is the Monte Carlo standard error of each value.

        Raises
        ------
        InputError
            Inputs that are not numeric or are on another device, a target out of
            range.
        """
        torch = import_torch()
        gen = torch_generator(self.random_state)
        ns = self.n_samples
        with self.model.evaluation():
            x, out, tgt = self._start(X, target)
            n, in_shape = x.shape[0], tuple(x.shape[1:])
            flat = x.reshape(n, -1)
            sigma = self.noise_level * (flat.max(dim=1).values - flat.min(dim=1).values)
            values = torch.empty_like(x)
            error = torch.full_like(x, float("nan"))
            for sl in sample_chunks(n, ns, self.batch_size):
                m = sl.stop - sl.start
                noise = standard_normal(gen, ns, m, in_shape, x)
                scale = sigma[sl].reshape(1, m, *([1] * len(in_shape)))
                points = (x[sl][None] + noise * scale).reshape(ns * m, *in_shape)
                grads, _ = self._gradients(points, take_target(tgt, sl), ns)
                grads = grads.reshape(ns, m, *in_shape)
                if self.absolute:
                    grads = grads.abs()
                if self.variant == "vargrad":
                    values[sl] = (grads - grads.mean(dim=0)).square().mean(dim=0)
                else:
                    if self.variant == "smoothgrad_sq":
                        grads = grads.square()
                    values[sl], error[sl] = mean_and_error(grads)
        quality: dict[str, Any] = {"noise_std": sigma.detach().cpu().double().numpy()[:, None]}
        if self.variant != "vargrad":
            quality["standard_error"] = per_value(error)
        return self._explanation(
            x,
            values,
            out,
            tgt,
            params={
                "n_samples": ns,
                "noise_level": self.noise_level,
                "variant": self.variant,
                "absolute": self.absolute,
                "random_state": random_state_param(self.random_state),
            },
            quality=quality,
            feature_names=feature_names,
        )
