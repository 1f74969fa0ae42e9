"""The audit of a dask X: all rows on the workers where the result is a reduction, a
stated sample in memory for the per-row sections.

The sample is ``max_samples`` row positions of all of X, drawn without replacement by
``numpy.random.default_rng(random_state)`` (the same seed and row order give the same
rows, however the rows are partitioned), plus the rows asked for; only those rows are
brought to the client. The in-memory audit then runs on the sample, and the sections
that show a reduction (performance, confusion, calibration, fairness group metrics,
permutation importance) show its value over all rows instead, computed by the public
functions on the dask inputs. This module imports dask only inside its functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import check_int, is_dask_collection, require_dask, shorten
from whybox.report._context import AuditContext, FullData
from whybox.report._inputs import check_rows
from whybox.report._report import Report, Section

_MAX_DISTINCT = 21  # distinct values kept per partition: enough to refuse more than 20 groups


# ---------------------------------------------------------------------- on the workers
def _take(part: Any, local: np.ndarray) -> Any:
    """Rows ``local`` (positions) of one partition."""
    return part.iloc[local]


def _length_and_distinct(part: Any, sensitive: list[str]) -> tuple[int, list[np.ndarray]]:
    """Rows of one partition, and up to 21 distinct values of each sensitive column."""
    return len(part), [pd.unique(part[c].to_numpy(dtype=object))[:_MAX_DISTINCT] for c in sensitive]


def _values(m: Any, part: Any) -> np.ndarray:
    from whybox.adapters import adapt_data

    return m.check_data(adapt_data(part, name="X"), name="X").values


def _labels_part(y: pd.Series, m: Any) -> pd.Series:
    """y mapped onto the model's class labels, as the in-memory audit maps it."""
    from whybox.report._inputs import labels_match

    arr = y.to_numpy() if pd.api.types.is_numeric_dtype(y) else y.to_numpy(dtype=object)
    labels = labels_match(m, arr) if len(arr) else arr
    return pd.Series(np.asarray(labels, dtype=np.asarray(m.classes).dtype), index=y.index)


def _pred_part(part: pd.DataFrame, m: Any) -> pd.Series:
    """The predicted labels (classifier) or values (regressor) of one partition."""
    values = _values(m, part)
    if m.task == "classification":
        return pd.Series(m.predict_label(values), index=part.index)
    return pd.Series(m.predict(values)[:, 0], index=part.index)


def _prob_part(part: pd.DataFrame, m: Any) -> pd.Series:
    """A binary classifier's probability of its second class, per row of one partition."""
    return pd.Series(m.predict(_values(m, part), "probability")[:, 0], index=part.index)


def _display_part(v: pd.Series, display: dict[str, str]) -> pd.Series:
    """Labels as their display names (the confusion matrix's labels)."""
    return pd.Series([display[str(x)] for x in v.tolist()], index=v.index, dtype=object)


def _same(part: Any) -> Any:
    """A partition unchanged: the barrier that keeps dask from reading X, y and the
    sensitive columns in differently fused partitions (see :func:`_one_frame`)."""
    return part


# ---------------------------------------------------------------------- on the client
_Y = "__whybox_y__"


def _one_frame(X: Any, y: Any, series: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """X, y and the sensitive Series as columns of one frame behind a barrier.

    dask's optimizer reads a column projection of Parquet files in fewer, fused
    partitions (``df["y"]`` of 8 files may come as 2 partitions while ``df.drop(...)``
    comes as 8), so collections taken apart would no longer line up partition by
    partition. Projected above one ``map_partitions`` they all come from the same
    partitions.
    """
    names = {_Y: y, **{f"__whybox_s{j}__": s for j, s in enumerate(series.values())}}
    try:
        both = X.assign(**names)
    except Exception as exc:  # dask raises ValueError, NotImplementedError, ...
        raise InputError(
            "y and the sensitive Series must be columns of the dask DataFrame X comes from "
            f"(dask could not line them up: {shorten(str(exc))}); take them from one frame: "
            "df['y'] and df.drop(columns='y')."
        ) from None
    # partitions pass unchanged; their columns and dtypes are checked by the reductions
    both = both.map_partitions(_same, meta=both._meta, enforce_metadata=False)
    columns = list(X.columns)
    renamed = {name: both[f"__whybox_s{j}__"].rename(name) for j, name in enumerate(series)}
    return both[columns], both[_Y].rename(y.name), renamed


def _check_inputs(X: Any, y: Any, random_state: Any, max_samples: Any) -> int:
    require_dask("auditing a dask X")
    if not hasattr(X, "divisions") or getattr(X, "ndim", 0) != 2:
        raise InputError(
            f"X must be a dask DataFrame for a distributed audit, got {type(X).__name__}; "
            "convert a dask array with dask.dataframe.from_dask_array(X, columns=[...])."
        )
    if not is_dask_collection(y) or not hasattr(y, "divisions"):
        raise InputError(
            f"y must be a dask Series of X's partitions when X is a dask DataFrame, got "
            f"{type(y).__name__}; take both from one frame: df['y'] and df.drop(columns='y')."
        )
    if y.npartitions != X.npartitions:
        raise InputError(
            f"y has {y.npartitions} partitions but X has {X.npartitions}; take both from one "
            "dask DataFrame: df['y'] and df.drop(columns='y')."
        )
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, (int, np.integer)
    ):
        raise InputError(
            "random_state must be an int seed with a dask X (it draws the sample and seeds "
            f"each partition's permutations), got {type(random_state).__name__}; e.g. "
            "random_state=0."
        )
    return check_int(max_samples, "max_samples", 1, "max_samples=10_000")


