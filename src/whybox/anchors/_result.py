"""The result type of the anchor explainers: :class:`Anchor`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Anchor:
    """An anchor: an IF-THEN rule that fixes the model's prediction near one instance.

    When every condition holds, the model predicts ``prediction`` on at least a
    fraction ``threshold`` (``params["threshold"]``) of the perturbations of the
    instance (the anchor's *precision*); the rule holds on a fraction ``coverage`` of
    them (Ribeiro, Singh & Guestrin 2018, "Anchors: High-Precision Model-Agnostic
    Explanations"). An anchor with no condition is valid: the prediction then holds
    on the perturbation distribution itself.

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
    bins : tuple of (int, int)
        Tables: for each condition, the lowest and highest bin of the explainer's
        discretizer that it admits (-1: missing or unseen); for a group of several
        columns, ``(0, 0)``: none of its columns outside the instance's bin. Empty
        for text.
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
        of the coverage sample of training rows; text: ``0.5 ** len(conditions)``).
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
    columns : tuple of str
        The column names of ``instance`` and the examples (tables); empty for text.
    n_samples : int
        Rows the model labelled: the instance and every perturbation of the search.
    n_model_calls : int
        Calls to the model (each over up to ``params["batch_size"]`` perturbations).
    time_seconds : float
        Wall time of the explanation.
    method : {"anchor_tabular", "anchor_text"}
    params : dict
        Everything to reproduce the anchor: threshold, delta, epsilon, beam_size,
        samples_per_pull, batch_size, max_anchor_size, max_check_samples, n_examples,
        random_state, the perturbation settings (tables: the bins and
        ``feature_groups``, group name -> column positions, or None) and the whybox
        version.
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
    n_samples: int = 0
    n_model_calls: int = 0
    time_seconds: float = 0.0
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """The number of conditions."""
        return len(self.conditions)

    def __str__(self) -> str:
        rule = " AND ".join(self.conditions) if self.conditions else "(always)"
        text = (
            f"IF {rule} THEN {self.prediction!r} "
            f"(precision {self.precision:.2f}, coverage {self.coverage:.2f})"
        )
        if not self.meets_threshold:
            text += f"; below the precision threshold {self.params.get('threshold', '')}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (arrays as nested lists, NaN as None)."""
        return {
            "conditions": list(self.conditions),
            "features": [int(f) for f in self.features],
            "feature_names": list(self.feature_names),
            "bins": [[int(lo), int(hi)] for lo, hi in self.bins],
            "prediction": self.prediction,
            "precision": float(self.precision),
            "precision_bounds": [float(b) for b in self.precision_bounds],
            "n_precision_samples": int(self.n_precision_samples),
            "coverage": float(self.coverage),
            "meets_threshold": bool(self.meets_threshold),
            "instance": _json_values(self.instance),
            "examples_same": _json_values(self.examples_same),
            "examples_different": _json_values(self.examples_different),
            "columns": list(self.columns),
            "n_samples": int(self.n_samples),
            "n_model_calls": int(self.n_model_calls),
            "time_seconds": float(self.time_seconds),
            "method": self.method,
            "params": self.params,
        }

    def to_json(self) -> str:
        """The anchor as a JSON string (strict JSON: no NaN)."""
        return json.dumps(self.to_dict(), allow_nan=False)


def _json_values(values: Any) -> Any:
    """Numbers, text and missing values (None) of an array or a string, as JSON lists."""
    if isinstance(values, str):
        return values
    arr = np.asarray(values)
    if arr.ndim == 0:
        return _json_scalar(arr.item())
    return [_json_values(v) for v in arr]


def _json_scalar(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        return float(v) if math.isfinite(v) else str(float(v))
    return str(v)
