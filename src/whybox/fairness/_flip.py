"""Flip test: change only the sensitive attribute and count the decisions that change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, from_json_array, json_value, prepare_model
from whybox.adapters import adapt_data
from whybox.inspection import feature_index, levels


@dataclass(frozen=True, eq=False)
class FlipTest(Result):
    """What changes when only the sensitive attribute of each row is changed.

    Attributes
    ----------
    feature : str
        The model-input column that was changed.
    values : tuple
        The values it took (its levels in X).
    flip_rate : DataFrame of shape (n_values, n_values)
        Row "from" value, column "to" value: for a classifier the share of the rows
        holding "from" whose predicted label changes when set to "to"; for a regressor
        the mean absolute change of the prediction (units of the target). NaN on the
        diagonal.
    overall : float
        Classifier: the share of rows whose label changes under at least one other
        value. Regressor: the mean over rows of the largest absolute change.
    changed_rows : ndarray of int
        Positions of the rows whose label changes (classifier; empty for a regressor).
    task : str
    params : dict
    """

    feature: str
    values: tuple[Any, ...]
    flip_rate: pd.DataFrame
    overall: float
    changed_rows: np.ndarray
    task: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The from x to table."""
        return self.flip_rate.copy()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FlipTest:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded)."""
        result = super().from_dict({**d, "flip_rate": None})
        cells = d["flip_rate"]["data"]
        rate = _rate_frame(from_json_array(cells, np.float64), result.values)
        return dataclasses.replace(result, flip_rate=rate)


def _rate_frame(rate: np.ndarray, names: Any) -> pd.DataFrame:
    """The from x to table of flip rates, labelled by the values as text."""
    return pd.DataFrame(
        rate,
        index=pd.Index([str(v) for v in names], name="from"),
        columns=pd.Index([str(v) for v in names], name="to"),
    )


def flip_test(model: Any, X: Any, feature: Any, *, values: Any = None) -> FlipTest:
    """Set the sensitive attribute of every row to each other value and re-predict.

    A counterfactual-fairness check in its simplest form (Kusner et al. 2017 without
    a causal model): everything else about the row is held fixed. It only applies
    when the model takes the attribute as an input; a model that does not see it
    gives 0 here and may still use a proxy (see :func:`proxy_detection`).

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Rows the model takes, the sensitive attribute among the columns.
    feature : str or int
        The column of the sensitive attribute.
    values : sequence, optional
        The values to try; default: the column's distinct values in X.

    Returns
    -------
    FlipTest

    Raises
    ------
    InputError
        If ``feature`` is not a column of X (the model does not see the attribute),
        fewer than two values are given, or the column has more than 20 distinct
        values and no ``values``.

    References
    ----------
    .. [1] M. J. Kusner, J. Loftus, C. Russell and R. Silva, "Counterfactual fairness",
       NeurIPS 2017.
    """
    m = prepare_model(model, X)
    data = m.check_data(adapt_data(X, name="X"), name="X")
    j = feature_index(data, feature, "feature")
    vals = levels(data, j) if values is None else np.asarray(list(values), dtype=object)
    if values is None and len(vals) > 20:
        raise InputError(
            f"feature {data.feature_names[j]!r} has {len(vals)} distinct values, too many for a "
            "sensitive attribute; pass values=[...] with the values to flip between."
        )
    if len(vals) < 2:
        raise InputError(
            f"feature {data.feature_names[j]!r} needs at least two values to flip between, got "
            f"{len(vals)}; pass values=[...] with two or more."
        )
    n = data.n_samples
    copies = np.repeat(data.values[None], len(vals), axis=0)
    copies[:, :, j] = np.asarray(vals, dtype=copies.dtype)[:, None]
    stacked = type(data)(copies.reshape(len(vals) * n, -1), data.feature_names, data.categorical)
    col = data.values[:, j]
    home = np.stack([col == v for v in vals])  # (n_values, n): the rows holding each value
    names = [json_value(v) for v in vals]
    rate = np.full((len(vals), len(vals)), np.nan)
    if m.task == "classification":
        labels = m.predict_label(stacked).reshape(len(vals), n)
        own = m.predict_label(data)
        changed = labels != own[None, :]
        for a in range(len(vals)):
            for b in range(len(vals)):
                if a != b and home[a].any():
                    rate[a, b] = changed[b, home[a]].mean()
        changed_rows = np.flatnonzero(changed.any(axis=0))
        overall = float(changed.any(axis=0).mean())
    else:
        pred = m.predict(stacked, "raw")[:, 0].reshape(len(vals), n)
        own = m.predict(data, "raw")[:, 0]
        delta = np.abs(pred - own[None, :])
        for a in range(len(vals)):
            for b in range(len(vals)):
                if a != b and home[a].any():
                    rate[a, b] = delta[b, home[a]].mean()
        changed_rows = np.array([], dtype=np.intp)
        overall = float(delta.max(axis=0).mean())
    frame = _rate_frame(rate, names)
    return FlipTest(
        feature=data.feature_names[j],
        values=tuple(names),
        flip_rate=frame,
        overall=overall,
        changed_rows=changed_rows,
        task=m.task,
        params={"values": None if values is None else names, "n_rows": n},
    )
