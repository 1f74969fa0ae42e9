"""`whybox audit` refuses bad input in one line (exit 2) before it does any work.

Issue #19 items 5 (outputs never overwrite inputs), 6 (a folder in the way is found
before the audit), 10 (one class, too few rows), 12 (--rows), 13 (long values and
duplicate headers) and 14 (--sensitive: binning, the target).
"""

import json
import os
import sys

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from tests._cli import one_line_error, run_cli, small_table
from whybox import InputError
from whybox.fairness._sensitive import bin_numeric
from whybox.io import load_data, pair_matches

N = 60


@pytest.fixture(scope="module")
def table():
    return small_table(N)


@pytest.fixture(scope="module")
def files(tmp_path_factory, table):
    d = tmp_path_factory.mktemp("cli_errors")
    table.to_csv(d / "data.csv", index=False)
    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    sio.dump(model, d / "lr.skops")
    return d


def args_for(files, out, *extra):
    return ["audit", "--model", files / "lr.skops", "--data", files / "data.csv",
            "--target", "label", "--out", out, "--quiet", *extra]  # fmt: skip


# ----------------------------------------------------------------- item 5: outputs


def test_out_beside_a_json_model_never_overwrites_it(tmp_path, capsys, files):
    # --model model.json --out model.html used to write the report JSON over the model.
    # The model file is not even valid: the outputs are refused before it is loaded.
    model = tmp_path / "model.json"
    model.write_text('{"the user\'s": "model"}')
    line = one_line_error(
        capsys, "audit", "--model", model, "--data", files / "data.csv", "--target", "label",
        "--out", tmp_path / "model.html",
    )  # fmt: skip
    assert "puts its JSON report at" in line and "given to --model" in line
    assert model.read_text() == '{"the user\'s": "model"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_out_ending_in_json_is_refused(tmp_path, capsys, files):
    # --out r.json used to write the HTML there and then overwrite it with the JSON
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.json"))
    assert "ends in .json" in line and "r.html" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "dotted path"])
def test_out_naming_an_input_file_is_refused(tmp_path, capsys, files, how):
    data = tmp_path / "data.csv"
    data.write_bytes((files / "data.csv").read_bytes())
    before = data.read_bytes()
    out = {
        "same path": data,
        "symlink": tmp_path / "link.html",
        "hard link": tmp_path / "hard.html",
        "dotted path": tmp_path / "." / "sub" / ".." / "data.csv",
    }[how]
    if how == "symlink":
        out.symlink_to(data)
    elif how == "hard link":
        os.link(data, out)
    elif how == "dotted path":
        (tmp_path / "sub").mkdir()
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", data, "--target", "label",
        "--out", out,
    )  # fmt: skip
    assert "the file given to --data" in line
    assert data.read_bytes() == before


def test_a_folder_named_like_the_json_is_found_before_any_work(tmp_path, capsys, files):
    # It used to let the whole audit run, replace the HTML, and only then fail.
    (tmp_path / "r.html").write_text("old report")
    (tmp_path / "r.json").mkdir()
    # a model path that does not exist: the output check must come first
    line = one_line_error(
        capsys, "audit", "--model", tmp_path / "missing.skops", "--data", files / "data.csv",
        "--target", "label", "--out", tmp_path / "r.html",
    )  # fmt: skip
    assert "r.json" in line and "folder" in line and "missing.skops" not in line
    assert (tmp_path / "r.html").read_text() == "old report"


def test_report_save_writes_a_matching_pair(tmp_path):
    from whybox.report._report import Report, Section, Text

    report = Report("t", {"subtitle": "s"}, (Section("a", "A", (Text("x"),)),))
    html, js = report.save(tmp_path / "r.html")
    assert (html, js) == (tmp_path / "r.html", tmp_path / "r.json")
    assert pair_matches(html, js)
    first = json.loads(js.read_text())["meta"]["report id"]
    report.save(tmp_path / "r.html")
    assert json.loads(js.read_text())["meta"]["report id"] != first  # a new id per write
    assert pair_matches(html, js)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]
    with pytest.raises(InputError, match="ends in .json"):
        report.save(tmp_path / "r.json")


# ------------------------------------------------------- item 10: one class, few rows


@pytest.mark.parametrize("n_rows", [1, 2, 9])
def test_too_few_rows_is_one_line(tmp_path, capsys, files, table, n_rows):
    small = tmp_path / "small.csv"
    table.head(n_rows).to_csv(small, index=False)
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", small, "--target", "label",
        "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert f"needs at least 10 labelled rows, got {n_rows}" in line
    assert not (tmp_path / "r.html").exists()


