"""Circuits of attention heads: induction scores, head and path patching, the logit lens.

The tools read a transformer through hook points named as in TransformerLens: a
module ``blocks`` whose block ``l`` has ``hook_resid_pre``, ``hook_resid_post`` and
``attn`` with ``hook_pattern`` (n, n_heads, query, key), ``hook_z`` (n, n_tokens,
n_heads, d_head) and the weights ``W_V`` (n_heads, d_model, d_head) and ``W_O``
(n_heads, d_head, d_model); ``ln_final`` and ``unembed`` turn the last residual
stream into logits, and the model has ``W_E`` (vocab, d_model) and ``W_U`` (d_model,
vocab); path patching also needs the per-head inputs ``hook_q_input``,
``hook_k_input``, ``hook_v_input`` of each block. whybox's demo
(:func:`whybox.datasets.load_induction_transformer`) and a TransformerLens
``HookedTransformer`` (``use_split_qkv_input=True`` for path patching) have them.
Every hook is attached for one forward pass and removed in all cases. Attention scores
(:func:`head_scores`, :func:`attention_patterns`) also read Hugging Face models (their
``output_attentions``) and models built from ``nn.MultiheadAttention``, through
:func:`whybox.attention.attention_weights`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import Result, check_batch_size
from whybox._version import __version__
from whybox.adapters._torch import eval_mode, import_torch
from whybox.concepts._activations import hooked


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class HeadScores(Result):
    """Per-head induction scores: prefix matching, previous-token attention and copying.

    Attributes
    ----------
    prefix_matching : ndarray of shape (n_layers, n_heads), float64
        Mean attention from a token to the tokens that followed its earlier
        occurrences (see :func:`head_scores`), in [0, 1].
    previous_token : ndarray of shape (n_layers, n_heads), float64
        Mean attention from a token to the token just before it, in [0, 1].
    copying : ndarray of shape (n_layers, n_heads), float64
        The eigenvalue copying score of each head's OV circuit, in [-1, 1]; NaN
        where the model's embedding and unembedding cannot be read (Hugging Face
        encoders, ``nn.MultiheadAttention`` models).
    layer_names : tuple of str
        One name per layer.
    n_queries : int
        Query tokens (over all samples) that had an earlier occurrence and so entered
        the prefix-matching mean.
    params : dict
        ``source`` (``"hook_points"``, ``"huggingface"`` or ``"multihead_attention"``),
        ``batch_size`` and the whybox version.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_dict()``/``to_json()`` and
    ``HeadScores.from_dict``; ``to_frame()`` is one row per (layer, head).
    """

    prefix_matching: np.ndarray
    previous_token: np.ndarray
    copying: np.ndarray
    layer_names: tuple[str, ...]
    n_queries: int
    params: dict[str, Any] = field(default_factory=dict)

    def top_head(self, score: str = "prefix_matching") -> tuple[int, int]:
        """The head with the highest score.

        Parameters
        ----------
        score : {"prefix_matching", "previous_token", "copying"}, default "prefix_matching"
            Which score ranks the heads.

        Returns
        -------
        (layer, head) : tuple of int
            Positions of the top head (NaN scores are skipped).

        Raises
        ------
        InputError
            An unknown ``score``, or one that is NaN for every head.
        """
        if score not in ("prefix_matching", "previous_token", "copying"):
            raise InputError(
                f"score must be 'prefix_matching', 'previous_token' or 'copying', got "
                f"{score!r}; pass e.g. score='prefix_matching'."
            )
        values = getattr(self, score)
        if np.isnan(values).all():
            raise InputError(f"{score} is NaN for every head (not computed for this model).")
        layer, head = np.unravel_index(np.nanargmax(values), values.shape)
        return int(layer), int(head)

    def to_frame(self) -> pd.DataFrame:
        """One row per (layer, head): layer name, layer and head positions and the scores."""
        return _head_frame(
            self.layer_names,
            prefix_matching=self.prefix_matching,
            previous_token=self.previous_token,
            copying=self.copying,
        )


@dataclass(frozen=True, eq=False)
class HeadPatching(Result):
    """Per-head activation patching between clean and corrupted runs, on a logit difference.

    Attributes
    ----------
    clean_metric, corrupted_metric : ndarray of shape (n_samples,), float64
        The induction logit difference (see :func:`head_patching`) of each sample's
        clean and corrupted run.
    denoised_metric : ndarray of shape (n_layers, n_heads, n_samples), float64
        The metric of the corrupted run with that head's output taken from the clean run.
    noised_metric : ndarray of shape (n_layers, n_heads, n_samples), float64
        The metric of the clean run with that head's output taken from the corrupted run.
    restored_fraction : ndarray of shape (n_layers, n_heads), float64
        ``(mean denoised - mean corrupted) / (mean clean - mean corrupted)``: the share
        of the logit difference the clean head alone brings back (sufficiency).
    destroyed_fraction : ndarray of shape (n_layers, n_heads), float64
        ``(mean clean - mean noised) / (mean clean - mean corrupted)``: the share lost
        when only that head sees the corrupted input (necessity).
    layer_restored_fraction, layer_destroyed_fraction : ndarray of shape (n_layers,), float64
        The same two fractions when all heads of a layer are patched together (heads
        that share a job, such as two induction heads, each restore part of it).
    layer_names : tuple of str
    params : dict
        ``n_positions`` (predictable positions measured, over all samples),
        ``batch_size`` and the whybox version.

    Notes
    -----
    Both fractions are NaN when the clean and corrupted means are equal (nothing to
    restore). A :class:`~whybox._utils.Result`; ``to_frame()`` is one row per (layer,
    head).
    """

    clean_metric: np.ndarray
    corrupted_metric: np.ndarray
    denoised_metric: np.ndarray
    noised_metric: np.ndarray
    restored_fraction: np.ndarray
    destroyed_fraction: np.ndarray
    layer_restored_fraction: np.ndarray
    layer_destroyed_fraction: np.ndarray
    layer_names: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (layer, head): both fractions and the mean patched metrics."""
        return _head_frame(
            self.layer_names,
            restored_fraction=self.restored_fraction,
            destroyed_fraction=self.destroyed_fraction,
            denoised_metric=self.denoised_metric.mean(axis=-1),
            noised_metric=self.noised_metric.mean(axis=-1),
        )


