"""`whybox audit` end to end: user files in, a report out; bad input gives one line and exit 2."""

import json
import re
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests._cli import run_cli
from tests._requires import installed, lazy, requires
from whybox.io import load_model

lgb = lazy("lightgbm")
xgb = lazy("xgboost")

SECTIONS = {
    "performance", "confusion", "errors", "failures", "importance", "shap", "effects", "local",
    "quality",
}  # fmt: skip


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.lognormal(10, 0.5, n).round(0),
            "debt": rng.normal(0, 1, n),
            "tenure": rng.integers(0, 20, n).astype(float),
        }
    )
    logit = 0.08 * (frame.age - 40) - 0.8 * frame.debt + 0.1 * frame.tenure - 0.5
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory, table):
    d = tmp_path_factory.mktemp("audit")
    X, y = table.drop(columns="label"), table["label"]
    table.to_csv(d / "data.csv", index=False)
    table.to_parquet(d / "data.parquet")
    # The XGBoost and LightGBM files only where the library is installed: the tests that
    # read them ask for it (model_file), the scikit-learn ones run without.
    if installed("xgboost"):
        xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y).save_model(d / "model.json")
    if installed("lightgbm"):
        lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(X, y).booster_.save_model(
            d / "model.txt"
        )
    # A pipeline on mixed columns: explained in its original input columns.
    mixed = table.copy()
    mixed["region"] = np.where(table.income > table.income.median(), "north", "south")
    mixed.to_csv(d / "mixed.csv", index=False)
    pipe = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), ["region"]), (StandardScaler(), ["age", "income", "debt", "tenure"])
        ),
        LogisticRegression(),
    ).fit(mixed.drop(columns="label"), y)
    sio.dump(pipe, d / "pipe.skops")
    lr = LogisticRegression().fit(X, y)
    sio.dump(lr, d / "lr.skops")
    joblib.dump(lr, d / "lr.joblib")
    return d


def model_file(files, name: str) -> str:
    """The path of a model file in ``files``; the library that wrote it is required."""
    library = {"model.json": "xgboost", "model.txt": "lightgbm"}.get(name)
    if library is not None:
        requires(library)
    return str(files / name)


