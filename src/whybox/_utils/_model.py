"""Model preparation shared by the model-agnostic methods, and the one torch check."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def prepare_model(model: Any, X: Any) -> Any:
    """Adapt ``model`` (a :class:`whybox.adapters.Model`), naming a plain callable's
    outputs after one call on ``X``."""
    from whybox.adapters import Model, adapt_data, adapt_model  # adapters use this layer

    m = adapt_model(model)
    plain_callable = not isinstance(model, Model) and m.estimator is model and m.classes is None
    if not plain_callable or m.output_names != ("output",) or not callable(model):
        return m
    out = np.asarray(model(adapt_data(X).values[:1]))
    k = out.shape[1] if out.ndim == 2 else 1
    if k == 1:
        return m
    return adapt_model(model, task=m.task, output_names=[f"output_{i}" for i in range(k)])


def is_torch_model(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` or a whybox ``TorchModel``.

    torch is never imported for the check: a module can only exist once torch is.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    from whybox.adapters._torch import TorchModel

    return isinstance(model, (TorchModel, torch.nn.Module))
