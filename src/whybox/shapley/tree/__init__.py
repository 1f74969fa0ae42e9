"""whybox.shapley.tree: TreeSHAP for tree ensembles."""

from whybox.shapley.tree._ensemble import TreeEnsemble, parse_ensemble
from whybox.shapley.tree._explainer import TreeExplainer

__all__ = ["TreeEnsemble", "TreeExplainer", "parse_ensemble"]
