"""whybox.integrations.mlflow: a report logged to a local store and to a real tracking server.

The report is built by hand from public library calls (TreeSHAP, group metrics) so the
tests stay fast; one CLI test runs a real (small) audit against the server. Every number
is checked against the report's own objects, read back through MlflowClient.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._cli import one_line_error, run_cli, small_table
from tests._requires import requires
from whybox import explain
from whybox._exceptions import InputError
from whybox.fairness import group_metrics
from whybox.integrations import mlflow as wm
from whybox.report import Report, Section, Table

SERVER_START_LIMIT_S = 120


def _report(with_explanation: bool = True):
    """A small report: a Metrics table, training metrics, SHAP values, quality, fairness."""
    from sklearn.ensemble import GradientBoostingClassifier

    frame = small_table(120)
    X, y = frame[["age", "debt"]], frame["label"]
    model = GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0)
    model.fit(X[:80], y[:80])
    ex = explain(model, X[80:])
    group = np.where(X.age[80:] > 40, "old", "young")
    gm = group_metrics(y[80:], model.predict(X[80:]), sensitive_features=group, n_bootstrap=0)
    metrics = Table("Metrics", ("metric", "value"), (("accuracy", 0.8125), ("R²", 0.5)))
    results = {
        "training_performance": {"accuracy": 0.95, "log loss": float("nan")},
        "explanation": ex,
        "quality": {
            "shap": {"faithfulness": {"mean_aopc": 0.9, "mean_aopc_random": 0.1, "gain": 0.8}},
            "lime": {"faithfulness": {"gain": float("inf")}},
        },
        "fairness": {"group_metrics": gm},
    }
    if not with_explanation:
        del results["explanation"]
    sections = (
        Section("performance", "Model performance", (metrics,), results=results),
        Section("fairness", "Fairness", (), results={}),
    )
    return Report("whybox audit", {"model": "GradientBoostingClassifier"}, sections, results), ex


def _expected_metrics(report, ex):
    """The metric names and values, read from the report's objects directly."""
    gm = report.results["fairness"]["group_metrics"]
    expected = {
        "whybox.accuracy": 0.8125,
        "whybox.r2": 0.5,
        "whybox.training.accuracy": 0.95,
        "whybox.max_additivity_error": float(np.nanmax(ex.additivity_error)),
        "whybox.aopc": 0.9,
        "whybox.aopc_random": 0.1,
        "whybox.aopc_gain": 0.8,
    }
    for row in gm.disparities.itertuples(index=False):
        for column in ("difference", "ratio"):
            value = float(getattr(row, column))
            if np.isfinite(value):
                expected[f"whybox.fairness.{row.metric}.{column}"] = value
    return expected


def _check_run(client, run_id, report, ex, tmp_path, *, local_json=None):
    """The run holds the pair, the SHAP values and the metrics of ``report``."""
    run = client.get_run(run_id)
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.html", "report.json", "shap_values.parquet"} <= names
    out = tmp_path / f"down-{run_id}"
    out.mkdir()
    json_back = Path(client.download_artifacts(run_id, "report.json", str(out)))
    html_back = Path(client.download_artifacts(run_id, "report.html", str(out)))
    if local_json is not None:
        assert json_back.read_bytes() == Path(local_json).read_bytes()
    data = json.loads(json_back.read_text(encoding="utf-8"))
    rid = data["meta"]["report id"]
    assert rid in html_back.read_text(encoding="utf-8")
    assert run.data.tags["whybox.report_id"] == rid
    # the report JSON is the report's own, but for the id save stamps in
    stamped = dict(data)
    stamped["meta"] = {k: v for k, v in data["meta"].items() if k != "report id"}
    assert stamped == json.loads(report.to_json())
    values = pd.read_parquet(client.download_artifacts(run_id, "shap_values.parquet", str(out)))
    for j, name in enumerate(ex.feature_names):
        np.testing.assert_array_equal(values[f"shap:{name}"].to_numpy(), ex.values[:, j, 0])
    np.testing.assert_array_equal(values["base_value"].to_numpy(), ex.base_values[:, 0])
    assert run.data.metrics == _expected_metrics(report, ex)


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory):
    """One sqlite tracking store for the module (creating its tables takes seconds)."""
    requires("mlflow")
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow-local') / 'mlflow.db'}"


