"""The ``whybox`` command line: argument parsing only; the work is library calls.

Bad input prints one line on stderr and exits with status 2; an existing report is
never replaced by a broken one.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from whybox._exceptions import InputError
from whybox._utils import shorten

_MAX_ERROR_CHARS = 600  # an error line longer than this is cut in the middle


def _parse_rows(value: str | None) -> list[int] | None:
    """``--rows`` as distinct non-negative row numbers (their range is checked on the data)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not any(items):
        raise InputError(
            f"--rows needs at least one row number, such as 0,17, got {shorten(value)}; "
            "give row numbers or leave --rows out to let the audit choose."
        )
    rows: list[int] = []
    for item in items:
        if not item:
            raise InputError(
                f"--rows has an empty item in {shorten(value)}; give row numbers separated by "
                "single commas, such as 0,17."
            )
        if not re.fullmatch(r"[+-]?\d+", item):
            raise InputError(
                f"--rows must be comma-separated row numbers such as 0,17, got {shorten(value)}."
            )
        row = int(item)
        if row < 0:
            raise InputError(
                f"--rows takes row positions counted from 0, got {row}; give 0 for the first "
                "row (rows are not counted from the end)."
            )
        if row in rows:
            raise InputError(f"--rows lists row {row} twice; give each row once, such as 0,17.")
        rows.append(row)
    return rows


def _bare(text: str) -> str:
    """A user's text for a message, shortened, without quotes."""
    return shorten(str(text))[1:-1]


@dataclass(frozen=True)
class _Sensitive:
    """One ``--sensitive`` value: a column, optionally binned."""

    spec: str
    column: str
    bins: tuple[float, ...] | None = None
    quantiles: int | None = None


_BINNING = re.compile(r"^(?P<column>.+):(?P<kind>bins|quantiles)=(?P<value>.*)$", re.DOTALL)


def _parse_sensitive(specs: tuple[str, ...]) -> list[_Sensitive]:
    """``--sensitive COLUMN``, ``COLUMN:bins=E1,E2,...`` or ``COLUMN:quantiles=K``."""
    out: list[_Sensitive] = []
    for spec in specs:
        match = _BINNING.match(spec)
        if match is None:
            out.append(_Sensitive(spec, spec))
            continue
        column, kind, value = match["column"], match["kind"], match["value"]
        if kind == "quantiles":
            if not re.fullmatch(r"\d+", value.strip()) or int(value) < 2:
                raise InputError(
                    f"--sensitive {shorten(spec)} needs a whole number of groups of at least 2 "
                    f"after quantiles=, such as {_bare(column)}:quantiles=4."
                )
            out.append(_Sensitive(spec, column, quantiles=int(value)))
            continue
        try:
            edges = tuple(float(e) for e in value.split(","))
        except ValueError:
            edges = ()
        if len(edges) < 2 or any(e != e for e in edges):
            raise InputError(
                f"--sensitive {shorten(spec)} needs two or more numbers after bins=, separated "
                f"by commas, such as {_bare(column)}:bins=18,25,40,65 (-inf and inf allowed)."
            )
        out.append(_Sensitive(spec, column, bins=edges))
    seen: set[str] = set()
    for s in out:
        if s.column in seen:
            raise InputError(
                f"--sensitive names the column {shorten(s.column)} twice; give each attribute once."
            )
        seen.add(s.column)
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="whybox")
def cli() -> None:
    """whybox: explain, debug and audit machine-learning models."""


