"""connect and read_table; `whybox shap` against a real `dask scheduler` and `dask worker`
processes on 127.0.0.1, one of which is killed mid-run (issue #22 items 3 and 4)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import GradientBoostingRegressor

from tests._cli import run_cli
from tests._requires import requires
from whybox import InputError
from whybox.distributed import connect, parquet_files, read_table
from whybox.shapley import TreeExplainer

START_TIMEOUT_S = 120  # a loaded 2-core machine starts Python processes slowly


@pytest.fixture(autouse=True)
def _dask():
    requires("dask")
    requires("distributed")


def _table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = 2 * frame.a + frame.b**2 - frame.c * frame.d + rng.normal(0, 0.1, n_rows)
    return frame


def _write_parts(frame: pd.DataFrame, folder: Path, n_parts: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, part in enumerate(np.array_split(np.arange(len(frame)), n_parts)):
        path = folder / f"part-{i:03d}.parquet"
        frame.iloc[part].to_parquet(path, index=False)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- connect


def test_connect_without_scheduler_or_workers_runs_in_this_process():
    with connect() as client:
        assert client is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scheduler": "tcp://127.0.0.1:8786", "workers": 2}, "exclude each other"),
        ({"workers": 0}, "workers must be a whole number"),
        ({"workers": True}, "workers must be a whole number"),
        ({"workers": 1.5}, "workers must be a whole number"),
        ({"scheduler": "127.0.0.1:8786"}, "such as tcp://127.0.0.1:8786"),
        ({"scheduler": 8786}, "such as tcp://127.0.0.1:8786"),
    ],
)
def test_connect_refuses_bad_arguments_in_one_sentence(kwargs, message):
    with pytest.raises(InputError, match=message) as info:
        with connect(**kwargs):
            pass  # pragma: no cover
    assert "\n" not in str(info.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_sentence_naming_the_address():
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        with connect(scheduler=address, timeout=2):
            pass  # pragma: no cover
    assert time.perf_counter() - start < 60
    message = str(info.value)
    assert f"the Dask scheduler at {address} cannot be reached" in message
    assert "dask scheduler" in message and "\n" not in message


def test_connect_with_workers_starts_them_and_stops_them():
    with connect(workers=1) as client:
        assert len(client.scheduler_info()["workers"]) == 1
        assert client.submit(sum, [1, 2]).result() == 3
        cluster = client.cluster
    assert client.status == "closed"
    assert cluster.status.name == "closed"


# ---------------------------------------------------------------- read_table


def test_read_table_reads_a_glob_a_folder_and_one_file(tmp_path):
    frame = _table(90)
    paths = _write_parts(frame, tmp_path / "data", 3)
    for pattern in (tmp_path / "data" / "*.parquet", tmp_path / "data", str(tmp_path / "data")):
        table = read_table(pattern)
        assert table.npartitions == 3
        pd.testing.assert_frame_equal(table.compute().reset_index(drop=True), frame)
    one = read_table(paths[1]).compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(one, frame.iloc[30:60].reset_index(drop=True))
    assert parquet_files(tmp_path / "data" / "*.parquet") == paths


def test_no_matching_files_is_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    for pattern, message in (
        (tmp_path / "none" / "*.parquet", "no files match"),
        (tmp_path / "empty", "has no .parquet files"),
    ):
        with pytest.raises(InputError, match=message) as info:
            read_table(pattern, name="--data")
        assert str(info.value).startswith("--data names no Parquet files")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns="c"), "it lacks the column 'c'"),
        (lambda f: f.assign(e=1.0), "it has the column 'e', which the first file has not"),
        (lambda f: f.astype({"b": "float32"}), "its column 'b' holds float, not double"),
        (lambda f: f.assign(a=f.a.round().astype("int64")), "its column 'a' holds int64"),
        (lambda f: f[["b", "a", "c", "d", "y"]], "its columns are in another order"),
    ],
)
def test_a_file_that_differs_is_named_from_its_metadata(tmp_path, change, message):
    frame = _table(80)
    paths = _write_parts(frame, tmp_path, 4)
    change(frame.iloc[40:60]).to_parquet(paths[2], index=False)
    with pytest.raises(InputError) as info:
        read_table(tmp_path / "*.parquet", name="--data")
    text = str(info.value)
    assert text.startswith(
        "--data file 'part-002.parquet' (file 3 of 4) does not match the first file "
        "'part-000.parquet': "
    )
    assert message in text and "\n" not in text


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    _write_parts(_table(20), tmp_path, 2)
    (tmp_path / "part-009.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="part-009.parquet' is not a readable Parquet file"):
        read_table(tmp_path)


# ---------------------------------------------------------------- whybox shap on a cluster


def _dask_command(*args: str) -> list[str]:
    """``dask scheduler`` / ``dask worker`` run with this Python (the dask console script)."""
    return [sys.executable, "-m", "dask", *args]


@contextlib.contextmanager
def _processes_cluster(n_workers: int):
    """A ``dask scheduler`` and ``n_workers`` ``dask worker`` processes (no nanny, one
    thread each) on 127.0.0.1; yields (address, worker processes); all stopped at the end."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            subprocess.Popen(
                _dask_command(
                    "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"
                ),
                **quiet,
            )  # fmt: skip
        )
        workers = [
            subprocess.Popen(
                _dask_command(
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                ),
                **quiet,
            )  # fmt: skip
            for i in range(n_workers)
        ]
        processes.extend(workers)
        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(n_workers, timeout=START_TIMEOUT_S)
        yield address, workers
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.terminate()
        for p in reversed(processes):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=30)


