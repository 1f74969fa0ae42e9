"""whybox.shapley."""

from whybox.shapley._exact import ExactExplainer
from whybox.shapley._permutation import PermutationExplainer
from whybox.shapley.tree import TreeExplainer

__all__ = ["ExactExplainer", "PermutationExplainer", "TreeExplainer"]
