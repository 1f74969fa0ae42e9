"""whybox.shapley."""

from whybox.shapley._additive import AdditiveExplainer
from whybox.shapley._background import WeightedBackground, summarize_background
from whybox.shapley._exact import ExactExplainer
from whybox.shapley._kernel import KernelExplainer
from whybox.shapley._linear import LinearExplainer
from whybox.shapley._permutation import PermutationExplainer
from whybox.shapley.tree import TreeExplainer

__all__ = [
    "AdditiveExplainer",
    "ExactExplainer",
    "KernelExplainer",
    "LinearExplainer",
    "PermutationExplainer",
    "TreeExplainer",
    "WeightedBackground",
    "summarize_background",
]
