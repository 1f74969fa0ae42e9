"""Plots of whybox results: each function takes a result and returns a matplotlib Figure.

The figures are made with ``matplotlib.figure.Figure`` (no pyplot state, no window);
save them with ``fig.savefig("plot.png")`` or ``.svg``. Every function accepts
``ax=`` to draw into an existing Axes instead.
"""

from whybox.plots._agreement import disagreement_matrix
from whybox.plots._ale import ale
from whybox.plots._attention import attention
from whybox.plots._attention_heads import attention_heads
from whybox.plots._bar import bar
from whybox.plots._beeswarm import beeswarm
from whybox.plots._challengers import challengers
from whybox.plots._confusion import confusion_matrix
from whybox.plots._counterfactuals import counterfactuals
from whybox.plots._dependence import dependence
from whybox.plots._effects import h_statistic, partial_dependence, shap_interactions
from whybox.plots._failures import calibration, slices, surrogate_tree
from whybox.plots._fairness import disparities, fairness
from whybox.plots._faithfulness import deletion_curves
from whybox.plots._image import image, image_grid
from whybox.plots._importance_comparison import importance_comparison
from whybox.plots._lime import lime_bar, lime_image, lime_text
from whybox.plots._permutation import permutation_importance
from whybox.plots._residuals import residuals
from whybox.plots._shape_functions import shape_function, shape_functions, term_importances
from whybox.plots._waterfall import waterfall

__all__ = [
    "ale",
    "attention",
    "attention_heads",
    "bar",
    "beeswarm",
    "calibration",
    "challengers",
    "confusion_matrix",
    "counterfactuals",
    "deletion_curves",
    "disagreement_matrix",
    "dependence",
    "disparities",
    "fairness",
    "h_statistic",
    "image",
    "image_grid",
    "importance_comparison",
    "lime_bar",
    "lime_image",
    "lime_text",
    "partial_dependence",
    "permutation_importance",
    "residuals",
    "shap_interactions",
    "shape_function",
    "shape_functions",
    "slices",
    "surrogate_tree",
    "term_importances",
    "waterfall",
]
