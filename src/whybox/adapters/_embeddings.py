"""Token ids explained through their embeddings: a model that takes token ids, seen as a
function of the vectors its input embedding layer looks up.

Gradients cannot flow through integer token ids, so a gradient method explains a
text model at its input embedding layer: the model is called on the token ids as
usual while a forward hook replaces that layer's output by the embeddings being
explained (what captum's ``LayerIntegratedGradients`` does on an embedding layer).
Each token then gets one value per embedding dimension; summed over the embedding
they give one value per token (:meth:`TokenEmbeddings.per_token`).

``TokenEmbeddings`` is a ``torch.nn.Module``; the class is built when first asked
for, so importing whybox does not import torch.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._explanation import Explanation
from whybox.adapters._torch import import_torch


def __getattr__(name: str) -> Any:
    if name == "TokenEmbeddings":
        return token_embeddings_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def token_embeddings_class() -> type:
    """The :class:`TokenEmbeddings` module class (built once, on first use: torch is lazy)."""
    torch = import_torch()

    class TokenEmbeddings(torch.nn.Module):
        """A model that takes token ids, as a function of its input embeddings.

        ``TokenEmbeddings(model)`` is called as ``wrapped(X, ids, *args)``: it
        calls ``model(ids, *args)`` with the output of the model's input embedding
        layer replaced by the embeddings ``X`` (n_samples, n_tokens, d). Everything else
        the model computes from the ids (positions, token types, a padding mask made
        from the ids) is unchanged. Gradient methods then explain the embeddings, with
        the ids and the rest (``attention_mask`` ...) as ``additional_forward_args``
        (see Examples); :meth:`per_token` sums the attributions over the embedding dimension: one value
        per token (n_samples, n_tokens, 1), named by the token strings. Attribution
        methods that add up (integrated gradients, DeepLift, gradient x input) keep
        adding up per token. Padding tokens masked out by the model's attention mask
        get exactly zero: the output does not depend on their embeddings.

        Parameters
        ----------
        model : torch.nn.Module or TextTransformer
            A model that takes token ids first: a Hugging Face ``PreTrainedModel`` with
            a head (its ``logits`` are explained; a base model such as ``AutoModel``
            returns hidden states, so put a head on it), any module called as
            ``model(ids, *args)``, or whybox's text demo
            (:func:`whybox.datasets.load_text_transformer`; its ``model`` is wrapped
            and the demo names the tokens).
        layer : str or torch.nn.Module, optional
            The input embedding layer whose output is replaced: a dotted name from
            ``model.named_modules()`` or the submodule, called on the ids and
            returning (n_samples, n_tokens, d). Default: the Hugging Face model's
            ``get_input_embeddings()`` (the word embeddings, before position and
            token-type embeddings are added), else the model's only
            ``torch.nn.Embedding``.
        tokenizer : object with ``convert_ids_to_tokens``, optional
            Names the tokens in :meth:`per_token` (a Hugging Face tokenizer, or the
            text demo). Default: the demo itself for the demo, else none (the ids
            are shown instead).

        Raises
        ------
        UnsupportedModelError
            ``model`` is not a ``torch.nn.Module`` (nor the text demo).
        InputError
            ``layer`` is not a submodule; no ``layer`` given and the model has no
            ``get_input_embeddings()`` and not exactly one ``torch.nn.Embedding``;
            ``tokenizer`` without ``convert_ids_to_tokens``.

        See Also
        --------
        whybox.gradients.IntegratedGradients : Explains the wrapped model.

        Notes
        -----
        The wrapper's parameters are the model's, so whybox runs it in the model's
        dtype and on its device, and in eval mode. The hook is attached for each
        call only. A baseline for integrated gradients is an embedding too: zeros
        (the default), or the embeddings of reference ids, ``wrapped.embed(ref_ids)``
        (captum's ``LayerIntegratedGradients`` with ``baselines=ref_ids`` on the same
        layer gives the same values).

        Examples
        --------
        Integrated gradients per token of whybox's text demo:

        >>> from whybox.adapters import TokenEmbeddings
        >>> from whybox.datasets import load_text_transformer
        >>> from whybox.gradients import IntegratedGradients
        >>> demo = load_text_transformer()
        >>> wrapped = TokenEmbeddings(demo)
        >>> ids = demo.encode(["the movie was good", "a dull film"])
        >>> X, args = wrapped.inputs(ids)
        >>> ex = IntegratedGradients(wrapped)(X, 1, additional_forward_args=args)
        >>> ex.axes
        ('samples', 'tokens', 'embedding', 'outputs')
        >>> tokens = wrapped.per_token(ex, ids)
        >>> tokens.values.shape, tokens.data[0].tolist()
        ((2, 5, 1), ['[CLS]', 'the', 'movie', 'was', 'good'])
        """

        def __init__(self, model: Any, *, layer: Any = None, tokenizer: Any = None) -> None:
            super().__init__()
            if not isinstance(model, torch.nn.Module) and _is_text_demo(model):
                tokenizer = model if tokenizer is None else tokenizer
                model = model.model
            if not isinstance(model, torch.nn.Module):
                raise UnsupportedModelError(
                    f"model must be a torch.nn.Module that takes token ids (or whybox's text "
                    f"demo), got {type(model).__name__}."
                )
            if tokenizer is not None and not hasattr(tokenizer, "convert_ids_to_tokens"):
                raise InputError(
                    f"tokenizer must have a convert_ids_to_tokens method (a Hugging Face "
                    f"tokenizer or the text demo), got {type(tokenizer).__name__}."
                )
            self.model = model
            self.training = bool(model.training)  # the model's own mode, not nn.Module's
            self.tokenizer = tokenizer
            self.layer = _embedding_layer(model, layer)
            self.layer_name = next(n for n, m in model.named_modules() if m is self.layer)

        def forward(self, X: Any, ids: Any, *args: Any) -> Any:
            """``model(ids, *args)`` with the embedding layer's output set to ``X``.

            Parameters
            ----------
            X : torch.Tensor of shape (n_samples, n_tokens, d)
                The embeddings: they replace what the embedding layer computes from
                ``ids``.
            ids : torch.Tensor of int of shape (n_samples, n_tokens)
                The token ids the model is called with.
            *args
                Further arguments of the model, after the ids (e.g. the attention
                mask), passed positionally.

            Returns
            -------
            object
                What the model returns.

            Raises
            ------
            InputError
                The embeddings' shape differs from the layer's output for ``ids``.
            """

            def replace(module: Any, inputs: Any, output: Any) -> Any:
                if tuple(output.shape) != tuple(X.shape):
                    raise InputError(
                        f"the embeddings have shape {tuple(X.shape)} but layer "
                        f"{self.layer_name!r} gives {tuple(output.shape)} for these ids; make "
                        "them with wrapped.embed(ids), one row per row of ids."
                    )
                return X.to(output.dtype)

            handle = self.layer.register_forward_hook(replace)
            try:
                return self.model(ids, *args)
            finally:
                handle.remove()

        def embed(self, ids: Any) -> Any:
            """The embedding layer's output for ``ids``: what :meth:`forward` replaces.

            Parameters
            ----------
            ids : torch.Tensor of int of shape (n_samples, n_tokens)

            Returns
            -------
            torch.Tensor of shape (n_samples, n_tokens, d)
                Detached, in the layer's dtype, on its device.
            """
            with torch.no_grad():
                return self.layer(_ids_tensor(ids, self.layer)).detach()

        def inputs(self, ids: Any, *args: Any) -> tuple[Any, tuple[Any, ...]]:
            """``(X, additional_forward_args)`` for a gradient method: the embeddings and the rest.

            Parameters
            ----------
            ids : torch.Tensor of int of shape (n_samples, n_tokens)
            *args
                Further arguments of the model after the ids (an attention mask ...).

            Returns
            -------
            tuple
                ``(self.embed(ids), (ids, *args))``.
            """
            ids = _ids_tensor(ids, self.layer)
            return self.embed(ids), (ids, *args)

        def per_token(self, explanation: Explanation, ids: Any) -> Explanation:
            """An explanation of the embeddings summed over the embedding: one value per token.

            Parameters
            ----------
            explanation : Explanation
                Of this wrapper, on the axes ("samples", "tokens", "embedding",
                "outputs"), values (n_samples, n_tokens, d, n_outputs).
            ids : torch.Tensor or array-like of int of shape (n_samples, n_tokens)
                The token ids explained.

            Returns
            -------
            Explanation
                Values (n_samples, n_tokens, n_outputs) float64 on the axes
                ("samples", "tokens", "outputs"); ``data`` holds the token strings
                (object, from the tokenizer) or else the ids; base values, model output,
                output names and the quality figures of whole samples (e.g.
                ``completeness_delta``) are kept; per-element ones (a standard error
                per embedding entry) are dropped, as they do not add up.

            Raises
            ------
            InputError
                ``explanation`` is not on those axes, or ``ids`` has another shape.
            """
            if not isinstance(explanation, Explanation) or tuple(explanation.axes) != (
                "samples",
                "tokens",
                "embedding",
                "outputs",
            ):
                axes = getattr(explanation, "axes", None)
                raise InputError(
                    "explanation must be an Explanation of the embeddings, on the axes "
                    f"('samples', 'tokens', 'embedding', 'outputs'), got "
                    f"{type(explanation).__name__} with axes {axes}; explain "
                    "wrapped.embed(ids) with a gradient method first."
                )
            arr = np.asarray(ids.detach().cpu() if hasattr(ids, "detach") else ids)
            n, t = explanation.values.shape[:2]
            if arr.shape != (n, t) or arr.dtype.kind not in "iu":
                raise InputError(
                    f"ids must be the integer token ids explained, shape {(n, t)}, got "
                    f"{arr.dtype} of shape {arr.shape}."
                )
            values = explanation.values.sum(axis=2)
            if self.tokenizer is not None:
                data: Any = np.array(
                    [
                        [
                            str(w)
                            for w in self.tokenizer.convert_ids_to_tokens([int(i) for i in row])
                        ]
                        for row in arr
                    ],
                    dtype=object,
                )
            else:
                data = arr.astype(np.int64)
            shape = explanation.values.shape
            quality = {
                k: v
                for k, v in explanation.quality.items()
                if not (isinstance(v, np.ndarray) and v.shape == shape)
            }
            return Explanation(
                values=values,
                base_values=explanation.base_values,
                data=data,
                feature_names=(),
                output_names=explanation.output_names,
                output_space=explanation.output_space,
                method=explanation.method,
                params={
                    **explanation.params,
                    "summed_over": "embedding",
                    "embedding_layer": self.layer_name,
                },
                model_output=explanation.model_output,
                axes=("samples", "tokens", "outputs"),
                quality=quality,
            )

    TokenEmbeddings.__module__ = "whybox.adapters"
    return TokenEmbeddings


def _is_text_demo(model: Any) -> bool:
    """whybox's TextTransformer demo (its model and convert_ids_to_tokens)."""
    return hasattr(model, "model") and hasattr(model, "convert_ids_to_tokens")


