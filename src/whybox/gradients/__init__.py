"""Gradient attributions for PyTorch models (the ``torch`` extra).

Every method returns an :class:`~whybox.Explanation` whose values keep the input's
shape: (n_samples, *input_shape, 1), one targeted output per sample. A model with
several inputs is explained with a tuple ``X`` (one tensor per forward argument) and
``additional_forward_args`` (passed after them, not explained): the result is a tuple
of Explanations, one per input (Grad-CAM: one map of the layer). Attention maps
(which are not attributions) are in :mod:`whybox.attention`.
"""

from whybox.gradients._common import TorchExplainer
from whybox.gradients._deeplift import DeepLift, DeepShap
from whybox.gradients._gradcam import GradCAM, GradCAMPlusPlus
from whybox.gradients._gradient_shap import GradientShap, GradientShapDraws
from whybox.gradients._integrated import IntegratedGradients
from whybox.gradients._saliency import InputXGradient, Saliency
from whybox.gradients._smoothgrad import SmoothGrad

__all__ = [
    "DeepLift",
    "DeepShap",
    "GradCAM",
    "GradCAMPlusPlus",
    "GradientShap",
    "GradientShapDraws",
    "InputXGradient",
    "IntegratedGradients",
    "Saliency",
    "SmoothGrad",
    "TorchExplainer",
]
