"""Attention maps of transformers (PyTorch, the ``torch`` extra).

Attention is not attribution: a large weight says where a head read from, not that
the token mattered to the prediction (Jain & Wallace 2019; Wiegreffe & Pinter 2019).
The attribution methods are in :mod:`whybox.gradients`.

- :func:`attention_weights`: every layer's and head's weights, as :class:`AttentionMaps`
  (Hugging Face models in eager attention, or ``nn.MultiheadAttention`` layers).
- :func:`attention_rollout`, :func:`rollout_relevance`: attention multiplied through
  the layers (Abnar & Zuidema 2020).
- :func:`attention_x_gradient`: attention weighted by its gradient with respect to an
  output (Chefer, Gur & Wolf 2021), an :class:`~whybox.Explanation` of that output.
"""

from whybox.attention._capture import attention_weights
from whybox.attention._gradient import attention_x_gradient
from whybox.attention._maps import AttentionMaps
from whybox.attention._rollout import attention_rollout, rollout_relevance

__all__ = [
    "AttentionMaps",
    "attention_rollout",
    "attention_weights",
    "attention_x_gradient",
    "rollout_relevance",
]
