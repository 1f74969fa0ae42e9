"""whybox: explain, debug and audit machine-learning models."""

from whybox import (
    anchors,
    attention,
    concepts,
    counterfactuals,
    datasets,
    debugging,
    fairness,
    gradients,
    inspection,
    lime,
    plots,
)
from whybox._exceptions import InputError, UnsupportedModelError
from whybox._explain import explain
from whybox._explanation import Explanation
from whybox._version import __version__  # noqa: E402
from whybox.anchors import Anchor, AnchorTabular, AnchorText
from whybox.counterfactuals import CounterfactualExplainer
from whybox.lime import LimeImageExplainer, LimeTabularExplainer, LimeTextExplainer
from whybox.report import Report, audit
from whybox.shapley import (
    ExactExplainer,
    KernelExplainer,
    LinearExplainer,
    PermutationExplainer,
    TreeExplainer,
    WeightedBackground,
    summarize_background,
)

__all__ = [
    "Anchor",
    "AnchorTabular",
    "AnchorText",
    "CounterfactualExplainer",
    "ExactExplainer",
    "Explanation",
    "InputError",
    "KernelExplainer",
    "LimeImageExplainer",
    "LimeTabularExplainer",
    "LimeTextExplainer",
    "LinearExplainer",
    "PermutationExplainer",
    "Report",
    "TreeExplainer",
    "UnsupportedModelError",
    "WeightedBackground",
    "__version__",
    "anchors",
    "attention",
    "audit",
    "concepts",
    "counterfactuals",
    "datasets",
    "debugging",
    "explain",
    "fairness",
    "gradients",
    "inspection",
    "lime",
    "plots",
    "summarize_background",
]
