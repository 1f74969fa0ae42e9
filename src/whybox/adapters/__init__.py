"""Adapters: the only place that knows about model libraries and data containers."""

from whybox.adapters._data import Dataset, adapt_data
from whybox.adapters._model import LibraryPrediction, Model, adapt_model, library_prediction

__all__ = [
    "Dataset",
    "LibraryPrediction",
    "Model",
    "adapt_data",
    "adapt_model",
    "library_prediction",
]
