"""Log an audit report to MLflow: the report files, the SHAP values and key metrics.

This module is named after the library it logs to; it imports the real ``mlflow`` inside
its functions (absolute imports), so ``import whybox.integrations.mlflow`` does not
import mlflow. It needs the ``mlflow`` extra: ``pip install 'whybox[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation

__all__ = ["check_connection", "log_report", "report_metrics"]

PREFIX = "whybox."  # every metric name starts with it
HTML_NAME = "report.html"
JSON_NAME = "report.json"
PARQUET_NAME = "shap_values.parquet"
NPY_NAME = "shap_values.npy"
_BATCH = 1000  # MLflow's limit of metrics per log_batch call
_MAX_KEY = 250  # MLflow's limit on a metric name's length


def _require_mlflow(purpose: str) -> Any:
    """Import and return ``mlflow``, or raise one sentence naming the extra."""
    try:
        import mlflow
    except ImportError:
        raise InputError(
            f"{purpose} needs mlflow, which is not installed; install it with "
            "pip install 'whybox[mlflow]'."
        ) from None
    return mlflow


def _slug(text: str) -> str:
    """A metric name part MLflow accepts: ASCII lower case, digits and ``_`` ("R²" -> "r2")."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_") or "value"


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def report_metrics(report: Any) -> dict[str, float]:
    """The report's key numbers under stable MLflow metric names.

    Parameters
    ----------
    report : Report
        An audit report (:func:`whybox.report.audit`).

    Returns
    -------
    dict of str to float
        Only finite numbers; a number the report does not have is left out. Names
        (all ``whybox.``-prefixed, ASCII lower case, ``_`` between words):

        - ``whybox.<metric>``: the "Metrics" table of the performance section as
          shown (4 significant digits): ``accuracy``, ``balanced_accuracy``,
          ``roc_auc``, ``log_loss`` for a classifier, ``r2``,
          ``mean_absolute_error``, ``root_mean_squared_error`` for a regressor
          (``_sample`` ends a metric computed on the sample of a Dask audit);
        - ``whybox.training.<metric>``: the same on the training rows, with
          training targets;
        - ``whybox.max_additivity_error``: the largest ``|sum of SHAP values + base
          value - model output|`` over the explained rows;
        - ``whybox.aopc``, ``whybox.aopc_random``, ``whybox.aopc_gain``: the
          SHAP values' faithfulness (mean AOPC in the SHAP order, in random orders,
          and the difference); ``whybox.lime.aopc_gain`` for LIME;
        - ``whybox.fairness.<metric>.difference`` and ``.ratio``: each group
          disparity (largest minus smallest group, smallest over largest), e.g.
          ``whybox.fairness.demographic_parity.difference``; with several sensitive
          features also ``whybox.fairness.<feature>.<metric>.difference`` per feature.

    Raises
    ------
    InputError
        If ``report`` is not a whybox Report.
    """
    from whybox.report import Report, Table

    if not isinstance(report, Report):
        raise InputError(
            f"report must be a whybox Report (from whybox.report.audit), got "
            f"{type(report).__name__}; pass the report the audit returned."
        )
    out: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        number = _number(value)
        if number is not None and len(name) <= _MAX_KEY:
            out.setdefault(name, number)

    performance = next((s for s in report.sections if s.id == "performance"), None)
    if performance is not None:
        for block in performance.blocks:
            if isinstance(block, Table) and block.title == "Metrics":
                for name, value in block.rows:
                    put(f"{PREFIX}{_slug(name)}", value)
        for name, value in performance.results.get("training_performance", {}).items():
            put(f"{PREFIX}training.{_slug(name)}", value)
    results = report.results
    ex = results.get("explanation")
    if isinstance(ex, Explanation):
        error = np.asarray(ex.additivity_error, dtype=float)
        if error.size and np.isfinite(error).any():
            put(f"{PREFIX}max_additivity_error", np.nanmax(error))
    quality = results.get("quality", {})
    for who, prefix in (("shap", PREFIX), ("lime", f"{PREFIX}lime.")):
        faithfulness = (quality.get(who) or {}).get("faithfulness") or {}
        for key, name in (("mean_aopc", "aopc"), ("mean_aopc_random", "aopc_random")):
            put(f"{prefix}{name}", faithfulness.get(key))
        put(f"{prefix}aopc_gain", faithfulness.get("gain"))
    group_metrics = (results.get("fairness") or {}).get("group_metrics")
    if group_metrics is not None:
        tables = [("", group_metrics.disparities)]
        tables += [
            (f"{_slug(feature)}.", table)
            for feature, table in getattr(group_metrics, "marginal_disparities", {}).items()
        ]
        for feature, table in tables:
            for row in table.itertuples(index=False):
                for column in ("difference", "ratio"):
                    put(
                        f"{PREFIX}fairness.{feature}{_slug(row.metric)}.{column}",
                        getattr(row, column),
                    )
    return out