def _sensitive_items(X: Any, sensitive_features: Any) -> list[tuple[str, Any, bool]]:
    """(name, dask Series, is a column of X) of each sensitive attribute."""
    if sensitive_features is None:
        return []
    sf = sensitive_features
    if hasattr(sf, "divisions") and sf.ndim == 2:
        items: list[Any] = [sf[c] for c in sf.columns]
    elif isinstance(sf, str) or hasattr(sf, "divisions"):
        items = [sf]
    else:
        items = list(sf)
    columns = [str(c) for c in X.columns]
    out = []
    for k, item in enumerate(items):
        if isinstance(item, str):
            if item not in columns:
                raise InputError(
                    f"sensitive_features names {shorten(item)}, which is not a column of X "
                    f"(columns: {columns[:10]}); give column names of X or dask Series of "
                    "X's partitions."
                )
            out.append((item, X[item], True))
        elif is_dask_collection(item) and hasattr(item, "divisions") and item.ndim == 1:
            if item.npartitions != X.npartitions:
                raise InputError(
                    f"sensitive feature {shorten(str(item.name))} has {item.npartitions} "
                    f"partitions but X has {X.npartitions}; give a column of the frame X "
                    "comes from."
                )
            out.append((str(item.name or f"sensitive_{k}"), item, False))
        else:
            raise InputError(
                "sensitive_features with a dask X must be column names of X or dask Series "
                f"of X's partitions, got {type(item).__name__}; compute binned attributes "
                "with X[col].map_partitions(...)."
            )
    return out


def _sample_positions(
    n_rows: int, max_samples: int, random_state: int, rows: Sequence[int]
) -> np.ndarray:
    """The sample's row positions in all of X, sorted: ``max_samples`` drawn without
    replacement by ``default_rng(random_state)`` (all rows when there are no more), and
    ``rows``."""
    if n_rows <= max_samples:
        drawn = np.arange(n_rows)
    else:
        drawn = np.random.default_rng(random_state).choice(n_rows, max_samples, replace=False)
    return np.union1d(drawn, np.asarray(list(rows), dtype=np.int64)).astype(np.int64)


def _gather(parts: list[list[Any]], lengths: list[int], positions: np.ndarray) -> list[Any]:
    """The rows at ``positions`` of each collection's partitions (``parts``: one list of
    delayed partitions per collection), concatenated in row order."""
    import dask

    starts = np.concatenate([[0], np.cumsum(lengths)])
    tasks = []
    for k in range(len(lengths)):
        lo, hi = np.searchsorted(positions, [starts[k], starts[k + 1]])
        if hi > lo:
            local = positions[lo:hi] - starts[k]
            tasks.append([dask.delayed(_take)(p[k], local) for p in parts])
    pieces = dask.compute(*tasks)
    return [pd.concat([piece[j] for piece in pieces], ignore_index=True) for j in range(len(parts))]


def _performance(context: AuditContext, X: Any, y: Any) -> list[tuple[str, float]]:
    """The performance metrics over all rows (ROC AUC from the sample, named so)."""
    from whybox.distributed import performance_sums
    from whybox.report._section_performance import SAMPLE_SUFFIX, _metrics

    m = context.model
    sums = performance_sums(m, X, y)
    n = sums["n"]
    if m.task == "classification":
        matrix = sums["matrix"]
        support = matrix.sum(axis=1)
        present = support > 0
        rows = [
            ("accuracy", float(np.trace(matrix) / n)),
            ("balanced accuracy", float(np.mean(np.diag(matrix)[present] / support[present]))),
        ]
        sample = _metrics(m, context.data.values, context.y, context.pred)
        rows += [(name + SAMPLE_SUFFIX, v) for name, v in sample if name.startswith("ROC AUC")]
        rows.append(("log loss", sums["log_loss_sum"] / n))
        return rows
    m2, sq = sums["m2"], sums["sq_sum"]
    r2 = (1.0 if sq == 0.0 else 0.0) if m2 == 0.0 else 1.0 - sq / m2
    return [
        ("R²", float(r2)),
        ("mean absolute error", sums["abs_sum"] / n),
        ("root mean squared error", float(np.sqrt(sq / n))),
    ]