@pytest.fixture(scope="module")
def shap_case(tmp_path_factory):
    """A boosted model, its Parquet parts and the in-memory TreeSHAP values of every row."""
    folder = tmp_path_factory.mktemp("shap_cluster")
    frame = _table(1200, seed=1)
    model = GradientBoostingRegressor(n_estimators=40, max_depth=4, random_state=0)
    model.fit(frame.drop(columns="y"), frame.y)
    sio.dump(model, folder / "model.skops")
    X = frame.drop(columns="y")
    expected = TreeExplainer(model, progress=False)(X)
    return folder, frame, expected


def _check_output(out: Path, expected) -> None:
    """Every row exactly once, with the in-memory values bit for bit."""
    written = pd.read_parquet(out).sort_values("row", kind="stable").reset_index(drop=True)
    n = expected.values.shape[0]
    np.testing.assert_array_equal(written["row"].to_numpy(), np.arange(n))
    for j, name in enumerate(expected.feature_names):
        np.testing.assert_array_equal(written[f"shap:{name}"].to_numpy(), expected.values[:, j, 0])
    np.testing.assert_array_equal(written["base_value"].to_numpy(), expected.base_values[:, 0])


def test_shap_on_a_scheduler_and_two_worker_processes(shap_case, tmp_path, capsys):
    folder, frame, expected = shap_case
    _write_parts(frame, tmp_path / "data", 6)
    out = tmp_path / "values.parquet"
    with _processes_cluster(2) as (address, _):
        code = run_cli(
            "shap", "--model", folder / "model.skops", "--data", tmp_path / "data" / "*.parquet",
            "--out", out, "--target", "y", "--scheduler", address,
        )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "whybox shap: 100%" in captured.err and "6/6" in captured.err  # the progress bar
    line = captured.out.strip()
    assert line.startswith("explained 1200 rows in ")
    assert f"on the scheduler at {address}; wrote {out}" in line
    _check_output(out, expected)


def _scheduler_state(dask_scheduler) -> tuple[int, dict[str, int]]:
    """Tasks done so far (in memory), and tasks in flight per worker name."""
    done = sum(ts.state == "memory" for ts in dask_scheduler.tasks.values())
    busy = {ws.name: len(ws.processing) for ws in dask_scheduler.workers.values()}
    return done, busy


def test_a_worker_killed_mid_run_loses_no_row_and_repeats_none(shap_case, tmp_path):
    from distributed import Client

    folder, frame, expected = shap_case
    _write_parts(frame, tmp_path / "data", 40)  # many small tasks: the run outlives the kill
    out = tmp_path / "values.parquet"
    with _processes_cluster(2) as (address, workers):
        with Client(address, timeout=START_TIMEOUT_S) as watcher:
            run = subprocess.Popen(
                [sys.executable, "-m", "whybox", "shap", "--model", str(folder / "model.skops"),
                 "--data", str(tmp_path / "data"), "--out", str(out), "--target", "y",
                 "--scheduler", address, "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )  # fmt: skip
            try:
                killed = False
                deadline = time.monotonic() + START_TIMEOUT_S * 2
                while run.poll() is None and time.monotonic() < deadline:
                    done, busy = watcher.run_on_scheduler(_scheduler_state)
                    if done >= 1 and busy.get("w1", 0) > 0:
                        workers[1].kill()  # SIGKILL: no goodbye to the scheduler
                        workers[1].wait(timeout=30)
                        killed = True
                        break
                    time.sleep(0.02)
                stdout, stderr = run.communicate(timeout=START_TIMEOUT_S * 2)
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait(timeout=30)
    assert killed, "the run ended before a worker could be killed"
    assert run.returncode == 0, stderr[-3000:]
    assert stdout.strip().startswith("explained 1200 rows in ")
    _check_output(out, expected)


def test_audit_on_a_scheduler_and_two_worker_processes(shap_case, tmp_path, capsys):
    """`whybox audit` of Parquet files against a real scheduler: the reductions over all
    1200 rows (R² equals sklearn's on every row), the per-row sections on the sample."""
    import json

    from sklearn.metrics import r2_score

    folder, frame, _ = shap_case
    _write_parts(frame, tmp_path / "data", 4)
    out = tmp_path / "report.html"
    with _processes_cluster(2) as (address, _):
        code = run_cli(
            "audit", "--model", folder / "model.skops", "--data", tmp_path / "data" / "*.parquet",
            "--target", "y", "--scheduler", address, "--max-samples", 300, "--out", out,
            "--quiet",
        )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(out.with_suffix(".json").read_text())
    assert out.exists()
    assert report["meta"]["rows"] == 1200 and report["meta"]["sampled rows"] == 300
    model = sio.load(
        folder / "model.skops", trusted=sio.get_untrusted_types(file=folder / "model.skops")
    )
    r2 = r2_score(frame.y, model.predict(frame.drop(columns="y")))
    shown = dict(report["sections"][0]["blocks"][0]["rows"])
    assert shown["R²"] == float(f"{r2:.4g}")