@dataclass(frozen=True, eq=False)
class PathPatching(Result):
    """Path patching: one head's output patched into one later head's queries, keys or values.

    Attributes
    ----------
    clean_metric, corrupted_metric : ndarray of shape (n_samples,), float64
        The induction logit difference of each sample's clean and corrupted run (as in
        :class:`HeadPatching`).
    restored_fraction : ndarray of shape (n_layers, n_heads, n_layers, n_heads, 3), float64
        ``[sender layer, sender head, receiver layer, receiver head, input]``, input 0,
        1, 2 = queries, keys, values: the share of the logit difference restored when
        only that receiver input of the corrupted run gets the sender's clean output
        (denoising). NaN where the receiver's layer is not after the sender's.
    destroyed_fraction : ndarray of shape (n_layers, n_heads, n_layers, n_heads, 3), float64
        The share lost when only that receiver input of the clean run gets the
        sender's corrupted output (noising).
    direct_restored_fraction, direct_destroyed_fraction : ndarray of shape (n_layers, n_heads)
        The same for the direct path: the sender's output changed only where the last
        residual stream is read by the unembedding.
    layer_names : tuple of str
    params : dict
        ``inputs`` (``("q", "k", "v")``), ``n_positions``, ``batch_size`` and the whybox
        version.

    Notes
    -----
    A :class:`~whybox._utils.Result`; ``to_frame()`` is one row per path that exists.
    """

    clean_metric: np.ndarray
    corrupted_metric: np.ndarray
    restored_fraction: np.ndarray
    destroyed_fraction: np.ndarray
    direct_restored_fraction: np.ndarray
    direct_destroyed_fraction: np.ndarray
    layer_names: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per path: sender layer and head, receiver (layer, head and input, or
        ``"logits"`` for the direct path) and both shares."""
        n_layers, n_heads = self.direct_restored_fraction.shape
        rows = []
        for ls in range(n_layers):
            for hs in range(n_heads):
                for lr in range(ls + 1, n_layers):
                    for hr in range(n_heads):
                        for c, name in enumerate(("q", "k", "v")):
                            rows.append(
                                (ls, hs, f"L{lr} H{hr} {name}", lr, hr, name,
                                 self.restored_fraction[ls, hs, lr, hr, c],
                                 self.destroyed_fraction[ls, hs, lr, hr, c])
                            )  # fmt: skip
                rows.append(
                    (ls, hs, "logits", -1, -1, "direct",
                     self.direct_restored_fraction[ls, hs],
                     self.direct_destroyed_fraction[ls, hs])
                )  # fmt: skip
        columns = [
            "sender_layer",
            "sender_head",
            "receiver",
            "receiver_layer",
            "receiver_head",
            "input",
            "restored_fraction",
            "destroyed_fraction",
        ]
        return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, eq=False)
class LogitLens(Result):
    """The residual stream after each block read through the model's final unembedding.

    Attributes
    ----------
    stage_names : tuple of str
        ``"embeddings"`` (the input of block 0), then ``"block 0"``, ``"block 1"`` ...
        (the residual stream after each block).
    logits : ndarray of shape (n_stages, n_samples, n_tokens, vocab_size), float64
        ``unembed(ln_final(resid))`` of each stage; the last stage is the model's own
        output.
    next_token_probability : ndarray of shape (n_stages, n_samples, n_tokens - 1), float64
        The softmax probability each stage gives the token that actually comes next.
    next_tokens : ndarray of shape (n_samples, n_tokens - 1), int64
        The token that comes next at each position (the input shifted by one).
    params : dict
        ``batch_size`` and the whybox version.

    Notes
    -----
    A :class:`~whybox._utils.Result`; ``to_frame()`` is one row per stage.
    """

    stage_names: tuple[str, ...]
    logits: np.ndarray
    next_token_probability: np.ndarray
    next_tokens: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: the mean probability and loss of the next token, and the
        share of positions where it is the top prediction."""
        p = self.next_token_probability
        top = self.logits[:, :, :-1].argmax(-1)
        with np.errstate(divide="ignore"):
            loss = -np.log(p)
        return pd.DataFrame(
            {
                "stage": list(self.stage_names),
                "next_token_probability": p.mean(axis=(1, 2)),
                "next_token_loss": loss.mean(axis=(1, 2)),
                "top1_accuracy": (top == self.next_tokens[None]).mean(axis=(1, 2)),
            }
        )