@cli.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(),
    help="Saved model: .skops, XGBoost .json/.ubj, an EBM exported with interpret's to_json (.json), LightGBM .txt, CatBoost .cbm (or, with --trust-model-file, PyTorch .pt2/.pt and .pkl/.joblib).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(),
    help="Labelled data: .csv or .parquet, one row per example (.npz of images and labels for a "
    "PyTorch model); or Parquet files read with Dask: a pattern such as 'big/*.parquet' "
    "(quoted) or a folder, every file with the columns and types of the first. Dask data is "
    "audited over all rows where a section is a sum (performance, confusion, calibration, "
    "fairness group metrics, permutation importance) and on a sample of --max-samples rows "
    "for the rest; the report says which.",
)
@click.option("--target", help="Name of the target column in --data (the labels array of an .npz).")
@click.option(
    "--train",
    "train_path",
    type=click.Path(),
    help="The training data (.csv or .parquet) with the columns of --data, target included: "
    "the background the methods compare against (SHAP background, LIME and anchor sampling, "
    "counterfactual ranges, effect grids) and the training scores beside the held-out ones. "
    "Without it the audited rows stand in for it, as the report says.",
)
@click.option(
    "--rows",
    help="Rows to explain one by one, by position counted from 0, e.g. 0,17 (default: chosen "
    "for you). With Parquet files read with Dask: positions in all their rows, in the "
    "files' sorted order; these rows join the sample.",
)
@click.option(
    "--out",
    default="report.html",
    show_default=True,
    type=click.Path(),
    help="Where to write the HTML report; the JSON goes beside it with the suffix .json. "
    "Neither may be an input file; both are replaced together, only when the audit succeeds.",
)
@click.option(
    "--demo",
    is_flag=False,
    flag_value="breast-cancer",
    default=None,
    type=click.Choice(["breast-cancer", "credit", "digits"]),
    help="Audit a built-in demo: breast-cancer (gradient boosting; the default when no "
    "value is given), credit (synthetic loans with a planted proxy bias, audited for "
    "fairness by 'group') or digits (a PyTorch CNN, needs torch). The tabular demos are "
    "audited with their training data, as --train would give it.",
)
@click.option(
    "--sensitive",
    multiple=True,
    help="A column of --data holding a sensitive attribute (repeat for several): the report "
    "gains a Fairness section. A column the model was not fitted on is left out of its input. "
    "Bin a numeric column into groups with COLUMN:bins=18,25,40,65 (edges; -inf and inf "
    "allowed) or COLUMN:quantiles=4 (groups of equal size; not with Parquet files read with "
    "Dask, whose groups are counted over all rows).",
)
@click.option(
    "--trust-model-file",
    is_flag=True,
    help="Load pickle/joblib files, which run code when loaded. Only for files you trust.",
)
@click.option(
    "--seed", default=0, show_default=True, help="random_state for every stochastic step."
)
@click.option(
    "--scheduler",
    help="Audit Parquet --data on the Dask scheduler at this address, such as tcp://host:8786.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Audit Parquet --data on this many local Dask worker processes started for the run.",
)
@click.option(
    "--max-samples",
    type=click.IntRange(min=1),
    help="Parquet --data read with Dask (a pattern, a folder, or --scheduler/--workers): at "
    "most this many rows, drawn at random without replacement with --seed, for the per-row "
    "sections.  [default: 10000]",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--mlflow",
    "log_mlflow",
    is_flag=True,
    help="Also log the saved report (HTML, JSON, SHAP values, key metrics) to MLflow at "
    "MLFLOW_TRACKING_URI (unset: MLflow's default local store): to the run MLFLOW_RUN_ID "
    "names, else a new run. Needs the mlflow extra; the tracking store is checked before "
    "the audit starts.",
)
def audit(
    model_path: str | None,
    data_path: str | None,
    target: str | None,
    train_path: str | None,
    rows: str | None,
    out: str,
    demo: str | None,
    sensitive: tuple[str, ...],
    trust_model_file: bool,
    seed: int,
    scheduler: str | None,
    workers: int | None,
    max_samples: int | None,
    quiet: bool,
    log_mlflow: bool,
) -> None:
    """Audit a model on a labelled dataset and write one self-contained HTML report.

    A pattern or folder of Parquet files as --data is read with Dask, in this process
    without --scheduler or --workers.
    """
    from whybox._utils import is_torch_model
    from whybox.io import load_data, load_model, recover_pair, report_paths
    from whybox.report import audit as run_audit

    row_list = _parse_rows(rows)
    attributes = _parse_sensitive(sensitive)
    if scheduler is not None and workers is not None:
        raise InputError(
            "--scheduler and --workers exclude each other: give the address of a running "
            "scheduler or a number of local workers to start, not both."
        )
    if demo and (model_path or data_path or target or sensitive or train_path):
        raise InputError(
            "--demo takes no --model, --data, --target, --train or --sensitive; drop them or "
            "--demo."
        )
    if demo and (scheduler or workers or max_samples):
        raise InputError(
            "--demo runs in memory and takes no --scheduler, --workers or --max-samples; "
            "drop them or --demo."
        )
    on_dask = data_path is not None and _reads_with_dask(data_path, scheduler, workers)
    if max_samples is not None and not on_dask and not demo:
        raise InputError(
            "--max-samples applies to Parquet files read with Dask (a pattern, a folder, or "
            "--scheduler/--workers); one --data file is audited whole in memory, so drop "
            "--max-samples."
        )
    missing = [
        name
        for name, v in (("--model", model_path), ("--data", data_path), ("--target", target))
        if not v and not demo
    ]
    if missing:
        raise InputError(
            f"whybox audit needs {', '.join(missing)}; give them, or --demo for the demo."
        )
    # both outputs are checked before any work: neither may be an input or a folder
    html_path, json_path = report_paths(
        out, input_paths={"--model": model_path, "--data": data_path, "--train": train_path}
    )
    recover_pair(html_path, json_path)  # finish a write to them that was killed, if any
    if log_mlflow:  # mlflow installed and the tracking store answers, before any work
        from whybox.integrations.mlflow import check_connection

        check_connection()
    if demo:
        from whybox.datasets import load_credit, load_demo, load_digits_cnn

        loader = {"digits": load_digits_cnn, "credit": load_credit}.get(demo, load_demo)
        case = loader(random_state=seed)
        tabular = demo != "digits"  # the tabular demos audit with their training data
        report = run_audit(
            case.model, case.X_test, case.y_test, rows=row_list, class_names=case.class_names,
            random_state=seed, progress=not quiet, source=case.description,
            sensitive_features=case.group_test if demo == "credit" else None,
            X_train=case.X_train if tabular else None, y_train=case.y_train if tabular else None,
        )  # fmt: skip
        _save(report, html_path, json_path, log_mlflow=log_mlflow)
        return
    assert model_path is not None and data_path is not None and target is not None
    if on_dask:
        _audit_dask(
            model_path, data_path, target, train_path, row_list, attributes, html_path, json_path,
            trust_model_file=trust_model_file, seed=seed, scheduler=scheduler,
            workers=workers, max_samples=max_samples, quiet=quiet, log_mlflow=log_mlflow,
        )  # fmt: skip
        return
    model = load_model(model_path, trust=trust_model_file)
    source = f"model {Path(model_path).name}, data {Path(data_path).name}, target {target}"
    if is_torch_model(model):
        if sensitive:
            raise InputError(
                "--sensitive applies to tabular data; a PyTorch image model has no columns "
                "to audit for fairness."
            )
        if train_path:
            raise InputError(
                "--train applies to tabular data; the audit of a PyTorch image model takes no "
                "training data, so drop --train."
            )
        X, y = _image_arrays(data_path, target)
        _check_rows_exist(row_list, len(y), data_path)
        report = run_audit(
            model, X, y, rows=row_list, random_state=seed, progress=not quiet, source=source
        )
        _save(report, html_path, json_path, log_mlflow=log_mlflow)
        return
    frame = load_data(data_path)
    data_name = Path(data_path).name
    if target not in frame.columns:
        raise InputError(
            f"--target {shorten(target)} is not a column of {data_name}; its columns "
            f"are [{', '.join(shorten(str(c)) for c in frame.columns[:10])}]."
        )
    _check_rows_exist(row_list, len(frame), data_path)
    attrs = _sensitive_attributes(frame, attributes, target, data_name)
    y = frame[target]
    X = frame.drop(columns=[target])
    X_train = y_train = None
    if train_path:
        train = load_data(train_path)
        _check_train_columns(train, frame, target, train_path, data_path)
        y_train = train[target]
        X_train = train.drop(columns=[target])
        source += f", training data {Path(train_path).name}"
    report = run_audit(
        model, X, y, X_train=X_train, y_train=y_train, rows=row_list, random_state=seed,
        progress=not quiet, source=source, sensitive_features=attrs or None,
    )  # fmt: skip
    _save(report, html_path, json_path, log_mlflow=log_mlflow)


