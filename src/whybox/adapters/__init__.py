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
    "TokenEmbeddings",
    "adapt_data",
    "adapt_model",
    "column_map",
    "is_pipeline",
    "library_prediction",
]


def __getattr__(name: str) -> type:
    # TokenEmbeddings is a torch.nn.Module: its class is built on first use, so that
    # importing whybox does not import torch.
    if name == "TokenEmbeddings":
        from whybox.adapters._embeddings import token_embeddings_class

        return token_embeddings_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