@pytest.mark.parametrize(
    ("model", "data"),
    [("model.json", "data.csv"), ("model.txt", "data.parquet"), ("pipe.skops", "mixed.csv")],
)
def test_audit_writes_html_and_json(files, model, data, tmp_path):
    out = tmp_path / "r.html"
    code = run_cli(
        "audit", "--model", model_file(files, model), "--data", str(files / data),
        "--target", "label", "--rows", "0,5", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0
    html = out.read_text()
    report = json.loads((tmp_path / "r.json").read_text())
    assert {s["id"] for s in report["sections"]} == SECTIONS
    local = next(s for s in report["sections"] if s["id"] == "local")
    assert [b["data"]["row"] for b in local["blocks"] if "shap_values" in b.get("data", {})] == [
        0,
        5,
    ]
    for section in report["sections"]:
        assert section["blocks"], section["id"]
        assert f'id="{section["id"]}"' in html
    quality = next(s for s in report["sections"] if s["id"] == "quality")
    max_err = dict(quality["blocks"][0]["rows"])["max additivity error"]
    # XGBoost predicts in float32 (6.4e-7 measured); LightGBM and the pipeline are explained
    # in float64 against float64 predictions (1.3e-15 measured)
    assert float(max_err) <= (1e-6 if model == "model.json" else 1e-12)
    # every figure is embedded, none linked
    assert html.count("data:image/png;base64,") >= 8
    assert 'src="http' not in html


def test_pipeline_is_explained_in_its_input_columns(files, tmp_path):
    out = tmp_path / "r.html"
    assert run_cli(
        "audit", "--model", str(files / "pipe.skops"), "--data", str(files / "mixed.csv"),
        "--target", "label", "--out", str(out), "--quiet",
    ) == 0  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    importance = next(s for s in report["sections"] if s["id"] == "importance")
    names = importance["blocks"][0]["data"]["feature_names"]
    assert sorted(names) == ["age", "debt", "income", "region", "tenure"]


def test_train_is_the_background(files, table, tmp_path):
    # held-out rows and 80 training rows (fewer than 100: all of them are the background)
    data, train = tmp_path / "held_out.csv", tmp_path / "train.csv"
    table[:120].to_csv(data, index=False)
    table[120:200].to_csv(train, index=False)
    out = tmp_path / "r.html"
    assert run_cli(
        "audit", "--model", str(files / "lr.skops"), "--data", str(data), "--target", "label",
        "--train", str(train), "--rows", "0,5", "--out", str(out), "--quiet",
    ) == 0  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["notes"] == []
    assert report["meta"]["background"] == "training data"
    assert report["meta"]["training rows"] == 80 and report["meta"]["SHAP background rows"] == 80
    assert "training data train.csv" in report["meta"]["subtitle"]
    # Linear SHAP in the margin: the base value is the model's mean decision function over
    # the background, the training rows (not the audited ones)
    lr = load_model(str(files / "lr.skops"))
    X_train = table[120:200].drop(columns="label")
    local = next(s for s in report["sections"] if s["id"] == "local")
    bases = [b["data"]["base_value"] for b in local["blocks"] if "shap_values" in b.get("data", {})]
    assert len(bases) == 2
    np.testing.assert_allclose(bases, lr.decision_function(X_train).mean(), rtol=0, atol=1e-9)
    performance = next(s for s in report["sections"] if s["id"] == "performance")
    assert performance["blocks"][1]["title"] == "Training and held-out performance"


def _one_line_error(capsys, *args):
    code = run_cli(*args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_bad_input_gives_one_line_and_exit_2(files, tmp_path, capsys):
    out = str(tmp_path / "r.html")
    m, data = model_file(files, "model.json"), str(files / "data.csv")
    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", data, "--target", "y", "--out", out
    )
    assert "--target 'y' is not a column of data.csv" in line

    few = tmp_path / "few.csv"
    pd.read_csv(data).drop(columns=["debt"]).to_csv(few, index=False)
    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", str(few), "--target", "label", "--out", out
    )
    assert "has 3 columns but the model was fitted on 4: missing 'debt'" in line

    text = tmp_path / "text.csv"
    frame = pd.read_csv(data)
    frame["debt"] = np.where(frame.debt > 0, "high", "low")
    frame.to_csv(text, index=False)
    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", str(text), "--target", "label", "--out", out
    )
    assert "non-numeric columns ['debt']" in line

    nan = tmp_path / "nan.csv"
    frame = pd.read_csv(data)
    frame.loc[3, "age"] = np.nan
    frame.to_csv(nan, index=False)
    line = _one_line_error(
        capsys, "audit", "--model", str(files / "lr.skops"), "--data", str(nan), "--target", "label", "--out", out
    )  # fmt: skip
    assert "missing values (NaN) in ['age']" in line

    empty = tmp_path / "empty.csv"
    empty.write_text("age,income,debt,tenure,label\n")
    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", str(empty), "--target", "label", "--out", out
    )
    assert "has no rows" in line

    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x01")
    line = _one_line_error(
        capsys, "audit", "--model", str(onnx), "--data", data, "--target", "label", "--out", out
    )
    assert "unknown suffix '.onnx'" in line

    corrupt = tmp_path / "model.json"
    corrupt.write_text('{"learner": ')
    line = _one_line_error(
        capsys, "audit", "--model", str(corrupt), "--data", data, "--target", "label", "--out", out
    )
    assert "could not be read as an XGBoost model" in line

    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", data, "--target", "label", "--out", str(tmp_path / "no" / "r.html")
    )  # fmt: skip
    assert "does not exist; create it" in line

    line = _one_line_error(
        capsys, "audit", "--model", m, "--data", data, "--target", "label", "--rows", "0,x"
    )
    assert "--rows must be comma-separated" in line

    line = _one_line_error(
        capsys,
        "audit",
        "--model",
        m,
        "--data",
        data,
        "--target",
        "label",
        "--rows",
        "9999",
        "--out",
        out,
    )
    assert "rows must be row positions between 0 and 239" in line

    line = _one_line_error(capsys, "audit", "--data", data)
    assert "needs --model, --target" in line

    line = _one_line_error(capsys, "audit", "--no-such-flag")
    assert "no such option" in line.lower()


