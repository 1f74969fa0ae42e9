"""Model debugging: where a model fails and what the failing rows have in common.

Every function computes and returns a frozen result type; :mod:`whybox.plots`
draws them.
"""

from whybox.debugging._confusion import confusion_analysis
from whybox.debugging._errors import error_analysis
from whybox.debugging._results import (
    ClassificationCase,
    ConfusedPair,
    ConfusionAnalysis,
    ErrorAnalysis,
    FeatureBins,
    FeatureShift,
    RegressionCase,
    ResidualSummary,
)

__all__ = [
    "ClassificationCase",
    "ConfusedPair",
    "ConfusionAnalysis",
    "ErrorAnalysis",
    "FeatureBins",
    "FeatureShift",
    "RegressionCase",
    "ResidualSummary",
    "confusion_analysis",
    "error_analysis",
]