def _full_data(
    context: AuditContext,
    *,
    X: Any,
    y: Any,
    sensitive: list[tuple[str, Any, bool]],
    n_rows: int,
    positions: np.ndarray,
    random_state: int,
) -> FullData:
    """The reductions over all rows of X, by the public functions on dask inputs."""
    import dask

    from whybox.debugging import calibration, confusion_analysis
    from whybox.fairness import group_metrics
    from whybox.inspection import permutation_importance

    m = context.model
    dropped = {name for name, _, column in sensitive if column} - set(context.sensitive_inputs)
    X = X[[c for c in X.columns if str(c) not in dropped]] if dropped else X
    key = dask.delayed(m, pure=True, traverse=False)  # one key: sent to each worker once
    classifier = m.task == "classification"
    if classifier:
        classes = np.asarray(m.classes)
        y = y.map_partitions(_labels_part, key, meta=pd.Series(classes[:0], name=y.name))
        pred_meta = pd.Series(classes[:0])
    else:
        pred_meta = pd.Series(np.zeros(0))
    pred = X.map_partitions(_pred_part, key, meta=pred_meta)
    metrics = _performance(context, X, y)
    confusion = cal = gm = None
    per_class: dict[str, Any] | None = None
    if classifier:
        display = context.display
        to_display = {"meta": pd.Series([], dtype=object)}
        confusion = confusion_analysis(
            y.map_partitions(_display_part, display, **to_display),
            pred.map_partitions(_display_part, display, **to_display),
            labels=[display[str(c)] for c in m.classes],
        )
        cal = calibration(m, X, y)
    if sensitive:
        columns = {name: series for name, series, _ in sensitive}
        if classifier and len(m.classes) > 2:
            per_class = {}
            for c in m.classes:
                label = c.item() if isinstance(c, np.generic) else c
                per_class[str(c)] = group_metrics(
                    y, pred, columns, task="classification", pos_label=label,
                    random_state=random_state,
                )  # fmt: skip
        elif classifier:
            prob = X.map_partitions(_prob_part, key, meta=pd.Series(np.zeros(0)))
            gm = group_metrics(
                y, pred, columns, y_prob=prob, task="classification", pos_label=m.classes[1],
                random_state=random_state,
            )  # fmt: skip
        else:
            gm = group_metrics(y, pred, columns, task="regression", random_state=random_state)
    perm = permutation_importance(
        m, X, y, scoring="neg_log_loss" if classifier else "r2", n_repeats=5,
        random_state=random_state,
    )  # fmt: skip
    return FullData(
        n_rows=n_rows,
        n_sample=len(positions),
        random_state=random_state,
        metrics=metrics,
        confusion=confusion,
        calibration=cal,
        group_metrics=gm,
        group_metrics_by_class=per_class,
        permutation=perm,
        sample_rows=positions,
    )


def _coverage(section: Section, n_rows: int, n_sample: int) -> str:
    """A sentence saying which rows a section's numbers come from."""
    sample = f"the sample of {n_sample} rows"
    return {
        "performance": f"Over all {n_rows} rows (ROC AUC: on {sample}).",
        "confusion": f"Counts over all {n_rows} rows.",
        "failures": f"Calibration over all {n_rows} rows; the failing slices, residuals and "
        f"surrogate tree on {sample}.",
        "importance": f"Permutation importance over all {n_rows} rows (each column shuffled "
        f"within its partition); SHAP values of rows of {sample}.",
        "fairness": f"Group metrics over all {n_rows} rows; proxies and flip tests on {sample}.",
    }.get(section.id, f"On {sample}.")