@cli.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(),
    required=True,
    help="Saved tree model: .skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm (or, "
    "with --trust-model-file, .pkl/.joblib).",
)
@click.option(
    "--data",
    "data_pattern",
    required=True,
    help="Parquet files to explain: a pattern such as 'data/*.parquet' (quoted), one file or "
    "a folder. Every file must have the columns, and types, of the first.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Where to write the SHAP values (Parquet): one row per input row (row id, a value "
    "per feature, the base value). It may be none of the inputs.",
)
@click.option("--target", help="A column of --data to leave out of the model's input (the labels).")
@click.option(
    "--scheduler",
    help="Run on the Dask scheduler at this address, such as tcp://host:8786.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Start this many local Dask worker processes for the run.",
)
@click.option(
    "--trust-model-file",
    is_flag=True,
    help="Load pickle/joblib files, which run code when loaded. Only for files you trust.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def shap(
    model_path: str,
    data_pattern: str,
    out: str,
    target: str | None,
    scheduler: str | None,
    workers: int | None,
    trust_model_file: bool,
    quiet: bool,
) -> None:
    """Explain every row of Parquet files with TreeSHAP, on Dask, into a Parquet file.

    Without --scheduler or --workers the work runs in this process.
    """
    import time

    from whybox._utils import require_dask

    if scheduler is not None and workers is not None:
        raise InputError(
            "--scheduler and --workers exclude each other: give the address of a running "
            "scheduler or a number of local workers to start, not both."
        )
    require_dask("whybox shap")
    from whybox.distributed import connect, parquet_files, read_table

    files = parquet_files(data_pattern, name="--data")
    out_path = _check_shap_out(out, model_path, data_pattern, files)
    frame = read_table(data_pattern, name="--data")
    if target is not None:
        columns = [str(c) for c in frame.columns]
        if target not in columns:
            raise InputError(
                f"--target {shorten(target)} is not a column of --data; its columns are "
                f"[{', '.join(shorten(c) for c in columns[:10])}]."
            )
        frame = frame.drop(columns=[target])
    from whybox.io import load_model
    from whybox.shapley import TreeExplainer

    model = load_model(model_path, trust=trust_model_file)
    explainer = TreeExplainer(model, progress=False)
    n_rows = _count_rows(files)
    where = (
        f"on the scheduler at {scheduler}"
        if scheduler is not None
        else f"on {workers} local worker{'s' if workers != 1 else ''}"
        if workers is not None
        else "in this process"
    )
    with connect(scheduler=scheduler, workers=workers) as client:
        start = time.perf_counter()
        explanation = explainer(frame)
        _write_values(explanation, out_path, client, progress=not quiet)
        seconds = time.perf_counter() - start
    click.echo(f"explained {n_rows} rows in {seconds:.1f} s {where}; wrote {out_path}")