def _embedding_layer(model: Any, layer: Any) -> Any:
    """The input embedding module: given, the model's get_input_embeddings(), or its one Embedding."""
    torch = import_torch()
    if layer is not None:
        if isinstance(layer, torch.nn.Module):
            if not any(m is layer for m in model.modules()):
                raise InputError("layer is a module that is not part of the model.")
            return layer
        modules = dict(model.named_modules())
        if not isinstance(layer, str) or layer not in modules or layer == "":
            embeddings = [n for n, m in modules.items() if isinstance(m, torch.nn.Embedding)]
            raise InputError(
                f"layer {layer!r} is not a submodule of the model; give the input embedding "
                f"layer's name from model.named_modules(), e.g. {embeddings[:5]}."
            )
        return modules[layer]
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        found = getter()
        if isinstance(found, torch.nn.Module):
            return found
    embeddings = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    if len(embeddings) != 1:
        names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Embedding)]
        raise InputError(
            f"the model has {len(embeddings)} torch.nn.Embedding layers {names[:5]} and no "
            "get_input_embeddings(); name the input embedding layer with layer=."
        )
    return embeddings[0]


def _ids_tensor(ids: Any, layer: Any) -> Any:
    """Token ids as an integer tensor on the layer's device."""
    torch = import_torch()
    params = list(layer.parameters())
    device = params[0].device if params else torch.device("cpu")
    t = ids if isinstance(ids, torch.Tensor) else torch.as_tensor(np.asarray(ids))
    if t.is_floating_point() or t.is_complex() or t.ndim != 2:
        raise InputError(
            f"ids must be integer token ids of shape (n_samples, n_tokens), got {t.dtype} of "
            f"shape {tuple(t.shape)}; e.g. tokenizer(texts, padding=True, "
            "return_tensors='pt')['input_ids']."
        )
    return t.to(device)
