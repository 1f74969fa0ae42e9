"""Glass-box models: additive models (EBMs, GAMs) read into one representation."""

from whybox.glassbox._additive import AdditiveModel, Binning, Term
from whybox.glassbox._challenger import Challengers, challengers, is_glass_box
from whybox.glassbox._ebm import from_ebm, is_ebm
from whybox.glassbox._ebm_json import (
    MAX_JSON_BYTES,
    looks_like_ebm_json,
    model_from_ebm_json,
    read_ebm_json,
)
from whybox.glassbox._pygam import from_pygam, is_pygam
from whybox.glassbox._shape import ShapeFunction, ShapeFunctions, shape_functions

__all__ = [
    "MAX_JSON_BYTES",
    "AdditiveModel",
    "Binning",
    "Challengers",
    "ShapeFunction",
    "ShapeFunctions",
    "Term",
    "challengers",
    "from_ebm",
    "from_pygam",
    "is_ebm",
    "is_glass_box",
    "is_pygam",
    "looks_like_ebm_json",
    "model_from_ebm_json",
    "read_ebm_json",
    "shape_functions",
]
