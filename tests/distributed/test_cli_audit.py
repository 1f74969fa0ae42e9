"""`whybox audit` of Parquet files read with Dask (issue #22 item 3): in this process and
on local worker processes; bad input in one line, exit 2, before any work."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn import metrics
from sklearn.ensemble import HistGradientBoostingClassifier

from tests._cli import one_line_error, run_cli
from tests._requires import requires

N_ROWS = 1200
FEATURES = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def _dask():
    requires("dask")
    requires("distributed")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A classifier (not fitted on 'grp'), its rows in 4 Parquet files, and the frame."""
    folder = tmp_path_factory.mktemp("audit_parquet")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(N_ROWS, 3)), columns=FEATURES)
    frame["grp"] = rng.choice(["F", "M"], N_ROWS)
    frame["y"] = (frame.a - frame.b * frame.c + rng.normal(0, 0.5, N_ROWS) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    model.fit(frame[FEATURES], frame.y)
    sio.dump(model, folder / "model.skops")
    (folder / "data").mkdir()
    for i, part in enumerate(np.array_split(np.arange(N_ROWS), 4)):
        frame.iloc[part].to_parquet(folder / "data" / f"part-{i}.parquet", index=False)
    frame.to_csv(folder / "data.csv", index=False)
    return folder, frame, model


def _read(json_path: Path) -> dict:
    report = json.loads(json_path.read_text())
    report["metrics"] = dict(report["sections"][0]["blocks"][0]["rows"])
    return report


def _check_all_rows(report: dict, frame: pd.DataFrame, model) -> None:
    pred = model.predict(frame[FEATURES])
    assert report["meta"]["rows"] == N_ROWS
    assert report["metrics"]["accuracy"] == float(f"{metrics.accuracy_score(frame.y, pred):.4g}")
    proba = model.predict_proba(frame[FEATURES])
    assert report["metrics"]["log loss"] == float(f"{metrics.log_loss(frame.y, y_proba=proba):.4g}")
    assert f"Over all {N_ROWS} rows" in report["notes"][0]


def test_a_parquet_pattern_is_audited_in_this_process(case, tmp_path, capsys):
    folder, frame, model = case
    out = tmp_path / "report.html"
    code = run_cli(
        "audit", "--model", folder / "model.skops", "--data", folder / "data" / "*.parquet",
        "--target", "y", "--sensitive", "grp", "--sensitive", "a:bins=-inf,0,inf", "--rows",
        N_ROWS - 1, "--max-samples", 300, "--out", out, "--quiet",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == f"wrote {out} and {out.with_suffix('.json')}"
    assert out.exists()
    report = _read(out.with_suffix(".json"))
    _check_all_rows(report, frame, model)
    assert report["meta"]["sampled rows"] in (300, 301)
    assert "(4 Parquet files)" in report["meta"]["subtitle"]
    sections = {s["id"]: s for s in report["sections"]}
    fairness = sections["fairness"]
    assert fairness["summary"].startswith(f"Group metrics over all {N_ROWS} rows")
    # the groups of every row: 'grp' crossed with 'a' binned at 0 (bin_numeric's labels)
    counts = {row[0]: row[1] for row in fairness["blocks"][1]["rows"]}
    binned = np.where(frame.a <= 0, "<= 0", "> 0")
    expected = pd.Series(
        1, index=[f"grp={g}, a={b}" for g, b in zip(frame.grp, binned, strict=True)]
    )
    assert counts == expected.groupby(level=0).sum().to_dict()
    titles = [b.get("title", "") for b in sections["local"]["blocks"]]
    assert titles[0].startswith(f"Row {N_ROWS - 1}: ")


def test_a_parquet_folder_is_audited_on_two_local_workers(case, tmp_path, capsys):
    folder, frame, model = case
    out = tmp_path / "cluster.html"
    code = run_cli(
        "audit", "--model", folder / "model.skops", "--data", folder / "data", "--target", "y",
        "--sensitive", "grp", "--workers", 2, "--max-samples", 200, "--out", out, "--quiet",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.exists() and out.with_suffix(".json").exists()
    report = _read(out.with_suffix(".json"))
    _check_all_rows(report, frame, model)
    assert report["meta"]["sampled rows"] == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bad_file(folder: Path) -> Path:
    """A Parquet folder whose second file holds text in column 'a'."""
    bad = folder / "bad"
    if not bad.exists():
        bad.mkdir()
        frame = pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0], "grp": ["F"], "y": [1]})
        frame.to_parquet(bad / "p0.parquet", index=False)
        frame.assign(a="x").to_parquet(bad / "p1.parquet", index=False)
    return bad


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--workers": 2, "--scheduler": "tcp://127.0.0.1:1"}, "exclude each other"),
        ({"--target": "nope"}, "--target 'nope' is not a column of --data"),
        ({"--sensitive": "a:quantiles=4"}, "needs the quantiles of every row at once"),
        ({"--sensitive": "a:bins=0,1"}, "outside the edges"),
        ({"--sensitive": "age"}, "--sensitive 'age' is not a column of --data"),
        ({"--rows": str(N_ROWS)}, f"between 0 and {N_ROWS - 1} (the --data files hold"),
        ({"--data": "{folder}/none/*.parquet"}, "--data names no Parquet files"),
        ({"--data": "{folder}/bad"}, "does not match the first file"),
        ({"--data": "{folder}/data.csv", "--max-samples": 10}, "--max-samples applies to"),
        ({"--data": "{folder}/data.csv", "--workers": 2}, "read Parquet files"),
        ({"--max-samples": 0}, "--max-samples"),
    ],
)
def test_bad_input_is_one_line_before_any_work(case, tmp_path, capsys, change, message):
    folder, _, _ = case
    _bad_file(folder)
    options = {
        "--model": folder / "model.skops",
        "--data": folder / "data" / "*.parquet",
        "--target": "y",
        "--out": tmp_path / "r.html",
    }
    options.update({k: str(v).format(folder=folder) for k, v in change.items()})
    args = [str(x) for item in options.items() for x in item]
    line = one_line_error(capsys, "audit", *args, "--quiet")
    assert message in line
    assert not (tmp_path / "r.html").exists()


def test_an_unreachable_scheduler_is_one_line_naming_the_address(case, tmp_path, capsys):
    folder, _, _ = case
    address = f"tcp://127.0.0.1:{_free_port()}"
    line = one_line_error(
        capsys, "audit", "--model", folder / "model.skops", "--data", folder / "data",
        "--target", "y", "--scheduler", address, "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert f"the Dask scheduler at {address} cannot be reached" in line
