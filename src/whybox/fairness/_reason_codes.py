"""Reason codes: the principal reasons for an adverse decision, from SHAP values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.fairness._sensitive import is_shap_table, target_position
from whybox.fairness._tables import TableResult

_COLUMNS = ["row", "rank", "feature", "value", "shap_value", "reason"]


@dataclass(frozen=True, eq=False)
class ReasonCodes(TableResult):
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
        The units of ``shap_value``: the explanation's output space.
    params : dict
        ``top_k`` and ``rows`` as given.
    """

    table: pd.DataFrame
    output: str
    output_space: str
    params: dict[str, Any] = field(default_factory=dict)

    def for_row(self, row: int) -> list[str]:
        """The reason sentences of one row, principal reason first."""
        return self.table.loc[self.table["row"] == row, "reason"].tolist()

    def to_frame(self) -> pd.DataFrame:
        """The reasons, one line each (a copy of ``table``)."""
        return self.table.copy()

    TABLES = ("table",)


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "missing"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value)


def reason_codes(
    explanation: Explanation, *, rows: Any = None, top_k: int = 4, target: Any = None
) -> ReasonCodes:
    """The principal reasons for an adverse decision: the features that lowered a row's score most.

    A lender that denies credit must tell the applicant the specific principal
    reasons (US Equal Credit Opportunity Act, Regulation B, 12 CFR 1002.9(a)(2) and
    (b)(2); its staff commentary finds more than four reasons unlikely to help, and
    the CFPB's Circular 2022-03 holds a complex model to the same duty). With SHAP
    values of the *favourable* output (Lundberg & Lee 2017), each feature's value is
    its additive contribution to that output relative to the base value, so the
    features with the most negative values are the ones that pushed the row furthest
    away from the favourable outcome. For every row asked, the ``top_k`` most
    negative contributions are listed, principal reason first, and each is phrased
    from the feature's name and the row's value, e.g. ``"debt_ratio of 0.61 lowered
    the score for 'approved' by 0.84 (raw)"``. Features that raised the score are
    never given as reasons, so a row may get fewer than ``top_k`` (none when every
    feature raised it). Nothing is refitted or sampled: the reasons are read from
    ``explanation`` as it is, in its output space.

    Parameters
    ----------
    explanation : Explanation
        SHAP values (or any additive attribution) with axes ("samples", "features",
        "outputs"): ``values`` of shape (n_samples, n_features, n_outputs), float64,
        in ``explanation.output_space`` (``"raw"`` margin, ``"probability"`` or
        ``"log_odds"``), and ``data`` holding the rows (their values are quoted in
        the sentences; "None" without data), e.g. ``whybox.explain(model, X)``.
    rows : sequence of int, optional
        Positions (0-based, in ``explanation``) of the rows to give reasons for, e.g.
        the denied applications; default every row, in order.
    top_k : int, default=4
        The most reasons per row, 1 to n_features (US practice: up to four).
    target : str or int, optional
        The favourable output, by name (e.g. ``"approved"``) or position on the
        outputs axis; default the first output (for a binary classifier, its
        positive class, so pass the favourable class when the positive class is
        the adverse one).

    Returns
    -------
    ReasonCodes
        ``table``: one line per reason with ``row`` (int), ``rank`` (1 = principal),
        ``feature`` (str), ``value`` (the row's value, as in ``explanation.data``),
        ``shap_value`` (float64, negative, in ``output_space`` units) and ``reason``
        (the sentence); ``output`` (the favourable output's name) and
        ``output_space``. ``for_row(row)`` gives one row's sentences.

    Raises
    ------
    InputError
        ``explanation`` is not an Explanation with axes (samples, features, outputs);
        ``rows`` holds a position outside 0..n_samples-1; ``top_k`` is not an integer
        in 1..n_features; ``target`` is neither an output name nor a position.

    See Also
    --------
    whybox.counterfactuals.CounterfactualExplainer.recourse : what the applicant
        could change to be approved.

    References
    ----------
    .. [1] Equal Credit Opportunity Act (Regulation B), 12 CFR 1002.9 (notifications
       of action taken; statement of specific reasons) and its Official
       Interpretation, comment 9(b)(2)-1.
    .. [2] Consumer Financial Protection Bureau, "Adverse action notification
       requirements in connection with credit decisions based on complex
       algorithms", Circular 2022-03, 2022.
    .. [3] S. M. Lundberg and S.-I. Lee, "A unified approach to interpreting model
       predictions", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from whybox import explain
    >>> from whybox.fairness import reason_codes
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(50, 10, 200).round(1),
    ...                   "debt_ratio": rng.uniform(0, 1, 200).round(2),
    ...                   "age": rng.integers(20, 70, 200)})
    >>> approved = (X["income"] / 50 - X["debt_ratio"] > 0.5).astype(int)
    >>> model = LogisticRegression().fit(X, approved)
    >>> denied = np.flatnonzero(model.predict(X) == 0)[:2]
    >>> codes = reason_codes(explain(model, X, background=X), rows=denied, top_k=2)
    >>> codes.table[["row", "rank", "feature"]]
       row  rank     feature
    0    1     1  debt_ratio
    1    1     2         age
    2    3     1  debt_ratio
    3    3     2         age
    >>> codes.output, codes.output_space
    ('1', 'raw')
    """
    if not is_shap_table(explanation):
        raise InputError(
            "explanation must hold SHAP values with axes (samples, features, outputs), got "
            f"{getattr(explanation, 'axes', type(explanation).__name__)}; pass "
            "whybox.explain(model, X)."
        )
    n, d = explanation.values.shape[:2]
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= d:
        raise InputError(
            f"top_k must be an integer in 1..{d} (the number of features), got {top_k!r}."
        )
    names = list(explanation.output_names)
    o = target_position(target, explanation.output_names)
    idx = np.arange(n) if rows is None else np.asarray(list(rows), dtype=np.intp)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"rows must be positions in 0..{n - 1}, got {list(idx)[:5]}.")
    phi = np.asarray(explanation.values, dtype=np.float64)[idx, :, o]
    order = np.argsort(phi, axis=1, kind="stable")[:, :top_k]  # most negative first
    reasons = []
    for r, row in enumerate(idx):
        for rank, j in enumerate(order[r], start=1):
            value = phi[r, j]
            if not value < 0:
                break
            shown = explanation.data[row, j] if explanation.data is not None else None
            feat = explanation.feature_names[j]
            reasons.append(
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
    table = pd.DataFrame(reasons, columns=_COLUMNS)
    return ReasonCodes(
        table=table,
        output=names[o],
        output_space=explanation.output_space,
        params={"top_k": int(top_k), "rows": None if rows is None else [int(i) for i in idx]},
    )
