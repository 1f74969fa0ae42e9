"""Global views of a model: feature effects (partial dependence, ICE, ALE),
interaction strength (H-statistic) and permutation importance."""

from whybox.inspection._ale import AccumulatedLocalEffects, accumulated_local_effects
from whybox.inspection._h_statistic import HStatistic, h_statistic
from whybox.inspection._partial_dependence import PartialDependence, partial_dependence
from whybox.inspection._permutation_importance import permutation_importance
from whybox.inspection._results import PermutationImportance

__all__ = [
    "AccumulatedLocalEffects",
    "HStatistic",
    "PartialDependence",
    "PermutationImportance",
    "accumulated_local_effects",
    "h_statistic",
    "partial_dependence",
    "permutation_importance",
]