# ------------------------------------------------------------------------ functions
def attention_patterns(model: Any, inputs: Any, *, batch_size: int | None = None) -> Any:
    """Every layer's and head's attention pattern, as :class:`whybox.attention.AttentionMaps`.

    Parameters
    ----------
    model : torch.nn.Module
        A model with TransformerLens hook points (``blocks.{l}.attn.hook_pattern``:
        whybox's induction demo, a ``HookedTransformer``), or any model
        :func:`whybox.attention.attention_weights` reads (Hugging Face in eager
        attention, ``nn.MultiheadAttention`` layers).
    inputs : torch.Tensor, array-like or mapping
        Token ids (n_samples, n_tokens); for other models anything
        :func:`~whybox.attention.attention_weights` accepts (a tokenizer's output).
    batch_size : int, optional
        The most samples in one forward pass; None = all at once.

    Returns
    -------
    AttentionMaps
        ``weights`` (n_samples, n_layers, n_heads, n_tokens, n_tokens), float64; for
        hook-point models the tokens are the ids as strings and there is no padding.

    Raises
    ------
    InputError
        Token ids that are not a 2-D integer array, or outside the vocabulary.
    UnsupportedModelError
        A model none of the readers knows.
    """
    with _eval(model):
        from whybox.attention import AttentionMaps, attention_weights

        size = check_batch_size(batch_size)
        if not is_hooked(model):
            return attention_weights(model, inputs, batch_size=size)
        ids = _token_ids(model, inputs)
        n_layers = len(model.blocks)
        parts: list[list[Any]] = [[] for _ in range(n_layers)]
        hooks = {
            model.blocks[layer].attn.hook_pattern: _recorder(parts[layer])
            for layer in range(n_layers)
        }
        for batch in _batches(ids, size):
            _run(model, batch, hooks)
        torch = import_torch()
        weights = np.stack([_float64(torch.cat(p)) for p in parts], axis=1)
        return AttentionMaps(
            weights=weights,
            layer_names=_layer_names(n_layers),
            padding_mask=np.zeros(ids.shape, dtype=bool),
            tokens=tuple(tuple(str(int(t)) for t in row) for row in ids.cpu().numpy()),
            params={"source": "hook_points", "batch_size": size, "whybox_version": __version__},
        )


def head_scores(model: Any, inputs: Any, *, batch_size: int | None = None) -> HeadScores:
    """Score every attention head for the two halves of an induction circuit.

    Following Olsson et al. (2022), with ``A[l, h, i, j]`` the attention of head ``h``
    of layer ``l`` from query token ``i`` to key token ``j`` and ``x`` the token ids
    of one sample:

    - **prefix matching**: for each query ``i``, the keys that follow an earlier
      occurrence of ``x[i]``, ``K_i = {j : 1 <= j <= i, x[j - 1] = x[i]}``; the score
      is the mean over all samples and all queries with a non-empty ``K_i`` of
      ``sum_{j in K_i} A[l, h, i, j]``. On a repeated random sequence ``r r`` of
      half length ``m``, ``K_i = {i - m + 1}`` in the second half: the token an
      induction head copies.
    - **previous token**: the mean over samples and queries ``i >= 1`` of
      ``A[l, h, i, i - 1]``, the signature of the layer-0 head that lets the
      induction head's keys match.
    - **copying**: the OV circuit ``M = W_E W_V^h W_O^h W_U`` (vocab x vocab: the
      direct effect on the logits of attending to a token) raises the attended
      token's own logit when its eigenvalues are positive; the score is
      ``Re(sum_k lambda_k) / sum_k |lambda_k|`` over the eigenvalues of ``M``
      (Elhage et al. 2021), computed from the (d_head x d_head) matrix ``W_O^h W_U
      W_E W_V^h``, which has the same non-zero eigenvalues. 1 for a pure copying
      head, -1 for one that suppresses the token it reads, NaN when ``M`` is zero.

    Padding tokens (Hugging Face inputs with an ``attention_mask``) are never queries
    and never keys.

    Parameters
    ----------
    model : torch.nn.Module
        A model with TransformerLens hook points (whybox's induction demo, a
        ``HookedTransformer``), a Hugging Face model loaded with
        ``attn_implementation="eager"`` (its ``output_attentions``), or a model of
        ``nn.MultiheadAttention`` layers.
    inputs : torch.Tensor, array-like or mapping
        Token ids (n_samples, n_tokens), or a tokenizer's output with
        ``"input_ids"``: typically repeated random sequences
        (:meth:`whybox.datasets.InductionTransformer.sample`).
    batch_size : int, optional
        The most samples in one forward pass; None = all at once.

    Returns
    -------
    HeadScores
        Arrays of shape (n_layers, n_heads), float64.

    Raises
    ------
    InputError
        No token of ``inputs`` occurs twice (nothing to prefix-match), or bad token ids.
    UnsupportedModelError
        A model none of the readers knows.

    References
    ----------
    Olsson, C. et al. (2022). In-context learning and induction heads. Transformer
    Circuits Thread.
    Elhage, N. et al. (2021). A mathematical framework for transformer circuits.
    Transformer Circuits Thread.
    """
    with _eval(model):
        maps = attention_patterns(model, inputs, batch_size=batch_size)
        ids = _ids_of(inputs, maps.weights.shape[0])
        pad = maps.padding_mask
        n, t = ids.shape
        real = ~pad
        i = np.arange(t)[:, None]
        j = np.arange(t)[None, :]
        before = np.zeros((n, t, t), dtype=bool)  # before[s, i, j]: x[j - 1] == x[i], 1 <= j <= i
        before[:, :, 1:] = ids[:, :, None] == ids[:, None, :-1]
        prefix = before & (j >= 1) & (j <= i) & real[:, :, None] & real[:, None, :]
        prefix[:, :, 1:] &= real[:, None, :-1]
        counted = prefix.any(-1)
        n_queries = int(counted.sum())
        if n_queries == 0:
            raise InputError(
                "inputs hold no token that occurs twice, so no head can be scored for prefix "
                "matching; pass repeated random sequences, e.g. the first half repeated "
                "(InductionTransformer.sample())."
            )
        w = maps.weights  # (n, L, H, T, T)
        prefix_matching = np.einsum("slhij,sij->lh", w, prefix.astype(np.float64)) / n_queries
        previous = np.zeros((n, t, t), dtype=bool)
        previous[:, np.arange(1, t), np.arange(t - 1)] = real[:, 1:] & real[:, :-1]
        n_previous = max(int(previous.sum()), 1)
        previous_token = np.einsum("slhij,sij->lh", w, previous.astype(np.float64)) / n_previous
        copying = _copying_scores(model, prefix_matching.shape)
        return HeadScores(
            prefix_matching=prefix_matching,
            previous_token=previous_token,
            copying=copying,
            layer_names=maps.layer_names,
            n_queries=n_queries,
            params={
                "source": maps.params.get("source"),
                "batch_size": check_batch_size(batch_size),
                "whybox_version": __version__,
            },
        )