@pytest.fixture
def local_store(sqlite_uri, tmp_path, monkeypatch):
    """The local store, with a new experiment whose artifacts go to tmp_path."""
    mlflow = requires("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri)
    experiment = mlflow.create_experiment(tmp_path.name, artifact_location=str(tmp_path / "art"))
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 (sqlite backend, artifacts served from tmp),
    started once for the module and stopped (its process group killed) at the end."""
    requires("mlflow")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    log = open(root / "server.log", "wb")  # noqa: SIM115 (closed below)
    t0 = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > SERVER_START_LIMIT_S:
                pytest.fail(f"mlflow server did not answer /health in {SERVER_START_LIMIT_S} s")
            time.sleep(0.2)
        started = time.perf_counter() - t0
        print(f"\nmlflow server answered /health after {started:.1f} s")  # noqa: T201
        yield uri
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def at_server(server, monkeypatch):
    mlflow = requires("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_import_whybox_does_not_import_mlflow():
    code = "import sys, whybox, whybox.integrations.mlflow; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_new_run_in_a_local_store(local_store, tmp_path):
    from mlflow.tracking import MlflowClient

    report, ex = _report()
    run_id = wm.log_report(report)
    assert local_store.active_run() is None  # the run it started is ended
    client = MlflowClient()
    assert client.get_run(run_id).info.status == "FINISHED"
    _check_run(client, run_id, report, ex, tmp_path)


def test_new_run_in_a_file_store(tmp_path, monkeypatch):
    """The plain folder store (MLflow refuses it unless MLFLOW_ALLOW_FILE_STORE is set)."""
    mlflow = requires("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    report, ex = _report()
    run_id = wm.log_report(report)
    assert mlflow.active_run() is None
    assert (tmp_path / "mlruns").is_dir()
    _check_run(MlflowClient(), run_id, report, ex, tmp_path)


def test_active_run_and_given_run(local_store, tmp_path):
    from mlflow.tracking import MlflowClient

    report, ex = _report()
    with local_store.start_run() as run:
        assert wm.log_report(report) == run.info.run_id
        assert local_store.active_run().info.run_id == run.info.run_id  # left active
    other = MlflowClient().create_run(run.info.experiment_id).info.run_id
    with local_store.start_run():  # an active run does not take it from the given one
        assert wm.log_report(report, other) == other
    client = MlflowClient()
    _check_run(client, run.info.run_id, report, ex, tmp_path)
    _check_run(client, other, report, ex, tmp_path)


def test_saved_pair_is_logged_as_is(local_store, tmp_path):
    from mlflow.tracking import MlflowClient

    report, ex = _report()
    html, js = report.save(tmp_path / "mine.html")
    run_id = wm.log_report(report, path=html)
    _check_run(MlflowClient(), run_id, report, ex, tmp_path, local_json=js)


def test_explanation_argument_and_npy_without_pyarrow(local_store, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    report, ex = _report(with_explanation=False)
    assert "whybox.max_additivity_error" not in wm.report_metrics(report)
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    run_id = wm.log_report(report, explanation=ex)
    monkeypatch.setattr(builtins, "__import__", real_import)
    client = MlflowClient()
    assert "shap_values.npy" in {a.path for a in client.list_artifacts(run_id)}
    back = np.load(client.download_artifacts(run_id, "shap_values.npy", str(tmp_path)))
    np.testing.assert_array_equal(back, ex.values)


def test_bad_arguments_are_one_sentence(local_store, tmp_path):
    report, ex = _report()
    with pytest.raises(InputError, match="^report must be a whybox Report"):
        wm.log_report({"not": "a report"})
    with pytest.raises(InputError, match="^explanation must be a whybox Explanation"):
        wm.log_report(report, explanation=ex.values)
    with pytest.raises(InputError, match="^run_id 'nope' is not a run"):
        wm.log_report(report, "nope")
    with pytest.raises(InputError, match="^path .* must be an HTML report"):
        wm.log_report(report, path=tmp_path / "missing.html")


def test_metric_names_are_ones_mlflow_accepts():
    from mlflow.utils.validation import _validate_metric_name

    report, _ = _report()
    names = wm.report_metrics(report)
    assert "whybox.training.log_loss" not in names  # NaN is left out
    assert "whybox.lime.aopc_gain" not in names  # so is infinity
    for name in names:
        _validate_metric_name(name)


def test_server_logs_and_reads_back(at_server, tmp_path):
    from mlflow.tracking import MlflowClient

    report, ex = _report()
    run_id = wm.log_report(report)
    client = MlflowClient(at_server.get_tracking_uri())
    assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:")
    _check_run(client, run_id, report, ex, tmp_path)


def test_cli_audit_mlflow_logs_a_run(at_server, tmp_path, capsys):
    skops = requires("skops.io")
    from mlflow.tracking import MlflowClient
    from sklearn.ensemble import GradientBoostingClassifier

    frame = small_table(120)
    model = GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0)
    model.fit(frame[["age", "debt"]][:80], frame.label[:80])
    skops.dump(model, tmp_path / "m.skops")
    frame[80:].to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "r.html"
    code = run_cli(
        "audit", "--model", tmp_path / "m.skops", "--data", tmp_path / "d.csv",
        "--target", "label", "--out", out, "--quiet", "--mlflow",
    )  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    run_id = stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    client = MlflowClient(at_server.get_tracking_uri())
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.html", "report.json", "shap_values.parquet"} <= names
    back = client.download_artifacts(run_id, "report.json", str(tmp_path / "back"))
    assert Path(back).read_bytes() == out.with_suffix(".json").read_bytes()
    metrics = client.get_run(run_id).data.metrics
    shown = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    table = shown["sections"][0]["blocks"][0]
    assert table["title"] == "Metrics"
    assert metrics["whybox.accuracy"] == dict(table["rows"])["accuracy"]


def test_cli_bad_uri_is_one_line_before_the_audit(capsys, monkeypatch, tmp_path):
    requires("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    t0 = time.perf_counter()
    line = one_line_error(capsys, "audit", "--demo", "--out", tmp_path / "r.html", "--mlflow")
    assert time.perf_counter() - t0 < 30  # no audit ran, no retries
    assert "cannot be reached" in line and "MLFLOW_TRACKING_URI" in line
    assert not (tmp_path / "r.html").exists()


def test_cli_without_mlflow_names_the_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    line = one_line_error(capsys, "audit", "--demo", "--out", tmp_path / "r.html", "--mlflow")
    assert "pip install 'whybox[mlflow]'" in line
    with pytest.raises(InputError, match=r"needs mlflow, which is not installed"):
        wm.log_report(_report()[0])
