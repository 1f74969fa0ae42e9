"""Grad-CAM and Grad-CAM++: class activation maps weighted by a layer's gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.adapters._torch import TargetLike, batches, import_torch
from whybox.gradients._common import (
    Inputs,
    TorchExplainer,
    batch_target,
    build_explanation,
    join_targets,
)

# The axes of a map by its number of spatial dimensions; the interpolation that
# brings it to the input's size (align_corners=False in both).
MAP_AXES = {1: ("length",), 2: ("height", "width")}
INTERPOLATION = {1: "linear", 2: "bilinear"}


class GradCAM(TorchExplainer):
    """Gradient-weighted class activation mapping (Selvaraju et al. 2017).

    With ``A`` the output of a convolutional ``layer`` (K feature maps ``A_k`` of
    shape (h, w)) and ``g = d f_t / d A`` the gradient of the targeted output
    ``f_t``, each map is weighted by its spatially averaged gradient,
    ``w_k = mean_ij g_kij``, and the class activation map is
    ``L = ReLU(sum_k w_k A_k)``: the regions whose activations raise ``f_t``.
    The map is computed at the layer's resolution and, with ``upsample=True``,
    interpolated bilinearly to the input's height and width.

    Parameters
    ----------
    model : torch.nn.Module
        See :class:`~whybox.gradients.TorchExplainer` for how it is called.
    layer : str or torch.nn.Module
        The layer whose output is explained: a dotted name from
        ``model.named_modules()`` (e.g. ``"features.7"``) or the submodule itself.
        Its output must be a feature map of shape (n_samples, channels, height,
        width), or (n_samples, channels, length) for a 1-D convolution; the last
        convolutional block is the usual choice.
    relu : bool, default True
        Keep only the positive part of the map (the paper's map). False keeps the
        signed weighted sum, whose negative regions lower the output.
    upsample : bool, default True
        Interpolate the map to the input's spatial size (bilinear for 2-D maps,
        linear for 1-D maps, ``align_corners=False``). False returns the map at the
        layer's resolution.
    output, output_names, batch_size
        As in :class:`~whybox.gradients.TorchExplainer`; ``batch_size`` is the most
        samples per forward/backward pass.

    Raises
    ------
    InputError
        ``layer`` names no submodule of the model (the message lists the closest
        names) or is a module outside it; bad ``output`` or ``batch_size``.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.

    Notes
    -----
    The map has no channel axis: the explanation's values have shape (n_samples,
    height, width, 1), axes ("samples", "height", "width", "outputs") (("samples",
    "length", "outputs") for 1-D maps), while ``data`` keeps the explained inputs
    (n_samples, *input_shape). The values are in units of activation times
    gradient and add up to nothing in particular, so ``base_values`` (and
    ``additivity_error``) are NaN. ``params`` records the layer's name, ``relu``,
    ``upsample`` and the layer-resolution ``map_shape``.

    The layer's output is captured by a forward hook, which is removed when the
    call returns or fails; the hook hands the rest of the network a copy of the
    activations, so in-place operations after the layer (``ReLU(inplace=True)``)
    do not change the captured ones.

    References
    ----------
    Selvaraju, R. R., Cogswell, M., Das, A., Vedantam, R., Parikh, D. & Batra, D.
    (2017). Grad-CAM: visual explanations from deep networks via gradient-based
    localization. ICCV 2017. arXiv:1610.02391.
    """

    method = "grad_cam"

    def __init__(
        self,
        model: Any,
        layer: Any,
        *,
        relu: bool = True,
        upsample: bool = True,
        output: str = "raw",
        output_names: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, output=output, output_names=output_names, batch_size=batch_size)
        self.layer = self.model.layer(layer)
        self.layer_name = next(
            (name for name, m in self.model.module.named_modules() if m is self.layer), ""
        )
        self.relu = bool(relu)
        self.upsample = bool(upsample)

    def __call__(
        self, X: Any, target: TargetLike = None, *, additional_forward_args: Any = None
    ) -> Explanation:
        """The class activation map of the targeted output for each input.

        Parameters
        ----------
        X : array-like, torch.Tensor, or tuple of them
            Inputs of shape (n_samples, *input_shape), e.g. images (n_samples,
            channels, height, width); a tensor must be on the model's device. A
            tuple holds one input per forward argument (e.g. an image and a metadata
            vector); integer tensors (token ids) are passed as they are, since the
            gradient is taken at the layer, not at the inputs.
        target : None, int, sequence of int or callable, optional
            The output explained, as in :meth:`TorchExplainer.__call__`.
        additional_forward_args : None, tuple or object, optional
            Arguments passed to the model after the inputs, as in
            :meth:`TorchExplainer.__call__`.

        Returns
        -------
        Explanation
            One map per sample, also for a tuple X (the map belongs to the layer,
            not to an input): values (n_samples, height, width, 1) float64 (the
            first input's height and width with ``upsample=True``, the layer's
            otherwise; (n_samples, length, 1) for 1-D maps), non-negative with
            ``relu=True``; ``data`` is the first input, ``model_output`` the targeted
            output, ``base_values`` NaN.

        Raises
        ------
        InputError
            Inputs that are not numeric or are on another device; a target out of
            range; a layer whose output is not a (n, channels, height, width) or
            (n, channels, length) tensor (e.g. a Linear layer), that the forward
            pass does not call exactly once, or that does not depend on the input;
            a 2-D map to upsample for inputs with fewer than two spatial axes.
        """
        with self.model.evaluation():
            inp = self._inputs(X, additional_forward_args, differentiate=False)
            cam, out, tgt = self._maps(inp, self.model.target_rows(target, inp.n))
        x = inp.xs[0]
        map_shape = [int(s) for s in cam.shape[1:]]
        if self.upsample:
            cam = self._upsample(cam, x)
        params = {
            "layer": self.layer_name,
            "relu": self.relu,
            "upsample": self.upsample,
            "map_shape": map_shape,
            "batch_size": self.batch_size,
        }
        if inp.several:
            params["n_inputs"] = len(inp.xs)
        return build_explanation(
            self.model,
            x,
            cam,
            out,
            tgt,
            method=self.method,
            params=params,
            map_axes=MAP_AXES[cam.ndim - 1],
        )

    # ------------------------------------------------------------------ pieces
    def _channel_weights(self, acts: Any, grads: Any) -> Any:
        """One weight per feature map (n, K): the spatial mean of its gradient."""
        return grads.mean(dim=tuple(range(2, grads.ndim)))

    def _maps(self, inp: Inputs, target: Any) -> tuple[Any, Any, Any]:
        """The layer-resolution maps (n, *spatial), batch by batch, the hook removed after.

        One forward and backward pass per batch: the target is resolved from the
        batch's own output. Returns (maps, outputs (n, k), resolved target).
        """
        torch = import_torch()
        captured: list[Any] = []

        def keep(module: Any, inputs: Any, output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                raise InputError(
                    f"layer {self.layer_name!r} returned {type(output).__name__}; Grad-CAM "
                    "needs a layer that returns one tensor, e.g. a convolution or its "
                    "activation."
                )
            captured.append(output)
            return output.clone()  # later in-place ops change the copy, not `output`

        maps, outs, parts = [], [], []
        handle = self.layer.register_forward_hook(keep)
        try:
            with torch.enable_grad():
                for sl in batches(inp.n, self.batch_size):
                    captured.clear()
                    rows = tuple(
                        t[sl].detach().requires_grad_(t.is_floating_point()) for t in inp.xs
                    )
                    out = self.model.forward_inputs(rows, inp.args_of(sl))
                    t = self.model.resolve_target(batch_target(target, sl), out)
                    outs.append(out.detach())
                    parts.append(t)
                    s = self.model.target_scalar(out, t)
                    acts = self._check_activations(captured, sl.stop - sl.start)
                    (grads,) = torch.autograd.grad(s.sum(), acts, allow_unused=True)
                    if grads is None:  # the targeted output does not depend on the layer
                        grads = torch.zeros_like(acts)
                    acts = acts.detach()
                    weights = self._channel_weights(acts, grads)
                    shape = (*weights.shape, *(1,) * (acts.ndim - 2))
                    cam = (weights.reshape(shape) * acts).sum(dim=1)
                    maps.append(torch.relu(cam) if self.relu else cam)
        finally:
            handle.remove()
        return torch.cat(maps), torch.cat(outs), join_targets(target, parts)

    def _check_activations(self, captured: list[Any], n: int) -> Any:
        name = self.layer_name
        if len(captured) != 1:
            raise InputError(
                f"layer {name!r} was called {len(captured)} times in one forward pass; "
                "Grad-CAM needs a layer called exactly once, so choose a layer on the "
                "model's path that is not reused."
            )
        acts = captured[0]
        if acts.ndim not in (3, 4) or acts.shape[0] != n:
            raise InputError(
                f"layer {name!r} gives an output of shape {tuple(acts.shape)}; Grad-CAM "
                "needs a feature map of shape (n_samples, channels, height, width) or "
                "(n_samples, channels, length), so choose a convolutional layer, e.g. the "
                "last convolution block."
            )
        if not acts.requires_grad:
            raise InputError(
                f"layer {name!r} gives an output that does not depend on the input or on "
                "any parameter with gradients; choose a layer the prediction is computed from."
            )
        return acts

    def _upsample(self, cam: Any, x: Any) -> Any:
        torch = import_torch()
        d = cam.ndim - 1
        if x.ndim - 1 < d:
            raise InputError(
                f"upsample=True brings the {d}-D map of layer {self.layer_name!r} to the "
                f"input's size, but the inputs of shape {tuple(x.shape)} have fewer than "
                f"{d} spatial axes; pass upsample=False for the layer-resolution map."
            )
        size = tuple(int(s) for s in x.shape[-d:])
        return torch.nn.functional.interpolate(
            cam[:, None], size=size, mode=INTERPOLATION[d], align_corners=False
        )[:, 0]


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhay, Sarkar, Howlader & Balasubramanian 2018).

    Grad-CAM with each feature map weighted by a pixel-wise weighted sum of the
    positive gradients, ``w_k = sum_ij alpha_kij * ReLU(g_kij)``, so that several
    instances of a class, each lighting up a small region, all count. With the
    explained output taken as ``Y = exp(S)`` of the score ``S = f_t`` (the paper's
    choice), the second and third derivatives of ``Y`` are powers of the first
    derivative of ``S``, and the paper's closed form is

    ``alpha_kij = g_kij^2 / (2 g_kij^2 + (sum_ab A_kab) g_kij^3)``,

    with ``g = dS/dA``; alpha is 0 where its denominator is 0 (there ``g`` is 0, or
    it is negative and ``ReLU(g)`` is 0 except when ``sum_ab A_kab`` is negative).
    The map is ``ReLU(sum_k w_k A_k)``, upsampled as in :class:`GradCAM`.

    Parameters
    ----------
    model, layer, relu, upsample, output, output_names, batch_size
        As in :class:`GradCAM`.

    Raises
    ------
    InputError, UnsupportedModelError
        As in :class:`GradCAM`.

    Notes
    -----
    The paper's weights use ``ReLU(dY/dA) = exp(S) ReLU(g)``; the positive factor
    ``exp(S)`` scales each sample's map as a whole and is left out, as in the
    authors' code and in pytorch-grad-cam (which compute alpha from ``grads**2``,
    ``grads**3`` and the spatial sum of the activations, as here; pytorch-grad-cam
    adds 1e-7 to the denominator where this class divides exactly). ``S`` is the
    explained output in the chosen output space: the logit with ``output="raw"``.

    References
    ----------
    Chattopadhay, A., Sarkar, A., Howlader, P. & Balasubramanian, V. N. (2018).
    Grad-CAM++: generalized gradient-based visual explanations for deep
    convolutional networks. WACV 2018. arXiv:1710.11063.
    """

    method = "grad_cam_plus_plus"

    def _channel_weights(self, acts: Any, grads: Any) -> Any:
        """w_k = sum_ij alpha_kij ReLU(g_kij), alpha from the paper's closed form."""
        torch = import_torch()
        spatial = tuple(range(2, grads.ndim))
        g2 = grads * grads
        denom = 2.0 * g2 + acts.sum(dim=spatial, keepdim=True) * g2 * grads
        nonzero = denom != 0
        alpha = torch.where(nonzero, g2 / torch.where(nonzero, denom, 1.0), 0.0)
        return (alpha * torch.relu(grads)).sum(dim=spatial)
