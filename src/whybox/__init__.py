"""whybox: explain, debug and audit machine-learning models."""

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._explanation import Explanation

__version__ = "0.1.0"

__all__ = ["Explanation", "InputError", "UnsupportedModelError", "__version__"]
