r"""Result types of the counterfactual explainer: frozen, tidy, JSON-ready.

Both are :class:`whybox._utils.Result`\ s: ``to_dict`` writes every field by the one JSON
rule (frames as index, columns and rows of cells); ``from_dict`` reads the frames back
column by column, so numbers, levels and flags keep their types.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from whybox._utils import Result, from_json_frame, from_json_number, from_json_series


def _frame(value: dict[str, Any]) -> pd.DataFrame:
    """A frame written by ``json_value``; without rows, pandas' empty frame of its columns
    (no cell to read a column's type from)."""
    if not value["data"]:
        return pd.DataFrame(columns=value["columns"])
    return from_json_frame(value)


def _desired(value: Any) -> Any:
    """A desired class label, or a desired range read back as ``(low, high)`` floats."""
    if isinstance(value, list):
        return tuple(from_json_number(v) for v in value)
    return value


def _same_value(a: Any, b: Any) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True, eq=False)
class Counterfactuals(Result):
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counterfactuals:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded): the
        frames column by column, desired ranges as ``(low, high)``."""
        frames = ("original", "counterfactuals", "metrics", "details")
        result = super().from_dict({**d, **dict.fromkeys(frames)})
        return dataclasses.replace(
            result,
            original=_frame(d["original"]),
            desired=tuple(_desired(v) for v in d["desired"]),
            counterfactuals=tuple(_frame(c) for c in d["counterfactuals"]),
            metrics=_frame(d["metrics"]),
            details=_frame(d["details"]),
        )


@dataclass(frozen=True, eq=False)
class Recourse(Result):
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recourse:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded): the rows
        and the changes column by column, a desired range as ``(low, high)``."""
        tables = ("original", "counterfactual", "changes")
        result = super().from_dict({**d, **dict.fromkeys(tables)})
        return dataclasses.replace(
            result,
            original=from_json_series(d["original"]),
            counterfactual=None
            if d["counterfactual"] is None
            else from_json_series(d["counterfactual"]),
            desired=_desired(d["desired"]),
            changes=_frame(d["changes"]).astype({"original": object, "new": object}),
        )
