"""Glass-box models: additive models (EBMs, GAMs) read into one representation."""

from whybox.glassbox._additive import AdditiveModel, Binning, Term
from whybox.glassbox._ebm import from_ebm, is_ebm

__all__ = [
    "AdditiveModel",
    "Binning",
    "Term",
    "from_ebm",
    "is_ebm",
]
