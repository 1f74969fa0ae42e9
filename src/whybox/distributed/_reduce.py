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
from sklearn.base import BaseEstimator, ClassifierMixin

from whybox._exceptions import InputError
from whybox._utils import is_dask_collection, require_dask, rows_to_draw, shorten

__all__ = [
    "calibration_sums",
    "confusion_counts",
    "distinct_sample",
    "exact_percentiles",
    "first_partition",
    "frame_partitions",
    "gather_column",
    "group_table",
    "partial_dependence",
    "partition_lengths",
    "permutation_importance",
    "poisson_weights",
    "regression_table",
    "sum_numbered_partitions",
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
        parts = frame_partitions(X)
        if X.ndim != 2:
            return parts
        import dask

        columns = [str(c) for c in X._meta.columns]
        kinds = [_dtype_kind(t) for t in X._meta.dtypes]
        return [
            dask.delayed(check_partition, pure=True)(p, k, name, columns, kinds)
            for k, p in enumerate(parts)
        ]
    if X.ndim == 2:
        X = X.rechunk({1: -1})
    return list(X.to_delayed().ravel())


def frame_partitions(X: Any) -> list[Any]:
    """The delayed partitions of a dask DataFrame or Series, one per ``X.npartitions``.

    dask's optimiser may fuse the partitions of a narrow column projection of a Parquet
    table (``df["y"]`` of a wide file then has half as many as ``df[features]``), so two
    collections of one frame would no longer pair partition by partition. The optimised
    graph is kept where it fuses nothing; otherwise the unoptimised one (whose partition
    k is the frame's partition k, read with all its columns) is used.
    """
    parts = list(X.to_delayed())
    if len(parts) == X.npartitions:
        return parts
    return list(X.to_delayed(optimize_graph=False))


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


def _dtype_kind(dtype: Any) -> str:
    """A column's dtype as partitions must agree on it: text (object or any string
    dtype, as dask may convert one to the other), "category" (categories may differ),
    otherwise the dtype's name."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if getattr(dtype, "kind", "") == "O" or pd.api.types.is_string_dtype(dtype):
        return "text"
    return str(dtype)


def check_partition(part: Any, k: int, name: str, columns: list[str], kinds: list[str]) -> Any:
    """``part`` (partition ``k`` of the dask DataFrame ``name``) unchanged, or an
    InputError naming the partition and its first difference from the frame's meta
    (``columns`` and their :func:`_dtype_kind`)."""
    if not isinstance(part, pd.DataFrame):
        return part
    have = [str(c) for c in part.columns]
    missing = [c for c in columns if c not in have]
    extra = [c for c in have if c not in columns]
    if missing:
        what = f"lacks the column {shorten(missing[0])}" + (
            f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        )
    elif extra:
        what = f"has the column {shorten(extra[0])}, which the frame's meta has not"
    elif have != columns:
        what = "has its columns in another order than the frame's meta"
    else:
        bad = [
            (c, _dtype_kind(t), want)
            for c, t, want in zip(columns, part.dtypes, kinds, strict=True)
            if _dtype_kind(t) != want
        ]
        if not bad:
            return part
        what = f"holds {bad[0][1]} in column {shorten(bad[0][0])}, not {bad[0][2]} as the meta says"
    raise InputError(
        f"partition {k} of {name} {what}; give every partition the same columns of the "
        "same dtypes (cast or fix that partition's source, or rebuild the frame)."
    )


def _compute(tasks: list[Any], *sources: tuple[Any, str]) -> list[Any]:
    """The tasks computed; an error that is not an InputError is traced to the first
    partition of the ``(collection, name)`` sources that cannot be computed on its own
    and raised as one InputError naming it (the original error chained)."""
    import dask

    return _traced(dask.compute, tasks, sources)


def _traced(run: Any, tasks: list[Any], sources: tuple[tuple[Any, str], ...]) -> list[Any]:
    """``run(*tasks)`` (dask.compute or dask.persist) as a list, with a failing partition
    of ``sources`` named (see :func:`_compute`)."""
    try:
        return list(run(*tasks))
    except InputError:
        raise
    except Exception as exc:
        located = locate_bad_partition(exc, *sources)
        if located is None:
            raise
        raise located from exc


def locate_bad_partition(exc: BaseException, *sources: tuple[Any, str]) -> InputError | None:
    """After ``exc``, the first partition of the dask DataFrames/Series ``sources`` that
    fails when computed alone, as an InputError naming it; None if every partition
    computes (the error lies elsewhere: re-raise it). Reads the partitions in order up
    to the failing one, on the error path only."""
    for coll, name in sources:
        if not hasattr(coll, "divisions"):
            continue
        for k, part in enumerate(frame_partitions(coll)):
            try:
                part.compute()
            except Exception as err:
                text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
                line = text.strip().splitlines()[0] if text.strip() else ""
                line = line if len(line) <= 120 else line[:117] + "..."
                return InputError(
                    f"partition {k} of {name} cannot be computed ({type(err).__name__}: "
                    f"{line}); give every partition the same columns of the "
                    "same dtypes as the frame's meta (cast or fix that partition's source)."
                )
    return None


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
    for c in _compute(tasks, (y_true, "y_true"), (y_pred, "y_pred")):
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
def _curve_pairs(proba: np.ndarray, codes: np.ndarray) -> tuple[list[tuple], float]:
    """Each reliability curve's (probability, hit) per row, and the Brier sum."""
    k = proba.shape[1]
    onehot = np.eye(k)[codes]
    if k == 2:
        return [(proba[:, 1], codes == 1)], float(np.sum((proba[:, 1] - onehot[:, 1]) ** 2))
    top = proba.argmax(axis=1)
    pairs = [(proba.max(axis=1), top == codes)]
    pairs += [(proba[:, j], codes == j) for j in range(k)]
    return pairs, float(np.sum(((proba - onehot) ** 2).sum(axis=1)))


def _calibration_part(m: Any, X: Any, y: Any, n_bins: int, k: int) -> dict[str, Any]:
    """Per-curve bin counts and sums of one partition, and its Brier sum."""
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    y_arr = _vector(y, "y")
    _same_length(y_arr, np.empty(data.n_samples), "y", "X", k)
    codes = m.class_codes(y_arr)
    proba = m.predict_proba_all(data)
    pairs, brier = _curve_pairs(proba, codes)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = _bins_of({"sorted": [p for p, _ in pairs], "hits": [h for _, h in pairs]},
                    [edges] * len(pairs))  # fmt: skip
    return {"bins": bins, "brier": brier, "n": int(data.n_samples)}


def calibration_sums(
    model: Any, X: Any, y: Any, n_bins: int, strategy: str = "uniform"
) -> dict[str, Any]:
    """Bin counts, sums of probabilities and of hits per curve, over a dask X.

    ``model`` is the adapted classifier (sent to the workers once). ``strategy``:
    "uniform" (equal-width bins on [0, 1], one pass) or "quantile" (edges at the
    exact quantiles of all rows' probabilities, see
    :func:`_calibration_quantile_sums`). Returns ``bins``: a list over curves of
    (counts int64, sum_prob, sum_hit), each of shape (n_bins,); ``brier_sum`` and
    ``n`` (rows); with "quantile", ``edges`` too (one array of n_bins + 1 per curve).
    """
    if strategy == "quantile":
        return _calibration_quantile_sums(model, X, y, n_bins)
    xp = _parts(X, "X")
    yp = _aligned(X, "X", y, "y")
    import dask

    model = _once(model)
    tasks = [
        dask.delayed(_calibration_part)(model, xk, yk, n_bins, k)
        for k, (xk, yk) in enumerate(zip(xp, yp, strict=True))
    ]
    pieces = _compute(tasks, (X, "X"), (y, "y"))
    bins = [
        tuple(sum(p["bins"][c][i] for p in pieces) for i in range(3))
        for c in range(len(pieces[0]["bins"]))
    ]
    return {
        "bins": [(c.astype(np.int64), sp, sh) for c, sp, sh in bins],
        "brier_sum": float(sum(p["brier"] for p in pieces)),
        "n": int(sum(p["n"] for p in pieces)),
    }


def _calibration_rows(m: Any, X: Any, y: Any, k: int) -> dict[str, Any]:
    """Each curve's probabilities of partition ``k``, sorted (``"sorted"``), with the hits
    in the same order (``"hits"``), its Brier sum and rows."""
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    y_arr = _vector(y, "y")
    _same_length(y_arr, np.empty(data.n_samples), "y", "X", k)
    codes = m.class_codes(y_arr)
    proba = m.predict_proba_all(data)
    pairs, brier = _curve_pairs(proba, codes)
    out: dict[str, Any] = {"sorted": [], "hits": [], "brier": brier, "n": int(data.n_samples)}
    for prob, hit in pairs:
        if np.isnan(prob).any():
            raise InputError(
                f"the model returned NaN probabilities for {int(np.isnan(prob).sum())} rows "
                f"of partition {k}; fix those rows of X (or the model) first."
            )
        order = np.argsort(prob, kind="stable")
        out["sorted"].append(prob[order] + 0.0)
        out["hits"].append(hit[order])
    return out


def _calibration_summary(obj: dict[str, Any]) -> tuple[int, float]:
    return obj["n"], obj["brier"]


def _bins_of(obj: dict[str, Any], edges: list[np.ndarray]) -> list[tuple[np.ndarray, ...]]:
    """Each curve's bin counts and sums of probabilities and hits, bins at ``edges``
    (as :func:`whybox.debugging.reliability_curve` bins)."""
    out = []
    for prob, hit, e in zip(obj["sorted"], obj["hits"], edges, strict=True):
        idx = np.searchsorted(e[1:-1], prob)
        nb = len(e) - 1
        out.append(
            (
                np.bincount(idx, minlength=nb),
                np.bincount(idx, weights=prob, minlength=nb),
                np.bincount(idx, weights=hit.astype(np.float64), minlength=nb),
            )
        )
    return out


def _calibration_quantile_sums(model: Any, X: Any, y: Any, n_bins: int) -> dict[str, Any]:
    """:func:`calibration_sums` with each curve's bin edges at the quantiles of all rows'
    probabilities (``numpy.percentile(prob, linspace(0, 100, n_bins + 1))``, exact).

    Each partition predicts once and keeps its probabilities, sorted, on its worker;
    :func:`exact_percentiles`' passes find the edges (equal to numpy's on the same rows,
    bit for bit), and a last pass bins the rows. Holds one float and one flag per row
    and curve on the workers until it returns.
    """
    import dask

    xp = _parts(X, "X")
    yp = _aligned(X, "X", y, "y")
    model = _once(model)
    tasks = [
        dask.delayed(_calibration_rows)(model, xk, yk, k)
        for k, (xk, yk) in enumerate(zip(xp, yp, strict=True))
    ]
    parts = _persist(tasks, (X, "X"), (y, "y"))
    summary = _compute([dask.delayed(_calibration_summary)(p) for p in parts])
    n = int(sum(s[0] for s in summary))
    if n == 0:
        raise InputError("X has no rows; give at least one labelled row.")
    n_curves = int(_compute([dask.delayed(_n_series)(parts[0])])[0])
    q = np.linspace(0, 100, n_bins + 1)
    edges = _percentiles_of(parts, [n] * n_curves, q)
    pieces = _compute([dask.delayed(_bins_of)(p, edges) for p in parts])
    bins = [tuple(sum(p[c][i] for p in pieces) for i in range(3)) for c in range(n_curves)]
    return {
        "bins": [(c.astype(np.int64), sp, sh) for c, sp, sh in bins],
        "brier_sum": float(sum(s[1] for s in summary)),
        "n": n,
        "edges": edges,
    }


# ---------------------------------------------------------------------- exact quantiles
_GATHER = 65536  # rows in a rank's bracket gathered to the client instead of split again
_SPLITS = 256  # pieces each bracket is split into per pass
_LOW63 = np.int64(0x7FFFFFFFFFFFFFFF)


def _float_keys(a: np.ndarray) -> np.ndarray:
    """Integers in the order of the floats ``a`` (no NaN, -0.0 already made +0.0): the
    bits of a non-negative float, the low 63 bits flipped for a negative one."""
    i = np.ascontiguousarray(a, dtype=np.float64).view(np.int64)
    return np.where(i < 0, i ^ _LOW63, i)


def _key_floats(k: np.ndarray) -> np.ndarray:
    """The floats of :func:`_float_keys`' integers."""
    k = np.asarray(k, dtype=np.int64)
    return np.ascontiguousarray(np.where(k < 0, k ^ _LOW63, k)).view(np.float64)


def _sorted_numbers(v: Any, name: str, k: int) -> np.ndarray:
    """One partition of a numeric vector, sorted, -0.0 as +0.0; NaN refused."""
    arr = np.asarray(v, dtype=np.float64).ravel()
    if np.isnan(arr).any():
        raise InputError(
            f"{name} holds {int(np.isnan(arr).sum())} NaN values in partition {k}; drop or "
            "fill them before taking quantiles."
        )
    return np.sort(arr) + 0.0


def _count_at_most(obj: dict[str, Any], points: list[np.ndarray]) -> list[np.ndarray]:
    """For each series of the partition, its values' count at most each key point."""
    return [
        np.searchsorted(_float_keys(s), p, side="right").astype(np.int64)
        for s, p in zip(obj["sorted"], points, strict=True)
    ]


def _keys_between(obj: dict[str, Any], brackets: list[list[tuple[int, int]]]) -> list[Any]:
    """For each series and (a, b] key bracket, the partition's keys inside it."""
    out = []
    for s, pairs in zip(obj["sorted"], brackets, strict=True):
        keys = _float_keys(s)
        out.append(
            [keys[np.searchsorted(keys, a, "right") : np.searchsorted(keys, b, "right")]
             for a, b in pairs]
        )  # fmt: skip
    return out


def _order_statistics(parts: list[Any], n: list[int], ranks: list[np.ndarray]) -> list[np.ndarray]:
    """The values at 0-based ``ranks[s]`` of series ``s`` over partitions holding sorted
    values (``part["sorted"][s]``), found exactly on the cluster.

    Each rank keeps a bracket (a, b] of float keys (:func:`_float_keys`) holding it and
    the count of values at most ``a``. A pass splits each open bracket into
    ``_SPLITS`` equal key ranges and each partition counts its values at most each
    split (a binary search in its sorted values); the range holding the rank is the new
    bracket. A bracket of at most ``_GATHER`` values is gathered to the client and the
    rank read off exactly. Keys span 2**64, so at most eight splitting passes.
    """
    import dask

    lo_key, hi_key = -(2**63) - 1, 2**63 - 1
    state = [
        [[lo_key, hi_key, 0, int(n[s])] for _ in r] for s, r in enumerate(ranks)
    ]  # per rank: a, b, count <= a, count <= b
    found = [np.full(len(r), np.nan) for r in ranks]
    while True:
        split: list[list[tuple[int, list[int]]]] = [[] for _ in ranks]
        gather: list[list[int]] = [[] for _ in ranks]
        for s, r in enumerate(ranks):
            for i in range(len(r)):
                if not np.isnan(found[s][i]):
                    continue
                a, b, below, upto = state[s][i]
                if b - a == 1:
                    found[s][i] = _key_floats(np.array([b]))[0]
                elif upto - below <= _GATHER:
                    gather[s].append(i)
                else:
                    step = max(1, (b - a) // _SPLITS)
                    split[s].append((i, list(range(a + step, b, step))))
        if not any(split) and not any(gather):
            return found
        if any(gather):
            brackets = [[tuple(state[s][i][:2]) for i in gather[s]] for s in range(len(ranks))]
            pieces = _compute([dask.delayed(_keys_between)(p, brackets) for p in parts])
            for s in range(len(ranks)):
                for j, i in enumerate(gather[s]):
                    keys = np.sort(np.concatenate([p[s][j] for p in pieces]))
                    at = int(ranks[s][i]) - state[s][i][2]
                    found[s][i] = _key_floats(keys[at : at + 1])[0]
        if any(split):
            points = [
                np.array([pt for _, pts in split[s] for pt in pts], dtype=np.int64)
                for s in range(len(ranks))
            ]
            counts = _compute([dask.delayed(_count_at_most)(p, points) for p in parts])
            for s in range(len(ranks)):
                total = np.sum([c[s] for c in counts], axis=0)
                at = 0
                for i, pts in split[s]:
                    cnt = total[at : at + len(pts)]
                    at += len(pts)
                    a, b, below, upto = state[s][i]
                    j = int(np.searchsorted(cnt, int(ranks[s][i]), side="right"))
                    new_a, new_below = (a, below) if j == 0 else (pts[j - 1], int(cnt[j - 1]))
                    new_b, new_upto = (b, upto) if j == len(pts) else (pts[j], int(cnt[j]))
                    state[s][i] = [new_a, new_b, new_below, new_upto]


def _percentile_ranks(n: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's ``percentile(a, q)`` ("linear") of ``n`` values as the ranks of the two
    sorted values it interpolates and the weight: numpy's own steps, in its order."""
    quantiles = np.true_divide(np.asarray(q, dtype=np.float64), 100)
    virtual = (n - 1) * quantiles
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= n - 1
    prev[above], nxt[above] = -1, -1
    below = virtual < 0
    prev[below], nxt[below] = 0, 0
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    gamma = np.asanyarray(virtual - prev, dtype=virtual.dtype)
    return np.where(prev < 0, n - 1, prev), np.where(nxt < 0, n - 1, nxt), gamma


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's interpolation between the two order statistics (as ``percentile``)."""
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


def _percentiles_of(parts: list[Any], n: list[int], q: np.ndarray) -> list[np.ndarray]:
    """Exact ``numpy.percentile(values, q)`` of each series held sorted by ``parts``."""
    plans = [_percentile_ranks(int(ns), q) for ns in n]
    ranks = [np.unique(np.concatenate([p, x])) for p, x, _ in plans]
    values = _order_statistics(parts, n, ranks)
    out = []
    for (p, x, gamma), r, v in zip(plans, ranks, values, strict=True):
        at = dict(zip(r.tolist(), v, strict=True))
        lo = np.array([at[i] for i in p.tolist()])
        hi = np.array([at[i] for i in x.tolist()])
        out.append(_lerp(lo, hi, gamma))
    return out


def _n_series(obj: dict[str, Any]) -> int:
    return len(obj["sorted"])


def _n_values(obj: dict[str, Any]) -> int:
    return len(obj["sorted"][0])


def _sorted_part(v: Any, name: str, k: int) -> dict[str, Any]:
    return {"sorted": [_sorted_numbers(_vector(v, name), name, k)]}


def _persist(tasks: list[Any], *sources: tuple[Any, str]) -> list[Any]:
    """The tasks computed and kept where they are (on the workers with a distributed
    scheduler), for later passes; errors as :func:`_compute`'s."""
    import dask

    return _traced(dask.persist, tasks, sources)


def exact_percentiles(x: Any, q: Any, *, name: str = "x") -> np.ndarray:
    """``numpy.percentile(x, q)`` of a dask vector, exactly, without gathering it.

    Each partition sorts its values once (kept on its worker); passes of binary
    searches narrow a bracket around each needed order statistic until few values
    remain, which are gathered (see :func:`_order_statistics`); the percentile is then
    numpy's linear interpolation, computed as numpy computes it, so the result equals
    ``numpy.percentile`` on the same rows bit for bit.

    Parameters
    ----------
    x : dask Array of shape (n,) or dask Series
        Numbers, without NaN.
    q : float or array-like of float in [0, 100]
    name : str
        How messages call ``x``.

    Returns
    -------
    ndarray of float64, shape of ``q``.
    """
    import dask

    q_arr = np.asarray(q, dtype=np.float64)
    if q_arr.size == 0 or np.any(~((q_arr >= 0) & (q_arr <= 100))):
        raise InputError(f"q must hold percentiles in [0, 100], got {q!r}; e.g. q=[25, 50, 75].")
    xp = _parts(x, name)
    parts = _persist([dask.delayed(_sorted_part)(p, name, k) for k, p in enumerate(xp)], (x, name))
    n = int(sum(_compute([dask.delayed(_n_values)(p) for p in parts])))
    if n == 0:
        raise InputError(f"{name} has no values; give at least one.")
    return _percentiles_of(parts, [n], q_arr.ravel())[0].reshape(q_arr.shape)


# ---------------------------------------------------------------------- partial dependence
def _pd_rows(X: Any, w: Any, k: int, seed: int, size: Any) -> tuple[Any, Any]:
    """Partition ``k``'s rows (and weights) used: all, or ``size`` of them drawn without
    replacement from ``default_rng([seed, k])``, in row order."""
    if w is not None:
        w = _numeric_part(w, "sample_weight")
        _same_length(w, np.empty(len(X)), "sample_weight", "X", k)
        if np.any(w < 0):
            raise InputError(
                f"sample_weight holds negative weights in partition {k}; give non-negative "
                "weights (one per row of X) with a positive sum."
            )
    if size is None:
        return X, w
    rows = np.sort(np.random.default_rng([seed, k]).choice(len(X), size=int(size), replace=False))
    X = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
    return X, None if w is None else w[rows]


def _pd_part(
    model: Any,
    X: Any,
    w: Any,
    k: int,
    seed: int,
    size: Any,
    features: list[Any],
    kwargs: dict[str, Any],
) -> tuple | None:
    """The weighted sum of the partition's ICE curves (n_outputs, *grid_shape), the
    total weight, the in-memory result of the partition and its rows used; None when it
    uses no row."""
    from whybox.inspection import partial_dependence as pd_in_memory

    X, w = _pd_rows(X, w, k, seed, size)
    if len(X) == 0:
        return None
    if w is None:
        res = pd_in_memory(model, X, features, **kwargs)
        n = res.params["n_samples"]
        return res.average * n, float(n), res, n
    res = pd_in_memory(model, X, features, **{**kwargs, "kind": "individual"})
    return np.tensordot(res.individual, w, axes=([1], [0])), float(w.sum()), res, len(X)


def _ice_part(
    model: Any,
    X: Any,
    w: Any,
    k: int,
    seed: int,
    size: Any,
    features: list[Any],
    kwargs: dict[str, Any],
    shape: tuple[int, ...],
) -> np.ndarray:
    """One partition's ICE curves (n_outputs, rows, *grid_shape): the in-memory call's
    on the rows :func:`_pd_rows` uses (``shape``: the array of a partition without
    rows)."""
    from whybox.inspection import partial_dependence as pd_in_memory

    X, _ = _pd_rows(X, w, k, seed, size)
    if len(X) == 0:
        return np.empty(shape)
    return pd_in_memory(model, X, features, **{**kwargs, "kind": "individual"}).individual


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
    """Partial dependence over a dask X: per-partition sums of the predictions at each
    grid point, added on the client (brute force), or the trees' recursion.

    The grid needs the feature's distribution: unless ``custom_values`` gives it, the
    one or two feature columns are gathered to the client (``n`` values each, not
    ``X``) and the grid is the in-memory call's (same rule, same values). Each
    partition then runs the in-memory brute method on that grid, and the client
    averages the per-partition sums weighted by rows, so ``average`` equals the
    in-memory call to rounding (sums added in another order, ~1e-12 relative).

    ``kind="individual"`` or ``"both"``: ``individual`` is a lazy dask array of shape
    (n_outputs, n_samples, *grid_shape), float64, chunked along the rows as X's
    partitions (their sizes are read first: free for a dask array with known chunks,
    one small task per partition otherwise); each chunk is the in-memory call's ICE
    curves of that partition's rows, so its values equal the in-memory ones bit for
    bit. Nothing of it is held: computing it (``.compute()``, or a slice of rows
    first) predicts those rows again. ``average`` is reduced at once, as for
    ``kind="average"``.

    ``method="recursion"`` (scikit-learn gradient boosting and forests, as in
    memory): the average is the trees' own estimate on the grid, which reads only the
    trees; the in-memory call runs on X's first partition with the grid given, so it
    equals the in-memory call on all rows exactly. ``method="auto"`` resolves as in
    memory (recursion for those models with ``kind="average"``, no ``sample_weight``
    and the raw output; brute force otherwise), decided on X's first row.

    ``sample_weight`` (a dask Series/array aligned with X): the average is the sum of
    the weighted curves over the total weight, as ``numpy.average``. ``max_samples``:
    the rows averaged are a simple random sample without replacement (the in-memory
    rule's size), split over the partitions by a multivariate hypergeometric draw
    from a seed drawn from ``random_state``, each partition drawing its share from
    ``default_rng([seed, partition])``; other rows than the in-memory draw (same
    distribution). The partition sizes are read first (free for a dask array with
    known chunks).

    Raises
    ------
    InputError
        ``method="recursion"`` where the in-memory call refuses it (ICE curves asked
        for, a categorical feature, ``output`` other than "raw", a model without
        trees, ``sample_weight``); negative weights or a zero total weight; a bad
        ``max_samples``.
    """
    import dataclasses

    import dask

    from whybox._utils import json_value
    from whybox.inspection import partial_dependence as pd_in_memory

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
    if method == "recursion" and sample_weight is not None:
        raise InputError(
            "method='recursion' does not apply here: it averages over the training "
            "samples, so sample_weight has no effect on it; use method='brute' (or 'auto')."
        )
    if method == "recursion" or (method == "auto" and kind == "average" and sample_weight is None):
        # the trees' estimate reads only the trees and the grid: run it on one partition
        # ("auto" on one row: it resolves as in memory, and falls to brute force below)
        lengths = partition_lengths(X)
        if not lengths.sum():
            raise InputError("X has no rows; give at least one row.")
        head = _parts(X, "X")[int(np.flatnonzero(lengths)[0])].compute()
        given = {**kwargs, "kind": kind, "method": method, "centered": centered}
        base = pd_in_memory(model, head if method == "recursion" else head[:1], features, **given)
        if base.method == "recursion":
            n = int(lengths.sum())
            params = dict(base.params)
            params.update(
                {
                    "custom_values": sorted(str(f) for f in (custom_values or {})),
                    "n_samples": n,
                    "n_given": n,
                    "random_state": random_state if isinstance(random_state, int) else None,
                }
            )
            return dataclasses.replace(base, params=params)
    model_key = _once(model)
    xp = _parts(X, "X")
    wp = [None] * len(xp)
    if sample_weight is not None:
        wp = _aligned(X, "X", sample_weight, "sample_weight")
    seed, sizes, n_given = 0, [None] * len(xp), None
    if max_samples is not None:
        lengths = partition_lengths(X)
        n_given = int(lengths.sum())
        size = rows_to_draw(max_samples, n_given)
        if size < n_given:
            rng = np.random.default_rng(random_state)
            seed = int(rng.integers(2**63))
            sizes = list(rng.multivariate_hypergeometric(lengths, size))
    args = [(xk, wk, k, seed, sk) for k, (xk, wk, sk) in enumerate(zip(xp, wp, sizes, strict=True))]
    tasks = [dask.delayed(_pd_part)(model_key, *a, feats, kwargs) for a in args]
    sources = ((X, "X"), (sample_weight, "sample_weight"))
    pieces = [p for p in _compute(tasks, *sources) if p is not None]
    if not pieces:
        raise InputError("X has no rows; give at least one row.")
    total = sum(p[1] for p in pieces)
    if not total > 0:
        raise InputError(
            "sample_weight sums to 0, so no row counts; give non-negative weights with a "
            "positive sum."
        )
    n = sum(p[3] for p in pieces)
    avg = sum(p[0] for p in pieces) / total
    if centered:
        first = avg.reshape(avg.shape[0], -1)[:, :1]
        avg = (avg.reshape(avg.shape[0], -1) - first).reshape(avg.shape)
    base = pieces[0][2]
    individual = None
    if kind != "average":
        import dask.array as da

        lengths = partition_lengths(X) if max_samples is None else None
        ice_kwargs = {**kwargs, "centered": bool(centered)}
        grid_shape = avg.shape[1:]
        blocks = []
        for k, a in enumerate(args):
            rows = int(lengths[k] if sizes[k] is None else sizes[k])
            shape = (avg.shape[0], rows, *grid_shape)
            part = dask.delayed(_ice_part)(model_key, *a, feats, ice_kwargs, shape)
            blocks.append(da.from_delayed(part, shape=shape, dtype=np.float64))
        individual = da.concatenate(blocks, axis=1)
    params = dict(base.params)
    params.update(
        {
            "custom_values": sorted(str(f) for f in (custom_values or {})),
            "method": method,
            "max_samples": json_value(max_samples),
            "sample_weight": sample_weight is not None,
            "n_samples": int(n),
            "n_given": int(n if n_given is None else n_given),
            "random_state": random_state if isinstance(random_state, int) else None,
        }
    )
    return dataclasses.replace(
        base, average=avg, individual=individual, kind=kind, centered=bool(centered),
        params=params,
    )  # fmt: skip


def _zeros(X: Any) -> np.ndarray:
    """A stand-in model of one column, only so that the in-memory grid rule can be run
    on a gathered feature column (its predictions are never used for a result)."""
    return np.zeros(len(X))


# ---------------------------------------------------------------------- permutation importance
# scorer name -> sklearn.metrics function: the (weighted) mean of a per-row loss
_MEAN_LOSSES = {
    "neg_mean_squared_error": "mean_squared_error",
    "neg_mean_absolute_error": "mean_absolute_error",
    "neg_mean_squared_log_error": "mean_squared_log_error",
    "neg_mean_poisson_deviance": "mean_poisson_deviance",
    "neg_mean_gamma_deviance": "mean_gamma_deviance",
}
_ROOTS = {
    "neg_root_mean_squared_error": "neg_mean_squared_error",
    "neg_root_mean_squared_log_error": "neg_mean_squared_log_error",
}
# scores of the predicted labels that depend on the (weighted) confusion matrix only
_LABEL_SCORES = ("accuracy", "balanced_accuracy", "matthews_corrcoef") + tuple(
    f"{m}{s}" for m in ("f1", "precision", "recall", "jaccard")
    for s in ("", "_macro", "_micro", "_weighted")
)  # fmt: skip
_PROBA_SCORES = ("neg_log_loss", "neg_brier_score")
_DECOMPOSABLE = (*_LABEL_SCORES, *_PROBA_SCORES, "r2", *_MEAN_LOSSES, *_ROOTS)


def _kind(scoring: str) -> str:
    if scoring in _LABEL_SCORES:
        return "label"
    if scoring in _PROBA_SCORES:
        return "proba"
    return "r2" if scoring == "r2" else "mean"


def _score_pieces(
    m: Any, Xv: np.ndarray, y: np.ndarray, w: np.ndarray | None, scoring: str
) -> np.ndarray:
    """The additive pieces of ``scoring`` on these rows, weighted by ``w`` (None: 1 each;
    see :func:`_score_from`)."""
    kind = _kind(scoring)
    wt = np.ones(len(y)) if w is None else w
    total = float(np.sum(wt))
    if kind in ("label", "proba"):
        classes = np.asarray(m.classes)
        k = len(classes)
        if len(y) == 0:
            return np.zeros(2 * k * k if kind == "label" else 2)
        proba = m.predict_proba_all(Xv)
        codes = m.class_codes(y)
        if kind == "label":
            # counts and summed weights of each (true, predicted) pair of classes
            cell = codes * k + proba.argmax(axis=1)
            counts = np.bincount(cell, minlength=k * k).astype(np.float64)
            return np.concatenate([counts, np.bincount(cell, weights=wt, minlength=k * k)])
        if scoring == "neg_log_loss":
            eps = np.finfo(proba.dtype).eps
            clipped = np.clip(proba, eps, 1 - eps)
            clipped = clipped / clipped.sum(axis=1, keepdims=True)
            loss = -np.log(clipped[np.arange(len(y)), codes])
        elif k == 2:  # the positive class's probability against the label, squared
            loss = (proba[:, 1] - (codes == 1)) ** 2
        else:  # the probability vector against the one-hot label
            loss = ((proba - np.eye(k)[codes]) ** 2).sum(axis=1)
        return np.array([float(np.sum(wt * loss)), total])
    if len(y) == 0:
        return np.zeros(4 if kind == "r2" else 2)
    out = m.predict(Xv, "raw")
    if out.shape[1] != 1:
        raise InputError(
            f"scoring={scoring!r} scores one regression target but the model has "
            f"{out.shape[1]} outputs; wrap the model to return one output."
        )
    yf = np.asarray(y, dtype=np.float64)
    if kind == "mean":
        import sklearn.metrics

        metric = getattr(sklearn.metrics, _MEAN_LOSSES[_ROOTS.get(scoring, scoring)])
        if total == 0.0:
            return np.zeros(2)
        return np.array([metric(yf, out[:, 0], sample_weight=w) * total, total])
    res = yf - out[:, 0]
    mean = float(np.sum(wt * yf) / total) if total else 0.0
    return np.array([total, mean, float(np.sum(wt * (yf - mean) ** 2)), float(np.sum(wt * res**2))])


def _add_pieces(a: np.ndarray, b: np.ndarray, scoring: str) -> np.ndarray:
    """Pieces of two disjoint row sets added (R^2: total weight, weighted mean and M2 by
    Chan's rule)."""
    if scoring != "r2":
        return a + b
    n = a[0] + b[0]
    if n == 0:
        return a.copy()
    delta = b[1] - a[1]
    mean = a[1] + delta * b[0] / n
    m2 = a[2] + b[2] + delta**2 * a[0] * b[0] / n
    return np.array([n, mean, m2, a[3] + b[3]])


class _Echo(ClassifierMixin, BaseEstimator):
    """A classifier whose ``predict(X)`` is X's first column: scores a table of
    (true, predicted) label pairs with a scikit-learn scorer."""

    def __init__(self, classes: Any = None) -> None:
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X)[:, 0]


def _score_from(pieces: np.ndarray, scoring: str, classes: Any = None) -> float:
    kind = _kind(scoring)
    if kind == "label":
        from sklearn.metrics import get_scorer

        cls = np.asarray(classes)
        k = len(cls)
        counts, weights = pieces[: k * k], pieces[k * k :]
        cells = np.flatnonzero(counts > 0)  # every pair present, even with weight 0
        true, pred = cls[cells // k], cls[cells % k]
        scorer = get_scorer(scoring)
        return float(scorer(_Echo(cls), pred[:, None], true, sample_weight=weights[cells]))
    if kind in ("proba", "mean"):
        if scoring in _ROOTS:
            return float(-np.sqrt(pieces[0] / pieces[1]))
        return float(-pieces[0] / pieces[1])
    ss_tot, ss_res = pieces[2], pieces[3]
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return float(1.0 - ss_res / ss_tot)


def _pi_part(
    m: Any,
    X: Any,
    y: Any,
    w: Any,
    columns: list[np.ndarray],
    n_repeats: int,
    seed: int,
    k: int,
    scoring: str,
    sizes: np.ndarray | None,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Rows, baseline pieces (q,), each repeat's baseline pieces (n_repeats, q) and
    permuted pieces (p, n_repeats, q) of partition ``k``.

    Each column group is permuted within the partition, by ``default_rng([seed, k])``.
    With ``sizes`` (rows drawn from this partition in each repeat), each repeat first
    draws that many rows without replacement and permutes among them.
    """
    from whybox.adapters import adapt_data

    data = m.check_data(adapt_data(X, name="X"), name="X")
    Xv = data.values
    y_arr = _vector(y, "y")
    _same_length(y_arr, Xv, "y", "X", k)
    w_arr = None
    if w is not None:
        w_arr = _numeric_part(w, "sample_weight")
        _same_length(w_arr, Xv, "sample_weight", "X", k)
    if m.task == "classification":
        known = np.isin(y_arr, np.asarray(m.classes))
        if not known.all():
            raise InputError(
                f"y holds label(s) {pd.unique(y_arr[~known])[:5].tolist()} that are not among "
                f"the model's classes in partition {k}; give y in the model's labels."
            )
    base = _score_pieces(m, Xv, y_arr, w_arr, scoring)
    rng = np.random.default_rng([seed, k])
    base_r = np.empty((n_repeats, len(base)))
    out = np.empty((len(columns), n_repeats, len(base)))
    for r in range(n_repeats):
        if sizes is None:
            Xr, yr, wr, base_r[r] = Xv, y_arr, w_arr, base
        else:
            rows = np.sort(rng.choice(len(y_arr), size=int(sizes[r]), replace=False))
            Xr, yr = Xv[rows], y_arr[rows]
            wr = None if w_arr is None else w_arr[rows]
            base_r[r] = _score_pieces(m, Xr, yr, wr, scoring)
        perms = [rng.permutation(len(yr)) for _ in columns]
        for j, cols in enumerate(columns):
            Xs = Xr.copy()
            Xs[:, cols] = Xr[np.ix_(perms[j], cols)]
            out[j, r] = _score_pieces(m, Xs, yr, wr, scoring)
    return len(y_arr), base, base_r, out


def partition_lengths(X: Any) -> np.ndarray:
    """Rows of each partition of a dask collection (int64): the chunk sizes of an array
    that knows them, otherwise one small task per partition (which reads it)."""
    if hasattr(X, "chunks") and not any(np.isnan(c) for c in X.chunks[0]):
        return np.asarray(X.chunks[0], dtype=np.int64)
    import dask

    return np.asarray(
        _compute([dask.delayed(len)(p) for p in _parts(X, "X")], (X, "X")), dtype=np.int64
    )


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

    Decomposable scores only (:data:`_DECOMPOSABLE`): the means of a per-row loss
    ("neg_mean_squared_error", "neg_mean_absolute_error", "neg_mean_squared_log_error",
    "neg_mean_poisson_deviance", "neg_mean_gamma_deviance", their roots
    "neg_root_mean_squared_error", "neg_root_mean_squared_log_error", "neg_log_loss",
    "neg_brier_score": a weighted sum and the total weight); "r2" (total weight,
    weighted mean and centred sum of squares of y, merged by Chan's rule, and the
    residual sum of squares); and the scores of the predicted labels that depend on the
    confusion matrix only ("accuracy", "balanced_accuracy", "matthews_corrcoef", "f1",
    "precision", "recall", "jaccard" and their "_macro", "_micro", "_weighted"
    averages: the counts and summed weights of each (true, predicted) pair, scored by
    scikit-learn's scorer on that table). ``baseline_score`` equals the in-memory call
    to rounding (~1e-12 relative). ``sample_weight`` is a dask Series/array aligned
    with X (same partitions): every piece is weighted as in scikit-learn's scorers.

    The permutations are seeded by ``numpy.random.default_rng([random_state,
    partition])``: reproducible for the same partitioning, but not the in-memory call's
    draws (a row's permuted value comes from its own partition), so each repeat's
    importance differs from the in-memory one while estimating the same quantity when
    the partitions are exchangeable (rows not sorted by a feature); its mean over
    repeats agrees within the repeats' standard error.

    ``max_samples`` draws, for each repeat, a simple random sample of ``m`` rows
    without replacement (``m`` by the in-memory rule): the client splits ``m`` over the
    partitions by a multivariate hypergeometric draw from
    ``default_rng(random_state)`` (so the sample is uniform over all rows), and each
    partition draws its share from ``default_rng([random_state, partition])``. The
    drawn rows differ from the in-memory call's draw (same distribution). The
    partition sizes are read first: free for a dask array with known chunks, one small
    task per partition otherwise.

    Raises
    ------
    InputError
        Another scoring (not decomposable into per-partition sums, such as "roc_auc":
        score a sample, ``X.sample(frac=...).compute()``), ``early_stop``,
        ``feature_groups="correlated"`` or a ``random_state`` that is not an int.
    """
    import dask

    from whybox._utils import check_confidence_level, check_int, json_value, resolve_players
    from whybox.adapters import adapt_model
    from whybox.inspection import PermutationImportance

    m = adapt_model(model)
    if scoring is None:
        scoring = "accuracy" if m.task == "classification" else "r2"
    if not isinstance(scoring, str) or scoring not in _DECOMPOSABLE:
        raise InputError(
            f"scoring={scoring!r} is not a sum over rows, so it cannot be reduced over dask "
            f"partitions; use one of {_DECOMPOSABLE}, or score a sample with "
            "X.sample(frac=...).compute()."
        )
    if _kind(scoring) in ("label", "proba") and m.task != "classification":
        raise InputError(
            f"scoring={scoring!r} scores a classifier's labels or probabilities but the "
            "model is a regressor; use scoring='r2' or 'neg_mean_squared_error'."
        )
    for option, value, fix in (
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
    wp = [None] * len(xp) if sample_weight is None else _aligned(X, "X", sample_weight,
                                                                  "sample_weight")  # fmt: skip
    sizes = None
    if max_samples is not None:
        lengths = partition_lengths(X)
        n_draw = rows_to_draw(max_samples, int(lengths.sum()))
        if n_draw < lengths.sum():  # as in memory: every row, unsampled, when it asks for all
            rng = np.random.default_rng(int(random_state))
            sizes = np.stack(
                [rng.multivariate_hypergeometric(lengths, n_draw) for _ in range(n_repeats)],
                axis=1,
            )  # (partitions, repeats)
    key = _once(m)
    tasks = [
        dask.delayed(_pi_part)(key, xk, yk, wk, columns, n_repeats, int(random_state), k,
                               scoring, None if sizes is None else sizes[k])
        for k, (xk, yk, wk) in enumerate(zip(xp, yp, wp, strict=True))
    ]  # fmt: skip
    pieces = _compute(tasks, (X, "X"), (y, "y"), (sample_weight, "sample_weight"))
    n_rows, base, base_r, perm = pieces[0]
    for rows, b, br, pm in pieces[1:]:
        n_rows += rows
        base = _add_pieces(base, b, scoring)
        base_r = np.array([_add_pieces(base_r[r], br[r], scoring) for r in range(n_repeats)])
        perm = np.array(
            [[_add_pieces(perm[j, r], pm[j, r], scoring) for r in range(n_repeats)]
             for j in range(len(columns))]
        )  # fmt: skip
    if _kind(scoring) != "label" and (base[0] if scoring == "r2" else base[1]) == 0.0:
        raise InputError(
            "sample_weight sums to 0 (or X has no rows), so the score is undefined; give "
            "positive weights."
        )
    classes = m.classes if m.task == "classification" else None
    baseline = _score_from(base, scoring, classes)
    base_scores = [_score_from(base_r[r], scoring, classes) for r in range(n_repeats)]
    importances = np.array(
        [[base_scores[r] - _score_from(perm[j, r], scoring, classes) for r in range(n_repeats)]
         for j in range(len(columns))]
    )  # fmt: skip
    params = {
        "n_repeats": n_repeats,
        "random_state": json_value(random_state),
        "feature_groups": players.groups_as_dict() if players.grouped else None,
        "max_samples": json_value(max_samples),
        "n_samples_per_repeat": int(n_rows if sizes is None else sizes[:, 0].sum()),
        "sample_weight": sample_weight is not None,
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
    pieces = [p for p in _compute(tasks, (y_true, "y_true"), (y_pred, "y_pred")) if len(p)]
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
    return _sum_parts(reducer, X, model, args, False)


def sum_numbered_partitions(reducer: Any, X: Any, model: Any, *args: Any) -> tuple[Any, ...]:
    """:func:`sum_partitions` with ``reducer(model, partition, k, *args)``: ``k`` is the
    partition's number, 0, 1, ... in row order (e.g. to seed the partition's draws)."""
    return _sum_parts(reducer, X, model, args, True)


def _sum_parts(reducer: Any, X: Any, model: Any, args: tuple, numbered: bool) -> tuple[Any, ...]:
    import dask

    key = _once(model)
    tasks = [
        dask.delayed(reducer)(key, xk, *((k,) if numbered else ()), *args)
        for k, xk in enumerate(_parts(X, "X"))
    ]
    pieces = _compute(tasks, (X, "X"))
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

    pieces = _compute(
        [dask.delayed(_few_values)(p) for p in _parts(y_pred, "y_pred")], (y_pred, "y_pred")
    )
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


_BOOT_CELLS = 1 << 22  # Poisson weights drawn at once (replicates x rows)


def poisson_weights(n_samples: int, n_bootstrap: int, random_state: Any = 0) -> Any:
    """Blocks of Poisson(1) bootstrap weights of ``n_samples`` rows: arrays of shape
    (replicates, n_samples), float64, ``n_bootstrap`` replicates in all, drawn in order
    from ``numpy.random.default_rng(random_state)`` (callers pass
    ``[seed, partition]``, so each partition draws its own; a generator, so at most
    ``_BOOT_CELLS`` weights are held at once).

    Each row's weight in a replicate is Poisson(1) and independent of every other
    row's, so weighted sums stay sums over partitions (Oza & Russell's online bagging;
    Hanley & MacGibbon 2006): the replicates approximate the multinomial resamples of
    the in-memory bootstrap (each row drawn Binomial(n, 1/n) times), with a random
    replicate size of mean n.
    """
    rng = np.random.default_rng(random_state)
    per = max(1, _BOOT_CELLS // max(n_samples, 1))
    for start in range(0, n_bootstrap, per):
        size = (min(per, n_bootstrap - start), n_samples)
        yield rng.poisson(1.0, size=size).astype(np.float64)


def _regression_part(
    y_true: Any,
    y_pred: Any,
    sens: list[Any],
    names: list[str],
    k: int,
    n_boot: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Per sensitive combination of partition ``k``: rows, sums of the prediction,
    |residual|, residual, target and squared residual, the target's centred sum of
    squares (M2), minimum and maximum; with ``n_boot``, ``"\\0boot"``: per combination
    an array (n_boot, 4) of Poisson-weighted sums of (1, prediction, |residual|,
    residual) (:func:`poisson_weights`)."""
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
    if n_boot:
        vals = np.column_stack([np.ones(len(y)), f, np.abs(res), res])
        onehot = np.zeros((len(y), g))
        onehot[np.arange(len(y)), inv] = 1.0
        boot = np.empty((g, n_boot, 4))
        at = 0
        for w in poisson_weights(len(y), n_boot, [seed, k]):
            for q in range(4):
                boot[:, at : at + len(w), q] = ((w * vals[:, q]) @ onehot).T
            at += len(w)
        table["\0boot"] = list(boot)
    return table


def regression_table(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    n_bootstrap: int = 0,
    random_state: int = 0,
) -> tuple[list[str], pd.DataFrame]:
    """A regression's rows summarised per sensitive combination over dask inputs.

    Columns ``s0``, ``s1``, ... (the sensitive values) and, per combination, ``"\\0n"``
    (rows), sums ``"\\0f"``, ``"\\0absres"``, ``"\\0res"``, ``"\\0y"``, ``"\\0sq"``
    (prediction, |residual|, residual, target, squared residual), ``"\\0m2"`` (the
    target's sum of squares about the combination's mean, merged across partitions by
    Chan's rule), ``"\\0min"`` and ``"\\0max"`` of the target. With ``n_bootstrap``,
    ``"\\0boot"`` holds per combination an array (n_bootstrap, 4): the Poisson
    bootstrap's weighted sums of (1, prediction, |residual|, residual), each
    partition's weights drawn from ``default_rng([random_state, partition])``
    (:func:`poisson_weights`).
    """
    import dask

    cols = _sensitive_dask(sensitive_features)
    names = [c[0] for c in cols]
    tp = _parts(y_true, "y_true")
    pp = _aligned(y_true, "y_true", y_pred, "y_pred")
    sp = [_aligned(y_true, "y_true", c, f"sensitive feature {n!r}") for n, c in cols]
    tasks = [
        dask.delayed(_regression_part)(
            tp[k], pp[k], [s[k] for s in sp], names, k, int(n_bootstrap), int(random_state)
        )
        for k in range(len(tp))
    ]
    pieces = [p for p in _compute(tasks, (y_true, "y_true"), (y_pred, "y_pred")) if len(p)]
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
    if n_bootstrap:
        ids = grouped.ngroup().to_numpy()  # the order of ``table``'s rows (sort=False)
        boot = np.zeros((len(table), int(n_bootstrap), 4))
        np.add.at(boot, ids, np.stack(cat["\0boot"].to_numpy()))
        table["\0boot"] = list(boot)
    return names, table