def test_a_single_class_target_is_one_line(tmp_path, capsys, files, table):
    one = tmp_path / "one.csv"
    table.assign(label=1).to_csv(one, index=False)
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", one, "--target", "label",
        "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert "single class (1) in all 60 rows" in line and "at least two classes" in line


# ---------------------------------------------------------------- item 12: --rows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (",", "--rows needs at least one row number"),
        (" , ", "--rows needs at least one row number"),
        ("-1", "--rows takes row positions counted from 0, got -1"),
        ("0,-3", "counted from 0, got -3"),
        ("5,5", "--rows lists row 5 twice"),
        ("0,,5", "--rows has an empty item in '0,,5'"),
        ("0,x", "--rows must be comma-separated row numbers"),
        ("1.5", "--rows must be comma-separated row numbers"),
        ("60", "--rows must be row positions between 0 and 59 (data.csv has 60 rows), got 60"),
    ],
)
def test_rows_are_parsed_strictly(tmp_path, capsys, files, rows, message):
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.html", "--rows", rows))
    assert message in line
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------ item 13: long values, duplicate headers


def test_a_huge_cell_is_not_echoed(tmp_path, capsys, files, table):
    big = tmp_path / "big.csv"
    frame = table.astype({"label": object})
    frame.loc[7, "label"] = "y" * 1_000_000
    frame.to_csv(big, index=False)
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", big, "--target", "label",
        "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert "that the model does not predict" in line
    assert len(line) < 400


