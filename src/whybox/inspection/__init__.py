"""Global views of a model: feature effects (partial dependence, ICE, ALE),
interaction strength (H-statistic), permutation importance (grouped, clustered,
with confidence intervals and an early stop), importance comparison (MDI vs
permutation vs SHAP) and global surrogates."""

from whybox.inspection._ale import AccumulatedLocalEffects, accumulated_local_effects
from whybox.inspection._clusters import correlated_feature_groups

# feature_index and levels are not in __all__: column lookup shared with whybox.fairness.
from whybox.inspection._features import feature_index, levels  # noqa: F401
from whybox.inspection._h_statistic import HStatistic, h_statistic
from whybox.inspection._importance_comparison import (
    ImportanceComparison,
    importance_comparison,
    impurity_importance,
)
from whybox.inspection._partial_dependence import PartialDependence, partial_dependence
from whybox.inspection._permutation_importance import permutation_importance
from whybox.inspection._results import PermutationImportance
from whybox.inspection._shap_interactions import shap_interaction_matrix, top_interaction_pairs
from whybox.inspection._surrogate import GlobalSurrogate, global_surrogate

__all__ = [
    "AccumulatedLocalEffects",
    "GlobalSurrogate",
    "HStatistic",
    "ImportanceComparison",
    "PartialDependence",
    "PermutationImportance",
    "accumulated_local_effects",
    "correlated_feature_groups",
    "global_surrogate",
    "h_statistic",
    "importance_comparison",
    "impurity_importance",
    "partial_dependence",
    "permutation_importance",
    "shap_interaction_matrix",
    "top_interaction_pairs",
]
