"""What a notebook shows: ``_repr_html_`` of Explanation, every result type and Report.

Escaped text (a feature named ``<script>`` stays text), bounded size (a wide result
shows its first rows and columns and says how many were left out), and every public
method's result renders a titled table (the methods of tests/test_conformance.py).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from tests import test_conformance as conformance
from whybox import Explanation
from whybox._utils import Result
from whybox.report import Report, Section, Table, Text

EVIL = '<script>alert("x")</script>'


class Tags(HTMLParser):
    """The tag names and the text of an HTML fragment (entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(fragment: str) -> Tags:
    parser = Tags()
    parser.feed(fragment)
    parser.close()
    return parser


def explanation(n: int = 3, d: int = 3, k: int = 2, names=None) -> Explanation:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, d, k))
    values[:, 1] *= 10  # feature 1 matters most
    return Explanation(
        values=values,
        base_values=np.tile(np.arange(1.0, k + 1), (n, 1)),
        data=rng.normal(size=(n, d)),
        feature_names=names or tuple(f"f{j}" for j in range(d)),
        output_names=tuple(f"class {j}" for j in range(k)),
        output_space="probability",
        method="exact",
        model_output=values.sum(axis=1) + np.arange(1.0, k + 1),
    )


def test_explanation_summary_shows_shape_method_space_base_and_top_features():
    ex = explanation()
    page = ex._repr_html_()
    tags = parse(page)
    assert "script" not in tags.tags and "table" in tags.tags
    text = " ".join(tags.text)
    for shown in ("exact", "(3, 3, 2)", "probability", "class 0", "1, 2", "Top features"):
        assert shown in text
    assert page.index("<th>f1</th>") < page.index("<th>f0</th>")  # largest first
    for v in np.abs(ex.values[:, 1]).mean(axis=0):
        assert f"<td>{v:.4g}</td>" in page
    one = parse(ex[0]._repr_html_())
    assert "table" in one.tags and "(3, 2)" in " ".join(one.text)


def test_explanation_names_are_escaped():
    ex = explanation(names=(EVIL, "b", "c"))
    page = ex._repr_html_()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "script" not in parse(page).tags and EVIL in " ".join(parse(page).text)


def test_explanation_summary_is_bounded():
    ex = explanation(n=4, d=500, k=40)
    page = ex._repr_html_()
    assert len(page) < 20_000
    assert "490 more rows" in page and "28 more columns" in page


def test_image_explanation_has_a_summary_without_table():
    image = Explanation(
        values=np.zeros((2, 1, 4, 4, 1)),
        base_values=np.zeros((2, 1)),
        data=None,
        feature_names=(),
        output_names=("y",),
        axes=("samples", "channels", "height", "width", "outputs"),
    )
    page = image._repr_html_()
    assert "(2, 1, 4, 4, 1)" in page and "<table" not in page


@dataclass(frozen=True)
class Wide(Result):
    label: str
    score: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table


def test_result_view_has_title_key_numbers_and_a_bounded_escaped_table():
    table = pd.DataFrame(
        {f"{EVIL}{j}": [EVIL + "y" * 500] * 40 for j in range(30)},
    )
    page = Wide(EVIL, 0.123456, table)._repr_html_()
    tags = parse(page)
    assert "script" not in tags.tags
    assert page.startswith("<p><b>Wide</b></p>")
    assert "score: <code>0.1235</code>" in page and "<script" not in page
    assert f"label: <code>{html.escape(EVIL)}</code>" in page
    assert "20 more rows, 18 more columns" in page
    assert len(page) < 40_000  # 20 rows x 12 cells of at most 100 characters, escaped


def test_result_view_says_why_there_is_no_table():
    @dataclass(frozen=True)
    class Broken(Result):
        n: int

        def to_frame(self) -> pd.DataFrame:
            raise ValueError(EVIL)

    page = Broken(1)._repr_html_()
    assert "no table" in page and "<script" not in page


def report() -> Report:
    section = Section(
        "s",
        EVIL,
        (Text(EVIL), Table("t", ("feature", "value"), ((EVIL, 1.0), ("a&b", 2.0)))),
    )
    return Report(EVIL, {"rows": 3}, (section,))


def test_report_inline_is_a_sandboxed_iframe_holding_the_page():
    r = report()
    page = r._repr_html_()
    tags = parse(page)
    assert tags.tags.count("iframe") == 1 and "script" not in tags.tags
    frame = tags.attrs[tags.tags.index("iframe")]
    assert frame["sandbox"] == ""  # every restriction on: no scripts, opaque origin
    assert frame["srcdoc"] == r.to_html()  # the escaped attribute decodes to the page
    assert "<script" not in page.split("<iframe", 1)[0]
    assert "1 sections" in page and " kB of HTML" in page


@pytest.mark.parametrize(
    "case", [c for c in conformance.CASES if not c.needs_torch], ids=lambda c: c.name
)
def test_every_public_result_renders(case):
    for result in conformance.results(case()):
        page = result._repr_html_()
        tags = parse(page)
        assert page.startswith(f"<p><b>{type(result).__name__}</b></p>")
        assert "table" in tags.tags and "script" not in tags.tags
        assert len(page) < 40_000


def public_results() -> dict[str, type]:
    """Every Result class a public whybox subpackage exports."""
    import dataclasses
    import importlib
    import pkgutil

    import whybox

    found = {"Explanation": Explanation}
    for module in pkgutil.iter_modules(whybox.__path__):
        if module.name.startswith("_") or not module.ispkg:
            continue
        package = importlib.import_module(f"whybox.{module.name}")
        for name in getattr(package, "__all__", ()):
            obj = getattr(package, name)
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and issubclass(obj, Result):
                found[f"{module.name}.{name}"] = obj
    return found


def test_every_public_result_type_has_the_bounded_view():
    # the views above (escaped, bounded) are the only two: no result writes its own
    results = public_results()
    assert len(results) > 30
    for name, cls in results.items():
        assert cls._repr_html_ in (Result._repr_html_, Explanation._repr_html_), name