@contextlib.contextmanager
def _quick_requests() -> Iterator[None]:
    """MLflow's HTTP requests without retries and with a short timeout, for a probe."""
    saved = {k: os.environ.get(k) for k in _PROBE_ENV}
    os.environ.update(_PROBE_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def check_connection() -> str:
    """Check that mlflow is installed and its tracking store answers.

    The tracking URI is MLflow's own: ``MLFLOW_TRACKING_URI``, else
    ``mlflow.set_tracking_uri``'s, else MLflow's default. One request (list one
    experiment), without retries and with a 10 s timeout; a local store (``sqlite:``,
    a folder) is opened, which creates it where its folder exists.

    Returns
    -------
    str
        The tracking URI.

    Raises
    ------
    InputError
        If mlflow is not installed, or the store cannot be reached (the message
        names the URI and the error).
    """
    mlflow = _require_mlflow("logging to MLflow")
    from mlflow.tracking import MlflowClient

    uri = mlflow.get_tracking_uri()
    try:
        with _quick_requests():
            MlflowClient(uri).search_experiments(max_results=1)
    except Exception as exc:  # any failure of the store: a refused connection, a bad path
        detail = " ".join(str(exc).split())
        if len(detail) > 160:  # whole words, marked as cut
            detail = detail[:160].rsplit(" ", 1)[0] + " ..."
        raise InputError(
            f"the MLflow tracking URI {uri!r} (MLFLOW_TRACKING_URI) cannot be reached "
            f"({type(exc).__name__}: {detail}); start the tracking server or set "
            "MLFLOW_TRACKING_URI to one that answers."
        ) from None
    return str(uri)


def _write_files(
    folder: Path, report: Any, explanation: Explanation | None, path: Any
) -> str | None:
    """The report pair (and the SHAP values) in ``folder``; returns the report id."""
    from whybox.io import pair_matches, read_report_id, report_paths

    html, json = folder / HTML_NAME, folder / JSON_NAME
    if path is None:
        report.save(html)
    else:
        saved_html, saved_json = report_paths(path, name="path")
        if not pair_matches(saved_html, saved_json):
            raise InputError(
                f"path {str(path)!r} must be an HTML report written by Report.save with its "
                f"JSON beside it ({saved_json.name}), got a missing or mismatched pair; save "
                "the report there again or leave path out."
            )
        shutil.copyfile(saved_html, html)
        shutil.copyfile(saved_json, json)
    if explanation is not None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            np.save(folder / NPY_NAME, np.asarray(explanation.values, dtype=float))
        else:
            explanation.to_parquet(folder / PARQUET_NAME)
    return read_report_id(json)


def log_report(
    report: Any,
    run_id: str | None = None,
    *,
    explanation: Explanation | None = None,
    path: str | os.PathLike | None = None,
) -> str:
    """Log an audit report to an MLflow run: the HTML and JSON, the SHAP values, key metrics.

    Which run: ``run_id`` when given; else the active run (``mlflow.start_run``), left
    active; else a new run in the current experiment, started and ended here. The
    tracking store is MLflow's (``MLFLOW_TRACKING_URI`` or ``mlflow.set_tracking_uri``).

    Logged, at the run's artifact root:

    - ``report.html`` and ``report.json``: the report written as one pair by
      :meth:`~whybox.report.Report.save` into a temporary folder (one new report id in
      both), or the pair already saved at ``path``, copied under these names;
    - ``shap_values.parquet``: the SHAP values, one row per explained row
      (:meth:`~whybox.Explanation.to_parquet`: ``row``, ``shap:<feature>``,
      ``base_value``, ``model_output``); ``shap_values.npy`` (the ``values`` array,
      float64, shape ``(n_rows, n_features, n_outputs)``) when pyarrow is missing;
    - the metrics of :func:`report_metrics` (step 0), and the tag ``whybox.report_id``.

    Parameters
    ----------
    report : Report
        An audit report (:func:`whybox.report.audit`).
    run_id : str, optional
        The MLflow run to log to (default: the active run, or a new one).
    explanation : Explanation, optional
        The SHAP values to log; default: the audit's own (the report's
        ``results["explanation"]``), none when the report has none.
    path : str or path-like, optional
        Where the report was already saved (the HTML; its JSON beside it): log those
        files instead of writing a new pair, so the run holds the very files on disk.

    Returns
    -------
    str
        The id of the run logged to.

    Raises
    ------
    InputError
        If mlflow is not installed, ``report`` is not a Report, ``explanation`` not an
        Explanation, the pair at ``path`` does not match, or ``run_id`` is not a run
        of the tracking store.
    """
    mlflow = _require_mlflow("whybox.integrations.mlflow.log_report")
    from mlflow.entities import Metric, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    metrics = report_metrics(report)  # checks report
    if explanation is None:
        found = report.results.get("explanation")
        explanation = found if isinstance(found, Explanation) else None
    elif not isinstance(explanation, Explanation):
        raise InputError(
            f"explanation must be a whybox Explanation, got {type(explanation).__name__}; "
            "pass the Explanation whose SHAP values to log, or leave it out."
        )
    client = MlflowClient()
    with tempfile.TemporaryDirectory(prefix="whybox-mlflow-") as tmp:
        report_id = _write_files(Path(tmp), report, explanation, path)
        stamp = int(time.time() * 1000)
        entries = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
        tags = [RunTag("whybox.report_id", report_id)] if report_id else []

        def log(target: str) -> None:
            client.log_artifacts(target, tmp)
            for i in range(0, max(len(entries), 1), _BATCH):
                client.log_batch(
                    target, metrics=entries[i : i + _BATCH], tags=tags if i == 0 else []
                )

        if run_id is not None:
            try:
                client.get_run(run_id)
            except MlflowException:
                raise InputError(
                    f"run_id {str(run_id)[:80]!r} is not a run of the MLflow tracking URI "
                    f"{mlflow.get_tracking_uri()!r}; pass the id of an existing run, or "
                    "leave run_id out to use the active run or a new one."
                ) from None
            log(run_id)
            return str(run_id)
        active = mlflow.active_run()
        if active is not None:
            log(active.info.run_id)
            return str(active.info.run_id)
        with mlflow.start_run() as run:
            log(run.info.run_id)
        return str(run.info.run_id)
