"""Reason codes: the principal reasons for an adverse decision, from SHAP values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation


@dataclass(frozen=True, eq=False)
class ReasonCodes:
    """The top reasons per row, as a tidy table and as sentences.

    Attributes
    ----------
    table : DataFrame
        One row per reason: ``row`` (position in the explanation), ``rank`` (1 = the
        principal reason), ``feature``, ``value`` (the row's value), ``shap_value``
        (its contribution to the favourable output, negative = against it; units of
        ``output_space``), ``reason`` (the sentence).
    output : str
        The favourable output whose SHAP values were read (e.g. "approved").
    output_space : str
    """

    table: pd.DataFrame
    output: str
    output_space: str
    params: dict[str, Any] = field(default_factory=dict)

    def for_row(self, row: int) -> list[str]:
        """The reason sentences of one row, principal reason first."""
        return self.table.loc[self.table["row"] == row, "reason"].tolist()

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        table = self.table.astype(object).where(pd.notna(self.table), None)
        return {
            "table": table.to_dict(orient="list"),
            "output": self.output,
            "output_space": self.output_space,
            "params": self.params,
        }


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "missing"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value)


def reason_codes(
    explanation: Explanation, *, rows: Any = None, k: int = 4, output: Any = None
) -> ReasonCodes:
    """The ``k`` features that pushed each row's prediction furthest from the favourable outcome.

    For a denied application, the principal reasons of an adverse-action notice (US
    Equal Credit Opportunity Act, Regulation B, 12 CFR 1002.9) are the features that
    lowered its score the most. With SHAP values of the favourable output, those are
    the features with the most negative values: each is phrased from its name and the
    row's value ("debt_ratio of 0.61 lowered the score for 'approved' by 0.84 (raw)").
    Features that raised the score are never given as reasons, so a row may get fewer
    than ``k``.

    Parameters
    ----------
    explanation : Explanation
        SHAP values, axes (samples, features, outputs), e.g. ``whybox.explain(model, X)``.
    rows : sequence of int, optional
        Positions of the rows to give reasons for (e.g. the denied ones); default all.
    k : int, default=4
        The most reasons per row (US practice: up to four).
    output : str or int, optional
        The favourable output (class name or position); default the first (for a binary
        classifier, its positive class).

    Returns
    -------
    ReasonCodes

    Raises
    ------
    InputError
        An explanation that is not per (sample, feature, output), rows out of range,
        ``k`` below 1 or above the number of features, an unknown output.
    """
    if not isinstance(explanation, Explanation) or explanation.axes != (
        "samples",
        "features",
        "outputs",
    ):
        raise InputError(
            "explanation must hold SHAP values with axes (samples, features, outputs), got "
            f"{getattr(explanation, 'axes', type(explanation).__name__)}; pass "
            "whybox.explain(model, X)."
        )
    n, d = explanation.values.shape[:2]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= d:
        raise InputError(f"k must be an integer in 1..{d} (the number of features), got {k!r}.")
    names = list(explanation.output_names)
    if output is None:
        o = 0
    elif output in names:
        o = names.index(output)
    elif isinstance(output, (int, np.integer)) and 0 <= int(output) < len(names):
        o = int(output)
    else:
        raise InputError(f"output must be one of {names} or a position, got {output!r}.")
    idx = np.arange(n) if rows is None else np.asarray(list(rows), dtype=np.intp)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"rows must be positions in 0..{n - 1}, got {list(idx)[:5]}.")
    phi = np.asarray(explanation.values, dtype=np.float64)[idx, :, o]
    order = np.argsort(phi, axis=1, kind="stable")[:, :k]  # most negative first
    records = []
    for r, row in enumerate(idx):
        for rank, j in enumerate(order[r], start=1):
            value = phi[r, j]
            if not value < 0:
                break
            shown = explanation.data[row, j] if explanation.data is not None else None
            feat = explanation.feature_names[j]
            records.append(
                {
                    "row": int(row),
                    "rank": rank,
                    "feature": feat,
                    "value": shown,
                    "shap_value": float(value),
                    "reason": f"{feat} of {_format(shown)} lowered the score for "
                    f"{names[o]!r} by {-value:.3g} ({explanation.output_space})",
                }
            )
    table = pd.DataFrame(
        records, columns=["row", "rank", "feature", "value", "shap_value", "reason"]
    )
    return ReasonCodes(
        table=table,
        output=names[o],
        output_space=explanation.output_space,
        params={"k": int(k), "rows": None if rows is None else [int(i) for i in idx]},
    )
