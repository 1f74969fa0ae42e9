"""whybox.shapley.tree: TreeSHAP for tree ensembles.

Besides :class:`TreeExplainer`, the package's tree reading is public for the rest of
whybox (the partial-dependence recursion, counterfactual search): :func:`parse_ensemble`
reads a fitted tree model into a :class:`TreeEnsemble`, and :func:`reads_trees` tells
whether a model is of a type it reads.
"""

from whybox.shapley.tree._ensemble import TreeEnsemble, parse_ensemble, reads_trees
from whybox.shapley.tree._explainer import TreeExplainer

__all__ = ["TreeEnsemble", "TreeExplainer", "parse_ensemble", "reads_trees"]