def test_an_error_during_the_audit_clears_its_progress_bar(tmp_path, capsys, files, table):
    bad = tmp_path / "bad.csv"
    table.astype({"label": object}).assign(label=["zz"] + [0, 1] * 29 + [1]).to_csv(
        bad, index=False
    )
    code = run_cli(
        "audit", "--model", files / "lr.skops", "--data", bad, "--target", "label",
        "--out", tmp_path / "r.html",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    drawn, cleared, line = err.rsplit("\r", 2)
    assert "whybox audit" in drawn and cleared.strip() == ""  # the bar is wiped ...
    assert line.startswith("whybox: error: the target holds labels ['zz']")  # ... then one line
    assert line.count("\n") == 1 and line.endswith("\n")


def test_a_huge_column_name_is_not_echoed(tmp_path, capsys, files, table):
    wide = tmp_path / "wide.csv"
    table.rename(columns={"debt": "d" * 1_000_000}).to_csv(wide, index=False)
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", wide, "--target", "nope",
        "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert "--target 'nope' is not a column of wide.csv" in line
    assert len(line) < 400


def test_every_error_line_is_cut_as_a_last_resort(tmp_path, capsys, files, monkeypatch):
    import whybox.io

    def long_error(path):
        raise InputError("start " + "z" * 1_000_000 + " end")

    monkeypatch.setattr(whybox.io, "load_data", long_error)
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.html"))
    assert line.startswith("whybox: error: start zzz") and line.endswith("zzz end")
    assert len(line) < 700


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_duplicate_header_is_named_as_written(tmp_path, capsys, files, suffix):
    path = tmp_path / f"dup{suffix}"
    if suffix == ".csv":
        path.write_text("income,age,income,label\n1,2,3,0\n4,5,6,1\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = [pa.array([1, 4]), pa.array([2, 5]), pa.array([3, 6]), pa.array([0, 1])]
        pq.write_table(pa.Table.from_arrays(cols, ["income", "age", "income", "label"]), path)
    message = f"column 'income' appears twice in the header of dup{suffix}; rename or drop one"
    with pytest.raises(InputError, match=message):
        load_data(path)
    line = one_line_error(
        capsys, "audit", "--model", files / "lr.skops", "--data", path, "--target", "label",
        "--out", tmp_path / "r.html", "--quiet",
    )  # fmt: skip
    assert message in line and "income.1" not in line


def test_distinct_headers_that_look_mangled_are_kept(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("income,income.1,label\n1,2,0\n")
    assert list(load_data(path).columns) == ["income", "income.1", "label"]


# ----------------------------------------------------------- item 14: --sensitive


def test_continuous_sensitive_suggests_cli_binning(tmp_path, capsys, files):
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.html", "--sensitive", "age"))
    assert "'age' is continuous (" in line
    assert "--sensitive age:bins=" in line and "--sensitive age:quantiles=4" in line
    assert "values=[" not in line


def test_sensitive_naming_the_target_says_so(tmp_path, capsys, files):
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.html", "--sensitive", "label"))
    assert "--sensitive 'label' is the target (--target)" in line
    assert "not a column" not in line


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("age:bins=x,1", "needs two or more numbers after bins="),
        ("age:bins=30", "needs two or more numbers after bins="),
        ("age:bins=40,30", "needs at least two increasing edges"),
        ("age:bins=30,40", "outside the edges 30 to 40"),
        ("age:quantiles=1", "at least 2 after quantiles="),
        ("age:quantiles=two", "at least 2 after quantiles="),
        ("nope:quantiles=3", "--sensitive 'nope' is not a column of data.csv"),
    ],
)
def test_sensitive_binning_errors(tmp_path, capsys, files, spec, message):
    line = one_line_error(capsys, *args_for(files, tmp_path / "r.html", "--sensitive", spec))
    assert message in line


def test_bins_are_closed_on_the_right():
    groups = bin_numeric([18, 20, 25, 25.5, 40, 65], "age", bins=[18, 25, 40, 65])
    assert groups.name == "age"
    assert groups.tolist() == [
        "[18, 25]", "[18, 25]", "[18, 25]", "(25, 40]", "(25, 40]", "(40, 65]",
    ]  # fmt: skip
    open_ended = bin_numeric([-5, 3, 100], "x", bins=[-np.inf, 3, np.inf])
    assert open_ended.tolist() == ["<= 3", "<= 3", "> 3"]
    quartiles = bin_numeric(np.arange(8.0), "x", quantiles=4)
    assert quartiles.value_counts().tolist() == [2, 2, 2, 2]


def test_binned_sensitive_attribute_groups_the_rows(tmp_path, files, table):
    out = tmp_path / "r.html"
    assert run_cli(*args_for(files, out, "--sensitive", "age:bins=-inf,35,50,inf")) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    fairness = next(s for s in report["sections"] if s["id"] == "fairness")
    table_block = next(
        b for b in fairness["blocks"] if b.get("title", "").startswith("Metrics by group")
    )
    counts = dict(
        (row[0], row[table_block["columns"].index("count")]) for row in table_block["rows"]
    )
    age = table["age"].to_numpy()
    assert counts == {
        "<= 35": int((age <= 35).sum()),
        "(35, 50]": int(((age > 35) & (age <= 50)).sum()),
        "> 50": int((age > 50).sum()),
    }
    # age stays a model input: the audit explains it as a feature
    importance = next(s for s in report["sections"] if s["id"] == "importance")
    assert "age" in importance["blocks"][0]["data"]["feature_names"]
    assert pair_matches(out, tmp_path / "r.json")


# ------------------------------------------------------------ --train (issue #21)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="debt"), "it lacks 'debt'"),
        (lambda t: t.drop(columns="label"), "it lacks 'label'"),
        (lambda t: t.assign(extra=1.0), "it has 'extra', which data.csv has not"),
        (
            lambda t: t.assign(age="old"),
            "column 'age' holds text in train.csv but numbers in data.csv",
        ),
    ],
)
def test_train_with_other_columns_is_one_line(tmp_path, capsys, files, table, change, message):
    train = tmp_path / "train.csv"
    change(table).to_csv(train, index=False)
    out = tmp_path / "r.html"
    line = one_line_error(capsys, *args_for(files, out, "--train", train))
    assert "--train train.csv has columns that differ from --data data.csv" in line
    assert message in line
    assert not out.exists()


def test_train_is_refused_with_demo_and_as_the_output(tmp_path, capsys, files):
    line = one_line_error(
        capsys, "audit", "--demo", "--train", files / "data.csv", "--out", tmp_path / "r.html"
    )
    assert "--demo takes no" in line and "--train" in line
    line = one_line_error(
        capsys, *args_for(files, files / "data.html", "--train", files / "data.json")
    )
    assert "--train" in line


# ---------------------------------------------------------------- whybox shap (issue #22)


@pytest.fixture(scope="module")
def shap_files(tmp_path_factory):
    """Three Parquet parts of one table and a tree model of its columns."""
    from sklearn.ensemble import GradientBoostingClassifier

    d = tmp_path_factory.mktemp("shap_errors")
    table = small_table(N)
    (d / "data").mkdir()
    for i in range(3):
        table.iloc[i * 20 : (i + 1) * 20].to_parquet(d / "data" / f"p{i}.parquet", index=False)
    model = GradientBoostingClassifier(n_estimators=5).fit(table[["age", "debt"]], table.label)
    sio.dump(model, d / "gb.skops")
    return d


