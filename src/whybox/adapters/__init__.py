"""Adapters: the only place that knows about model libraries and data containers."""

from whybox.adapters._data import Dataset, adapt_data
from whybox.adapters._model import LibraryPrediction, Model, adapt_model, library_prediction
from whybox.adapters._pipeline import ColumnMap, NotSeparableError, column_map, is_pipeline

__all__ = [
    "ColumnMap",
    "Dataset",
    "LibraryPrediction",
    "Model",
    "NotSeparableError",
    "adapt_data",
    "adapt_model",
    "column_map",
    "is_pipeline",
    "library_prediction",
]
