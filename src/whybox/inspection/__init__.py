"""Global views of a model: permutation importance (more to come)."""

from whybox.inspection._permutation_importance import permutation_importance
from whybox.inspection._results import PermutationImportance

__all__ = ["PermutationImportance", "permutation_importance"]
