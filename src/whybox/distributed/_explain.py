"""Explainers mapped over a dask collection's row chunks: lazy :class:`Explanation`\\ s.

The explainer (which holds the model, a TreeExplainer's parsed ``TreeEnsemble`` and the
background) enters the task graph once, as one key that every chunk's task reads; the
scheduler sends it to each worker once, never pickled per task. Each chunk is explained
by the explainer's own in-memory call, so a row's values are the ones the in-memory call
gives it wherever the method is deterministic per row.
"""

from __future__ import annotations

import copy
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.distributed._reduce import frame_partitions, partition_lengths

__all__ = ["explain_dask"]

# the fields of an Explanation with one entry per explained row, in the order the chunk
# task returns them
_ROW_FIELDS = ("values", "base_values", "data", "model_output")


def explain_dask(explainer: Any, X: Any, *, interactions: bool = False) -> Explanation:
    """Explain the rows of a dask collection, chunk by chunk, lazily.

    Parameters
    ----------
    explainer : object
        A whybox explainer whose ``__call__`` (or ``interaction_values``) takes an
        in-memory table: TreeExplainer, LinearExplainer, ExactExplainer,
        KernelExplainer, PermutationExplainer.
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe.DataFrame
        The rows to explain. An array's row chunks (its columns are joined into one
        chunk) or a DataFrame's partitions (column names and dtypes kept, text
        columns included) are explained one task each. Unknown chunk sizes (NaN, as
        after a filter) are computed once first, by one pass over the rows.
    interactions : bool, default False
        Call ``explainer.interaction_values`` instead of the explainer.

    Returns
    -------
    Explanation
        ``values``, ``base_values``, ``data`` and ``model_output`` (when the method
        records it) are dask arrays with X's row chunks (empty ones left out); per-value or per-row
        ``quality`` arrays (standard errors) too. Nothing is computed but the first
        row, explained in this process to learn the names, the output space and the
        dtypes (and to raise bad input at once); ``params["dask_chunks"]`` is the
        number of X's row chunks. ``Explanation.compute()`` returns the
        in-memory Explanation; ``Explanation.to_parquet(path)`` writes it from the
        workers.

    Raises
    ------
    InputError
        If ``X`` is not 2-dimensional or has no rows, a DataFrame partition's columns
        or dtypes differ from the frame's meta or it cannot be computed (the message
        names the first such partition), or whatever the in-memory call raises on X's
        first row.

    Notes
    -----
    The explainer is one key of the graph (``dask.delayed(explainer, pure=True)``):
    with a ``distributed`` scheduler it is sent to each worker once and every chunk's
    task reads it there. Whether a row's values match the in-memory call depends on
    the method: TreeSHAP (both perturbations), interaction values, the linear
    explainer, exact enumeration and KernelSHAP (its coalitions are drawn from
    ``random_state`` for each call, so each chunk draws the same design) give every
    row the in-memory values; PermutationSHAP draws each row's orderings in row order
    from ``random_state``, so a chunk's rows get the draws of the chunk's first rows
    and its estimates differ from the in-memory ones (as estimates of the same values,
    reproducible for the same chunks).
    """
    X, chunks, row_chunks, frame = _row_blocks(X)
    if sum(row_chunks) == 0:
        raise InputError("X must have at least one row, got a dask collection with none.")
    first = _first_row(X, frame, row_chunks)
    meta = explainer.interaction_values(first) if interactions else explainer(first)
    quality_rows = {
        k: v
        for k, v in meta.quality.items()
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 1
    }
    lazy_explainer = dask.delayed(_quiet(explainer), pure=True)
    fields = {f: [] for f in (*_ROW_FIELDS, *quality_rows)}
    for chunk, n_rows in zip(chunks, row_chunks, strict=True):
        part = dask.delayed(_explain_chunk, pure=True, nout=len(fields))(
            lazy_explainer, chunk, interactions, tuple(quality_rows)
        )
        for pieces, piece, name in zip(fields.values(), part, fields, strict=True):
            like = getattr(meta, name) if name in _ROW_FIELDS else quality_rows[name]
            if like is None:
                continue
            pieces.append(da.from_delayed(piece, shape=(n_rows, *like.shape[1:]), dtype=like.dtype))
    lazy = {name: da.concatenate(p, axis=0) if p else None for name, p in fields.items()}
    quality = {**meta.quality, **{k: lazy[k] for k in quality_rows}}
    return Explanation(
        values=lazy["values"],
        base_values=lazy["base_values"],
        data=lazy["data"],
        feature_names=meta.feature_names,
        output_names=meta.output_names,
        output_space=meta.output_space,
        method=meta.method,
        params={**meta.params, "dask_chunks": len(row_chunks)},
        model_output=lazy["model_output"],
        axes=meta.axes,
        quality=quality,
    )


def _quiet(explainer: Any) -> Any:
    """The explainer without a progress bar (a shallow copy: the model, the ensemble and
    the background are shared, not copied); a bar per chunk on a worker tells nobody."""
    if getattr(explainer, "progress", False) is not False:
        explainer = copy.copy(explainer)
        explainer.progress = False
    return explainer


def _explain_chunk(
    explainer: Any, chunk: Any, interactions: bool, quality_keys: tuple[str, ...]
) -> tuple[Any, ...]:
    """One chunk's row fields, in the order of ``_ROW_FIELDS`` then ``quality_keys``."""
    ex = explainer.interaction_values(chunk) if interactions else explainer(chunk)
    return (
        *(getattr(ex, name) for name in _ROW_FIELDS),
        *(ex.quality[k] for k in quality_keys),
    )


def _row_blocks(X: Any) -> tuple[Any, list[Any], tuple[int, ...], bool]:
    """(X with known row chunks, one delayed block per row chunk, the rows of each,
    whether X is a DataFrame)."""
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise InputError(
                f"X must be a 2-dimensional dask array (rows, features), got {X.ndim} "
                "dimensions; reshape it to (n_samples, n_features)."
            )
        if any(np.isnan(c) for c in X.chunks[0]):
            X = X.compute_chunk_sizes()
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        blocks = list(X.to_delayed()[:, 0])
        return X, blocks, tuple(int(c) for c in X.chunks[0]), False
    if isinstance(X, dd.DataFrame):
        blocks = frame_partitions(X)
        # a partition's length is not in its divisions: one pass counts the rows and
        # checks each partition's columns and dtypes against the frame's meta
        lengths = tuple(int(n) for n in partition_lengths(X))
        return X, blocks, lengths, True
    raise InputError(
        f"X must be a dask.array.Array or dask.dataframe.DataFrame, got {type(X).__name__}; "
        "turn a dask Series into a frame with .to_frame()."
    )


def _first_row(X: Any, frame: bool, row_chunks: tuple[int, ...]) -> Any:
    """X's first row, in memory, of the type a chunk has (only its chunk is read)."""
    if frame:
        first = next(i for i, n in enumerate(row_chunks) if n)
        return X.partitions[first].head(1, npartitions=1)
    return np.asarray(X[:1].compute())
