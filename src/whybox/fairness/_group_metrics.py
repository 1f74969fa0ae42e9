"""Group fairness metrics: per-group rates and errors, and their disparities with bootstrap CIs."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import (
    Result,
    as_float_array,
    check_confidence_level,
    check_int,
    check_random_state,
    from_json_array,
    from_json_number,
    is_dask_collection,
    json_value,
)
from whybox.debugging import as_label_vector
from whybox.fairness._tables import from_records, records

FOUR_FIFTHS = 0.8
_BOOT_CELLS = 1 << 20  # resample draws (rows x replicates) held at once for a regression

CLASSIFICATION_METRICS = (
    "selection_rate",
    "base_rate",
    "accuracy",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "precision",
)
PROBABILITY_METRICS = ("mean_probability", "calibration_in_the_large", "brier")
REGRESSION_METRICS = ("mean_prediction", "mean_true", "mean_residual", "mae", "rmse", "r2")

# disparity name -> the per-group column it compares (None: built from tpr and fpr)
_CLASSIFICATION_DISPARITIES: tuple[tuple[str, str | None], ...] = (
    ("demographic_parity", "selection_rate"),
    ("equal_opportunity", "tpr"),
    ("equalized_odds", None),
    ("accuracy", "accuracy"),
    ("fpr", "fpr"),
    ("fnr", "fnr"),
    ("precision", "precision"),
)
_REGRESSION_DISPARITIES: tuple[tuple[str, str | None], ...] = (
    ("mean_prediction", "mean_prediction"),
    ("mae", "mae"),
    ("mean_residual", "mean_residual"),
)
_DISPARITY_COLUMNS = (
    "metric",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "min_group",
    "max_group",
)


# ---------------------------------------------------------------------- result
_FOUR_FIFTHS_NUMBERS = ("ratio", "ci_low", "ci_high", "threshold", "lowest_rate", "highest_rate")


@dataclass(frozen=True, eq=False)
class GroupMetrics(Result):
    """Metrics of a model's predictions in each group, and the disparities between groups.

    Attributes
    ----------
    by_group : DataFrame
        One row per group, indexed by the group's name (``"F"`` for one sensitive
        feature, ``"sex=F, race=B"`` for the intersection of several). Columns:
        ``count`` (rows, int), ``share`` (fraction of all rows), then for a
        classification ``selection_rate`` (P(pred = pos)), ``base_rate``
        (P(true = pos)), ``accuracy``, ``tpr``, ``fpr``, ``fnr``, ``tnr``,
        ``precision`` (PPV) and, with ``y_prob``, ``mean_probability``,
        ``calibration_in_the_large`` (``mean_probability - base_rate``) and
        ``brier``; for a regression ``mean_prediction``, ``mean_true``,
        ``mean_residual`` (mean of ``y_pred - y_true``: positive over-predicts),
        ``mae``, ``rmse``, ``r2`` (in the units of the target, ``r2`` unitless).
        Last, ``small_group`` (bool): fewer than ``min_group_size`` rows. A metric
        that is undefined in a group (e.g. TPR without positive rows) is NaN and
        ``warnings`` says why.
    overall : Series
        The same metrics over all rows.
    disparities : DataFrame
        One row per compared metric, columns ``metric``, ``difference`` (largest
        minus smallest group value, over the groups where it is defined),
        ``difference_ci_low``, ``difference_ci_high``, ``ratio`` (smallest over
        largest; NaN where a value is negative or the largest is 0),
        ``ratio_ci_low``, ``ratio_ci_high`` (percentile bootstrap intervals; NaN
        with ``n_bootstrap=0``), ``min_group`` and ``max_group``. Classification
        rows: ``demographic_parity`` (selection rate), ``equal_opportunity``
        (TPR), ``equalized_odds`` (difference: the larger of the TPR and FPR
        differences; ratio: the smaller of their ratios; groups: those of the
        larger difference), ``accuracy``, ``fpr``, ``fnr``, ``precision``.
        Regression rows: ``mean_prediction``, ``mae``, ``mean_residual`` (its
        ratio is NaN: a ratio of signed biases means nothing).
    four_fifths : dict or None
        For a classification: ``ratio`` (the selection-rate ratio), ``ci_low``,
        ``ci_high``, ``threshold`` (0.8), ``passed`` (ratio >= 0.8; None when the
        ratio is undefined), ``lowest_group``, ``lowest_rate``, ``highest_group``,
        ``highest_rate``. None for a regression.
    warnings : tuple of str
        One sentence per caveat: small groups, groups without positive or
        negative rows, undefined metrics, a multiclass target reduced to
        ``pos_label`` versus the rest.
    sensitive_names : tuple of str
        The sensitive features, in the order of the group names.
    task : {"classification", "regression"}
    group_levels : DataFrame
        Index: the group names of ``by_group``; one column per sensitive feature
        holding the group's value of that feature (the original values).
    marginals : dict of str to DataFrame
        With several sensitive features, each feature's own groups (its marginal
        groups, over all values of the other features), as ``by_group``; empty
        with one feature.
    marginal_disparities : dict of str to DataFrame
        The disparities between each feature's marginal groups, as ``disparities``.
    pos_label : object or None
        The positive (favourable) label of a classification; None for a regression.
    confidence_level : float
    min_group_size : int
    params : dict
        The arguments that reproduce the result (with ``y_true``, ``y_pred``,
        ``sensitive_features`` and ``y_prob``).
    """

    by_group: pd.DataFrame
    overall: pd.Series
    disparities: pd.DataFrame
    four_fifths: dict[str, Any] | None
    warnings: tuple[str, ...]
    sensitive_names: tuple[str, ...]
    task: str
    group_levels: pd.DataFrame
    marginals: dict[str, pd.DataFrame] = field(default_factory=dict)
    marginal_disparities: dict[str, pd.DataFrame] = field(default_factory=dict)
    pos_label: Any = None
    confidence_level: float = 0.95
    min_group_size: int = 30
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def groups(self) -> tuple[str, ...]:
        """The group names, in the order of ``by_group``."""
        return tuple(self.by_group.index)

    def to_frame(self) -> pd.DataFrame:
        """The per-group metrics (a copy of ``by_group``), one row per group."""
        return self.by_group.copy()

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data, each table as a list of records (one dict per
        row, the group name under ``"group"``), ``overall`` as a dict; read back by
        :meth:`from_dict`."""
        return {
            "task": self.task,
            "sensitive_names": list(self.sensitive_names),
            "pos_label": json_value(self.pos_label),
            "by_group": records(self.by_group, "group"),
            "group_levels": records(self.group_levels, "group"),
            "overall": json_value(self.overall.to_dict()),
            "disparities": records(self.disparities),
            "four_fifths": json_value(self.four_fifths),
            "marginals": {k: records(v, "group") for k, v in self.marginals.items()},
            "marginal_disparities": {k: records(v) for k, v in self.marginal_disparities.items()},
            "warnings": list(self.warnings),
            "confidence_level": json_value(self.confidence_level),
            "min_group_size": int(self.min_group_size),
            "params": json_value(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupMetrics:
        """Rebuild the result from :meth:`to_dict`'s output (or its JSON, loaded)."""
        four_fifths = d["four_fifths"]
        if four_fifths is not None:
            four_fifths = {
                k: from_json_number(v) if k in _FOUR_FIFTHS_NUMBERS else v
                for k, v in four_fifths.items()
            }
        overall = d["overall"]
        return cls(
            by_group=from_records(d["by_group"], "group"),
            overall=pd.Series(
                from_json_array(list(overall.values()), np.float64),
                index=list(overall),
                name="overall",
            ),
            disparities=from_records(d["disparities"]),
            four_fifths=four_fifths,
            warnings=tuple(d["warnings"]),
            sensitive_names=tuple(d["sensitive_names"]),
            task=d["task"],
            group_levels=from_records(d["group_levels"], "group"),
            marginals={k: from_records(v, "group") for k, v in d["marginals"].items()},
            marginal_disparities={k: from_records(v) for k, v in d["marginal_disparities"].items()},
            pos_label=d["pos_label"],
            confidence_level=from_json_number(d["confidence_level"]),
            min_group_size=int(d["min_group_size"]),
            params=d["params"],
        )


# ---------------------------------------------------------------------- input checks
def _sensitive_columns(sensitive_features: Any, n: int) -> list[tuple[str, np.ndarray]]:
    """(name, values) of each sensitive feature, checked: right length, no missing value."""
    sf = sensitive_features
    if sf is None:
        raise InputError(
            "sensitive_features is None; pass one value per row of the attribute(s) to "
            "compare groups by, e.g. sensitive_features=df['sex']."
        )
    if isinstance(sf, pd.DataFrame):
        cols = [(str(c), sf[c]) for c in sf.columns]
    elif isinstance(sf, Mapping):
        cols = [(str(k), v) for k, v in sf.items()]
    elif isinstance(sf, pd.Series):
        cols = [(str(sf.name) if sf.name is not None else "sensitive_feature_0", sf)]
    else:
        arr = np.asarray(sf)
        if arr.dtype.kind in "US" and isinstance(sf, (list, tuple)):
            arr = np.asarray(sf, dtype=object)  # keep mixed types apart
        if arr.ndim == 1:
            cols = [("sensitive_feature_0", arr)]
        elif arr.ndim == 2:
            cols = [(f"sensitive_feature_{j}", arr[:, j]) for j in range(arr.shape[1])]
        else:
            raise InputError(
                f"sensitive_features must be 1-D (one feature) or 2-D (several) but has shape "
                f"{arr.shape}; pass a Series, a DataFrame or a dict of columns."
            )
    if not cols:
        raise InputError(
            "sensitive_features has no columns; pass at least one sensitive feature, e.g. "
            "sensitive_features=df[['sex']]."
        )
    names = [c[0] for c in cols]
    if len(set(names)) != len(names):
        raise InputError(
            f"sensitive_features has repeated names {names}; give each feature its own name."
        )
    out = []
    for name, values in cols:
        if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
            values = values.array  # a Categorical: its groups keep the category order
        elif isinstance(values, pd.Series):
            values = values.to_numpy()
        elif not isinstance(values, (np.ndarray, pd.Categorical)):
            values = np.asarray(values)
        if values.ndim != 1:
            raise InputError(
                f"sensitive feature {name!r} must be 1-D but has shape {values.shape}; pass "
                "one value per row."
            )
        if len(values) != n:
            raise InputError(
                f"sensitive feature {name!r} has {len(values)} values but y_true has {n}; "
                "give one value per row."
            )
        missing = pd.isna(values)
        if np.any(missing):
            raise InputError(
                f"sensitive feature {name!r} has {int(np.sum(missing))} missing values "
                f"(NaN/None) at rows {np.flatnonzero(missing)[:5].tolist()}; fill them (e.g. "
                "with 'unknown', which makes them a group of their own) or drop those rows."
            )
        out.append((name, values))
    return out


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the sorted distinct values (first-seen order if unsortable)."""
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object)


def _groups(
    columns: list[tuple[str, np.ndarray]],
) -> tuple[np.ndarray, list[str], pd.DataFrame, list[tuple[np.ndarray, np.ndarray]]]:
    """Group of each row (the intersections present), group names, levels, per-feature codes."""
    per_feature = []
    for name, values in columns:
        codes, uniques = _factorize(values)
        if len(uniques) < 2:
            raise InputError(
                f"sensitive feature {name!r} has one value ({uniques[0]!r}) in every row, so "
                "there are no groups to compare; drop it or pass a feature with two or more "
                "values."
            )
        per_feature.append((codes, uniques))
    if len(per_feature) == 1:  # every code is present: the codes are the groups
        inverse = per_feature[0][0]
        present = np.arange(len(per_feature[0][1]))
    else:
        combined = np.zeros(len(columns[0][1]), dtype=np.int64)
        size = 1
        for codes, uniques in per_feature:
            combined = combined * len(uniques) + codes
            size *= len(uniques)
        if size <= 4 * len(combined) + 1024:  # few combinations: count them, no sort
            present = np.flatnonzero(np.bincount(combined, minlength=size))
            lookup = np.zeros(size, dtype=np.intp)
            lookup[present] = np.arange(len(present))
            inverse = lookup[combined]
        else:
            present, inverse = np.unique(combined, return_inverse=True)
    # decode the mixed-radix code of each group present into one code per feature
    level_codes = []
    rest = present
    for _codes, uniques in per_feature[::-1]:
        level_codes.append(rest % len(uniques))
        rest = rest // len(uniques)
    level_codes = level_codes[::-1]
    sens_names = [c[0] for c in columns]
    levels = {
        name: uniques[lc]
        for name, (_c, uniques), lc in zip(sens_names, per_feature, level_codes, strict=True)
    }
    if len(columns) == 1:
        names = [str(v) for v in levels[sens_names[0]]]
    else:
        names = [
            ", ".join(f"{name}={levels[name][g]}" for name in sens_names)
            for g in range(len(present))
        ]
    group_levels = pd.DataFrame(levels, index=pd.Index(names, name="group"))
    return inverse.astype(np.intp), names, group_levels, per_feature


def _is_numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "biuf"


def _resolve_task(task: Any, y_pred: np.ndarray, pos_label: Any) -> str:
    if task is not None:
        if task not in ("classification", "regression"):
            raise InputError(
                f"task must be None, 'classification' or 'regression', got {task!r}; leave "
                "it out to detect it from y_pred."
            )
        return str(task)
    if pos_label is not None or not _is_numeric(y_pred) or y_pred.dtype.kind == "b":
        return "classification"
    return "classification" if len(pd.unique(y_pred)) <= 2 else "regression"


def _positive_label(labels: list[Any], pos_label: Any) -> Any:
    if pos_label is not None:
        if not any(_same(pos_label, v) for v in labels):
            raise InputError(
                f"pos_label={pos_label!r} is not among the labels of y_true and y_pred "
                f"({_show(labels)}); pass one of them as pos_label."
            )
        return pos_label
    values = set(labels)
    if values <= {0, 1} or values <= {-1, 1}:  # also {False, True}
        return True if all(isinstance(v, (bool, np.bool_)) for v in labels) else 1
    raise InputError(
        f"pos_label is needed for the labels {_show(labels)} (only 0/1, -1/1 and False/True "
        f"have a default positive label); pass pos_label= naming the favourable outcome, "
        f"e.g. pos_label={labels[-1]!r}."
    )


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _show(labels: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in labels[:10])
    return shown + (", ..." if len(labels) > 10 else "")


def _labels(y_true: np.ndarray, y_pred: np.ndarray) -> list[Any]:
    seen: dict[Any, None] = {}
    for arr in (y_true, y_pred):  # distinct values of each first: cheap for numbers
        for v in pd.unique(arr):
            seen.setdefault(v.item() if isinstance(v, np.generic) else v, None)
    out = list(seen)
    try:
        return sorted(out)
    except TypeError:
        return out


def _numeric_vector(y: Any, name: str) -> np.ndarray:
    arr = as_label_vector(y, name)
    if not _is_numeric(arr):
        arr = as_float_array(
            arr,
            f"{name} must hold numbers for a regression, got values such as "
            f"{json_value(arr[0])!r}; pass numeric targets or task='classification'.",
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(
            f"{name} holds {int(np.sum(~np.isfinite(arr)))} infinite values; drop or clip "
            "those rows."
        )
    return arr


def _check_prob(y_prob: Any, n: int) -> np.ndarray:
    try:
        p = np.asarray(y_prob, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"y_prob must hold probabilities (numbers in [0, 1]), got {type(y_prob).__name__} "
            "that cannot be read as numbers; pass the positive class's probability, e.g. "
            "model.predict_proba(X)[:, 1]."
        ) from None
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim != 1:
        raise InputError(
            f"y_prob must be 1-D (the positive class's probability per row) but has shape "
            f"{p.shape}; pass one column, e.g. model.predict_proba(X)[:, 1]."
        )
    if len(p) != n:
        raise InputError(
            f"y_prob has {len(p)} values but y_true has {n}; give one probability per row."
        )
    bad = ~((p >= 0.0) & (p <= 1.0))  # NaN is bad too
    if bad.any():
        raise InputError(
            f"y_prob must be probabilities in [0, 1] but {int(bad.sum())} values are outside "
            f"(or NaN), e.g. {p[bad][0]!r}; pass predict_proba's positive-class column, not "
            "a margin or score."
        )
    return p


# ---------------------------------------------------------------------- metrics
def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Classification metrics from confusion cells (..., 4) = (TN, FP, FN, TP) counts."""
    tn, fp, fn, tp = (cells[..., i] for i in range(4))
    n = tn + fp + fn + tp
    pos, neg, selected = tp + fn, tn + fp, tp + fp
    return {
        "selection_rate": _divide(selected, n),
        "base_rate": _divide(pos, n),
        "accuracy": _divide(tp + tn, n),
        "tpr": _divide(tp, pos),
        "fpr": _divide(fp, neg),
        "fnr": _divide(fn, pos),
        "tnr": _divide(tn, neg),
        "precision": _divide(tp, selected),
    }


def _regression_stats(sums: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Bootstrap-able regression metrics from per-group sums of (pred, |res|, res)."""
    return {
        "mean_prediction": _divide(sums[..., 0], counts),
        "mae": _divide(sums[..., 1], counts),
        "mean_residual": _divide(sums[..., 2], counts),
    }


def _spread(values: np.ndarray, ratio_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """max - min and min / max over the last axis, skipping NaN groups.

    Undefined (NaN) with fewer than two groups where the value is defined; the ratio
    is NaN when ``ratio_ok`` is False, when a value is negative or the largest is 0.
    """
    defined = np.isfinite(values)
    enough = defined.sum(axis=-1) >= 2
    hi = np.where(defined, values, -np.inf).max(axis=-1)
    lo = np.where(defined, values, np.inf).min(axis=-1)
    diff = np.where(enough, hi - lo, np.nan)
    if not ratio_ok:
        return diff, np.full_like(diff, np.nan)
    ratio = np.full_like(diff, np.nan)
    good = enough & (lo >= 0) & (hi > 0)
    np.divide(lo, hi, out=ratio, where=good)
    return diff, ratio


def _argext(values: np.ndarray) -> tuple[int | None, int | None]:
    """Indices of the smallest and largest defined value (first on ties)."""
    defined = np.isfinite(values)
    if defined.sum() < 2:
        return None, None
    lo = int(np.argmin(np.where(defined, values, np.inf)))
    hi = int(np.argmax(np.where(defined, values, -np.inf)))
    return lo, hi


def _disparity_values(
    stats: dict[str, np.ndarray], specs: tuple[tuple[str, str | None], ...], task: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(difference, ratio) of each disparity, over the last axis of the per-group stats."""
    out = {}
    for name, column in specs:
        if column is None:  # equalized odds: worst of the TPR and FPR disparities
            d_tpr, r_tpr = _spread(stats["tpr"], True)
            d_fpr, r_fpr = _spread(stats["fpr"], True)
            out[name] = (np.fmax(d_tpr, d_fpr), np.fmin(r_tpr, r_fpr))
        else:
            ratio_ok = not (task == "regression" and column == "mean_residual")
            out[name] = _spread(stats[column], ratio_ok)
    return out


def _percentile_ci(samples: np.ndarray, level: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(finite, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


# ---------------------------------------------------------------------- one grouping
@dataclass
class _Data:
    task: str
    n: int
    t: np.ndarray | None = None  # classification: true == pos (bool)
    s: np.ndarray | None = None  # classification: pred == pos (bool)
    prob: np.ndarray | None = None
    y: np.ndarray | None = None  # regression
    f: np.ndarray | None = None
    # dask inputs (classification): one entry per distinct row, ``w`` rows of it;
    # ``prob`` then holds the sum of their probabilities, ``prob_sq`` of the squares
    w: np.ndarray | None = None
    prob_sq: np.ndarray | None = None
    # dask inputs (regression): one entry per sensitive combination, its sums
    agg: dict[str, np.ndarray] | None = None


def _classification_frame(
    data: _Data, group: np.ndarray, n_groups: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-group metrics, confusion cells (G, 4) and counts (G,)."""
    cell = 2 * data.t.astype(np.intp) + data.s.astype(np.intp)  # 0 TN, 1 FP, 2 FN, 3 TP
    cells = np.bincount(group * 4 + cell, weights=data.w, minlength=4 * n_groups)
    cells = cells.astype(np.int64).reshape(n_groups, 4)  # weights: whole counts, exact
    counts = cells.sum(axis=1)
    stats = _rates(cells)
    if data.prob is not None and data.w is not None:
        t = data.t.astype(np.float64)  # sum of (p - t)^2 = sum p^2 - 2 t sum p + t n
        sq = data.prob_sq - 2 * t * data.prob + t * data.w
        mean_p = np.bincount(group, weights=data.prob, minlength=n_groups) / counts
        stats["mean_probability"] = mean_p
        stats["calibration_in_the_large"] = mean_p - stats["base_rate"]
        stats["brier"] = np.bincount(group, weights=sq, minlength=n_groups) / counts
    elif data.prob is not None:
        mean_p = np.bincount(group, weights=data.prob, minlength=n_groups) / counts
        sq = (data.prob - data.t) ** 2
        stats["mean_probability"] = mean_p
        stats["calibration_in_the_large"] = mean_p - stats["base_rate"]
        stats["brier"] = np.bincount(group, weights=sq, minlength=n_groups) / counts
    return stats, cells, counts


def _regression_frame(
    data: _Data, group: np.ndarray, n_groups: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-group metrics, sums of (pred, |res|, res) (G, 3) and counts (G,)."""
    if data.agg is not None:
        return _regression_frame_from_sums(data.agg, group, n_groups)
    counts = np.bincount(group, minlength=n_groups)
    res = data.f - data.y
    columns = (data.f, np.abs(res), res)
    sums = np.column_stack([np.bincount(group, weights=c, minlength=n_groups) for c in columns])
    stats = _regression_stats(sums, counts)
    mean_true = np.bincount(group, weights=data.y, minlength=n_groups) / counts
    sse = np.bincount(group, weights=res**2, minlength=n_groups)
    sst = np.bincount(group, weights=(data.y - mean_true[group]) ** 2, minlength=n_groups)
    y_min = np.full(n_groups, np.inf)
    y_max = np.full(n_groups, -np.inf)
    np.minimum.at(y_min, group, data.y)
    np.maximum.at(y_max, group, data.y)
    varies = y_max > y_min  # sst > 0 up to rounding: test for a constant target exactly
    stats = {
        "mean_prediction": stats["mean_prediction"],
        "mean_true": mean_true,
        "mean_residual": stats["mean_residual"],
        "mae": stats["mae"],
        "rmse": np.sqrt(sse / counts),
        "r2": np.where(varies & (sst > 0), 1.0 - _divide(sse, sst), np.nan),
    }
    return stats, sums, counts


def _regression_frame_from_sums(
    agg: dict[str, np.ndarray], group: np.ndarray, n_groups: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`_regression_frame` from per-combination sums (dask inputs): the same
    statistics, the target's sum of squares merged by Chan's rule."""
    w = agg["n"]
    counts = np.rint(np.bincount(group, weights=w, minlength=n_groups)).astype(np.int64)
    sums = np.column_stack(
        [np.bincount(group, weights=agg[c], minlength=n_groups) for c in ("f", "absres", "res")]
    )
    base = _regression_stats(sums, counts)
    mean_true = np.bincount(group, weights=agg["y"], minlength=n_groups) / counts
    sse = np.bincount(group, weights=agg["sq"], minlength=n_groups)
    dev = agg["m2"] + w * (agg["y"] / w - mean_true[group]) ** 2
    sst = np.bincount(group, weights=dev, minlength=n_groups)
    y_min = np.full(n_groups, np.inf)
    y_max = np.full(n_groups, -np.inf)
    np.minimum.at(y_min, group, agg["min"])
    np.maximum.at(y_max, group, agg["max"])
    varies = y_max > y_min
    stats = {
        "mean_prediction": base["mean_prediction"],
        "mean_true": mean_true,
        "mean_residual": base["mean_residual"],
        "mae": base["mae"],
        "rmse": np.sqrt(sse / counts),
        "r2": np.where(varies & (sst > 0), 1.0 - _divide(sse, sst), np.nan),
    }
    return stats, sums, counts


def _bootstrap_classification(
    cells: np.ndarray, counts: np.ndarray, n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-group metrics of ``n_boot`` stratified resamples, each of shape (n_boot, G).

    Drawing ``n_g`` rows with replacement inside group ``g`` makes the resample's
    confusion cells a multinomial draw with ``n_g`` trials and the group's cell
    shares as probabilities, so the cells are drawn directly (exact, no rows).
    """
    shares = cells / counts[:, None]
    boot = rng.multinomial(counts, shares, size=(n_boot, len(counts)))
    return _rates(boot)


def _bootstrap_regression(
    data: _Data, group: np.ndarray, counts: np.ndarray, n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-group (pred, |res|, res) means of ``n_boot`` stratified resamples, (n_boot, G).

    Dask inputs (``data.agg["boot"]``: per combination, the Poisson bootstrap's
    weighted sums of (1, pred, |res|, res) per replicate): each group's replicate sums
    are its combinations' sums, and its means are divided by its replicate weight.
    """
    if data.agg is not None:
        boot = np.stack(data.agg["boot"])  # (combinations, n_boot, 4)
        member = (group[:, None] == np.arange(len(counts))[None, :]).astype(np.float64)
        sums = np.einsum("cbq,cg->bgq", boot, member)
        return _regression_stats(sums[..., 1:], sums[..., 0])
    res = data.f - data.y
    values = np.column_stack([data.f, np.abs(res), res])
    order = np.argsort(group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    sums = np.empty((n_boot, len(counts), 3))
    for g, n_g in enumerate(counts):
        rows = values[order[starts[g] : starts[g + 1]]]  # (n_g, 3)
        chunk = max(1, _BOOT_CELLS // max(int(n_g), 1))
        for b0 in range(0, n_boot, chunk):
            b = min(chunk, n_boot - b0)
            draws = rng.integers(0, n_g, size=(b, n_g))
            # weights matrix: how often each row is drawn in each resample
            flat = (np.arange(b)[:, None] * n_g + draws).ravel()
            weights = np.bincount(flat, minlength=b * n_g).reshape(b, n_g)
            sums[b0 : b0 + b, g] = weights @ rows
    return _regression_stats(sums, counts)


def _analyse(
    data: _Data,
    group: np.ndarray,
    names: list[str],
    *,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray], list[str]]:
    """by_group frame, disparities frame, per-group stats and bootstrap notes of one grouping."""
    n_groups = len(names)
    if data.task == "classification":
        stats, cells, counts = _classification_frame(data, group, n_groups)
        specs = _CLASSIFICATION_DISPARITIES
        boot = _bootstrap_classification(cells, counts, n_boot, rng) if n_boot else None
    else:
        stats, sums, counts = _regression_frame(data, group, n_groups)
        specs = _REGRESSION_DISPARITIES
        boot = _bootstrap_regression(data, group, counts, n_boot, rng) if n_boot else None
    frame = pd.DataFrame(
        {"count": counts.astype(np.int64), "share": counts / data.n, **stats},
        index=pd.Index(names, name="group"),
    )
    point = _disparity_values(stats, specs, data.task)
    boot_values = _disparity_values(boot, specs, data.task) if boot is not None else None
    notes: list[str] = []
    rows = []
    for name, column in specs:
        diff, ratio = (float(v) for v in point[name])
        if column is None:
            d_tpr = _spread(stats["tpr"], True)[0]
            d_fpr = _spread(stats["fpr"], True)[0]
            column = "fpr" if np.isfinite(d_fpr) and not d_fpr <= d_tpr else "tpr"
        lo, hi = _argext(stats[column])
        if boot_values is not None:
            d_ci = _percentile_ci(boot_values[name][0], level)
            r_ci = _percentile_ci(boot_values[name][1], level)
            n_defined = np.isfinite(stats[column]).sum()
            lost = (np.isfinite(boot[column]).sum(axis=1) < n_defined).mean()
            if lost > 0 and name != "equalized_odds":
                notes.append(
                    f"{column} was undefined in some group in {lost:.0%} of the bootstrap "
                    f"resamples (a group with few rows of one kind), so the {name} interval "
                    "compares fewer groups there."
                )
        else:
            d_ci = r_ci = (np.nan, np.nan)
        rows.append(
            [
                name,
                diff,
                *d_ci,
                ratio,
                *r_ci,
                names[lo] if lo is not None else None,
                names[hi] if hi is not None else None,
            ]
        )
    disparities = pd.DataFrame(rows, columns=list(_DISPARITY_COLUMNS))
    return frame, disparities, stats, notes


def _group_notes(
    frame: pd.DataFrame, data: _Data, min_size: int, prefix: str, pos_text: str
) -> list[str]:
    notes = []
    for name, row in frame.iterrows():
        label = f"{prefix}{name}"
        if row["count"] < min_size:
            rows = "row" if row["count"] == 1 else "rows"
            notes.append(
                f"group {label!r} has {int(row['count'])} {rows}, fewer than "
                f"min_group_size={min_size}: its metrics are unreliable."
            )
        if data.task == "classification":
            if row["base_rate"] == 0:
                notes.append(
                    f"group {label!r} has no positive rows ({pos_text}): its tpr and fnr are "
                    "undefined (NaN)."
                )
            if row["base_rate"] == 1:
                notes.append(
                    f"group {label!r} has no negative rows: its fpr and tnr are undefined (NaN)."
                )
            if row["selection_rate"] == 0:
                notes.append(
                    f"group {label!r} has no predicted positives: its precision is undefined (NaN)."
                )
        elif np.isnan(row["r2"]):
            notes.append(
                f"group {label!r} has fewer than two rows or a constant y_true: its r2 is "
                "undefined (NaN)."
            )
    return notes


# ---------------------------------------------------------------------- public
def group_metrics(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    y_prob: Any = None,
    task: str | None = None,
    pos_label: Any = None,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    min_group_size: int = 30,
    random_state: Any = 0,
) -> GroupMetrics:
    """Metrics of a model's predictions in each sensitive group, and the gaps between groups.

    Each row belongs to one group: its value of the sensitive feature or, with
    several sensitive features, the intersection of their values (each
    combination present in the data, e.g. ``"sex=F, race=B"``). For a
    classification the metrics follow from the group's confusion counts: the
    selection rate P(pred = pos) (demographic parity, Calders & Verwer 2010),
    true and false positive rates (equal opportunity and equalized odds, Hardt,
    Price & Srebro 2016), accuracy, precision; for a regression, the mean
    prediction, errors and bias. A disparity is the largest minus the smallest
    group value and the smallest over the largest, as in fairlearn's
    ``MetricFrame.difference()`` / ``ratio()`` (``method="between_groups"``), and
    the four-fifths rule compares the selection-rate ratio with 0.8 (US EEOC
    Uniform Guidelines, 29 CFR 1607.4(D)).

    The confidence intervals are percentile bootstrap intervals (Efron &
    Tibshirani 1993) from resamples stratified by group: each group's rows are
    drawn with replacement, as many as it has, so group sizes stay fixed. For a
    classification the resampled confusion counts are drawn directly (a
    multinomial per group, the exact law of counts of a row resample); for a
    regression a weights matrix of resample counts is multiplied with the rows.
    Near a zero gap, max - min is biased upwards (the bootstrap replicates more
    so), so the interval of a small disparity sits above 0 and covers less well
    than its level; with clearly separated groups it covers at about its level.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (classification) or values (regression); no missing values. Dask
        Arrays/Series (with dask ``y_pred``, ``sensitive_features``, ``y_prob``) are
        counted per group on the workers: counts exact, so the count bootstrap equals
        the in-memory one. A regression's bootstrap is then a Poisson bootstrap: each
        row gets a Poisson(1) weight per replicate, drawn on its worker from
        ``default_rng([seed, partition])`` with ``seed`` drawn from ``random_state``,
        and the group means are weighted means (Hanley & MacGibbon 2006; Oza &
        Russell 2001). Its replicates differ from the in-memory stratified
        multinomial resamples (random replicate sizes, same variance to O(1/n)), so
        the intervals agree with the in-memory ones in distribution, not digit for
        digit; the same ``random_state`` and partitions give the same intervals.
    y_pred : array-like of shape (n_samples,)
        Predicted labels (classification) or values (regression).
    sensitive_features : array-like of shape (n_samples,) or (n_samples, k), DataFrame or dict
        The attribute(s) defining the groups: a 1-D array or Series (one feature,
        named after the Series or ``"sensitive_feature_0"``), a DataFrame, a 2-D
        array (``"sensitive_feature_j"``) or a dict name -> column. Each needs two
        or more distinct values and no missing value.
    y_prob : array-like of shape (n_samples,), optional
        Classification only: the predicted probability of ``pos_label`` (float64
        in [0, 1]); adds the mean predicted probability, the
        calibration-in-the-large (mean probability minus base rate) and the
        Brier score per group.
    task : {"classification", "regression"} or None, default=None
        None: a classification when ``pos_label`` is given, ``y_pred`` is not
        numeric or has at most two distinct values; otherwise a regression. Pass
        it for a regressor with constant predictions.
    pos_label : object, optional
        The favourable (positive) label; default 1 when the labels are within
        {0, 1} or {-1, 1}, True for booleans, otherwise required. With more than
        two labels every metric is of ``pos_label`` versus the rest (accuracy
        included) and ``warnings`` says so.
    n_bootstrap : int >= 0, default=200
        Bootstrap resamples for the intervals; 0 skips them (intervals NaN).
    confidence_level : float in (0, 1), default=0.95
    min_group_size : int >= 0, default=30
        Groups with fewer rows get a warning and ``small_group=True``.
    random_state : int, numpy Generator or None, default=0
        Seeds the bootstrap.

    Returns
    -------
    GroupMetrics
        ``by_group`` (one row per intersection group), ``overall``,
        ``disparities`` with intervals, ``four_fifths`` (classification),
        ``marginals`` and ``marginal_disparities`` (each feature alone, with
        several features) and ``warnings``. An undefined metric (e.g. TPR in a
        group without positive rows, precision without predicted positives, R^2
        with one row or a constant target) is NaN with a warning, and
        disparities skip the groups where it is undefined (fairlearn reports 0
        for such a TPR or precision instead).

    Raises
    ------
    InputError
        ``y_true``, ``y_pred``, ``sensitive_features`` or ``y_prob`` of differing
        lengths, missing values in any of them, a sensitive feature with a
        single value, ``y_prob`` outside [0, 1] or given for a regression,
        ``pos_label`` not among the labels (or missing where no default exists),
        non-numeric values for a regression, ``n_bootstrap``,
        ``confidence_level``, ``min_group_size`` or ``task`` out of range.

    References
    ----------
    .. [1] M. Hardt, E. Price, N. Srebro, "Equality of opportunity in supervised
       learning", NeurIPS 2016.
    .. [2] T. Calders, S. Verwer, "Three naive Bayes approaches for
       discrimination-free classification", Data Mining and Knowledge Discovery
       21(2), 2010.
    .. [3] B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall, 1993.
    .. [4] S. Bird et al., "Fairlearn: a toolkit for assessing and improving
       fairness in AI", Microsoft Tech. Report MSR-TR-2020-32, 2020.
    .. [5] J. A. Hanley, B. MacGibbon, "Creating non-parametric bootstrap samples
       using Poisson frequencies", Computer Methods and Programs in Biomedicine
       83(1), 2006.
    .. [6] N. C. Oza, S. Russell, "Online bagging and boosting", AISTATS 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from whybox.fairness import group_metrics
    >>> rng = np.random.default_rng(0)
    >>> sex = rng.choice(["F", "M"], 400)
    >>> y_true = rng.integers(0, 2, 400)
    >>> right = rng.random(400) < np.where(sex == "F", 0.7, 0.9)  # less accurate for F
    >>> y_pred = np.where(right, y_true, 1 - y_true)
    >>> gm = group_metrics(y_true, y_pred, sex, n_bootstrap=50)
    >>> gm.by_group[["count", "selection_rate", "accuracy"]].round(3)
           count  selection_rate  accuracy
    group
    F        179           0.525     0.682
    M        221           0.529     0.919
    >>> gm.disparities.set_index("metric").loc["accuracy", ["difference", "ratio"]].round(3)
    difference    0.237
    ratio         0.742
    Name: accuracy, dtype: float64
    >>> gm.four_fifths["passed"]
    True
    """
    random_state = check_random_state(random_state)
    n_boot = check_int(n_bootstrap, "n_bootstrap", 0, "n_bootstrap=200")
    level = check_confidence_level(confidence_level)
    min_size = check_int(min_group_size, "min_group_size", 0, "min_group_size=30")
    weights = agg = None
    on_dask = any(is_dask_collection(v) for v in (y_true, y_pred, y_prob, sensitive_features))
    if on_dask:  # counts and sums per group on the workers (whybox.distributed)
        from whybox.distributed import distinct_sample, group_table, regression_table

        task = _resolve_task(task, distinct_sample(y_pred), pos_label)
    if on_dask and task == "regression":
        # a Poisson bootstrap: each row's weight per replicate drawn on its worker from a
        # seed drawn here from random_state (so the same random_state, the same interval)
        seed = int(np.random.default_rng(random_state).integers(2**63)) if n_boot else 0
        sens_given, table = regression_table(
            y_true, y_pred, sensitive_features, n_bootstrap=n_boot, random_state=seed
        )
        agg = {c.lstrip("\0"): table[c].to_numpy() for c in table.columns if c[0] == "\0"}
        weights = agg["n"]
        yt, yp = agg["y"] / weights, agg["f"] / weights  # finite numbers, one per combination
        sensitive_features = {name: table[f"s{j}"].to_numpy() for j, name in enumerate(sens_given)}
    elif on_dask:
        sens_given, table = group_table(y_true, y_pred, sensitive_features, y_prob)
        yt, yp = table["\0y_true"].to_numpy(), table["\0y_pred"].to_numpy()
        weights = table["\0n"].to_numpy()
        sensitive_features = {name: table[f"s{j}"].to_numpy() for j, name in enumerate(sens_given)}
        y_prob = table["\0p"].to_numpy() if y_prob is not None else None
    else:
        yt = as_label_vector(y_true, "y_true")
        yp = as_label_vector(y_pred, "y_pred")
    n = len(yt)
    if len(yp) != n:
        raise InputError(
            f"y_pred has {len(yp)} values but y_true has {n}; give one prediction per row."
        )
    columns = _sensitive_columns(sensitive_features, n)
    sens_names = tuple(c[0] for c in columns)
    group, names, group_levels, per_feature = _groups(columns)
    kind = _resolve_task(task, yp, pos_label)
    notes: list[str] = []
    if kind == "classification":
        labels = _labels(yt, yp)
        pos = _positive_label(labels, pos_label)
        if len(labels) > 2:
            notes.append(
                f"y_true/y_pred hold {len(labels)} labels: every metric is of pos_label="
                f"{pos!r} versus the rest (accuracy included)."
            )
        if weights is None:
            prob = _check_prob(y_prob, n) if y_prob is not None else None
        else:  # sums of probabilities, checked on the workers
            prob = y_prob
        data = _Data(kind, n, t=np.asarray(yt == pos, bool), s=np.asarray(yp == pos, bool))
        data.prob = prob
        if weights is not None:
            data.n, data.w = int(weights.sum()), weights.astype(np.float64)
            data.prob_sq = table["\0p2"].to_numpy() if prob is not None else None
        pos_text = f"y_true == {pos!r}"
    else:
        if pos_label is not None:
            raise InputError(
                f"pos_label={pos_label!r} was given for a regression; leave it out, or pass "
                "task='classification' for class labels."
            )
        if y_prob is not None:
            raise InputError(
                "y_prob was given for a regression; leave it out, or pass "
                "task='classification' with y_pred holding class labels."
            )
        pos = None
        data = _Data(kind, n, y=_numeric_vector(yt, "y_true"), f=_numeric_vector(yp, "y_pred"))
        if agg is not None:
            data.n, data.w, data.agg = int(np.rint(weights.sum())), weights, agg
        pos_text = ""
    rng = np.random.default_rng(random_state)

    with np.errstate(invalid="ignore", divide="ignore"), _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        by_group, disparities, stats, boot_notes = _analyse(
            data, group, names, n_boot=n_boot, level=level, rng=rng
        )
        notes += _group_notes(by_group, data, min_size, "", pos_text)
        notes += boot_notes
        overall_frame, *_ = _analyse(
            data, np.zeros(len(yt), np.intp), ["overall"], n_boot=0, level=level, rng=rng
        )
        marginals: dict[str, pd.DataFrame] = {}
        marginal_disparities: dict[str, pd.DataFrame] = {}
        if len(columns) > 1:
            for name, (codes, uniques) in zip(sens_names, per_feature, strict=True):
                m_names = [str(v) for v in uniques]
                frame, disp, _, m_boot_notes = _analyse(
                    data, codes, m_names, n_boot=n_boot, level=level, rng=rng
                )
                frame["small_group"] = frame["count"].to_numpy() < min_size
                marginals[name] = frame
                marginal_disparities[name] = disp
                notes += _group_notes(frame, data, min_size, f"{name}=", pos_text)
                notes += [f"{name} marginal groups: {m}" for m in m_boot_notes]
    by_group["small_group"] = by_group["count"].to_numpy() < min_size
    overall = overall_frame.iloc[0].drop("share")
    overall.name = "overall"

    four_fifths = None
    if kind == "classification":
        row = disparities.set_index("metric").loc["demographic_parity"]
        ratio = float(row["ratio"])
        lo, hi = _argext(stats["selection_rate"])
        four_fifths = {
            "ratio": ratio,
            "ci_low": float(row["ratio_ci_low"]),
            "ci_high": float(row["ratio_ci_high"]),
            "threshold": FOUR_FIFTHS,
            "passed": None if not np.isfinite(ratio) else bool(ratio >= FOUR_FIFTHS),
            "lowest_group": names[lo],
            "lowest_rate": float(stats["selection_rate"][lo]),
            "highest_group": names[hi],
            "highest_rate": float(stats["selection_rate"][hi]),
        }
        if four_fifths["passed"] is None:
            notes.append(
                "no group has a predicted positive, so the selection-rate ratio and the "
                "four-fifths rule are undefined."
            )
    elif (by_group["mean_prediction"] < 0).any():
        notes.append(
            "some group's mean prediction is negative, so the mean_prediction ratio is "
            "undefined (NaN); use the difference."
        )

    params = {
        "task": kind,
        "pos_label": json_value(pos),
        "sensitive_names": list(sens_names),
        "y_prob_given": y_prob is not None,
        "n_bootstrap": n_boot,
        "confidence_level": level,
        "min_group_size": min_size,
        "random_state": json_value(random_state),
        "n_samples": int(data.n),
    }
    return GroupMetrics(
        by_group=by_group,
        overall=overall,
        disparities=disparities,
        four_fifths=four_fifths,
        warnings=tuple(notes),
        sensitive_names=sens_names,
        task=kind,
        group_levels=group_levels,
        marginals=marginals,
        marginal_disparities=marginal_disparities,
        pos_label=pos,
        confidence_level=level,
        min_group_size=min_size,
        params=params,
    )
