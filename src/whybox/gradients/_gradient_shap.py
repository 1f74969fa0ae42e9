"""GradientSHAP: expected gradients between the input and background samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result
from whybox.adapters._torch import TargetLike, batches, import_torch
from whybox.gradients._common import (
    DrawingExplainer,
    Explanations,
    Inputs,
    background_inputs,
    check_scale,
    mean_and_error,
    standard_normal,
    take_rows,
)


@dataclass(frozen=True, eq=False)
class GradientShapDraws(Result):
    """The random draws behind a GradientSHAP estimate, one row per explained input.

    Pass them to :meth:`GradientShap.__call__` to compute the estimate from fixed
    draws (to compare two models on the same draws, or with another library);
    :meth:`GradientShap.draw` returns the draws a call would make.

    Attributes
    ----------
    background_index : ndarray of shape (n_inputs, n_draws), int
        Row of the background used as baseline by each draw.
    path_positions : ndarray of shape (n_inputs, n_draws), float64
        Position of each draw's point on the path from the baseline (0) to the
        (noisy) input (1), in [0, 1].
    noise : ndarray of shape (n_inputs, n_draws, *input_shape), float64, or None
        Gaussian noise added to the input in each draw, already scaled; None for
        no noise.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_json()`` writes the draws and
    ``GradientShapDraws.from_dict`` reads them back, to replay an estimate elsewhere.
    """

    background_index: np.ndarray
    path_positions: np.ndarray
    noise: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per draw: the input, the draw, its background row and path position.

        Returns
        -------
        DataFrame
            Columns ``input``, ``draw``, ``background_index`` (int) and
            ``path_position`` (float64), n_inputs * n_draws rows (the noise, an
            array per draw, stays in ``noise``).
        """
        index = np.asarray(self.background_index)
        n, k = index.shape
        return pd.DataFrame(
            {
                "input": np.repeat(np.arange(n), k),
                "draw": np.tile(np.arange(k), n),
                "background_index": index.ravel(),
                "path_position": np.asarray(self.path_positions, dtype=np.float64).ravel(),
            }
        )


