"""Explanation quality: faithfulness, stability, sanity checks and agreement.

Besides ``__all__``, for whybox's own report and plots: ``METRICS`` (the agreement
metrics, in order), ``MAX_ROWS`` (the rows :func:`quality` tests for faithfulness) and
``quality_with_curves`` (:func:`quality`, also returning the deletion curves it computed).
"""

from whybox.evaluate._agreement import METRICS as METRICS
from whybox.evaluate._agreement import Agreement, agreement
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
from whybox.evaluate._quality import MAX_ROWS as MAX_ROWS
from whybox.evaluate._quality import quality
from whybox.evaluate._quality import quality_with_curves as quality_with_curves
from whybox.evaluate._sanity import SanityCheck, model_randomization
from whybox.evaluate._stability import (
    LocalLipschitz,
    SeedStability,
    local_lipschitz,
    seed_stability,
)

__all__ = [
    "Agreement",
    "Faithfulness",
    "FaithfulnessCorrelation",
    "Infidelity",
    "LocalLipschitz",
    "SanityCheck",
    "SeedStability",
    "SensitivityN",
    "agreement",
    "faithfulness",
    "faithfulness_correlation",
    "infidelity",
    "local_lipschitz",
    "model_randomization",
    "quality",
    "seed_stability",
    "sensitivity_n",
]
