"""The part every demo case shares: a fitted model and its train/test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True, eq=False)
class TrainTestCase:
    """A fitted model with its training and held-out data (the base of the demo cases).

    A container, not a result: it holds a fitted model, so it has no JSON form.
    """

    model: Any
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
