"""Adapters: the only place that knows about model libraries and data containers."""

from whybox.adapters._data import Dataset, adapt_data
from whybox.adapters._model import Model, adapt_model

__all__ = ["Dataset", "Model", "adapt_data", "adapt_model"]
