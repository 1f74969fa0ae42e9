"""Explanation quality: faithfulness, stability, sanity checks and agreement."""

from whybox.evaluate._faithfulness import (
    Faithfulness,
    FaithfulnessCorrelation,
    Infidelity,
    SensitivityN,
    faithfulness,
    faithfulness_correlation,
    infidelity,
    sensitivity_n,
)

__all__ = [
    "Faithfulness",
    "FaithfulnessCorrelation",
    "Infidelity",
    "SensitivityN",
    "faithfulness",
    "faithfulness_correlation",
    "infidelity",
    "sensitivity_n",
]
