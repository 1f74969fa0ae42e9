"""Result types of the counterfactual explainer: frozen, tidy, JSON-ready."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import json_value


def jsonable(v: Any) -> Any:
    """A value JSON can hold: numpy scalars unwrapped, NaN/inf/missing -> None."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, (tuple, list)):
        return [jsonable(u) for u in v]
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return json_value(v)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [str(c) for c in frame.columns]
    return [
        {c: jsonable(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _same_value(a: Any, b: Any) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True, eq=False)
class Counterfactuals:
    """Counterfactual explanations of some rows: what to change to get the outcome asked.

    Attributes
    ----------
    feature_names : tuple of str
    task : {"classification", "regression"}
    original : DataFrame of shape (n_rows, n_features)
        The rows explained, in the model's column order.
    original_prediction : tuple
        Per row, the model's label (classifier) or value (regressor).
    desired : tuple
        Per row, the desired class label, or the desired range ``(low, high)``.
    counterfactuals : tuple of DataFrame
        Per row, the counterfactual rows found (0 to ``n_counterfactuals``), cheapest
        first: the feature columns, ``prediction`` (the model's label or value for
        the row, from a real model call) and, for a classifier, ``probability`` (of
        the desired class).
    status : tuple of str
        Per row: ``"found"`` (as many as asked), ``"partial"`` (fewer; see ``metrics``
        column ``note``) or ``"not found: <reason>"``.
    metrics : DataFrame
        One line per row: ``n_found``, ``validity`` (share of the returned rows that
        the model gives the desired outcome: 1.0 whenever any is returned, NaN
        otherwise), ``proximity_continuous`` (mean over the counterfactuals of the
        MAD-scaled L1 distance over numeric features), ``proximity_categorical``
        (mean number of categorical features changed), ``proximity`` (their sum),
        ``sparsity`` (mean number of features changed), ``diversity`` (mean
        pairwise distance, MAD-scaled L1 plus categorical mismatches, NaN below 2
        rows), ``plausibility`` (mean relative kNN distance, see ``details``),
        ``n_implausible``, ``n_evals`` (model-evaluated rows), ``time_s`` (seconds)
        and ``note``.
    details : DataFrame
        One line per counterfactual: ``row``, ``cf``, ``proximity_continuous``,
        ``proximity_categorical``, ``sparsity``, ``plausibility`` (the mean distance
        to the ``n_neighbors`` nearest training rows that the model gives the
        desired outcome, divided by the median of the same distance among those
        rows; about 1 is typical) and ``implausible`` (the distance is above the 95th
        percentile of those rows' own).
    params : dict
        The arguments that reproduce the result (JSON-ready).
    """

    feature_names: tuple[str, ...]
    task: str
    original: pd.DataFrame
    original_prediction: tuple[Any, ...]
    desired: tuple[Any, ...]
    counterfactuals: tuple[pd.DataFrame, ...]
    status: tuple[str, ...]
    metrics: pd.DataFrame
    details: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """The number of rows explained."""
        return len(self.original)

    def changes(self, row: int = 0) -> list[str]:
        """The features changed by any counterfactual of ``row``, in column order."""
        cfs = self.counterfactuals[row]
        orig = self.original.iloc[row]
        return [
            f
            for f in self.feature_names
            if any(not _same_value(v, orig[f]) for v in cfs[f].tolist())
        ]

    def to_frame(self) -> pd.DataFrame:
        """Every change, tidy: one line per (row, counterfactual, changed feature).

        Returns
        -------
        DataFrame
            Columns ``row``, ``cf`` (index within the row's set), ``feature``,
            ``original`` and ``new`` (object dtype: numbers or levels). Features a
            counterfactual leaves unchanged are not listed.
        """
        out = []
        for r, cfs in enumerate(self.counterfactuals):
            orig = self.original.iloc[r]
            for k in range(len(cfs)):
                for f in self.feature_names:
                    new = cfs[f].iloc[k]
                    if not _same_value(new, orig[f]):
                        out.append((r, k, f, orig[f], new))
        frame = pd.DataFrame(out, columns=["row", "cf", "feature", "original", "new"])
        return frame.astype({"original": object, "new": object})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (frames as lists of records)."""
        return {
            "feature_names": list(self.feature_names),
            "task": self.task,
            "original": _records(self.original),
            "original_prediction": [jsonable(v) for v in self.original_prediction],
            "desired": [jsonable(v) for v in self.desired],
            "counterfactuals": [_records(c) for c in self.counterfactuals],
            "status": list(self.status),
            "metrics": _records(self.metrics),
            "details": _records(self.details),
            "params": self.params,
        }


@dataclass(frozen=True, eq=False)
class Recourse:
    """The cheapest actionable change found for one row, with its actions in words.

    Attributes
    ----------
    feature_names : tuple of str
    original : Series
        The row, indexed by feature name.
    counterfactual : Series or None
        The row after the actions (None when none was found).
    original_prediction, prediction : object
        The model's label or value before and after (``prediction`` None when none
        was found).
    desired : object
        The desired class label or range ``(low, high)``.
    cost : float
        ``sum_j cost_j * |change_j|`` (numeric and integer features: per unit;
        categorical: per change); NaN when none was found.
    actions : tuple of str
        One sentence per changed feature, e.g. ``"increase income from 32,000 to
        41,500"``.
    changes : DataFrame
        One line per changed feature: ``feature``, ``original``, ``new``,
        ``unit_cost`` and ``cost``.
    status : str
        ``"found"`` or ``"not found: <reason>"``.
    params : dict
    """

    feature_names: tuple[str, ...]
    original: pd.Series
    counterfactual: pd.Series | None
    original_prediction: Any
    prediction: Any
    desired: Any
    cost: float
    actions: tuple[str, ...]
    changes: pd.DataFrame
    status: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The changes: feature, original, new, unit_cost, cost (one line each)."""
        return self.changes.copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "feature_names": list(self.feature_names),
            "original": {k: jsonable(v) for k, v in self.original.items()},
            "counterfactual": None
            if self.counterfactual is None
            else {k: jsonable(v) for k, v in self.counterfactual.items()},
            "original_prediction": jsonable(self.original_prediction),
            "prediction": jsonable(self.prediction),
            "desired": jsonable(self.desired),
            "cost": jsonable(self.cost),
            "actions": list(self.actions),
            "changes": _records(self.changes),
            "status": self.status,
            "params": self.params,
        }
