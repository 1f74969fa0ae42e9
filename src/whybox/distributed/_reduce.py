"""Reductions over dask collections: each partition computes partial counts or sums on
its worker and the client adds the pieces.

The model is wrapped once in ``dask.delayed`` (one key in the graph, shipped to each
worker once) and every partition task refers to that key. Counts are added exactly;
sums of floats are added in another order than the in-memory call, so they agree with
it to rounding (about 1e-12 relative for the sizes of a partition, far below any
reported digit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import is_dask_collection, require_dask

__all__ = [
    "calibration_sums",
    "confusion_counts",
    "distinct_sample",
    "first_partition",
    "gather_column",
    "group_table",
    "partial_dependence",
    "permutation_importance",
    "regression_table",
    "sum_partitions",
]


# ---------------------------------------------------------------------- partitions
def _parts(X: Any, name: str) -> list[Any]:
    """The delayed partitions of a dask array (rows chunked, all columns in one chunk)
    or of a dask DataFrame/Series, in row order."""
    require_dask(f"passing a dask collection as {name}")
    if not is_dask_collection(X):
        raise InputError(
            f"{name} must be a dask collection like the other inputs, got "
            f"{type(X).__name__}; convert it with dask.array.from_array or "
            "dask.dataframe.from_pandas."
        )
    if hasattr(X, "divisions"):
        return list(X.to_delayed())
    if X.ndim == 2:
        X = X.rechunk({1: -1})
    return list(X.to_delayed().ravel())


def _aligned(X: Any, name_x: str, v: Any, name_v: str) -> list[Any]:
    """``v``'s partitions, aligned with those of ``X`` (rechunked to X's row chunks when
    both are dask arrays with known sizes)."""
    n_x = len(_parts(X, name_x))
    if (
        hasattr(v, "rechunk")
        and hasattr(X, "chunks")
        and not hasattr(X, "divisions")
        and not any(np.isnan(c) for c in X.chunks[0])
        and v.chunks[0] != X.chunks[0]
    ):
        v = v.rechunk({0: X.chunks[0]})
    parts = _parts(v, name_v)
    if len(parts) != n_x:
        raise InputError(
            f"{name_v} has {len(parts)} partitions but {name_x} has {n_x}; give both from "
            "the same dask DataFrame (e.g. df['y'] and df[features]) or with the same chunks."
        )
    return parts


def _vector(v: Any, name: str) -> np.ndarray:
    """One partition of a label/value vector as a 1-D numpy array (no missing values)."""
    if isinstance(v, pd.DataFrame):
        if v.shape[1] != 1:
            raise InputError(f"{name} must be one column, got {v.shape[1]}; pass df['col'].")
        v = v.iloc[:, 0]
    if isinstance(v, pd.Series):
        arr = v.to_numpy() if pd.api.types.is_numeric_dtype(v) else v.to_numpy(dtype=object)
    else:
        arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D but a partition has shape {arr.shape}.")
    missing = pd.isna(arr)
    if np.any(missing):
        raise InputError(
            f"{name} has {int(missing.sum())} missing labels (NaN/None) in a partition; "
            "drop those rows or fill them in."
        )
    return arr


def _same_length(a: np.ndarray, b: Any, name_a: str, name_b: str, k: int) -> None:
    if len(a) != len(b):
        raise InputError(
            f"partition {k}: {name_a} has {len(a)} rows but {name_b} has {len(b)}; give both "
            "from the same dask DataFrame or with the same chunks."
        )


def _compute(tasks: list[Any]) -> list[Any]:
    import dask

    return list(dask.compute(*tasks))


def _once(obj: Any) -> Any:
    """``obj`` as one key of the graph (shipped once, shared by every task)."""
    import dask

    return dask.delayed(obj, pure=True, traverse=False)


# ---------------------------------------------------------------------- confusion
def _pair_counts(t: Any, p: Any, k: int) -> Counter:
    ta, pa = _vector(t, "y_true"), _vector(p, "y_pred")
    _same_length(ta, pa, "y_true", "y_pred", k)
    frame = pd.DataFrame({"t": pd.Series(ta, dtype=object), "p": pd.Series(pa, dtype=object)})
    counts = frame.groupby(["t", "p"], sort=False).size()
    return Counter({key: int(c) for key, c in counts.items()})


def confusion_counts(y_true: Any, y_pred: Any, labels: Any = None) -> tuple[list[Any], np.ndarray]:
    """The classes and the confusion matrix (rows: true class) of dask label vectors.

    Each partition counts its (true, predicted) pairs; the client adds the counters,
    so the matrix equals the in-memory one exactly. ``labels`` (already checked by the
    caller, or None: every label found, sorted) orders the matrix.

    Returns
    -------
    classes : list
    matrix : ndarray of shape (n_classes, n_classes), int64
    """
    ref = y_true if is_dask_collection(y_true) else y_pred
    tp = _aligned(ref, "y_true", y_true, "y_true")
    pp = _aligned(ref, "y_true", y_pred, "y_pred")
    import dask

    tasks = [
        dask.delayed(_pair_counts)(t, p, k) for k, (t, p) in enumerate(zip(tp, pp, strict=True))
    ]
    total: Counter = Counter()
    for c in _compute(tasks):
        total.update(c)
    if not total:
        raise InputError("y_true is empty; give at least one label.")
    seen = {v for pair in total for v in pair}
    if labels is None:
        try:
            classes = sorted(seen)
        except TypeError:
            kinds = sorted({type(v).__name__ for v in seen})
            raise InputError(
                f"the labels mix types {kinds} that cannot be ordered; give labels of one "
                "type (e.g. all strings) or pass labels= in the order to show."
            ) from None
    else:
        classes = list(labels)
    index = pd.Index(classes, dtype=object)
    pairs = list(total)
    ti = index.get_indexer(pd.Index([a for a, _ in pairs], dtype=object))
    pi = index.get_indexer(pd.Index([b for _, b in pairs], dtype=object))
    for codes, name, pos in ((ti, "y_true", 0), (pi, "y_pred", 1)):
        if np.any(codes < 0):
            unknown = list(dict.fromkeys(pairs[i][pos] for i in np.flatnonzero(codes < 0)))[:5]
            raise InputError(
                f"{name} holds labels {unknown} that are not in labels {classes[:10]}; add "
                "them to labels or leave labels out to use every label found."
            )
    k = len(classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (ti, pi), np.asarray([total[p] for p in pairs], dtype=np.int64))
    return classes, matrix


# ---------------------------------------------------------------------- calibration
def _calibration_part(m: Any, X: Any, y: Any, n_bins: int, k: int) -> dict[str, Any]:
    """Per-curve bin counts and sums of one partition, and its Brier sum."""
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    y_arr = _vector(y, "y")
    _same_length(y_arr, np.empty(data.n_samples), "y", "X", k)
    classes = list(np.asarray(m.classes).tolist())
    codes = m.class_codes(y_arr)
    proba = m.predict_proba_all(data)
    onehot = np.eye(len(classes))[codes]
    if len(classes) == 2:
        pairs = [(proba[:, 1], codes == 1)]
        brier = float(np.sum((proba[:, 1] - onehot[:, 1]) ** 2))
    else:
        top = proba.argmax(axis=1)
        pairs = [(proba.max(axis=1), top == codes)]
        pairs += [(proba[:, j], codes == j) for j in range(len(classes))]
        brier = float(np.sum(((proba - onehot) ** 2).sum(axis=1)))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for prob, hit in pairs:
        idx = np.searchsorted(edges[1:-1], prob)
        bins.append(
            (
                np.bincount(idx, minlength=n_bins),
                np.bincount(idx, weights=prob, minlength=n_bins),
                np.bincount(idx, weights=hit.astype(np.float64), minlength=n_bins),
            )
        )
    return {"bins": bins, "brier": brier, "n": int(data.n_samples)}


def calibration_sums(model: Any, X: Any, y: Any, n_bins: int) -> dict[str, Any]:
    """Uniform-bin counts, sums of probabilities and of hits per curve, over a dask X.

    ``model`` is the adapted classifier (sent to the workers once). Returns ``bins``: a
    list over curves of (counts int64, sum_prob, sum_hit), each of shape (n_bins,);
    ``brier_sum`` and ``n`` (rows).
    """
    xp = _parts(X, "X")
    yp = _aligned(X, "X", y, "y")
    import dask

    model = _once(model)
    tasks = [
        dask.delayed(_calibration_part)(model, xk, yk, n_bins, k)
        for k, (xk, yk) in enumerate(zip(xp, yp, strict=True))
    ]
    pieces = _compute(tasks)
    bins = [
        tuple(sum(p["bins"][c][i] for p in pieces) for i in range(3))
        for c in range(len(pieces[0]["bins"]))
    ]
    return {
        "bins": [(c.astype(np.int64), sp, sh) for c, sp, sh in bins],
        "brier_sum": float(sum(p["brier"] for p in pieces)),
        "n": int(sum(p["n"] for p in pieces)),
    }


# ---------------------------------------------------------------------- partial dependence
def _pd_part(model: Any, X: Any, features: list[Any], kwargs: dict[str, Any]) -> tuple:
    from whybox.inspection import partial_dependence as pd_in_memory

    res = pd_in_memory(model, X, features, **kwargs)
    n = res.params["n_samples"]
    return res.average * n, n, res


def partial_dependence(
    model: Any,
    X: Any,
    features: Any,
    *,
    kind: str = "average",
    grid_resolution: int = 50,
    percentiles: tuple[float, float] = (0.05, 0.95),
    grid: str = "percentiles",
    custom_values: dict[Any, Any] | None = None,
    categorical_features: Any = None,
    centered: bool = False,
    method: str = "auto",
    output: str | None = None,
    max_samples: int | float | None = None,
    sample_weight: Any = None,
    random_state: Any = 0,
    batch_size: int | None = None,
) -> Any:
    """Brute-force partial dependence over a dask X: per-partition sums of the
    predictions at each grid point, added on the client.

    The grid needs the feature's distribution: unless ``custom_values`` gives it, the
    one or two feature columns are gathered to the client (``n`` values each, not
    ``X``) and the grid is the in-memory call's (same rule, same values). Each
    partition then runs the in-memory brute method on that grid, and the client
    averages the per-partition sums weighted by rows, so ``average`` equals the
    in-memory call to rounding (sums added in another order, ~1e-12 relative).

    Raises
    ------
    InputError
        ``kind`` other than "average" (one curve per row needs every row),
        ``method="recursion"``, ``max_samples`` or ``sample_weight`` with a dask X.
    """
    import dataclasses

    import dask

    from whybox.inspection import partial_dependence as pd_in_memory

    if kind != "average":
        raise InputError(
            f"kind={kind!r} returns one curve per row, which needs every row at once; use "
            "kind='average' with a dask X, or call X.compute() first."
        )
    for option, value, fix in (
        ("method", method if method == "recursion" else None, "method='brute'"),
        ("max_samples", max_samples, "sample X with X.sample(frac=...) first"),
        ("sample_weight", sample_weight, "leave it out or call X.compute() first"),
    ):
        if value is not None:
            raise InputError(f"{option}={value!r} is not supported with a dask X; use {fix}.")
    feats = list(features) if isinstance(features, (tuple, list)) else [features]
    custom = dict(custom_values or {})
    is_frame = hasattr(X, "divisions")
    missing = [f for f in feats if f not in custom]
    if missing:
        # the grid rule needs each feature's whole column: gather those columns only
        if is_frame:
            names = [X.columns[f] if isinstance(f, (int, np.integer)) else f for f in missing]
            cols = X[names].compute()
        else:
            idx = [int(f) if isinstance(f, (int, np.integer)) else int(str(f)[1:]) for f in missing]
            cols = pd.DataFrame(np.asarray(X[:, idx].compute()), columns=[f"x{i}" for i in idx])
        for f, name in zip(missing, cols.columns, strict=True):
            col = cols[name]
            probe = pd.DataFrame({name: col})
            res = pd_in_memory(
                _zeros,
                probe,
                name,
                grid_resolution=grid_resolution,
                percentiles=percentiles,
                grid=grid,
                categorical_features=(
                    [name]
                    if categorical_features is not None
                    and f in list(np.atleast_1d(categorical_features))
                    else None
                ),
                max_samples=1,
                method="brute",
            )
            custom[f] = res.grid_values[0]
    kwargs = {
        "kind": "average",
        "grid_resolution": grid_resolution,
        "percentiles": percentiles,
        "grid": grid,
        "custom_values": custom,
        "categorical_features": categorical_features,
        "centered": False,
        "method": "brute",
        "output": output,
        "batch_size": batch_size,
    }
    model_key = _once(model)
    tasks = [dask.delayed(_pd_part)(model_key, xk, feats, kwargs) for xk in _parts(X, "X")]
    pieces = _compute(tasks)
    n = sum(p[1] for p in pieces)
    avg = sum(p[0] for p in pieces) / n
    if centered:
        first = avg.reshape(avg.shape[0], -1)[:, :1]
        avg = (avg.reshape(avg.shape[0], -1) - first).reshape(avg.shape)
    base = pieces[0][2]
    params = dict(base.params)
    params.update(
        {
            "custom_values": sorted(str(f) for f in (custom_values or {})),
            "method": method,
            "n_samples": int(n),
            "n_given": int(n),
            "random_state": random_state if isinstance(random_state, int) else None,
        }
    )
    return dataclasses.replace(base, average=avg, centered=bool(centered), params=params)


def _zeros(X: Any) -> np.ndarray:
    """A stand-in model of one column, only so that the in-memory grid rule can be run
    on a gathered feature column (its predictions are never used for a result)."""
    return np.zeros(len(X))


# ---------------------------------------------------------------------- permutation importance
_DECOMPOSABLE = ("accuracy", "neg_log_loss", "neg_mean_squared_error", "r2")


def _score_pieces(m: Any, Xv: np.ndarray, y: np.ndarray, scoring: str) -> np.ndarray:
    """The additive pieces of ``scoring`` on these rows (see :func:`_score_from`)."""
    n = float(len(y))
    if scoring in ("accuracy", "neg_log_loss"):
        proba = m.predict_proba_all(Xv)
        classes = np.asarray(m.classes)
        if scoring == "accuracy":
            label = classes[proba.argmax(axis=1)]
            return np.array([float(np.sum(label == y)), n])
        eps = np.finfo(proba.dtype).eps
        clipped = np.clip(proba, eps, 1 - eps)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        codes = pd.Index(classes.tolist(), dtype=object).get_indexer(
            pd.Index(y.tolist(), dtype=object)
        )
        return np.array([float(-np.sum(np.log(clipped[np.arange(len(y)), codes]))), n])
    out = m.predict(Xv, "raw")
    if out.shape[1] != 1:
        raise InputError(
            f"scoring={scoring!r} scores one regression target but the model has "
            f"{out.shape[1]} outputs; wrap the model to return one output."
        )
    res = np.asarray(y, dtype=np.float64) - out[:, 0]
    if scoring == "neg_mean_squared_error":
        return np.array([float(np.sum(res**2)), n])
    yf = np.asarray(y, dtype=np.float64)
    mean = float(yf.mean()) if len(yf) else 0.0
    return np.array([n, mean, float(np.sum((yf - mean) ** 2)), float(np.sum(res**2))])


def _add_pieces(a: np.ndarray, b: np.ndarray, scoring: str) -> np.ndarray:
    """Pieces of two disjoint row sets added (R^2: n, mean and M2 by Chan's rule)."""
    if scoring != "r2":
        return a + b
    n = a[0] + b[0]
    if n == 0:
        return a.copy()
    delta = b[1] - a[1]
    mean = a[1] + delta * b[0] / n
    m2 = a[2] + b[2] + delta**2 * a[0] * b[0] / n
    return np.array([n, mean, m2, a[3] + b[3]])


def _score_from(pieces: np.ndarray, scoring: str) -> float:
    if scoring == "accuracy":
        return float(pieces[0] / pieces[1])
    if scoring in ("neg_log_loss", "neg_mean_squared_error"):
        return float(-pieces[0] / pieces[1])
    ss_tot, ss_res = pieces[2], pieces[3]
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return float(1.0 - ss_res / ss_tot)


def _pi_part(
    m: Any,
    X: Any,
    y: Any,
    columns: list[np.ndarray],
    n_repeats: int,
    seed: int,
    k: int,
    scoring: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline pieces (q,) and permuted pieces (p, n_repeats, q) of partition ``k``;
    each column group is permuted within the partition, by ``default_rng([seed, k])``."""
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    Xv = data.values
    y_arr = _vector(y, "y")
    _same_length(y_arr, Xv, "y", "X", k)
    if m.task == "classification":
        known = np.isin(y_arr, np.asarray(m.classes))
        if not known.all():
            raise InputError(
                f"y holds label(s) {pd.unique(y_arr[~known])[:5].tolist()} that are not among "
                f"the model's classes; give y in the model's labels."
            )
    base = _score_pieces(m, Xv, y_arr, scoring)
    rng = np.random.default_rng([seed, k])
    out = np.empty((len(columns), n_repeats, len(base)))
    for r in range(n_repeats):
        perms = [rng.permutation(len(y_arr)) for _ in columns]
        for j, cols in enumerate(columns):
            Xs = Xv.copy()
            Xs[:, cols] = Xv[np.ix_(perms[j], cols)]
            out[j, r] = _score_pieces(m, Xs, y_arr, scoring)
    return base, out


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | None = None,
    n_repeats: int = 5,
    random_state: Any = 0,
    feature_groups: Any = None,
    sample_weight: Any = None,
    max_samples: int | float | None = None,
    batch_size: int | None = None,
    confidence_level: float = 0.95,
    early_stop: bool = False,
    top_k: int | None = None,
    tol: float = 0.0,
    correlation_threshold: float = 0.7,
) -> Any:
    """Permutation importance over a dask X: each partition scores its rows with each
    column (group) permuted *within the partition*, returning the additive pieces of
    the score; the client adds them and takes baseline minus permuted score.

    Decomposable scores only: "accuracy", "neg_log_loss", "neg_mean_squared_error"
    (sums and a count) and "r2" (count, mean and centred sum of squares of y, merged
    by Chan's rule, and the residual sum of squares). ``baseline_score`` equals the
    in-memory call to rounding (~1e-12 relative). The permutations are seeded by
    ``numpy.random.default_rng([random_state, partition])``: reproducible for the
    same partitioning, but not the in-memory call's draws (a row's permuted value
    comes from its own partition), so each repeat's importance differs from the
    in-memory one while estimating the same quantity when the partitions are
    exchangeable (rows not sorted by a feature); its mean over repeats agrees within
    the repeats' standard error.

    Raises
    ------
    InputError
        Another scoring (not decomposable into per-partition sums: score a sample,
        ``X.sample(frac=...).compute()``), ``sample_weight``, ``max_samples``,
        ``early_stop``, ``feature_groups="correlated"`` or a ``random_state`` that is not
        an int.
    """
    import dask

    from whybox._utils import check_confidence_level, check_int, json_value, resolve_players
    from whybox.adapters import adapt_model
    from whybox.inspection import PermutationImportance

    m = adapt_model(model)
    if scoring is None:
        scoring = "accuracy" if m.task == "classification" else "r2"
    if scoring not in _DECOMPOSABLE:
        raise InputError(
            f"scoring={scoring!r} is not a sum over rows, so it cannot be reduced over dask "
            f"partitions; use one of {_DECOMPOSABLE}, or score a sample with "
            "X.sample(frac=...).compute()."
        )
    for option, value, fix in (
        ("sample_weight", sample_weight, "leave it out or call X.compute() first"),
        ("max_samples", max_samples, "sample X with X.sample(frac=...) first"),
        ("early_stop", early_stop or None, "early_stop=False"),
        ("feature_groups", feature_groups if isinstance(feature_groups, str) else None,
         "a dict of group name -> columns"),
    ):  # fmt: skip
        if value is not None:
            raise InputError(f"{option}={value!r} is not supported with a dask X; use {fix}.")
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, (int, np.integer)
    ):
        raise InputError(
            f"random_state must be an int seed with a dask X (it seeds each partition's "
            f"permutations), got {type(random_state).__name__}; e.g. random_state=0."
        )
    n_repeats = check_int(n_repeats, "n_repeats", 1, "n_repeats=5")
    level = check_confidence_level(confidence_level)
    if hasattr(X, "divisions"):
        names = [str(c) for c in X.columns]
    else:
        names = [f"x{j}" for j in range(X.shape[1])]
    players = resolve_players(feature_groups, names)
    columns = [np.asarray(c) for c in players.columns]
    xp = _parts(X, "X")
    yp = _aligned(X, "X", y, "y")
    key = _once(m)
    tasks = [
        dask.delayed(_pi_part)(key, xk, yk, columns, n_repeats, int(random_state), k, scoring)
        for k, (xk, yk) in enumerate(zip(xp, yp, strict=True))
    ]
    pieces = _compute(tasks)
    base, perm = pieces[0]
    for b, pm in pieces[1:]:
        base = _add_pieces(base, b, scoring)
        perm = np.array(
            [[_add_pieces(perm[j, r], pm[j, r], scoring) for r in range(n_repeats)]
             for j in range(len(columns))]
        )  # fmt: skip
    baseline = _score_from(base, scoring)
    importances = np.array(
        [[baseline - _score_from(perm[j, r], scoring) for r in range(n_repeats)]
         for j in range(len(columns))]
    )  # fmt: skip
    n = int(base[0] if scoring == "r2" else base[1])
    params = {
        "n_repeats": n_repeats,
        "random_state": json_value(random_state),
        "feature_groups": players.groups_as_dict() if players.grouped else None,
        "max_samples": None,
        "n_samples_per_repeat": n,
        "sample_weight": False,
        "batch_size": json_value(batch_size),
        "confidence_level": level,
        "early_stop": False,
        "n_repeats_done": n_repeats,
        "stopped_early": False,
        "permuted_within": "partition",
        "n_partitions": len(xp),
    }
    return PermutationImportance(
        importances=importances,
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        feature_names=players.names,
        baseline_score=float(baseline),
        scoring=scoring,
        params=params,
        confidence_level=level,
    )


# ---------------------------------------------------------------------- group metrics
_KEYS = ("\0y_true", "\0y_pred")


def _sensitive_dask(sensitive_features: Any) -> list[tuple[str, Any]]:
    """(name, dask column) of each sensitive feature, named as the in-memory call names
    them."""
    sf = sensitive_features
    if isinstance(sf, Mapping):
        return [(str(k), v) for k, v in sf.items()]
    if hasattr(sf, "divisions") and sf.ndim == 2:
        return [(str(c), sf[c]) for c in sf.columns]
    if hasattr(sf, "divisions"):
        return [(str(sf.name) if sf.name is not None else "sensitive_feature_0", sf)]
    if getattr(sf, "ndim", 0) == 2:
        return [(f"sensitive_feature_{j}", sf[:, j]) for j in range(sf.shape[1])]
    return [("sensitive_feature_0", sf)]


def _group_part(
    y_true: Any, y_pred: Any, sens: list[Any], names: list[str], prob: Any, k: int
) -> pd.DataFrame:
    """Rows of partition ``k`` counted by (sensitive values, true, predicted) label, with
    the sums of ``prob`` and of its square."""
    t = _vector(y_true, "y_true")
    frame = {}
    for j, (name, s) in enumerate(zip(names, sens, strict=True)):
        col = _vector(s, f"sensitive feature {name!r}")
        _same_length(t, col, "y_true", f"sensitive feature {name!r}", k)
        frame[f"s{j}"] = col
    p = _vector(y_pred, "y_pred")
    _same_length(t, p, "y_true", "y_pred", k)
    frame[_KEYS[0]], frame[_KEYS[1]] = t, p
    # one integer code per row: the mixed-radix code of its keys' factorized values
    combined = np.zeros(len(t), dtype=np.int64)
    uniques = []
    for values in frame.values():
        codes, u = pd.factorize(values)
        combined = combined * len(u) + codes
        uniques.append(u)
    present, inverse = np.unique(combined, return_inverse=True)
    out = {}
    rest = present
    for key, u in reversed(list(zip(frame, uniques, strict=True))):
        out[key] = np.asarray(u)[rest % len(u)]
        rest = rest // len(u)
    table = pd.DataFrame({key: out[key] for key in frame})
    if prob is not None:
        pr = np.asarray(_vector(prob, "y_prob"), dtype=np.float64)
        _same_length(t, pr, "y_true", "y_prob", k)
        if np.any((pr < 0) | (pr > 1)):
            raise InputError(
                f"y_prob holds values outside [0, 1] in partition {k}; give the predicted "
                "probability of pos_label."
            )
        table["\0p"] = np.bincount(inverse, weights=pr, minlength=len(present))
        table["\0p2"] = np.bincount(inverse, weights=pr**2, minlength=len(present))
    else:
        table["\0p"], table["\0p2"] = 0.0, 0.0
    table["\0n"] = np.bincount(inverse, minlength=len(present)).astype(np.int64)
    return table


def group_table(
    y_true: Any, y_pred: Any, sensitive_features: Any, y_prob: Any = None
) -> tuple[list[str], pd.DataFrame]:
    """Rows of dask inputs counted by (sensitive values, true label, predicted label).

    Each partition groups its rows; the client adds the tables. Returns the sensitive
    feature names and a table with one row per combination present: columns ``s0``,
    ``s1``, ... (the sensitive values), ``"\\0y_true"``, ``"\\0y_pred"``, ``"\\0n"``
    (rows, exact), ``"\\0p"`` and ``"\\0p2"`` (sums of ``y_prob`` and of its square).
    """
    import dask

    cols = _sensitive_dask(sensitive_features)
    names = [c[0] for c in cols]
    ref = y_true
    tp = _parts(ref, "y_true")
    pp = _aligned(ref, "y_true", y_pred, "y_pred")
    sp = [_aligned(ref, "y_true", c, f"sensitive feature {n!r}") for n, c in cols]
    prp = _aligned(ref, "y_true", y_prob, "y_prob") if y_prob is not None else None
    tasks = [
        dask.delayed(_group_part)(
            tp[k], pp[k], [s[k] for s in sp], names, None if prp is None else prp[k], k
        )
        for k in range(len(tp))
    ]
    pieces = [p for p in _compute(tasks) if len(p)]
    if not pieces:
        raise InputError("y_true is empty; give at least one row.")
    keys = [f"s{j}" for j in range(len(names))] + list(_KEYS)
    table = pd.concat(pieces, ignore_index=True).groupby(keys, sort=False).sum().reset_index()
    table["\0n"] = table["\0n"].astype(np.int64)
    return names, table


# ---------------------------------------------------------------------- generic
def sum_partitions(reducer: Any, X: Any, model: Any, *args: Any) -> tuple[Any, ...]:
    """``reducer(model, partition, *args)`` on each partition of ``X`` (a tuple of arrays or
    numbers), added element by element on the client.

    ``reducer`` must be a module-level function (sent to the workers by reference); the
    model is one key of the graph, shipped to each worker once.
    """
    import dask

    key = _once(model)
    pieces = _compute([dask.delayed(reducer)(key, xk, *args) for xk in _parts(X, "X")])
    return tuple(sum(p[i] for p in pieces) for i in range(len(pieces[0])))


def first_partition(X: Any) -> Any:
    """The first partition of ``X`` in memory (a pandas DataFrame or numpy array): what
    a caller reads the column names and dtypes from."""
    return _parts(X, "X")[0].compute()


def gather_column(X: Any, feature: int) -> np.ndarray:
    """Column ``feature`` of a dask X, gathered to the client (``n`` values, not ``X``)."""
    if hasattr(X, "divisions"):
        return X[X.columns[feature]].compute().to_numpy()
    return np.asarray(X[:, feature].compute())


def _few_values(y_pred: Any) -> np.ndarray:
    """Up to three distinct values of one partition (dtype kept)."""
    arr = _vector(y_pred, "y_pred")
    return pd.unique(arr)[:3] if arr.dtype != object else np.asarray(pd.unique(arr)[:3])


def distinct_sample(y_pred: Any) -> np.ndarray:
    """Up to three distinct values per partition of a dask vector, joined: enough to tell
    a classification's labels (at most two values, or not numbers) from a regression's.
    """
    import dask

    pieces = _compute([dask.delayed(_few_values)(p) for p in _parts(y_pred, "y_pred")])
    joined = np.concatenate(pieces) if pieces else np.empty(0)
    return pd.unique(joined) if joined.dtype != object else np.asarray(pd.unique(joined))


def _numeric_part(v: Any, name: str) -> np.ndarray:
    arr = _vector(v, name)
    if arr.dtype.kind not in "biuf":
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{name} must hold numbers for a regression, got values such as {arr[0]!r}; "
                "pass numeric targets or task='classification'."
            ) from None
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(
            f"{name} holds {int(np.sum(~np.isfinite(arr)))} infinite values; drop or clip "
            "those rows."
        )
    return arr


_REG = ("\0n", "\0f", "\0absres", "\0res", "\0y", "\0sq")


def _regression_part(
    y_true: Any, y_pred: Any, sens: list[Any], names: list[str], k: int
) -> pd.DataFrame:
    """Per sensitive combination of partition ``k``: rows, sums of the prediction,
    |residual|, residual, target and squared residual, the target's centred sum of
    squares (M2), minimum and maximum."""
    y = _numeric_part(y_true, "y_true")
    f = _numeric_part(y_pred, "y_pred")
    _same_length(y, f, "y_true", "y_pred", k)
    combined = np.zeros(len(y), dtype=np.int64)
    keys, uniques = [], []
    for j, (name, s) in enumerate(zip(names, sens, strict=True)):
        col = _vector(s, f"sensitive feature {name!r}")
        _same_length(y, col, "y_true", f"sensitive feature {name!r}", k)
        codes, u = pd.factorize(col)
        combined = combined * len(u) + codes
        keys.append(f"s{j}")
        uniques.append(u)
    present, inv = np.unique(combined, return_inverse=True)
    out: dict[str, Any] = {}
    rest = present
    for key, u in reversed(list(zip(keys, uniques, strict=True))):
        out[key] = np.asarray(u)[rest % len(u)]
        rest = rest // len(u)
    table = pd.DataFrame({key: out[key] for key in keys})
    g = len(present)
    res = f - y
    n = np.bincount(inv, minlength=g).astype(np.float64)
    for col, values in zip(_REG[1:], (f, np.abs(res), res, y, res**2), strict=True):
        table[col] = np.bincount(inv, weights=values, minlength=g)
    table[_REG[0]] = n
    mean = table["\0y"].to_numpy() / n
    table["\0m2"] = np.bincount(inv, weights=(y - mean[inv]) ** 2, minlength=g)
    lo, hi = np.full(g, np.inf), np.full(g, -np.inf)
    np.minimum.at(lo, inv, y)
    np.maximum.at(hi, inv, y)
    table["\0min"], table["\0max"] = lo, hi
    return table


def regression_table(
    y_true: Any, y_pred: Any, sensitive_features: Any
) -> tuple[list[str], pd.DataFrame]:
    """A regression's rows summarised per sensitive combination over dask inputs.

    Columns ``s0``, ``s1``, ... (the sensitive values) and, per combination, ``"\\0n"``
    (rows), sums ``"\\0f"``, ``"\\0absres"``, ``"\\0res"``, ``"\\0y"``, ``"\\0sq"``
    (prediction, |residual|, residual, target, squared residual), ``"\\0m2"`` (the
    target's sum of squares about the combination's mean, merged across partitions by
    Chan's rule), ``"\\0min"`` and ``"\\0max"`` of the target.
    """
    import dask

    cols = _sensitive_dask(sensitive_features)
    names = [c[0] for c in cols]
    tp = _parts(y_true, "y_true")
    pp = _aligned(y_true, "y_true", y_pred, "y_pred")
    sp = [_aligned(y_true, "y_true", c, f"sensitive feature {n!r}") for n, c in cols]
    tasks = [
        dask.delayed(_regression_part)(tp[k], pp[k], [s[k] for s in sp], names, k)
        for k in range(len(tp))
    ]
    pieces = [p for p in _compute(tasks) if len(p)]
    if not pieces:
        raise InputError("y_true is empty; give at least one row.")
    cat = pd.concat(pieces, ignore_index=True)
    keys = [f"s{j}" for j in range(len(names))]
    grouped = cat.groupby(keys, sort=False)
    n_all = grouped["\0n"].transform("sum").to_numpy()
    mean_all = grouped["\0y"].transform("sum").to_numpy() / n_all
    part_mean = cat["\0y"].to_numpy() / cat["\0n"].to_numpy()
    cat["\0m2"] = cat["\0m2"].to_numpy() + cat["\0n"].to_numpy() * (part_mean - mean_all) ** 2
    sums = grouped[[*_REG, "\0m2"]].sum()
    table = sums.join(grouped["\0min"].min()).join(grouped["\0max"].max()).reset_index()
    return names, table
