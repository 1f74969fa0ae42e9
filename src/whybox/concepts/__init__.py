"""Concepts and model internals for PyTorch models (the ``torch`` extra).

- :class:`TCAV`: testing with concept activation vectors (Kim et al. 2018).
- :func:`probe`: linear probes of a layer with a control task (Hewitt & Liang 2019).
- :func:`activation_patching`: causal tracing of a layer (Vig et al. 2020, Meng et al. 2022).
"""

from whybox.concepts._patching import PatchingResult, activation_patching
from whybox.concepts._probing import ProbeResult, probe
from whybox.concepts._tcav import TCAV, TCAVResult

__all__ = [
    "TCAV",
    "PatchingResult",
    "ProbeResult",
    "TCAVResult",
    "activation_patching",
    "probe",
]
