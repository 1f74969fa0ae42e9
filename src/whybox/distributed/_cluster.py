"""Where the Dask work runs, and the table it reads.

- :func:`connect`: a ``distributed.Client`` of a running scheduler, of local worker
  processes started for the block, or no client (one process, as without dask);
- :func:`read_table`: Parquet files (a glob, one file or a folder) as one
  ``dask.dataframe.DataFrame``, every file's columns and types checked against the
  first file's from the Parquet metadata alone.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whybox._exceptions import InputError
from whybox._utils import require_dask, shorten

CONNECT_TIMEOUT_S = 10.0  # how long a scheduler address is tried before it is called unreachable


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(
            f"workers must be a whole number of worker processes of at least 1, got "
            f"{shorten(repr(workers))}; give for example workers=2."
        )
    return int(workers)


def _check_scheduler(scheduler: Any) -> str:
    if not isinstance(scheduler, str) or "://" not in scheduler or scheduler.endswith("://"):
        raise InputError(
            f"scheduler must be a scheduler address such as tcp://127.0.0.1:8786, got "
            f"{shorten(repr(scheduler))}; give the address that `dask scheduler` prints."
        )
    return scheduler


@contextmanager
def connect(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    timeout: float = CONNECT_TIMEOUT_S,
) -> Iterator[Any]:
    """Connect to a Dask scheduler, or start local worker processes, for a ``with`` block.

    Parameters
    ----------
    scheduler : str, optional
        The address of a running scheduler, e.g. ``"tcp://host:8786"`` (what
        ``dask scheduler`` prints). The client is closed at the end of the block; the
        scheduler and its workers keep running.
    workers : int, optional
        Start this many worker processes on this machine (one thread each, on
        127.0.0.1, no dashboard) for the block, and stop them at its end.
    timeout : float, default 10.0
        Seconds to keep trying ``scheduler`` before it counts as unreachable.

    Yields
    ------
    distributed.Client or None
        The client (also dask's default scheduler inside the block), or None when
        neither ``scheduler`` nor ``workers`` is given: everything then runs in this
        process, as without dask.

    Raises
    ------
    InputError
        If both ``scheduler`` and ``workers`` are given, ``workers`` is not a positive
        whole number, ``scheduler`` is not an address, the scheduler cannot be reached
        within ``timeout`` seconds, or dask and distributed are not installed.
    """
    if scheduler is not None and workers is not None:
        raise InputError(
            "scheduler and workers exclude each other: give the address of a running "
            "scheduler, or a number of local workers to start, not both."
        )
    if scheduler is None and workers is None:
        yield None
        return
    if scheduler is not None:
        address = _check_scheduler(scheduler)
        require_dask("connecting to a Dask scheduler")
        from distributed import Client

        try:
            client = Client(address, timeout=timeout, set_as_default=True)
        except (OSError, TimeoutError, ValueError):
            raise InputError(
                f"the Dask scheduler at {address} cannot be reached (tried for {timeout:g} s); "
                "start it with `dask scheduler` and give the address it prints, or start "
                "local workers instead (--workers N)."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n_workers = _check_workers(workers)
    require_dask("starting local Dask workers")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,  # no warnings from workers stopped at the end
    )
    try:
        client = Client(cluster, set_as_default=True)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def parquet_files(pattern: str | os.PathLike, *, name: str = "pattern") -> list[Path]:
    """The Parquet files a pattern names, in sorted order.

    Parameters
    ----------
    pattern : str or PathLike
        A glob such as ``"data/*.parquet"`` (``**`` recurses), one file, or a folder
        (its ``*.parquet`` files).
    name : str, default "pattern"
        How messages call the argument (the command line passes ``"--data"``).

    Returns
    -------
    list of Path

    Raises
    ------
    InputError
        If no file matches.
    """
    text = os.fspath(pattern)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and p.is_file())
        where = f"the folder {shorten(text)} has no .parquet files"
    elif path.is_file():
        files = [path]
        where = ""
    else:
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        where = f"no files match {shorten(text)}"
    if not files:
        raise InputError(
            f"{name} names no Parquet files: {where}; give a file, a folder of .parquet "
            "files or a pattern such as 'data/*.parquet' (quoted, so that the shell leaves "
            "it to whybox)."
        )
    return files


def _describe(schema: Any) -> list[tuple[str, str]]:
    """A Parquet file's columns as (name, Arrow type) pairs, pandas' index columns left out."""
    index_columns: set[str] = set()
    pandas_meta = schema.pandas_metadata or {}
    for item in pandas_meta.get("index_columns", ()):
        if isinstance(item, str):
            index_columns.add(item)
    return [(f.name, str(f.type)) for f in schema if f.name not in index_columns]


def _first_difference(want: list[tuple[str, str]], have: list[tuple[str, str]]) -> str:
    want_names = [n for n, _ in want]
    have_names = [n for n, _ in have]
    missing = [n for n in want_names if n not in have_names]
    extra = [n for n in have_names if n not in want_names]
    if missing:
        return f"it lacks the column {shorten(missing[0])}" + (
            f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        )
    if extra:
        return f"it has the column {shorten(extra[0])}, which the first file has not"
    if want_names != have_names:
        return "its columns are in another order"
    want_types = dict(want)
    for name, kind in have:
        if want_types[name] != kind:
            return f"its column {shorten(name)} holds {kind}, not {want_types[name]}"
    return "its schema differs"  # pragma: no cover - every difference is named above


def _short(file: Path, files: list[Path]) -> str:
    """A file's path from the folder all the files share (its name when there is one folder)."""
    common = os.path.commonpath([str(f.parent) for f in files])
    return os.path.relpath(file, common)


def read_table(pattern: str | os.PathLike, *, name: str = "pattern") -> Any:
    """Parquet files as one Dask DataFrame, each file's columns checked against the first's.

    Parameters
    ----------
    pattern : str or PathLike
        A glob such as ``"data/*.parquet"`` (``**`` recurses), one Parquet file, or a
        folder whose ``*.parquet`` files are read. Files are read in sorted path order.
    name : str, default "pattern"
        How messages call the argument (the command line passes ``"--data"``).

    Returns
    -------
    dask.dataframe.DataFrame
        The rows of every file, in file order; lazy (nothing but the files' metadata is
        read here).

    Raises
    ------
    InputError
        If dask is not installed, no file matches, a file is not Parquet, or a file's
        columns or their types (read from its Parquet metadata) differ from the first
        file's; the message names the first file that differs and how.
    """
    require_dask("reading Parquet files as one Dask table")
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    files = parquet_files(pattern, name=name)
    reference: list[tuple[str, str]] | None = None
    for i, file in enumerate(files):
        try:
            schema = pq.read_schema(file)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise InputError(
                f"{name} file {shorten(_short(file, files))} is not a readable Parquet file "
                f"({shorten(str(exc))}); give only Parquet files."
            ) from None
        described = _describe(schema)
        if reference is None:
            reference = described
            continue
        if described != reference:
            raise InputError(
                f"{name} file {shorten(_short(file, files))} (file {i + 1} of {len(files)}) "
                f"does not match the first file {shorten(_short(files[0], files))}: "
                f"{_first_difference(reference, described)}; give files that all have the "
                "same columns of the same types."
            )
    return dd.read_parquet([str(f) for f in files])
