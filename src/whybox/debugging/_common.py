"""What the debugging analyses share: labelled rows checked against the model, and a
regressor's residuals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.debugging._confusion import _as_label_vector
from whybox.debugging._results import ResidualSummary


def labelled_rows(
    model: Any, X: Any, y: Any, fix: str, task: str | None = None, refusal: str = ""
) -> tuple[Model, Dataset, np.ndarray]:
    """The adapted model, ``X`` checked against it and ``y`` as one label per row.

    ``fix`` ends the message for a wrong length (e.g. "give one label per row.");
    with ``task``, a model of the other task is refused with the message ``refusal``.

    Raises
    ------
    InputError
        If the model is not of ``task``, ``X`` does not fit the model, or ``y`` is not
        1-D, is empty, holds a missing value or has another length than ``X``.
    """
    m = adapt_model(model)
    if task is not None and m.task != task:
        raise InputError(refusal)
    data = m.check_data(adapt_data(X, name="X"), name="X")
    y_arr = _as_label_vector(y, "y")
    if y_arr.shape[0] != data.n_samples:
        raise InputError(f"y has {y_arr.shape[0]} values but X has {data.n_samples} rows; {fix}")
    return m, data, y_arr


def regression_predictions(
    m: Model, data: Dataset, y: np.ndarray, caller: str, fix: str
) -> tuple[np.ndarray, np.ndarray]:
    """A regressor's numeric targets and its one raw output: (y, predictions), float64.

    Raises
    ------
    InputError
        If ``y`` is not numeric (``fix`` ends that message), or the model has more
        than one output.
    """
    try:
        y_num = np.asarray(pd.to_numeric(pd.Series(y)), dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"y must hold numbers for a regressor, got values such as {y[:3].tolist()}; {fix}"
        ) from None
    out = m.predict(data, "raw")
    if out.shape[1] != 1:
        raise InputError(
            f"{caller} handles one regression target but the model has {out.shape[1]} "
            "outputs; wrap the model to return one output."
        )
    return y_num, out[:, 0]


def residual_summary(y: np.ndarray, pred: np.ndarray) -> ResidualSummary:
    """MAE, RMSE, R^2 (as ``sklearn.metrics.r2_score``) and bias of ``pred - y``."""
    resid = pred - y
    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = (1.0 if ss_res == 0.0 else 0.0) if ss_tot == 0.0 else 1.0 - ss_res / ss_tot
    return ResidualSummary(
        mae=float(np.abs(resid).mean()),
        rmse=float(np.sqrt(np.mean(resid**2))),
        r2=float(r2),
        bias=float(resid.mean()),
    )


def check_significance(value: Any) -> float:
    """``significance`` as a level in (0, 1), or a one-sentence InputError."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0.0 < float(value) < 1.0
    ):
        raise InputError(
            f"significance must be a number in (0, 1), got {value!r}; e.g. significance=0.05."
        )
    return float(value)
