"""Glass-box models: additive models (EBMs, GAMs) read into one representation."""

from whybox.glassbox._additive import AdditiveModel, Binning, Term
from whybox.glassbox._challenger import Challengers, challengers, is_glass_box
from whybox.glassbox._ebm import from_ebm, is_ebm
from whybox.glassbox._pygam import PyGAMTermFunction, from_pygam, is_pygam
from whybox.glassbox._shape import ShapeFunction, ShapeFunctions, shape_functions

__all__ = [
    "AdditiveModel",
    "Binning",
    "Challengers",
    "PyGAMTermFunction",
    "ShapeFunction",
    "ShapeFunctions",
    "Term",
    "challengers",
    "from_ebm",
    "from_pygam",
    "is_ebm",
    "is_glass_box",
    "is_pygam",
    "shape_functions",
]