def _stated(
    report: Report, n_rows: int, positions: np.ndarray, random_state: int, max_samples: int,
    asked: int,
) -> Report:  # fmt: skip
    """The sample's report restated: all rows and the sample in ``meta``, a note at the
    top, and in each section's summary which rows it covers."""
    n_sample = len(positions)
    sections = tuple(
        dataclasses.replace(s, summary=f"{_coverage(s, n_rows, n_sample)} {s.summary}")
        for s in report.sections
    )
    meta: dict[str, Any] = {}
    for k, v in report.meta.items():
        meta[k] = v
        if k == "rows":
            meta[k] = n_rows
            meta["sampled rows"] = n_sample
            meta["sample"] = (
                f"{min(n_rows, max_samples)} row positions drawn without replacement by "
                f"numpy.random.default_rng({random_state})"
                + (f", and the {asked} rows asked for" if asked else "")
            )
    present = {sec.id for sec in sections}
    if report.meta.get("task") == "regression" and "failures" in present:
        present.add("residuals")  # a regressor's part of "Where the model fails"
    reduced = [what for sid, what in _REDUCED if sid in present]
    sampled = ["ROC AUC"] if report.meta.get("task") == "classification" else []
    sampled += [what for sid, what in _SAMPLED if sid in present]
    note = (
        f"The audited data has {n_rows} rows, read with Dask. Over all {n_rows} rows, on the "
        f"workers: {_listed(reduced)}. On a sample of {n_sample} rows (max_samples="
        f"{max_samples}, drawn without replacement with random_state={random_state}"
        + (f", with the {asked} rows asked for" if asked else "")
        + f"): {_listed(sampled)}."
    )
    results = dict(report.results)
    results["sample_rows"] = positions
    return dataclasses.replace(
        report, meta=meta, sections=sections, results=results, notes=(note, *report.notes)
    )


# (section id, what of it is reduced over all rows / read from the sample), in order
_REDUCED = (
    ("performance", "the performance metrics (ROC AUC excepted)"),
    ("confusion", "the confusion counts"),
    ("failures", "calibration"),
    ("fairness", "the fairness group metrics"),
    ("importance", "permutation importance"),
)
_SAMPLED = (
    ("errors", "the error analysis"),
    ("failures", "the failing slices and surrogate tree"),
    ("residuals", "the residuals by feature"),
    ("shap", "the SHAP values"),
    ("effects", "the feature effects"),
    ("fairness", "the proxies and flip tests"),
    ("local", "the local explanations"),
    ("quality", "the explanation quality checks"),
)


def _listed(items: list[str]) -> str:
    """Items in words: "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def audit_dask(
    model: Any,
    X: Any,
    y: Any,
    *,
    X_train: Any,
    y_train: Any,
    rows: Sequence[int] | None,
    class_names: Sequence[str] | None,
    random_state: Any,
    progress: bool | None,
    source: str,
    sensitive_features: Any,
    max_samples: int,
    run: Any,
) -> Report:
    """:func:`whybox.report.audit` of a dask DataFrame ``X`` (see its Notes); ``run`` is
    the in-memory audit (``_audit.audit_tabular``) that reads the sample."""
    import functools

    import dask

    from whybox.fairness import check_group_count

    max_samples = _check_inputs(X, y, random_state, max_samples)
    random_state = int(random_state)
    sensitive = _sensitive_items(X, sensitive_features)
    given_series = {name: series for name, series, column in sensitive if not column}
    X, y, given_series = _one_frame(X, y, given_series)
    sensitive = [
        (name, X[name] if column else given_series[name], column) for name, _, column in sensitive
    ]
    x_parts, y_parts = list(X.to_delayed()), list(y.to_delayed())
    s_parts = [list(s.to_delayed()) for _, s, column in sensitive if not column]
    names = [name for name, _, column in sensitive if column]
    counted = dask.compute(*[dask.delayed(_length_and_distinct)(p, names) for p in x_parts])
    lengths = [n for n, _ in counted]
    for j, name in enumerate(names):
        check_group_count(pd.unique(np.concatenate([d[j] for _, d in counted])), name)
    n_rows = int(sum(lengths))
    if n_rows == 0:
        raise InputError("X has no rows; give at least one labelled row.")
    row_list = check_rows(rows, n_rows) or []
    positions = _sample_positions(n_rows, max_samples, random_state, row_list)
    gathered = _gather([x_parts, y_parts, *s_parts], lengths, positions)
    X_s, y_s = gathered[0], gathered[1]
    given = iter(gathered[2:])
    sens_s = [name if column else next(given).rename(name) for name, _, column in sensitive]
    full = functools.partial(
        _full_data, X=X, y=y, sensitive=sensitive, n_rows=n_rows, positions=positions,
        random_state=random_state,
    )  # fmt: skip
    report = run(
        model, X_s, y_s, X_train=X_train, y_train=y_train,
        rows=[int(np.searchsorted(positions, r)) for r in row_list] or None,
        class_names=class_names, random_state=random_state, progress=progress, source=source,
        sensitive_features=sens_s or None, full=full,
    )  # fmt: skip
    return _stated(report, n_rows, positions, random_state, max_samples, len(row_list))
