"""Concepts and model internals for PyTorch models (the ``torch`` extra).

- :class:`TCAV`: testing with concept activation vectors (Kim et al. 2018).
- :func:`probe`: linear probes of a layer with a control task (Hewitt & Liang 2019).
- :func:`activation_patching`: causal tracing of a layer (Vig et al. 2020, Meng et al. 2022).
- :class:`SparseAutoencoder`: TopK (Gao et al. 2024) and ReLU + L1 (Bricken et al. 2023)
  sparse autoencoders of a layer, with SAELens's metrics, top activations, logit
  attribution and steering.
- :func:`head_scores`, :func:`head_patching`, :func:`path_patching`, :func:`logit_lens`,
  :func:`attention_patterns`: induction heads and circuits (Olsson et al. 2022).
"""

from whybox.concepts._circuits import (
    HeadPatching,
    HeadScores,
    LogitLens,
    PathPatching,
    attention_patterns,
    head_patching,
    head_scores,
    logit_lens,
    path_patching,
)
from whybox.concepts._patching import PatchingResult, activation_patching
from whybox.concepts._probing import ProbeResult, probe
from whybox.concepts._sae import SAEEvaluation, SparseAutoencoder
from whybox.concepts._sae_features import LogitAttribution, SteeringResult, TopActivations
from whybox.concepts._tcav import TCAV, TCAVResult

__all__ = [
    "TCAV",
    "LogitAttribution",
    "SAEEvaluation",
    "SparseAutoencoder",
    "SteeringResult",
    "TopActivations",
    "PatchingResult",
    "ProbeResult",
    "TCAVResult",
    "activation_patching",
    "probe",
    "HeadPatching",
    "HeadScores",
    "LogitLens",
    "attention_patterns",
    "head_patching",
    "head_scores",
    "logit_lens",
    "PathPatching",
    "path_patching",
]
