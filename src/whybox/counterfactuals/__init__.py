"""Counterfactual explanations and recourse.

:class:`CounterfactualExplainer` finds diverse, constrained, always-valid
counterfactuals (Wachter et al. 2017; DiCE, Mothilal et al. 2020) and the cheapest
actionable recourse under per-feature costs (Ustun et al. 2019).
"""

from whybox.counterfactuals._explainer import CounterfactualExplainer
from whybox.counterfactuals._result import Counterfactuals, Recourse

__all__ = ["CounterfactualExplainer", "Counterfactuals", "Recourse"]
