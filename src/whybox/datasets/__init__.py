"""Demo data: bundled with scikit-learn or generated, never downloaded."""

from whybox.datasets._demo import DemoCase, load_demo
from whybox.datasets._digits import DigitsCNN, digits_cnn_architecture, load_digits_cnn

__all__ = ["DemoCase", "DigitsCNN", "digits_cnn_architecture", "load_demo", "load_digits_cnn"]
