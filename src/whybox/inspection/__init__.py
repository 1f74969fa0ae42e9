"""Global views of a model: permutation importance (more to come)."""

from whybox.inspection._results import PermutationImportance

__all__ = ["PermutationImportance"]