def logit_lens(model: Any, inputs: Any, *, batch_size: int | None = None) -> LogitLens:
    """Read the residual stream after each block through the final unembedding.

    The logit lens (nostalgebraist 2020): stage 0 is the input of the first block
    (token plus position embeddings), stage ``l + 1`` the residual stream after block
    ``l``; each is mapped to logits by the model's own ``unembed(ln_final(.))`` (no
    ``ln_final``: ``unembed`` alone), so
    the last stage is exactly the model's output and earlier stages show what the
    stream already "says" about the next token.

    Parameters
    ----------
    model : torch.nn.Module
        A model with TransformerLens hook points (``blocks.{l}.hook_resid_pre`` /
        ``hook_resid_post``, ``ln_final``, ``unembed``).
    inputs : torch.Tensor or array-like of shape (n_samples, n_tokens)
        Integer token ids, at least 2 tokens per sample.
    batch_size : int, optional
        The most samples in one forward pass; None = all at once.

    Returns
    -------
    LogitLens
        ``logits`` (n_blocks + 1, n_samples, n_tokens, vocab_size) and
        ``next_token_probability`` (n_blocks + 1, n_samples, n_tokens - 1), float64.

    Raises
    ------
    InputError
        Bad token ids, or fewer than 2 tokens.
    UnsupportedModelError
        The model has no such hook points.

    References
    ----------
    nostalgebraist (2020). Interpreting GPT: the logit lens. LessWrong.
    """
    _require_hooked(model, "logit_lens")
    if not callable(getattr(model, "unembed", None)):
        raise UnsupportedModelError(
            f"logit_lens needs the model's unembedding as a module `unembed` (residual stream "
            f"-> logits), and {type(model).__name__} has none; use a model with TransformerLens "
            "hook points and an unembedding."
        )
    # no final layer norm (an attention-only HookedTransformer without normalisation): identity
    final = getattr(model, "ln_final", None)
    final = (lambda t: t) if final is None else final
    with _eval(model):
        torch = import_torch()
        size = check_batch_size(batch_size)
        ids = _token_ids(model, inputs)
        if ids.shape[1] < 2:
            raise InputError(
                f"inputs must hold at least 2 tokens per sample (a token and the one after it), "
                f"got {ids.shape[1]}; pass longer sequences."
            )
        n_blocks = len(model.blocks)
        stages: list[list[Any]] = [[] for _ in range(n_blocks + 1)]
        hooks = {model.blocks[0].hook_resid_pre: _recorder(stages[0])}
        for layer in range(n_blocks):
            hooks[model.blocks[layer].hook_resid_post] = _recorder(stages[layer + 1])
        logits = []
        for batch in _batches(ids, size):
            before = [len(s) for s in stages]
            _run(model, batch, hooks)
            with torch.no_grad():
                logits.append(
                    np.stack(
                        [
                            _float64(model.unembed(final(s[k])))
                            for s, k in zip(stages, before, strict=True)
                        ]
                    )
                )
        lens = np.concatenate(logits, axis=1)
        nxt = ids[:, 1:].cpu().numpy().astype(np.int64)
        shifted = lens[:, :, :-1] - lens[:, :, :-1].max(-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        index = np.broadcast_to(nxt[None, :, :, None], (*logp.shape[:3], 1))
        prob = np.exp(np.take_along_axis(logp, index, axis=-1)[..., 0])
        return LogitLens(
            stage_names=("embeddings", *(f"block {b}" for b in range(n_blocks))),
            logits=lens,
            next_token_probability=prob,
            next_tokens=nxt,
            params={"batch_size": size, "whybox_version": __version__},
        )


def head_patching(
    model: Any, clean: Any, corrupted: Any, *, batch_size: int | None = None
) -> HeadPatching:
    """Patch each head's output between a clean and a corrupted run to localise induction.

    For every head ``(l, h)`` its output ``hook_z[:, :, h]`` (all positions) is
    taken from one run and put into the other:

    - **denoising**: the corrupted input runs with head ``(l, h)``'s output from the
      clean run; ``restored_fraction`` is the share of the clean-vs-corrupted
      difference of the metric this brings back. It finds heads whose clean output
      suffices (the induction head, which carries the answer).
    - **noising**: the clean input runs with the head's output from the corrupted
      run; ``destroyed_fraction`` is the share lost. It finds heads the behaviour
      needs, also early ones whose effect runs through later heads (the
      previous-token head, which the induction head's keys read).

    The metric is the **induction logit difference** of a sample: over the positions
    ``t`` whose next clean token is predictable by induction (an earlier ``s < t``
    with ``clean[s] = clean[t]`` and ``clean[s + 1] = clean[t + 1]``), the mean of
    ``logit[t, clean[t + 1]] - mean_v logit[t, v]``, the correct token's logit
    against the average token's (invariant to a constant added to all logits).
    Typical pairs: ``clean = r r`` and ``corrupted = r' r`` with ``r'`` fresh tokens
    (:meth:`whybox.datasets.InductionTransformer.sample_pairs`), so the second half
    is the same tokens but no longer a repeat.

    Parameters
    ----------
    model : torch.nn.Module
        A model with TransformerLens hook points (``blocks.{l}.attn.hook_z``), which
        returns logits (n_samples, n_tokens, vocab_size).
    clean, corrupted : torch.Tensor or array-like of shape (n_samples, n_tokens)
        Integer token ids; sample i of ``corrupted`` is the corruption of sample i of
        ``clean``.
    batch_size : int, optional
        The most samples in one forward pass; None = all at once.

    Returns
    -------
    HeadPatching

    Raises
    ------
    InputError
        ``clean`` and ``corrupted`` differ in shape, bad token ids, or a clean sample
        with no position predictable by induction.
    UnsupportedModelError
        The model has no such hook points.

    References
    ----------
    Heimersheim, S. & Nanda, N. (2024). How to use and interpret activation patching.
    arXiv:2404.15255.
    Olsson, C. et al. (2022). In-context learning and induction heads. Transformer
    Circuits Thread.
    Elhage, N. et al. (2021). A mathematical framework for transformer circuits.
    Transformer Circuits Thread.
    """
    _require_hooked(model, "head_patching")
    with _eval(model):
        size = check_batch_size(batch_size)
        x_clean, x_corr, ids, where = _pairs(model, clean, corrupted)
        n_layers, n_heads = len(model.blocks), int(model.blocks[0].attn.W_O.shape[0])
        z_points = [model.blocks[layer].attn.hook_z for layer in range(n_layers)]
        n = len(ids)
        clean_m, corr_m = np.empty(n), np.empty(n)
        # slot h < n_heads patches head h; slot n_heads patches the whole layer
        denoised = np.empty((n_layers, n_heads + 1, n))
        noised = np.empty((n_layers, n_heads + 1, n))
        runs = _paired_runs(model, x_clean, x_corr, ids, where, z_points, size)
        for sl, b_clean, b_corr, target, mask, z_clean, z_corr, m_clean, m_corr in runs:
            clean_m[sl], corr_m[sl] = m_clean, m_corr
            for layer in range(n_layers):
                for slot in range(n_heads + 1):
                    heads = slice(None) if slot == n_heads else slot
                    into_corr = {z_points[layer]: _replacer(z_clean[layer][0], heads)}
                    denoised[layer, slot, sl] = _metric(
                        _run(model, b_corr, into_corr), target, mask
                    )
                    into_clean = {z_points[layer]: _replacer(z_corr[layer][0], heads)}
                    noised[layer, slot, sl] = _metric(
                        _run(model, b_clean, into_clean), target, mask
                    )
        restored, destroyed = _shares(clean_m, corr_m, denoised, noised)
        return HeadPatching(
            clean_metric=clean_m,
            corrupted_metric=corr_m,
            denoised_metric=denoised[:, :n_heads],
            noised_metric=noised[:, :n_heads],
            restored_fraction=restored[:, :n_heads],
            destroyed_fraction=destroyed[:, :n_heads],
            layer_restored_fraction=restored[:, n_heads],
            layer_destroyed_fraction=destroyed[:, n_heads],
            layer_names=_layer_names(n_layers),
            params={
                "n_positions": int(where.sum()),
                "batch_size": size,
                "whybox_version": __version__,
            },
        )


def path_patching(
    model: Any, clean: Any, corrupted: Any, *, batch_size: int | None = None
) -> PathPatching:
    """Patch one head's output into one later head's queries, keys or values only.

    Path patching (Wang et al. 2023; Goldowsky-Dill et al. 2023) asks through which
    path a head acts. For a sender head ``s`` and a receiver head ``r`` in a later
    layer, only the residual stream that ``r`` reads its queries, keys or values from
    is changed, by the difference of the sender's output between the two runs,
    ``delta = (z_other[s] - z_run[s]) W_O[s]`` (at every position); every other head
    and the rest of the residual stream keep the run's own values. In an induction
    circuit the previous-token head acts through the induction head's **keys**
    (K-composition, Elhage et al. 2021): noising that path alone destroys much of the
    induction logit difference, its query and value paths little. The direct path
    (``delta`` added to the last residual stream only, where the unembedding reads it)
    is reported beside. Shares and the metric are those of :func:`head_patching`
    (``restored``: denoising the corrupted run; ``destroyed``: noising the clean run).
    The cost is two forward passes per path: about ``(n_layers n_heads)^2 x 3``.

    Parameters
    ----------
    model : torch.nn.Module
        A model with TransformerLens hook points including the per-head inputs
        ``blocks.{l}.hook_q_input`` / ``hook_k_input`` / ``hook_v_input`` (n,
        n_tokens, n_heads, d_model): whybox's induction demo, or a ``HookedTransformer``
        with ``use_split_qkv_input=True``.
    clean, corrupted : torch.Tensor or array-like of shape (n_samples, n_tokens)
        Integer token ids; sample i of ``corrupted`` is the corruption of sample i of
        ``clean``.
    batch_size : int, optional
        The most samples in one forward pass; None = all at once.

    Returns
    -------
    PathPatching

    Raises
    ------
    InputError
        As :func:`head_patching`.
    UnsupportedModelError
        The model lacks the hook points, or does not use its per-head input hooks.

    References
    ----------
    Wang, K. et al. (2023). Interpretability in the wild: a circuit for indirect object
    identification in GPT-2 small. ICLR.
    Goldowsky-Dill, N. et al. (2023). Localizing model behavior with path patching.
    arXiv:2304.05969.
    Elhage, N. et al. (2021). A mathematical framework for transformer circuits.
    Transformer Circuits Thread.
    """
    _require_hooked(model, "path_patching")
    if not all(hasattr(b, f"hook_{c}_input") for b in model.blocks for c in "qkv"):
        raise UnsupportedModelError(
            "path_patching needs per-head input hook points (blocks.{l}.hook_q_input, "
            f"hook_k_input, hook_v_input), and {type(model).__name__} has none; use "
            "whybox's induction demo or a HookedTransformer with use_split_qkv_input=True."
        )
    with _eval(model):
        size = check_batch_size(batch_size)
        x_clean, x_corr, ids, where = _pairs(model, clean, corrupted)
        n_layers, n_heads = len(model.blocks), int(model.blocks[0].attn.W_O.shape[0])
        z_points = [model.blocks[layer].attn.hook_z for layer in range(n_layers)]
        final = model.blocks[-1].hook_resid_post
        n = len(ids)
        shape = (n_layers, n_heads, n_layers, n_heads, 3, n)
        clean_m, corr_m = np.empty(n), np.empty(n)
        denoised, noised = np.full(shape, np.nan), np.full(shape, np.nan)
        direct_den, direct_noi = np.empty((n_layers, n_heads, n)), np.empty((n_layers, n_heads, n))
        runs = _paired_runs(model, x_clean, x_corr, ids, where, z_points, size)
        for sl, b_clean, b_corr, target, mask, z_clean, z_corr, m_clean, m_corr in runs:
            clean_m[sl], corr_m[sl] = m_clean, m_corr
            for ls in range(n_layers):
                w_o = model.blocks[ls].attn.W_O.detach()
                for hs in range(n_heads):
                    # the sender's output in the clean run minus in the corrupted run
                    delta = (z_clean[ls][0][:, :, hs] - z_corr[ls][0][:, :, hs]) @ w_o[hs]
                    for lr in range(ls + 1, n_layers):
                        for hr in range(n_heads):
                            for c, name in enumerate("qkv"):
                                point = getattr(model.blocks[lr], f"hook_{name}_input")
                                denoised[ls, hs, lr, hr, c, sl] = _metric(
                                    _run_added(model, b_corr, point, delta, hr), target, mask
                                )
                                noised[ls, hs, lr, hr, c, sl] = _metric(
                                    _run_added(model, b_clean, point, -delta, hr), target, mask
                                )
                    direct_den[ls, hs, sl] = _metric(
                        _run_added(model, b_corr, final, delta, None), target, mask
                    )
                    direct_noi[ls, hs, sl] = _metric(
                        _run_added(model, b_clean, final, -delta, None), target, mask
                    )
        restored, destroyed = _shares(clean_m, corr_m, denoised, noised)
        direct_restored, direct_destroyed = _shares(clean_m, corr_m, direct_den, direct_noi)
        return PathPatching(
            clean_metric=clean_m,
            corrupted_metric=corr_m,
            restored_fraction=restored,
            destroyed_fraction=destroyed,
            direct_restored_fraction=direct_restored,
            direct_destroyed_fraction=direct_destroyed,
            layer_names=_layer_names(n_layers),
            params={
                "inputs": ("q", "k", "v"),
                "n_positions": int(where.sum()),
                "batch_size": size,
                "whybox_version": __version__,
            },
        )


def induction_positions(ids: np.ndarray) -> np.ndarray:
    """(n, T - 1) bool: position t's next token follows an earlier copy of token t.

    True where some ``s < t`` has ``ids[s] == ids[t]`` and ``ids[s + 1] == ids[t + 1]``.
    """
    same = ids[:, :-1, None] == ids[:, None, :-1]  # [t, s]: ids[t] == ids[s]
    same_next = ids[:, 1:, None] == ids[:, None, 1:]
    earlier = np.tril(np.ones((ids.shape[1] - 1,) * 2, dtype=bool), k=-1)
    return (same & same_next & earlier).any(-1)


# ------------------------------------------------------------------------- helpers
def is_hooked(model: Any) -> bool:
    """Whether ``model`` has the TransformerLens hook points the circuit tools read."""
    blocks = getattr(model, "blocks", None)
    try:
        first = blocks[0]
    except (TypeError, IndexError, KeyError):
        return False
    attn = getattr(first, "attn", None)
    return all(hasattr(attn, a) for a in ("hook_pattern", "hook_z", "W_O")) and all(
        hasattr(first, a) for a in ("hook_resid_pre", "hook_resid_post")
    )


def _require_hooked(model: Any, what: str) -> None:
    if not is_hooked(model):
        raise UnsupportedModelError(
            f"{what} needs a model with TransformerLens hook points (blocks.{{l}}.attn."
            f"hook_z, hook_resid_pre/post, ln_final, unembed), got {type(model).__name__}; "
            "use whybox.datasets.load_induction_transformer().model or a TransformerLens "
            "HookedTransformer."
        )


def _head_frame(layer_names: tuple[str, ...], **columns: np.ndarray) -> pd.DataFrame:
    """One row per (layer, head): the layer's name and position, the head's, and each
    (n_layers, n_heads) column raveled in that order."""
    n_layers, n_heads = next(iter(columns.values())).shape
    return pd.DataFrame(
        {
            "layer_name": np.repeat(list(layer_names), n_heads),
            "layer": np.repeat(np.arange(n_layers), n_heads),
            "head": np.tile(np.arange(n_heads), n_layers),
            **{name: np.asarray(values).ravel() for name, values in columns.items()},
        }
    )


def _layer_names(n_layers: int) -> tuple[str, ...]:
    return tuple(f"blocks.{layer}.attn" for layer in range(n_layers))


def _pairs(model: Any, clean: Any, corrupted: Any) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """Checked clean and corrupted ids (tensors), the clean ids as numpy and the
    positions predictable by induction (an InputError for a sample without one)."""
    x_clean = _token_ids(model, clean, "clean")
    x_corr = _token_ids(model, corrupted, "corrupted")
    if x_clean.shape != x_corr.shape:
        raise InputError(
            f"clean and corrupted must have the same shape (one corruption per clean "
            f"sample), got {tuple(x_clean.shape)} and {tuple(x_corr.shape)}."
        )
    ids = x_clean.cpu().numpy().astype(np.int64)
    where = induction_positions(ids)
    empty = np.flatnonzero(~where.any(axis=1))
    if len(empty):
        raise InputError(
            f"clean sample {int(empty[0])} has no position whose next token induction "
            "could predict (no token pair occurs twice); pass repeated sequences, e.g. "
            "InductionTransformer.sample_pairs()."
        )
    return x_clean, x_corr, ids, where


def _shares(
    clean_m: np.ndarray, corr_m: np.ndarray, denoised: np.ndarray, noised: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Restored and destroyed shares of the mean metric gap (NaN where there is no gap)."""
    gap = clean_m.mean() - corr_m.mean()
    tiny = 64 * np.finfo(np.float32).eps * max(abs(clean_m.mean()), abs(corr_m.mean()), 1.0)
    if abs(gap) <= tiny:
        return np.full(denoised.shape[:-1], np.nan), np.full(noised.shape[:-1], np.nan)
    with np.errstate(invalid="ignore"):  # NaN entries (paths that do not exist) stay NaN
        return (denoised.mean(-1) - corr_m.mean()) / gap, (clean_m.mean() - noised.mean(-1)) / gap


def _token_ids(model: Any, inputs: Any, name: str = "inputs") -> Any:
    """``inputs`` as an int64 tensor (n_samples, n_tokens) on the model's device."""
    torch = import_torch()
    value = inputs
    if isinstance(value, Mapping) and "input_ids" in value:
        value = value["input_ids"]
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError):
            raise InputError(
                f"{name} must be token ids, an integer array of shape (n_samples, n_tokens), "
                f"got {type(inputs).__name__}; pass e.g. InductionTransformer.sample()."
            ) from None
    if value.ndim != 2 or value.dtype.is_floating_point or value.dtype.is_complex:
        raise InputError(
            f"{name} must be token ids, an integer array of shape (n_samples, n_tokens), got "
            f"dtype {value.dtype} and shape {tuple(value.shape)}; pass integer ids, e.g. "
            "InductionTransformer.sample()."
        )
    vocab = int(model.W_E.shape[0])
    if value.numel() and (int(value.min()) < 0 or int(value.max()) >= vocab):
        raise InputError(
            f"{name} holds token ids from {int(value.min())} to {int(value.max())}, but the "
            f"model's vocabulary is 0..{vocab - 1}; pass ids in that range."
        )
    device = next(iter(model.parameters())).device
    return value.to(device=device, dtype=torch.long)


def _ids_of(inputs: Any, n: int) -> np.ndarray:
    """The integer token ids (n, T) of ``inputs`` (a mapping's ``"input_ids"``)."""
    torch = import_torch()
    value = inputs["input_ids"] if isinstance(inputs, Mapping) else inputs
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    ids = np.asarray(value)
    if ids.ndim != 2 or ids.shape[0] != n or ids.dtype.kind not in "iu":
        raise InputError(
            f"inputs must give integer token ids of shape (n_samples, n_tokens) (a tensor, "
            f"or a mapping with 'input_ids'), got dtype {ids.dtype} and shape {ids.shape}; "
            "pass the token ids the model was called with."
        )
    return ids.astype(np.int64)


def _batches(x: Any, size: int | None) -> Iterator[Any]:
    n = len(x)
    step = n if size is None else size
    for start in range(0, n, max(step, 1)):
        yield x[start : start + step]


def _paired_runs(
    model: Any, x_clean: Any, x_corr: Any, ids: np.ndarray, where: np.ndarray, z_points: list[Any],
    size: int | None,
) -> Iterator[tuple[Any, ...]]:  # fmt: skip
    """The clean and corrupted runs of each batch, recording every layer's ``hook_z``.

    Yields ``(slice, clean ids, corrupted ids, target, mask, z_clean, z_corr,
    clean metric, corrupted metric)`` per batch: head and path patching both start
    from these two runs.
    """
    torch = import_torch()
    start = 0
    for b_clean, b_corr in zip(_batches(x_clean, size), _batches(x_corr, size), strict=True):
        sl = slice(start, start + len(b_clean))
        start = sl.stop
        mask = torch.as_tensor(where[sl], device=x_clean.device)
        target = torch.as_tensor(ids[sl, 1:], device=x_clean.device)
        z_clean: list[list[Any]] = [[] for _ in z_points]
        z_corr: list[list[Any]] = [[] for _ in z_points]
        record_clean = {p: _recorder(z) for p, z in zip(z_points, z_clean, strict=True)}
        record_corr = {p: _recorder(z) for p, z in zip(z_points, z_corr, strict=True)}
        clean_metric = _metric(_run(model, b_clean, record_clean), target, mask)
        corr_metric = _metric(_run(model, b_corr, record_corr), target, mask)
        yield sl, b_clean, b_corr, target, mask, z_clean, z_corr, clean_metric, corr_metric


def _recorder(store: list[Any]) -> Callable[[Any, Any, Any], None]:
    def hook(module: Any, args: Any, output: Any) -> None:
        store.append(output.detach())

    return hook


def _replacer(source: Any, head: int | slice) -> Callable[[Any, Any, Any], Any]:
    """A forward hook on ``hook_z`` that puts ``source``'s head(s) ``head`` into the output."""

    def hook(module: Any, args: Any, output: Any) -> Any:
        patched = output.clone()
        patched[:, :, head] = source[:, :, head]
        return patched

    return hook


def _eval(model: Any) -> Any:
    """Eval mode for the call (a warning, at the public function's caller, when it was
    training); nothing for an object that is not a module (the readers refuse it)."""
    if not callable(getattr(model, "modules", None)):
        return contextlib.nullcontext()
    return eval_mode(model, stacklevel=4)


def _run_added(model: Any, ids: Any, point: Any, delta: Any, head: int | None) -> Any:
    """The logits with ``delta`` (n, n_tokens, d_model) added to ``point``'s output: to
    head ``head``'s copy of a per-head input, or to the whole stream (``head=None``)."""
    fired = []

    def hook(module: Any, args: Any, output: Any) -> Any:
        fired.append(True)
        patched = output.clone()
        if head is None:
            return patched + delta
        patched[:, :, head] = patched[:, :, head] + delta
        return patched

    logits = _run(model, ids, {point: hook})
    if not fired:
        raise UnsupportedModelError(
            "the model's forward pass does not use its per-head input hook points; for a "
            "TransformerLens HookedTransformer set cfg.use_split_qkv_input=True."
        )
    return logits


def _run(model: Any, ids: Any, hooks: dict[Any, Callable[[Any, Any, Any], Any]]) -> Any:
    """The model's logits on ``ids`` with the forward hooks attached (eval mode, no grad)."""
    torch = import_torch()
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.no_grad())
        for module, hook in hooks.items():
            stack.enter_context(hooked(module, hook))
        return model(ids)


