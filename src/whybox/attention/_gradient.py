"""Attention times gradient (Chefer, Gur & Wolf 2021): token relevance tied to an output.

Attention is not attribution: a large weight says where a head read from, not that
the token mattered to the prediction (Jain & Wallace 2019; Wiegreffe & Pinter 2019).
:func:`attention_x_gradient` weights attention by its gradient with respect to the
explained output, which ties it to the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._version import __version__
from whybox.adapters._torch import TargetLike, target_param
from whybox.attention._capture import AttentionRun
from whybox.attention._rollout import query_param, query_rows


def attention_x_gradient(
    model: Any,
    inputs: Any,
    target: TargetLike = None,
    *,
    query: Any = 0,
    tokens: Sequence[Sequence[str]] | None = None,
    tokenizer: Any = None,
    padding_mask: Any = None,
    output: str = "raw",
    output_names: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> Explanation:
    """Token relevance from attention weighted by its gradient (Chefer, Gur & Wolf 2021).

    For every layer ``l`` and head ``h`` the attention probabilities ``A_lh`` are
    multiplied elementwise by the gradient of the targeted output ``f_t`` with respect
    to them, ``A_lh * d f_t / d A_lh``; the positive part is averaged over the heads,
    ``Abar_l = mean_h (A_lh * dA_lh)^+``. Relevance is propagated through the layers
    in the order they run, starting from the identity: ``R <- R + Abar_l R``. The
    relevance of token ``k`` is ``(R - I)[query, k]``: what flowed into the query
    token through attention that raises the output, without the token's own residual
    stream (so a model whose output does not depend on its attention gets zero).

    Parameters
    ----------
    model : torch.nn.Module
        As in :func:`attention_weights`; its output (the ``logits`` of a Hugging Face
        output, the first element of a tuple) of shape (n_samples, n_outputs) is
        explained in ``output`` space, or any output reduced by a callable target.
    inputs : mapping, torch.Tensor or array-like
        As in :func:`attention_weights`.
    target : None, int, sequence of int or callable, optional
        The output explained: None for each sample's largest output (the predicted
        class), an output index for all samples, one index per sample, or a callable
        mapping the model's output tensor to one scalar per sample (e.g. a norm of
        the ``[CLS]`` embedding of a model without a head).
    query : int, sequence of int or "mean", default 0
        The token whose relevance row is reported, as in :func:`rollout_relevance`
        (0: ``[CLS]``).
    tokens, tokenizer, padding_mask, batch_size
        As in :func:`attention_weights`.
    output : {"raw", "probability"}, default "raw"
        The output space explained (softmax, or the sigmoid of a single output).
    output_names : sequence of str, optional
        One name per output (class names).

    Returns
    -------
    Explanation
        values (n_samples, n_tokens, 1) float64 on axes ("samples", "tokens",
        "outputs"): nonnegative relevance, 0 at padding positions, in the output's
        units (an attention probability times a gradient). ``data`` holds the token
        strings (object array (n_samples, n_tokens)) when known, else the token ids;
        ``model_output`` is the targeted output; ``base_values`` is NaN (the values
        do not add up to the output). ``params`` records the target, the query, the
        layer names and the source.

    Raises
    ------
    InputError
        As in :func:`attention_weights`, plus a target out of range, a model output
        that is not (n_samples, n_outputs) with a non-callable target, or a bad query.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.

    References
    ----------
    Chefer, H., Gur, S. & Wolf, L. (2021). Generic attention-model explainability for
    interpreting bi-modal and encoder-decoder transformers. ICCV.
    """
    if output not in ("raw", "probability"):
        raise InputError(
            f"output must be one of ('raw', 'probability'), got {output!r}; 'raw' explains "
            "the logits."
        )
    run = AttentionRun(
        model, inputs, batch_size=batch_size, output_names=output_names, padding_mask=padding_mask
    )
    weights, layer_names, pad_found = run.collect(gradients=True, target=target, output=output)
    grads = run.gradients
    n, _, _, t, _ = weights.shape
    mask = run.padding(padding_mask, pad_found, t)
    keep = ~mask
    cam = np.clip(weights * grads, 0.0, None).mean(axis=2)  # (n, L, T, T)
    cam = cam * keep[:, None, None, :] * keep[:, None, :, None]
    eye = np.eye(t)
    relevance = np.broadcast_to(eye, (n, t, t)).copy()
    for layer in range(cam.shape[1]):
        relevance = relevance + cam[:, layer] @ relevance
    values = query_rows(relevance - eye, query, mask)
    token_strings = run.tokens(tokens, tokenizer, t)
    if token_strings is not None:
        data: Any = np.array([list(r) for r in token_strings], dtype=object)
    elif run.token_ids is not None:
        data = run.token_ids
    else:
        data = None
    resolved = run.resolved_target
    return Explanation(
        values=values[:, :, None],
        base_values=np.full((n, 1), np.nan),
        data=data,
        feature_names=(),
        output_names=run.torch_model.target_names(resolved, run.n_outputs),
        output_space="probability" if output == "probability" else "raw",
        method="attention_x_gradient",
        params={
            "target": target_param(resolved),
            "query": query_param(query),
            "head_fusion": "mean_positive",
            "layer_names": list(layer_names),
            "source": run.source,
            "output": output,
            "batch_size": run.batch_size,
            "whybox_version": __version__,
        },
        model_output=run.model_output[:, None],
        axes=("samples", "tokens", "outputs"),
    )
