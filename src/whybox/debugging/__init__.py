"""Model debugging: where a model fails and what the failing rows have in common.

Every function computes and returns a frozen result type; :mod:`whybox.plots`
draws them.
"""

from whybox.debugging._calibration import Calibration, ReliabilityCurve, calibration

# as_label_vector is not in __all__: the label check shared with whybox.fairness.
from whybox.debugging._confusion import _as_label_vector as as_label_vector  # noqa: F401
from whybox.debugging._confusion import confusion_analysis
from whybox.debugging._errors import error_analysis
from whybox.debugging._residuals import FeatureResiduals, ResidualAnalysis, residual_analysis
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
from whybox.debugging._slices import Slice, SliceAnalysis, find_slices

__all__ = [
    "Calibration",
    "ClassificationCase",
    "ConfusedPair",
    "ConfusionAnalysis",
    "ErrorAnalysis",
    "FeatureBins",
    "FeatureResiduals",
    "FeatureShift",
    "RegressionCase",
    "ReliabilityCurve",
    "ResidualAnalysis",
    "ResidualSummary",
    "Slice",
    "SliceAnalysis",
    "calibration",
    "confusion_analysis",
    "error_analysis",
    "find_slices",
    "residual_analysis",
]
