"""Explanations and reductions on Dask (the optional extra ``whybox[dask]``).

whybox's core never imports dask: a dask collection given to an explainer or a
reduction is recognised by :func:`whybox._utils.is_dask_collection` (which only looks at
``sys.modules``), and the work is handed to this package, which imports dask.

- ``_explain``: explainers mapped over a dask collection's row chunks, the model and
  explainer sent to each worker once; lazy ``Explanation`` values.
- ``_cluster``: connecting to a scheduler or starting local workers, and reading a
  folder of Parquet files as one checked table.
- ``_reduce``: reductions (confusion counts, calibration bins, group counts, partial
  dependence, permutation-importance score pieces, sums per partition) computed per
  partition on the workers and added on the client.
- ``_audit``: the audit's performance sums (confusion counts, log loss, residual
  sums) over all rows.
"""

from whybox.distributed._audit import performance_sums
from whybox.distributed._cluster import connect, parquet_files, read_table
from whybox.distributed._explain import explain_dask
from whybox.distributed._reduce import (
    calibration_sums,
    confusion_counts,
    distinct_sample,
    first_partition,
    frame_partitions,
    gather_column,
    group_table,
    partial_dependence,
    permutation_importance,
    poisson_weights,
    regression_table,
    sum_numbered_partitions,
    sum_partitions,
)

__all__ = [
    "calibration_sums",
    "confusion_counts",
    "connect",
    "distinct_sample",
    "explain_dask",
    "first_partition",
    "frame_partitions",
    "gather_column",
    "group_table",
    "parquet_files",
    "partial_dependence",
    "performance_sums",
    "permutation_importance",
    "poisson_weights",
    "read_table",
    "regression_table",
    "sum_numbered_partitions",
    "sum_partitions",
]