class GradientShap(DrawingExplainer):
    """GradientSHAP, the expected-gradients estimate of SHAP values (Lundberg & Lee 2017).

    For each input ``x`` it draws ``n_draws`` triples: a baseline ``b`` uniformly
    from the background, a position ``alpha ~ U(0, 1)`` and optional input noise
    ``e ~ N(0, stdev^2 I)``; with ``z = x + e`` the attribution is the mean over
    the draws of

    ``(z - b) * d f_t(b + alpha (z - b)) / d z``,

    a Monte Carlo estimate of integrated gradients averaged over the background
    (expected gradients, Erion et al. 2021). Without noise its expectation adds up
    to ``f_t(x) - E_b[f_t(b)]``, so ``base_values`` is the mean of the targeted
    output over the background and ``additivity_error`` shows the sampling error.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    background : array-like or torch.Tensor of shape (n_background, *input_shape), or tuple
        Reference inputs the baselines are drawn from (a tensor must be on the
        model's device). For a tuple X, a tuple with one tensor per input, each with
        the same rows: a draw takes one row for all the inputs (captum draws each
        input's row on its own).
    n_draws : int, default 20
        Draws per input.
    stdev : float, default 0.0
        Standard deviation of the Gaussian noise added to the input, in input
        units (SmoothGrad-style smoothing); 0 for none.
    random_state : int, numpy Generator or None, default 0
        Seeds the draws; an int gives the same values on every call, whatever
        ``batch_size`` and device; None draws afresh.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`; each pass holds all the
        draws of as many inputs as ``batch_size`` allows (at least one input).

    Raises
    ------
    InputError
        Bad ``background``, ``n_draws``, ``stdev`` or ``random_state``.

    Notes
    -----
    The draws are made in this order from one ``torch.Generator``: the background
    indices (n_inputs, n_draws), then the positions, then (with noise) each
    input's noise in input order.

    References
    ----------
    Lundberg, S. M. & Lee, S.-I. (2017). A unified approach to interpreting model
    predictions. NeurIPS 30.
    Erion, G., Janizek, J. D., Sturmfels, P., Lundberg, S. M. & Lee, S.-I. (2021).
    Improving performance of deep learning models with axiomatic attribution
    priors and expected gradients. Nature Machine Intelligence 3, 620-631.
    """

    method = "gradient_shap"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        n_draws: int = 20,
        stdev: float = 0.0,
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
        self.background = background_inputs(self.model, background)
        self.stdev = check_scale(stdev, "stdev")

    # ------------------------------------------------------------------ draws
    def draw(self, X: Any) -> GradientShapDraws:
        """The draws a call on ``X`` makes (the same ones whenever ``random_state`` is an int).

        Parameters
        ----------
        X : array-like, torch.Tensor, or tuple of them
            Only its number of rows and input shape are used (a tuple: one input per
            forward argument).

        Returns
        -------
        GradientShapDraws
            With ``noise`` None when ``stdev`` is 0; for a tuple X the noise is drawn
            for the packed inputs, shape (n_inputs, n_draws, D_1 + ... + D_k), each
            input flattened and joined in order.
        """
        torch = import_torch()
        x = self._inputs(X, differentiate=False).x
        gen = self._generator()
        index, alpha = self._index_and_alpha(gen, len(x))
        noise = None
        if self.stdev > 0:
            noise = standard_normal(gen, self.n_draws, len(x), tuple(x.shape[1:]), x)
            noise = (self.stdev * noise).transpose(0, 1)
        return GradientShapDraws(
            background_index=index.numpy(),
            path_positions=alpha.numpy(),
            noise=None if noise is None else noise.detach().cpu().to(torch.float64).numpy(),
        )

    def _index_and_alpha(self, gen: Any, n: int) -> tuple[Any, Any]:
        torch = import_torch()
        shape = (n, self.n_draws)
        index = torch.randint(len(self.background[0]), shape, generator=gen)
        alpha = torch.rand(shape, generator=gen, dtype=torch.float64)
        return index, alpha

    def _check_draws(self, draws: Any, x: Any) -> tuple[Any, Any, Any]:
        """Given draws as tensors on x's device: (index, alpha, noise or None)."""
        torch = import_torch()
        if not isinstance(draws, GradientShapDraws):
            raise InputError(
                f"draws must be a GradientShapDraws (e.g. from explainer.draw(X)), got "
                f"{type(draws).__name__}."
            )
        index = np.asarray(draws.background_index)
        alpha = np.asarray(draws.path_positions, dtype=np.float64)
        n = len(x)
        if index.ndim != 2 or index.shape[0] != n or alpha.shape != index.shape:
            raise InputError(
                f"draws.background_index and draws.path_positions must both have shape "
                f"(n_inputs={n}, n_draws), got {index.shape} and {alpha.shape}; "
                "make the draws for these inputs."
            )
        n_bg = len(self.background[0])
        if not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= n_bg:
            raise InputError(
                f"draws.background_index must hold ints in 0..{n_bg - 1} (rows of the "
                f"background), got values from {index.min()} to {index.max()}."
            )
        if not np.all((alpha >= 0) & (alpha <= 1)):
            raise InputError(
                "draws.path_positions must lie in [0, 1] (positions on the path from baseline to "
                f"input), got values from {alpha.min()} to {alpha.max()}."
            )
        noise = None
        if draws.noise is not None:
            noise_arr = np.asarray(draws.noise, dtype=np.float64)
            expected = (*index.shape, *x.shape[1:])
            if noise_arr.shape != expected:
                raise InputError(
                    f"draws.noise must have shape (n_inputs, n_draws, *input_shape) = "
                    f"{expected}, got {noise_arr.shape}; or pass noise=None."
                )
            noise = torch.as_tensor(noise_arr, dtype=x.dtype, device=x.device)
        return torch.as_tensor(index, dtype=torch.long), torch.as_tensor(alpha), noise

    # ------------------------------------------------------------------ explaining
    def __call__(
        self,
        X: Any,
        target: TargetLike = None,
        *,
        draws: GradientShapDraws | None = None,
        additional_forward_args: Any = None,
        feature_names: Sequence[str] | None = None,
    ) -> Explanations:
        """GradientSHAP values of the targeted output for each input.

        Parameters
        ----------
        X, target, additional_forward_args, feature_names
            The inputs (n_inputs, *input_shape) with the background's input shape (a
            tuple: one per forward argument, as the background), the output
            explained, arguments passed after the inputs and the feature names of 1-D
            inputs, as in :meth:`TorchExplainer.__call__`.
        draws : GradientShapDraws, optional
            Fixed draws to use instead of drawing from ``random_state``; their
            number per input replaces ``n_draws`` and their noise ``stdev``.

        Returns
        -------
        Explanation or tuple of Explanation
            values (n_inputs, *input_shape, 1) float64 in the units of the output
            space (one Explanation per input for a tuple X); ``base_values`` the mean
            targeted output over the background, ``model_output`` the targeted output
            at the (noise-free) input. ``quality["standard_error"]`` (shaped like
            values) is the Monte Carlo standard error of each value (NaN for a single
            draw).

        Raises
        ------
        InputError
            Inputs that are not numeric, are integer tensors, are on another device
            or do not have the background's inputs and shapes; a target out of range;
            malformed draws.
        """
        with self.model.evaluation():
            inp = self._inputs(X, additional_forward_args, feature_names)
            background = inp.background(self.background)
            x = inp.x
            out, tgt = self._start(inp, target)
            in_shape = tuple(x.shape[1:])
            gen = None
            if draws is None:
                gen = self._generator()
                index, alpha = self._index_and_alpha(gen, len(x))
                noise = None
            else:
                index, alpha, noise = self._check_draws(draws, x)
            ns = index.shape[1]
            trailing = [1] * len(in_shape)

            def chunk(sl: slice) -> tuple[Any, Any]:
                m = sl.stop - sl.start
                base = background[index[sl].T.reshape(-1).to(x.device)]
                base = base.reshape(ns, m, *in_shape)
                z = x[sl][None].expand(ns, m, *in_shape)
                if noise is not None:
                    z = z + noise[sl].transpose(0, 1)
                elif gen is not None and self.stdev > 0:
                    z = z + self.stdev * standard_normal(gen, ns, m, in_shape, x)
                diff = z - base
                a = alpha[sl].T.to(dtype=x.dtype, device=x.device).reshape(ns, m, *trailing)
                return base + a * diff, lambda grads: mean_and_error(grads * diff)

            values, error = self._over_draws(inp, tgt, ns, chunk)
            base_values = self._background_mean(inp, background, tgt)
        return self._explanation(
            inp,
            values,
            out,
            tgt,
            params={
                "n_draws": int(ns),
                "stdev": self.stdev if draws is None else None,
                "random_state": self._random_state_param(),
                "draws": "random_state" if draws is None else "given",
                "n_background": len(background),
            },
            base_values=base_values,
            quality={"standard_error": error},
        )

    def _background_mean(self, inp: Inputs, background: Any, target: Any) -> Any:
        """Mean of the targeted output over the background, one value per input (n,).

        With per-sample additional arguments each sample's mean is taken with its
        own arguments (every background row paired with every sample).
        """
        torch = import_torch()
        n, k = inp.n, len(background)
        if inp.per_sample_args:
            pairs = torch.arange(n * k, device=background.device)
            i_idx, r_idx = pairs // k, pairs % k
            f_b = self._scalars(inp, background[r_idx], take_rows(target, i_idx), i_idx)
            return f_b.reshape(n, k).mean(dim=1)
        with torch.no_grad():
            out = torch.cat([inp.forward(background[sl]) for sl in batches(k, self.batch_size)])
            if callable(target):
                return self.model.target_scalar(out, target).mean().expand(n)
            return out.mean(dim=0)[target]