def _check_shap_out(out: str, model_path: str, data_pattern: str, files: list[Path]) -> Path:
    """``--out`` of ``whybox shap``: none of the inputs, outside the data pattern, and, if it
    exists, a file or an earlier output folder (Parquet files only), which the run replaces."""
    import fnmatch

    from whybox.io import check_output_path

    out_path = Path(out)
    resolved = out_path.resolve()
    for file in files:
        if file.resolve() == resolved or resolved in file.resolve().parents:
            raise InputError(
                f"--out {shorten(out)} is or holds the --data file {shorten(file.name)}; "
                "writing there would overwrite the data, so choose another path for --out."
            )
    pattern = str(Path(data_pattern).resolve())
    # the output, or a part file written into it, would be read by the next run
    if any(
        fnmatch.fnmatch(str(candidate), pattern)
        for candidate in (resolved, resolved / "part.0.parquet")
    ):
        raise InputError(
            f"--out {shorten(out)} matches the --data pattern {shorten(data_pattern)}, so its "
            "values would be read as data by the next run; choose a path outside it for --out."
        )
    if not out_path.is_dir():
        check_output_path(out_path, input_paths={"--model": model_path})
        return out_path
    if not os.access(out_path.parent, os.W_OK | os.X_OK):
        raise InputError(
            f"the folder {shorten(str(out_path.parent))} for --out cannot be written; choose a "
            "folder you can write to."
        )
    others = [
        f.name
        for f in out_path.iterdir()
        if not (f.is_file() and (f.suffix == ".parquet" or f.name in _PARQUET_SIDECARS))
    ]
    if others:
        raise InputError(
            f"--out {shorten(out)} is a folder holding {shorten(others[0])}, which is not an "
            "earlier output of whybox shap; give a new path, or the folder of an earlier run "
            "to replace it."
        )
    return out_path


