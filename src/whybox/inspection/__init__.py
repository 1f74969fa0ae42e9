"""Global views of a model: feature effects (partial dependence, ICE, ALE),
interaction strength (H-statistic), permutation importance and global surrogates."""

from whybox.inspection._ale import AccumulatedLocalEffects, accumulated_local_effects
from whybox.inspection._h_statistic import HStatistic, h_statistic
from whybox.inspection._partial_dependence import PartialDependence, partial_dependence
from whybox.inspection._permutation_importance import permutation_importance
from whybox.inspection._results import PermutationImportance
from whybox.inspection._surrogate import GlobalSurrogate, global_surrogate

__all__ = [
    "AccumulatedLocalEffects",
    "GlobalSurrogate",
    "HStatistic",
    "PartialDependence",
    "PermutationImportance",
    "accumulated_local_effects",
    "global_surrogate",
    "h_statistic",
    "partial_dependence",
    "permutation_importance",
]
