"""The report's building blocks and its JSON: whybox's one rule for NaN and infinities."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from whybox.report import Figure, Report, Section, Table, Text  # noqa: E402


def _report():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figure = Figure.from_matplotlib(
        fig,
        "A line",
        {"x": np.array([0.0, np.nan, np.inf, -np.inf]), "n": np.int64(3), "ok": np.bool_(True)},
        "how to read it",
    )
    plt.close(fig)
    frame = pd.DataFrame({"value": [1.23456789, np.nan, np.inf], "name": ["a", "b", "c"]})
    table = Table.from_frame(frame.set_index("name"), "Values", caption="c")
    section = Section(
        "numbers", "Numbers", (figure, table, Text("plain")), "summary", results={"r": 1}
    )
    return Report("title", {"rows": np.int64(3), "seconds": 1.5}, (section,))


def test_report_json_writes_nan_as_null_and_infinities_as_strings():
    report = _report()
    data = json.loads(report.to_json())  # strict: to_json refuses NaN and Infinity
    blocks = data["sections"][0]["blocks"]
    assert blocks[0] == {
        "kind": "figure",
        "title": "A line",
        "data": {"x": [0.0, None, "inf", "-inf"], "n": 3, "ok": True},
    }
    assert blocks[1]["columns"] == ["name", "value"]
    assert blocks[1]["rows"] == [["a", 1.235], ["b", None], ["c", "inf"]]
    assert blocks[2] == {"kind": "text", "text": "plain"}
    assert data["meta"] == {"rows": 3, "seconds": 1.5}
    assert report.to_dict() == data


def test_section_results_stay_out_of_the_json_and_the_comparison():
    section = _report().sections[0]
    assert "results" not in json.dumps(_report().to_dict())
    assert section.results == {"r": 1}
    assert section == Section(section.id, section.title, section.blocks, section.summary)


def test_table_from_frame_without_its_index():
    frame = pd.DataFrame({"a": [np.int64(1)], "b": [np.float32(0.5)]}, index=["x"])
    table = Table.from_frame(frame, "t", with_index=False)
    assert table.columns == ("a", "b")
    assert table.rows == ((1, 0.5),)
    assert type(table.rows[0][0]) is int


def test_section_lookup_names_the_sections_there_are():
    report = _report()
    assert report.section("numbers").title == "Numbers"
    with pytest.raises(KeyError, match=r"no section 'shap'; sections are \['numbers'\]"):
        report.section("shap")


def test_notes_come_first_in_the_html_and_json_and_are_escaped():
    import dataclasses

    report = _report()
    assert report.notes == () and json.loads(report.to_json())["notes"] == []
    noted = dataclasses.replace(report, notes=("the audited rows <b>stood in</b>",))
    assert json.loads(noted.to_json())["notes"] == ["the audited rows <b>stood in</b>"]
    html = noted.to_html()
    assert "the audited rows &lt;b&gt;stood in&lt;/b&gt;" in html and "<b>stood" not in html
    assert html.index("stood in") < html.index("About this audit") < html.index('id="numbers"')