_PARQUET_SIDECARS = ("_metadata", "_common_metadata")


def _count_rows(files: list[Path]) -> int:
    """Rows of Parquet files, from their metadata (no data is read)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in files)


def _write_values(explanation: Any, out: Path, client: Any, *, progress: bool) -> None:
    """``explanation.to_parquet`` into a new folder beside ``out``, which then takes the
    place of ``out``: a run that fails leaves an earlier output as it was."""
    import shutil

    temporary = out.with_name(f".{out.name}.whybox-{os.getpid()}")
    previous = out.with_name(f".{out.name}.whybox-{os.getpid()}-old")
    try:
        _to_parquet(explanation, temporary, client, progress=progress)
        if out.exists():
            out.rename(previous)
        temporary.rename(out)
    finally:
        for leftover in (temporary, previous):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            elif leftover.exists():
                leftover.unlink()


def _to_parquet(explanation: Any, path: Path, client: Any, *, progress: bool) -> None:
    """``explanation.to_parquet(path)``, with a progress bar where dask can show one."""
    import inspect

    lazy_write = "compute" in inspect.signature(explanation.to_parquet).parameters
    if client is not None:
        if not progress:
            explanation.to_parquet(path)
            return
        if not lazy_write:
            _polled_progress(client, explanation.values.numblocks[0], explanation.to_parquet, path)
            return
        from distributed import progress as show_progress

        future = client.compute(explanation.to_parquet(path, compute=False))
        show_progress(future)
        click.echo("", err=True)
        future.result()
        return
    import contextlib

    import dask
    from dask.diagnostics import ProgressBar

    # in this process: dask's threads, even where a distributed Client is the default
    bar = ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext()
    with dask.config.set(scheduler="threads"), bar:
        explanation.to_parquet(path)


def _polled_progress(client: Any, n_parts: int, write: Any, path: Path) -> None:
    """``write(path)`` on a cluster, with a bar of the parts written so far, which the
    scheduler is asked for twice a second (dask's own write tasks, ``toparquetdata``)."""
    import threading

    from tqdm.auto import tqdm

    def written(dask_scheduler: Any) -> int:  # runs on the scheduler (sent by value)
        return sum(
            ts.prefix.name == "toparquetdata" and ts.state == "memory"
            for ts in dask_scheduler.tasks.values()
        )

    stop = threading.Event()
    bar = tqdm(total=n_parts, desc="whybox shap", unit="part", file=sys.stderr)

    def poll() -> None:
        while not stop.wait(0.5):
            try:
                done = min(int(client.run_on_scheduler(written)), n_parts)
            except Exception:  # a bar is never worth failing the run for
                return
            if done > bar.n:
                bar.update(done - bar.n)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        write(path)
        bar.update(n_parts - bar.n)
    finally:
        stop.set()
        watcher.join(timeout=10)
        bar.close()


def _reads_with_dask(data_path: str, scheduler: str | None, workers: int | None) -> bool:
    """Whether ``audit`` reads --data with Dask: a pattern or a folder, or any --data with
    --scheduler/--workers (which must then be Parquet)."""
    path = Path(data_path)
    if scheduler is None and workers is None:
        return path.is_dir() or (not path.exists() and any(c in data_path for c in "*?["))
    if path.is_file() and path.suffix.lower() != ".parquet":
        raise InputError(
            f"--scheduler and --workers read Parquet files, but --data {shorten(path.name)} is "
            "not one; convert it to Parquet, or drop --scheduler/--workers to audit it in "
            "memory."
        )
    return True


def _audit_dask(
    model_path: str,
    data_path: str,
    target: str,
    train_path: str | None,
    row_list: list[int] | None,
    attributes: list[_Sensitive],
    html_path: Path,
    json_path: Path,
    *,
    trust_model_file: bool,
    seed: int,
    scheduler: str | None,
    workers: int | None,
    max_samples: int | None,
    quiet: bool,
    log_mlflow: bool = False,
) -> None:
    """``whybox audit`` of Parquet files read with Dask, on a cluster or in this process:
    every input checked (files' schemas, columns, rows) before any work."""
    import contextlib

    from whybox._utils import require_dask
    from whybox.io import load_data, load_model
    from whybox.report import audit as run_audit

    require_dask("whybox audit of Parquet files read with Dask")
    import dask

    from whybox.distributed import connect, parquet_files, read_table

    files = parquet_files(data_path, name="--data")
    frame = read_table(data_path, name="--data")
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise InputError(
            f"--target {shorten(target)} is not a column of --data; its columns are "
            f"[{', '.join(shorten(c) for c in columns[:10])}]."
        )
    for a in attributes:
        _check_sensitive_column(a, columns, target, "--data")
        if a.quantiles is not None:
            raise InputError(
                f"--sensitive {shorten(a.spec)} needs the quantiles of every row at once, "
                "which Parquet files read with Dask do not hold in one place; give the edges "
                f"instead, such as --sensitive {_bare(a.column)}:bins=18,25,40,65."
            )
    n_rows = _count_rows(files)
    for r in row_list or ():
        if r >= n_rows:
            raise InputError(
                f"--rows must be row positions between 0 and {n_rows - 1} (the --data files "
                f"hold {n_rows} rows), got {r}; choose rows that exist in the data."
            )
    model = load_model(model_path, trust=trust_model_file)
    source = (
        f"model {Path(model_path).name}, data {data_path} ({len(files)} Parquet "
        f"file{'s' if len(files) != 1 else ''}), target {target}"
    )
    X_train = y_train = None
    if train_path:
        train = load_data(train_path)
        # the kinds of the columns from the first rows of the first file
        _check_train_columns(train, frame.head(1000, npartitions=1), target, train_path, data_path)
        y_train = train[target]
        X_train = train.drop(columns=[target])
        source += f", training data {Path(train_path).name}"
    with connect(scheduler=scheduler, workers=workers) as client:
        # in this process: dask's threads, even where a distributed Client is the default
        local = dask.config.set(scheduler="threads") if client is None else None
        with local or contextlib.nullcontext():
            report = run_audit(
                model, frame.drop(columns=[target]), frame[target], X_train=X_train,
                y_train=y_train, rows=row_list, random_state=seed, progress=not quiet,
                source=source, sensitive_features=_dask_attributes(frame, attributes) or None,
                max_samples=10_000 if max_samples is None else max_samples,
            )  # fmt: skip
    _save(report, html_path, json_path, log_mlflow=log_mlflow)


def _bin_partition(values: Any, column: str, edges: tuple[float, ...], option: str) -> Any:
    """One partition of a numeric column in the bins of ``edges``, labelled as
    ``whybox.fairness.bin_numeric`` labels them (a point of every bin joins the
    partition while it is binned, so a partition within one bin is not refused)."""
    import numpy as np
    import pandas as pd

    from whybox.fairness import bin_numeric

    finite = np.asarray(edges, dtype=np.float64)
    lo = np.where(np.isinf(finite[:-1]), finite[1:] - 1.0, finite[:-1])
    hi = np.where(np.isinf(finite[1:]), finite[:-1] + 1.0, finite[1:])
    points = (lo + hi) / 2
    given = values.to_numpy(dtype=object)
    binned = bin_numeric(
        np.concatenate([given, points.astype(object)]), column, bins=edges, option=option
    )
    return pd.Series(binned.to_numpy()[: len(given)], index=values.index, name=column, dtype=object)


def _dask_attributes(frame: Any, attributes: list[_Sensitive]) -> list[Any]:
    """The ``--sensitive`` attributes of a dask frame: column names, or binned dask Series."""
    import pandas as pd

    out: list[Any] = []
    for a in attributes:
        if a.bins is None:
            out.append(a.column)
            continue
        out.append(
            frame[a.column].map_partitions(
                _bin_partition,
                a.column,
                a.bins,
                f"--sensitive {shorten(a.spec)}",
                meta=pd.Series([], dtype=object, name=a.column),
            )  # fmt: skip
        )
    return out


def _check_rows_exist(rows: list[int] | None, n_rows: int, data_path: str) -> None:
    """Every ``--rows`` number must be a row of the data file."""
    for r in rows or ():
        if r >= n_rows:
            raise InputError(
                f"--rows must be row positions between 0 and {n_rows - 1} "
                f"({Path(data_path).name} has {n_rows} rows), got {r}; choose rows that exist "
                "in the data."
            )


def _check_train_columns(
    train: Any,
    frame: Any,
    target: str,
    train_path: str,
    data_path: str,
) -> None:
    """``--train`` must hold the columns of ``--data`` (the target included), each of the
    same kind (numbers, or text/categories)."""
    from whybox.adapters import adapt_data

    train_name, data_name = Path(train_path).name, Path(data_path).name
    have = [str(c) for c in train.columns]
    want = [str(c) for c in frame.columns]
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    parts = []
    if missing:
        parts.append(f"it lacks {', '.join(shorten(c) for c in missing[:5])}")
    if extra:
        parts.append(
            f"it has {', '.join(shorten(c) for c in extra[:5])}, which {data_name} has not"
        )
    shared = [c for c in want if c in have and c != target]
    if not parts and shared:
        train_kinds = dict(zip(shared, adapt_data(train[shared]).categorical.tolist(), strict=True))
        data_kinds = dict(zip(shared, adapt_data(frame[shared]).categorical.tolist(), strict=True))
        differ = [c for c in shared if train_kinds[c] != data_kinds[c]]
        if differ:

            def kind(categorical: bool) -> str:
                return "text" if categorical else "numbers"

            c = differ[0]
            parts.append(
                f"column {shorten(c)} holds {kind(train_kinds[c])} in {train_name} but "
                f"{kind(data_kinds[c])} in {data_name}"
                + (f" ({len(differ) - 1} more columns differ too)" if len(differ) > 1 else "")
            )
    if parts:
        raise InputError(
            f"--train {train_name} has columns that differ from --data {data_name}: "
            f"{'; '.join(parts)}; give --train the columns of --data, target included."
        )


def _sensitive_attributes(
    frame: Any, attributes: list[_Sensitive], target: str, data_name: str
) -> list[Any]:
    """The ``--sensitive`` attributes for ``audit``: column names, or binned Series."""
    from whybox.fairness import bin_numeric, check_group_count

    columns = [str(c) for c in frame.columns]
    out: list[Any] = []
    for a in attributes:
        _check_sensitive_column(a, columns, target, data_name)
        values = frame[a.column]
        if a.bins is None and a.quantiles is None:
            check_group_count(values, a.column, cli=True)
            out.append(a.column)
        else:
            out.append(
                bin_numeric(
                    values,
                    a.column,
                    bins=a.bins,
                    quantiles=a.quantiles,
                    option=f"--sensitive {shorten(a.spec)}",
                )  # fmt: skip
            )
    return out


def _check_sensitive_column(a: _Sensitive, columns: list[str], target: str, data_name: str) -> None:
    """A ``--sensitive`` column must be a column of the data other than the target."""
    if a.column == target:
        raise InputError(
            f"--sensitive {shorten(a.column)} is the target (--target), the label the model "
            "predicts, not an attribute of the people in the rows; name another column, "
            "such as a sex or age-group column, with --sensitive."
        )
    if a.column not in columns:
        others = ", ".join(shorten(c) for c in columns if c != target)
        raise InputError(
            f"--sensitive {shorten(a.column)} is not a column of {data_name}; its columns "
            f"are [{others[:400]}]."
        )


def _save(report: Any, html_path: Path, json_path: Path, *, log_mlflow: bool = False) -> None:
    report.save(html_path)
    click.echo(f"wrote {html_path} and {json_path}")
    if log_mlflow:
        from whybox.integrations.mlflow import log_report

        run_id = log_report(report, path=html_path)
        click.echo(f"logged the report to MLflow run {run_id}")


def _image_arrays(data_path: str, target: str) -> tuple[Any, Any]:
    """Images and labels from an .npz file: --target names the labels array."""
    from whybox.io import load_arrays

    arrays = load_arrays(data_path)
    if target not in arrays:
        raise InputError(
            f"--target {shorten(target)} is not an array of {Path(data_path).name}; its arrays "
            f"are [{', '.join(shorten(k) for k in sorted(arrays)[:10])}]."
        )
    others = sorted(k for k in arrays if k != target)
    if len(others) != 1:
        raise InputError(
            f"{Path(data_path).name} must hold exactly two arrays, the images and the labels "
            f"(--target), got [{', '.join(shorten(k) for k in sorted(arrays)[:10])}]; save only "
            "those two with np.savez."
        )
    return arrays[others[0]], arrays[target]


def _one_line(text: str) -> str:
    """A message on one line, cut in the middle if it is still too long to read."""
    line = " ".join(text.split())
    if len(line) <= _MAX_ERROR_CHARS:
        return line
    head = _MAX_ERROR_CHARS // 2
    return f"{line[:head]} [...] {line[len(line) - (_MAX_ERROR_CHARS - head - 7) :]}"


def _close_progress_bars() -> None:
    """Close the progress bars an interrupted audit left open, so the error has its own line."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is None:
        return
    for bar in list(getattr(tqdm_module.tqdm, "_instances", ())):
        bar.close()


class _Terminated(BaseException):
    """SIGTERM, raised so that the writes in progress clean up after themselves."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning bad input into one line on stderr and exit 2.

    SIGTERM stops the run like Ctrl-C, so temporary files are removed and a report
    pair being written is left old or new, never mixed (exit status 143).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    """
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            cli.main(args=argv, prog_name="whybox", standalone_mode=False)
        except BaseException:
            _close_progress_bars()
            raise
    except click.exceptions.Abort:
        click.echo("whybox: aborted", err=True)
        sys.exit(130)
    except _Terminated:
        click.echo("whybox: terminated", err=True)
        sys.exit(143)
    except click.UsageError as exc:
        click.echo(f"whybox: error: {_one_line(exc.format_message())}", err=True)
        sys.exit(2)
    except InputError as exc:
        click.echo(f"whybox: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(
            f"whybox: error: {_one_line(f'{exc.strerror or exc} ({exc.filename})')}", err=True
        )
        sys.exit(2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
