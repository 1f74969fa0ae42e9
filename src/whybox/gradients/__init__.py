"""Gradient attributions for PyTorch models (the ``torch`` extra).

Every method returns an :class:`~whybox.Explanation` whose values keep the input's
shape: (n_samples, *input_shape, 1), one targeted output per sample.
"""

from whybox.gradients._common import TorchExplainer
from whybox.gradients._saliency import Saliency

__all__ = ["Saliency", "TorchExplainer"]