def test_pickle_needs_trust_flag(files, tmp_path, capsys):
    out = tmp_path / "r.html"
    args = ["audit", "--model", str(files / "lr.joblib"), "--data", str(files / "data.csv"),
            "--target", "label", "--out", str(out), "--quiet"]  # fmt: skip
    line = _one_line_error(capsys, *args)
    assert "pass --trust-model-file" in line and "skops" in line
    assert not out.exists()
    assert run_cli(*args, "--trust-model-file") == 0
    assert out.exists()


def test_failed_audit_never_replaces_an_existing_report(files, tmp_path, capsys):
    out = tmp_path / "report.html"
    out.write_text("the good old report")
    _one_line_error(
        capsys, "audit", "--model", model_file(files, "model.json"), "--data", str(files / "data.csv"),
        "--target", "missing", "--out", str(out),
    )  # fmt: skip
    assert out.read_text() == "the good old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_user_text_is_escaped_in_the_report(tmp_path):
    rng = np.random.default_rng(1)
    evil = "<script>alert(1)</script>"
    frame = pd.DataFrame({evil: rng.normal(size=120), "b & c": rng.normal(size=120)})
    frame["label"] = (frame[evil] + 0.3 * rng.normal(size=120) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10).fit(
        frame.drop(columns="label"), frame.label
    )
    sio.dump(model, tmp_path / f"{evil[:7]}.skops")
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "r.html"
    assert run_cli(
        "audit", "--model", str(tmp_path / f"{evil[:7]}.skops"), "--data", str(tmp_path / "d.csv"),
        "--target", "label", "--out", str(out), "--quiet",
    ) == 0  # fmt: skip
    html = out.read_text()
    # only the page's own two scripts: the rows' inert JSON and the hashed explorer script
    assert re.findall(r"<script[^>]*>", html.lower()) == [
        '<script type="application/json" id="whybox-rows">',
        "<script>",
    ]
    assert "<script>alert" not in html.lower() and "</script><script" not in html.lower()
    assert "\\u003cscript\\u003ealert(1)" in html  # the embedded JSON's copy, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b &amp; c" in html


def test_entry_point_runs_as_a_program(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "whybox", "audit", "--model", str(tmp_path / "m.skops"),
         "--data", "x.csv", "--target", "y"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"whybox: error: model file '{tmp_path / 'm.skops'}' does not exist; "
        "check the path given to --model."
    )


def test_shap_writes_every_row_once_with_the_in_memory_values(tmp_path, table, capsys):
    """`whybox shap` in one process (no --scheduler/--workers): one Parquet row per input
    row, equal bit for bit to TreeExplainer on the whole table; a second run replaces the
    output whole (no part of the first run is left)."""
    requires("distributed")
    from sklearn.ensemble import GradientBoostingClassifier

    from whybox.shapley import TreeExplainer

    X, y = table.drop(columns="label"), table["label"]
    model = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(X, y)
    sio.dump(model, tmp_path / "gb.skops")
    expected = TreeExplainer(model, progress=False)(X)
    out = tmp_path / "values.parquet"
    for n_parts in (4, 2):  # the second run writes fewer part files
        data = tmp_path / f"data{n_parts}"
        data.mkdir()
        for i, rows in enumerate(np.array_split(np.arange(len(table)), n_parts)):
            table.iloc[rows].to_parquet(data / f"p{i}.parquet", index=False)
        code = run_cli("shap", "--model", tmp_path / "gb.skops", "--data", data / "*.parquet",
                       "--out", out, "--target", "label")  # fmt: skip
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert captured.out.strip().startswith(f"explained {len(table)} rows in ")
        assert captured.out.strip().endswith(f"in this process; wrote {out}")
        assert "100% Completed" in captured.err  # the progress bar
        assert len(list(out.glob("*.parquet"))) == n_parts
        written = pd.read_parquet(out).sort_values("row").reset_index(drop=True)
        np.testing.assert_array_equal(written["row"].to_numpy(), np.arange(len(table)))
        for j, name in enumerate(expected.feature_names):
            np.testing.assert_array_equal(
                written[f"shap:{name}"].to_numpy(), expected.values[:, j, 0]
            )
        np.testing.assert_array_equal(written["base_value"].to_numpy(), expected.base_values[:, 0])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