def _metric(logits: Any, target: Any, mask: Any) -> np.ndarray:
    """Per sample: mean over masked positions of the next token's logit minus the mean logit."""
    logits = logits[:, :-1].double()
    correct = logits.gather(-1, target[..., None])[..., 0] - logits.mean(-1)
    m = mask.to(correct.dtype)
    return ((correct * m).sum(-1) / m.sum(-1)).cpu().numpy()


def _copying_scores(model: Any, shape: tuple[int, int]) -> np.ndarray:
    """Eigenvalue copying score per head (NaN when the weights cannot be read)."""
    torch = import_torch()
    scores = np.full(shape, np.nan)
    if not is_hooked(model) or not (hasattr(model, "W_E") and hasattr(model, "W_U")):
        return scores
    with torch.no_grad():
        w_e, w_u = _float64(model.W_E), _float64(model.W_U)
        for layer, block in enumerate(model.blocks):
            w_v, w_o = _float64(block.attn.W_V), _float64(block.attn.W_O)
            for head in range(shape[1]):
                scores[layer, head] = copying_score(w_e, w_v[head], w_o[head], w_u)
    return scores


def copying_score(w_e: np.ndarray, w_v: np.ndarray, w_o: np.ndarray, w_u: np.ndarray) -> float:
    """``Re(sum lambda) / sum |lambda|`` over the eigenvalues of ``w_e @ w_v @ w_o @ w_u``.

    The non-zero eigenvalues of ``(w_e w_v)(w_o w_u)`` are those of the small
    ``(w_o w_u)(w_e w_v)`` (d_head x d_head), which is what is decomposed.
    """
    small = (w_o @ w_u) @ (w_e @ w_v)
    eig = np.linalg.eigvals(small)
    total = float(np.abs(eig).sum())
    if total <= np.finfo(np.float64).tiny:
        return float("nan")
    return float(eig.sum().real / total)


def _float64(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.astype(np.float64)
    return t.detach().cpu().double().numpy()
