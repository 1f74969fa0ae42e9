"""The attention maps of a transformer: one result type for every layer and head."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result


@dataclass(frozen=True, eq=False)
class AttentionMaps(Result):
    """The attention weights of every layer and head of a transformer, per sample.

    Attention is not attribution: ``weights[i, l, h, q, k]`` says how much head ``h``
    of layer ``l`` mixed token ``k`` into token ``q``, not how much token ``k``
    mattered to the prediction. Attention can be changed a lot without changing the
    prediction (Jain & Wallace 2019), though not always freely (Wiegreffe & Pinter
    2019); use :func:`attention_x_gradient` or an attribution method to explain an
    output.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_layers, n_heads, n_tokens, n_tokens), float64
        Softmax attention probabilities: query tokens on the fourth axis, key tokens
        on the last; each row sums to 1 over the keys the model did not mask.
        Layers are in the order the model ran them.
    layer_names : tuple of str
        One name per layer: ``"layer 0"``, ``"layer 1"`` ... for Hugging Face models,
        the module's name in ``named_modules()`` for ``nn.MultiheadAttention`` layers
        (``"name#2"`` for its second call when a layer runs twice).
    padding_mask : ndarray of shape (n_samples, n_tokens), bool
        True at padding positions (PyTorch's ``key_padding_mask`` convention; a
        Hugging Face ``attention_mask`` is its negation). Rows and columns of padding
        tokens carry no information.
    tokens : tuple of tuple of str, or None
        Per sample, the ``n_tokens`` token strings (padding included), when known.
    method : str
        ``"attention_weights"``.
    params : dict
        How the maps were made: ``source`` (``"huggingface"`` or
        ``"multihead_attention"``), ``batch_size``, ``heads`` (``"all"``, or
        ``"mean"`` after :meth:`mean_heads`) and the whybox version.

    Raises
    ------
    InputError
        Arrays of inconsistent shapes.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_dict()``/``to_json()`` write every field
    (strict JSON) and ``AttentionMaps.from_dict`` reads them back.

    References
    ----------
    Jain, S. & Wallace, B. C. (2019). Attention is not explanation. NAACL.
    Wiegreffe, S. & Pinter, Y. (2019). Attention is not not explanation. EMNLP.
    """

    weights: np.ndarray
    layer_names: tuple[str, ...]
    padding_mask: np.ndarray
    tokens: tuple[tuple[str, ...], ...] | None = None
    method: str = "attention_weights"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64)
        object.__setattr__(self, "weights", weights)
        if weights.ndim != 5 or weights.shape[3] != weights.shape[4]:
            raise InputError(
                "weights must have shape (n_samples, n_layers, n_heads, n_tokens, n_tokens), "
                f"got {weights.shape}."
            )
        n, n_layers, _, t, _ = weights.shape
        names = tuple(str(s) for s in self.layer_names)
        object.__setattr__(self, "layer_names", names)
        if len(names) != n_layers:
            raise InputError(
                f"layer_names has {len(names)} names but weights has {n_layers} layers; give "
                "one name per layer."
            )
        mask = np.asarray(self.padding_mask, dtype=bool)
        object.__setattr__(self, "padding_mask", mask)
        if mask.shape != (n, t):
            raise InputError(
                f"padding_mask must have shape (n_samples, n_tokens) = {(n, t)}, got {mask.shape}."
            )
        if self.tokens is not None:
            tokens = tuple(tuple(str(w) for w in row) for row in self.tokens)
            if len(tokens) != n or any(len(row) != t for row in tokens):
                raise InputError(
                    f"tokens must hold {n} sequences of {t} token strings (padding included), "
                    f"got {len(tokens)} sequences of lengths {sorted({len(r) for r in tokens})}."
                )
            object.__setattr__(self, "tokens", tokens)

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``weights``: (n_samples, n_layers, n_heads, n_tokens, n_tokens)."""
        return self.weights.shape

    def __len__(self) -> int:
        return self.weights.shape[0]

    @property
    def n_layers(self) -> int:
        return self.weights.shape[1]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[2]

    @property
    def n_tokens(self) -> int:
        return self.weights.shape[3]

    # ------------------------------------------------------------------ views
    def mean_heads(self) -> AttentionMaps:
        """The same maps with the heads of each layer averaged into one.

        Returns
        -------
        AttentionMaps
            weights of shape (n_samples, n_layers, 1, n_tokens, n_tokens); rows
            still sum to 1 over the unmasked keys.
        """
        return replace(
            self,
            weights=self.weights.mean(axis=2, keepdims=True),
            params={**self.params, "heads": "mean"},
        )

    def layer(self, layer: int | str) -> AttentionMaps:
        """The maps of one layer, given by position (negative counts from the last) or name.

        Returns
        -------
        AttentionMaps
            weights of shape (n_samples, 1, n_heads, n_tokens, n_tokens).

        Raises
        ------
        InputError
            No layer has that position or name.
        """
        i = self._layer_index(layer)
        return replace(self, weights=self.weights[:, i : i + 1], layer_names=(self.layer_names[i],))

    def _layer_index(self, layer: Any) -> int:
        n_layers = self.n_layers
        if isinstance(layer, str):
            if layer not in self.layer_names:
                raise InputError(
                    f"layer {layer!r} is not one of the layer names; choose one of "
                    f"{list(self.layer_names)} or give a position."
                )
            return self.layer_names.index(layer)
        if (
            isinstance(layer, bool)
            or not isinstance(layer, (int, np.integer))
            or not -n_layers <= layer < n_layers
        ):
            raise InputError(
                f"layer must be a layer name or a position in {-n_layers}..{n_layers - 1}, "
                f"got {layer!r}."
            )
        return int(layer) % n_layers

    def real_tokens(self, row: int) -> list[str]:
        """The tokens of sample ``row`` without padding (positions as strings if unknown)."""
        keep = np.flatnonzero(~self.padding_mask[row])
        if self.tokens is None:
            return [str(j) for j in keep]
        return [self.tokens[row][j] for j in keep]

    # ------------------------------------------------------------------ export
    def to_frame(self) -> pd.DataFrame:
        """One row per sample: its number of real (non-padding) tokens and those tokens.

        The weights themselves (n_samples x n_layers x n_heads x n_tokens^2 numbers)
        are in ``weights`` and in ``to_dict()``; this table is the overview a notebook
        shows.

        Returns
        -------
        DataFrame
            Index ``sample``; columns ``n_tokens`` (int) and ``tokens`` (the real
            tokens joined by spaces; their positions when the strings are unknown).
        """
        return pd.DataFrame(
            {
                "n_tokens": (~self.padding_mask).sum(axis=1),
                "tokens": [" ".join(self.real_tokens(i)) for i in range(len(self))],
            },
            index=pd.RangeIndex(len(self), name="sample"),
        )

    def __repr__(self) -> str:
        return (
            f"AttentionMaps(n_samples={len(self)}, n_layers={self.n_layers}, "
            f"n_heads={self.n_heads}, n_tokens={self.n_tokens}, "
            f"source={self.params.get('source', '?')!r})"
        )


def check_maps(maps: Any, name: str) -> AttentionMaps:
    """``maps`` itself, or an InputError naming the function ``name`` that needs them."""
    if not isinstance(maps, AttentionMaps):
        raise InputError(
            f"{name} takes AttentionMaps, got {type(maps).__name__}; pass the result of "
            "whybox.attention.attention_weights(model, inputs)."
        )
    return maps
