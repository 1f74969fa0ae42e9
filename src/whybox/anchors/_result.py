"""The result type of the anchor explainers: :class:`Anchor`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import Result, from_json_number

_ROWS = ("instance", "examples_same", "examples_different")
"""The fields holding rows (tables) or texts, read back by :meth:`Anchor.from_dict`."""


@dataclass(frozen=True, eq=False)
class Anchor(Result):
    """An anchor: an IF-THEN rule that fixes the model's prediction near one instance.

    When every condition holds, the model predicts ``prediction`` on at least a
    fraction ``threshold`` (``params["threshold"]``) of the perturbations of the
    instance (the anchor's *precision*); the rule holds on a fraction ``coverage`` of
    them (Ribeiro, Singh & Guestrin 2018, "Anchors: High-Precision Model-Agnostic
    Explanations"). An anchor with no condition is valid: the prediction then holds
    on the perturbation distribution itself.

    ``to_dict``/``to_json`` write every field as strict JSON (NaN as null, infinities
    as ``"inf"``/``"-inf"``) and :meth:`from_dict` reads it back; ``to_frame`` is a
    one-row summary (the rule, prediction, precision and coverage), so the anchors of
    several rows stack into one table with ``pd.concat``.

    Attributes
    ----------
    conditions : tuple of str
        The rule's conditions in the order the search added them, e.g.
        ``"mean radius > 17.2"`` (tables) or ``"contains 'terrible'"`` (text).
    features : tuple of int
        For each condition, its feature: the column position (tables; with feature
        groups, the position of the group or ungrouped column among the keys of
        ``params["feature_groups"]``) or the position of the word among the text's
        distinct words (text).
    feature_names : tuple of str
        For each condition, the column name (or the group's name) or the word.
    prediction : str
        The anchored prediction: the class the model predicts for ``instance``.
    precision : float
        The fraction of ``n_precision_samples`` fresh perturbations where the rule
        holds on which the model predicts ``prediction``.
    precision_bounds : (float, float)
        KL confidence bounds on the precision (Kaufmann & Kalyanakrishnan 2013) at the
        search's confidence level: with probability at least ``1 - params["delta"]``,
        every anchor the search accepts has precision at least its lower bound.
    n_precision_samples : int
        The perturbations behind ``precision``.
    coverage : float
        The fraction of the perturbation distribution on which the rule holds (tables:
        of the coverage sample of background rows; text: ``0.5 ** len(conditions)``).
    meets_threshold : bool
        True when the lower precision bound reached the threshold. False when no rule
        up to ``max_anchor_size`` conditions did: the anchor is then the most precise
        rule the search checked.
    instance : ndarray of shape (n_features,) or str
        The explained row (float64, or object for mixed columns) or text.
    examples_same, examples_different : ndarray
        Perturbations where the rule holds and the model's prediction is the same as
        / differs from ``prediction``: arrays of shape (n, n_features) for tables, of
        shape (n,) of str for text, at most ``params["n_examples"]`` each.
    bins : tuple of (int, int)
        Tables: for each condition, the lowest and highest bin of the explainer's
        discretizer that it admits (-1: missing or unseen); for a group of several
        columns, ``(0, 0)``: none of its columns outside the instance's bin. Empty
        for text.
    columns : tuple of str
        The column names of ``instance`` and the examples (tables); empty for text.
    n_model_rows : int
        Rows the model labelled: the instance and every perturbation of the search.
    n_model_calls : int
        Calls to the model (each over up to ``params["batch_size"]`` perturbations).
    time_seconds : float
        Wall time of the explanation.
    method : {"anchor_tabular", "anchor_text"}
    params : dict
        Everything to reproduce the anchor: threshold, delta, epsilon, beam_size,
        samples_per_pull, batch_size, max_anchor_size, max_check_samples, n_examples,
        random_state, the perturbation settings (tables: the bins, the categorical
        columns and ``feature_groups``, group name -> column positions, or None) and
        the whybox version.
    """

    conditions: tuple[str, ...]
    features: tuple[int, ...]
    feature_names: tuple[str, ...]
    prediction: str
    precision: float
    precision_bounds: tuple[float, float]
    n_precision_samples: int
    coverage: float
    meets_threshold: bool
    instance: Any
    examples_same: np.ndarray
    examples_different: np.ndarray
    bins: tuple[tuple[int, int], ...] = ()
    columns: tuple[str, ...] = ()
    n_model_rows: int = 0
    n_model_calls: int = 0
    time_seconds: float = 0.0
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """The number of conditions."""
        return len(self.conditions)

    def __str__(self) -> str:
        text = (
            f"IF {self.rule} THEN {self.prediction!r} "
            f"(precision {self.precision:.2f}, coverage {self.coverage:.2f})"
        )
        if not self.meets_threshold:
            text += f"; below the precision threshold {self.params.get('threshold', '')}"
        return text

    @property
    def rule(self) -> str:
        """The conditions joined by ``AND``; ``"(always)"`` for the empty anchor."""
        return " AND ".join(self.conditions) if self.conditions else "(always)"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Anchor:
        """Rebuild an anchor from :meth:`to_dict`'s output (or its JSON, loaded).

        The instance and the examples come back as they were made: a str and arrays of
        str for text; float64 arrays for a numeric table; object arrays for mixed
        columns, numbers in numeric columns (NaN for null) and levels as written in
        categorical ones.
        """
        anchor = super().from_dict({**d, **dict.fromkeys(_ROWS)})
        columns = tuple(d.get("columns", ()))
        categorical = set((d.get("params") or {}).get("categorical_features") or ())
        instance = d["instance"]
        numeric = not isinstance(instance, str) and all(_is_number(v) for v in instance)
        rows = {
            k: _rows_from_json(d[k], columns, categorical, numeric, one_row=k == "instance")
            for k in _ROWS
        }
        return dataclasses.replace(anchor, **rows)

    def to_frame(self) -> pd.DataFrame:
        """A one-row summary: the rule, prediction, precision (with its bounds),
        coverage, whether it meets the threshold, its size and its cost.

        Returns
        -------
        DataFrame
            Columns ``rule``, ``prediction``, ``precision``, ``precision_lower``,
            ``precision_upper``, ``coverage``, ``meets_threshold``, ``n_conditions``,
            ``n_model_calls``, ``time_seconds``.
        """
        lower, upper = self.precision_bounds
        return pd.DataFrame(
            [
                {
                    "rule": self.rule,
                    "prediction": self.prediction,
                    "precision": self.precision,
                    "precision_lower": lower,
                    "precision_upper": upper,
                    "coverage": self.coverage,
                    "meets_threshold": self.meets_threshold,
                    "n_conditions": len(self.conditions),
                    "n_model_calls": self.n_model_calls,
                    "time_seconds": self.time_seconds,
                }
            ]
        )


def _rows_from_json(
    value: Any, columns: tuple[str, ...], categorical: set[str], numeric: bool, one_row: bool
) -> Any:
    """An instance or examples as :func:`whybox._utils.json_value` wrote them, read back.

    Text (no ``columns``): a str stays a str, a list becomes an object array of str.
    Tables: an array of shape (n_features,) (``one_row``) or (n, n_features); float64
    when the instance is all numbers (``numeric``: null is NaN, ``"inf"``/``"-inf"``
    infinities), else object with numbers in the columns not in ``categorical`` and
    the levels as written (null: NaN) in the others.
    """
    if isinstance(value, str):
        return value
    if not columns:
        out = np.empty(len(value), dtype=object)
        out[:] = value
        return out
    flat = np.array(value, dtype=object).reshape(-1, len(columns))
    if numeric:
        out = np.array([from_json_number(v) for v in flat.ravel()], dtype=np.float64)
        out = out.reshape(flat.shape)
    else:
        out = np.empty(flat.shape, dtype=object)
        for j, name in enumerate(columns):
            level = name in categorical
            out[:, j] = [
                (np.nan if v is None else v) if level else from_json_number(v) for v in flat[:, j]
            ]
    return out[0] if one_row else out


def _is_number(v: Any) -> bool:
    """Whether ``v`` is JSON for a float: a number (not a bool), null, or an infinity."""
    if isinstance(v, bool):
        return False
    return v is None or isinstance(v, (int, float)) or v in ("inf", "-inf")
