"""Demo data: bundled with scikit-learn or generated, never downloaded."""

from whybox.datasets._demo import DemoCase, load_demo

__all__ = ["DemoCase", "load_demo"]