def shap_args(d, out, *extra, data=None):
    return ["shap", "--model", d / "gb.skops", "--data", data or d / "data" / "*.parquet",
            "--out", out, "--target", "label", "--quiet", *extra]  # fmt: skip


def test_shap_scheduler_and_workers_together_is_one_line(shap_files, tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "v.parquet"
    line = one_line_error(
        capsys, *shap_args(shap_files, out, "--scheduler", "tcp://127.0.0.1:8786", "--workers", "2")
    )
    assert "--scheduler and --workers exclude each other" in line
    assert not out.exists()


def test_shap_unreachable_scheduler_is_one_line_naming_it(shap_files, tmp_path, capsys):
    import socket

    pytest.importorskip("distributed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens
    out = tmp_path / "v.parquet"
    line = one_line_error(capsys, *shap_args(shap_files, out, "--scheduler", address))
    assert f"the Dask scheduler at {address} cannot be reached" in line
    assert not out.exists()


def test_shap_partitions_that_differ_are_one_line_naming_the_file(shap_files, tmp_path, capsys):
    pytest.importorskip("distributed")
    data = tmp_path / "data"
    data.mkdir()
    table = small_table(N)
    table.iloc[:30].to_parquet(data / "a.parquet", index=False)
    table.iloc[30:].assign(debt=table.debt.iloc[30:].astype("float32")).to_parquet(
        data / "b.parquet", index=False
    )
    out = tmp_path / "v.parquet"
    line = one_line_error(capsys, *shap_args(shap_files, out, data=data / "*.parquet"))
    assert "--data file 'b.parquet' (file 2 of 2) does not match the first file 'a.parquet'" in line
    assert "its column 'debt' holds float, not double" in line
    assert not out.exists()


def test_shap_without_matching_files_is_one_line(shap_files, tmp_path, capsys):
    pytest.importorskip("distributed")
    line = one_line_error(
        capsys, *shap_args(shap_files, tmp_path / "v", data=tmp_path / "none-*.parquet")
    )
    assert "--data names no Parquet files: no files match" in line


@pytest.mark.parametrize(
    "out, message",
    [
        ("data/p1.parquet", "is or holds the --data file 'p1.parquet'"),
        ("data/values.parquet", "matches the --data pattern"),
        ("data", "is or holds the --data file"),
        ("gb.skops", "is the file given to --model"),
    ],
)
def test_shap_output_never_overwrites_an_input(shap_files, capsys, out, message):
    pytest.importorskip("distributed")
    before = {p: p.read_bytes() for p in shap_files.rglob("*") if p.is_file()}
    line = one_line_error(capsys, *shap_args(shap_files, shap_files / out))
    assert message in line
    assert {p: p.read_bytes() for p in shap_files.rglob("*") if p.is_file()} == before


def test_shap_output_whose_parts_the_pattern_would_read_is_refused(shap_files, capsys):
    pytest.importorskip("distributed")
    out = shap_files / "data" / "values"
    pattern = shap_files / "data" / "**" / "*.parquet"
    line = one_line_error(capsys, *shap_args(shap_files, out, data=pattern))
    assert "matches the --data pattern" in line
    assert not out.exists()


def test_shap_output_folder_of_other_files_is_refused(shap_files, tmp_path, capsys):
    pytest.importorskip("distributed")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    line = one_line_error(capsys, *shap_args(shap_files, tmp_path / "keep"))
    assert "holding 'notes.txt', which is not an earlier output of whybox shap" in line
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine"


def test_shap_target_not_a_column_is_one_line(shap_files, tmp_path, capsys):
    pytest.importorskip("distributed")
    args = shap_args(shap_files, tmp_path / "v")
    args[args.index("label")] = "outcome"
    line = one_line_error(capsys, *args)
    assert "--target 'outcome' is not a column of --data" in line


def test_shap_without_dask_says_how_to_install_it(shap_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    line = one_line_error(capsys, *shap_args(shap_files, tmp_path / "v"))
    assert line == (
        "whybox: error: whybox shap needs dask and distributed, which are not installed; "
        "install them with pip install 'whybox[dask]'."
    )
