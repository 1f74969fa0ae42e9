"""The interactive report: the explained rows embedded as inert JSON, one script allowed
by its sha256 hash, and in a real browser (Debian's chromium, driven through the DevTools
protocol) the waterfall drawn for a picked row equals that row's SHAP values."""

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests._requires import missing, requires
from whybox._explanation import Explanation
from whybox.report import Report, Section, Table, Text
from whybox.report._interactive import (
    context_payload,
    payload_json,
    row_payload,
    script_hash,
    script_text,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROWS_BLOCK = re.compile(r'<script type="application/json" id="whybox-rows">(.*?)</script>', re.S)
BUDGET = 5 * 1024 * 1024  # bytes of HTML for 1000 rows x 30 features


def _explanation(n=20, p=4, k=1, names=None, seed=0):
    rng = np.random.default_rng(seed)
    return Explanation(
        values=rng.normal(size=(n, p, k)) * 10.0 ** rng.integers(-3, 3, size=(n, p, k)),
        base_values=rng.normal(size=(n, k)),
        data=rng.normal(size=(n, p)) * 1000,
        feature_names=tuple(names or (f"feature {j}" for j in range(p))),
        output_names=tuple(f"out{j}" for j in range(k)),
        output_space="raw",
        method="exact",
    )


def _report(payload):
    table = Table("t", ("a", "b"), ((2, "x"), (1, "y")))
    return Report("t", {}, (Section("s", "S", (table, Text("hi"))),), interactive=payload)


def _embedded(page):
    found = ROWS_BLOCK.search(page)
    assert found
    return json.loads(found.group(1))


def _close(a, b):
    """``a`` is ``b`` rounded to 4 significant digits."""
    b = np.asarray(b, dtype=np.float64)
    return np.allclose(np.asarray(a, dtype=np.float64), b, rtol=5.001e-4, atol=0)


def test_embedded_rows_round_trip_to_the_explanation():
    ex = _explanation(n=25, p=5, k=3)
    rows = np.arange(25) * 7 + 3
    outputs = np.arange(25) % 3
    payload = row_payload(
        ex, rows, outputs=outputs, y=["a"] * 25, pred=["b"] * 25,
        is_error=np.arange(25) % 2 == 0, is_confident_error=np.arange(25) % 4 == 0,
        groups=[["g1" if i < 10 else "g2"] for i in range(25)], group_names=["sex"],
    )  # fmt: skip
    got = _embedded(_report(payload).to_html())
    assert got["features"] == list(ex.feature_names) and got["groups"] == ["sex"]
    for i, item in enumerate(got["rows"]):
        k = int(outputs[i])
        assert item["row"] == rows[i] and item["output"] == k
        assert _close(item["shap"], ex.values[i, :, k])
        assert _close(item["base"], ex.base_values[i, k])
        assert _close(item["fx"], ex.values[i, :, k].sum() + ex.base_values[i, k])
        assert _close(item["x"], ex.data[i])
        assert item["error"] == (i % 2 == 0) and item["confident"] == (i % 4 == 0)
        assert item["group"] == ["g1" if i < 10 else "g2"]


class _Data:
    def __init__(self, values):
        self.values = values

    def take(self, rows):
        return _Data(self.values[rows])


def _context(task, y, pred, proba=None, explained=None, sensitive=None, k=1):
    n = len(y)
    explained = np.arange(n) if explained is None else np.asarray(explained)
    model = SimpleNamespace(predict_proba_all=lambda X: proba[X[:, 0].astype(int)])
    return SimpleNamespace(
        explanation=_explanation(n=len(explained), p=3, k=k), explained=explained,
        y=np.asarray(y), pred=np.asarray(pred), task=task, model=model,
        data=_Data(np.arange(n, dtype=float)[:, None]), units="u",
        display={"0": "zero", "1": "one", "2": "two"} if task == "classification" else {},
        sensitive_features=sensitive, row_label=lambda r: 100 + r,
    )  # fmt: skip


def test_a_multiclass_row_shows_its_predicted_class_and_confident_errors_need_probability():
    y, pred = [0, 1, 2, 2, 1], [0, 2, 2, 1, 0]
    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3],
                      [0.85, 0.1, 0.05]])  # fmt: skip
    sensitive = pd.DataFrame({"sex": ["f", "m", "f", "m", "f"]})
    ctx = _context(
        "classification", y, pred, proba, explained=[0, 1, 3, 4], sensitive=sensitive, k=3
    )
    ctx.explanation = Explanation(
        values=ctx.explanation.values, base_values=ctx.explanation.base_values,
        data=ctx.explanation.data, feature_names=ctx.explanation.feature_names,
        output_names=("zero", "one", "two"), output_space="raw", method="exact",
    )  # fmt: skip
    got = context_payload(ctx)
    assert [r["row"] for r in got["rows"]] == [100, 101, 103, 104]
    assert [r["output"] for r in got["rows"]] == [0, 2, 1, 0]  # the predicted class's output
    assert [r["y"] for r in got["rows"]] == ["zero", "one", "two", "one"]
    assert [r["error"] for r in got["rows"]] == [False, True, True, True]
    # confident: wrong with the predicted class at probability >= 0.8 (0.8, 0.4, 0.85)
    assert [r["confident"] for r in got["rows"]] == [False, True, False, True]
    assert got["groups"] == ["sex"] and [r["group"] for r in got["rows"]] == [
        ["f"],
        ["m"],
        ["m"],
        ["f"],
    ]
    for i, r in enumerate(got["rows"]):
        assert _close(r["shap"], ctx.explanation.values[i, :, r["output"]])


def test_a_regressors_errors_are_its_top_decile_of_absolute_error():
    y = np.zeros(20)
    pred = np.arange(20.0)  # absolute errors 0..19: the top decile is 18 and 19 (>= 17.1)
    got = context_payload(_context("regression", y, pred))
    assert [r["row"] - 100 for r in got["rows"] if r["error"]] == [18, 19]
    assert not any(r["confident"] for r in got["rows"]) and got["groups"] == []


def test_a_script_tag_in_a_feature_name_is_inert():
    evil = "</script><script>alert(1)</script>"
    ex = _explanation(n=3, p=2, names=[evil, "b & <c>"])
    payload = row_payload(ex, [0, 1, 2], y=[evil] * 3, pred=["x"] * 3)
    page = _report(payload).to_html()
    assert "alert(1)" in page  # it is there, as escaped data
    assert "<script>alert(1)" not in page and "</script><script>" not in page
    assert page.count("<script") == 2  # the data block and the one allowed script
    got = _embedded(page)
    assert got["features"] == [evil, "b & <c>"] and got["rows"][0]["y"] == evil


def test_policy_allows_exactly_the_embedded_script_by_its_hash():
    page = _report(row_payload(_explanation(), range(20))).to_html()
    csp = html.unescape(re.search(r'Content-Security-Policy" content="([^"]*)"', page).group(1))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and scripts[0] == script_text()
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    assert script_hash(scripts[0]) == f"'sha256-{digest}'"
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives == {
        "default-src": "'none'",
        "img-src": "data:",
        "style-src": "'unsafe-inline'",
        "script-src": f"'sha256-{digest}'",
    }
    for banned in ("unsafe-eval", "eval(", "new Function", "innerHTML", "onclick"):
        assert banned not in scripts[0] and banned not in csp
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handler anywhere


def test_without_rows_the_page_has_no_panel_and_the_panel_starts_hidden():
    assert 'id="whybox-rows"' not in _report(None).to_html()
    page = _report(row_payload(_explanation(), range(20))).to_html()
    assert re.search(r'<section id="whybox-explore"[^>]*\shidden>', page)


def test_size_budget_for_1000_rows_by_30_features():
    ex = _explanation(
        n=1000, p=30, k=1, names=[f"a long feature name number {j}" for j in range(30)]
    )
    payload = row_payload(
        ex, np.arange(1000) * 13, y=["malignant"] * 1000, pred=["benign"] * 1000,
        is_error=np.ones(1000, bool), groups=[["group A"]] * 1000, group_names=["group"],
    )  # fmt: skip
    data = payload_json(payload).encode("utf-8")
    page = _report(payload).to_html().encode("utf-8")
    assert len(data) <= BUDGET and len(page) <= BUDGET, (len(data), len(page))
    print(f"1000 rows x 30 features: {len(data) / 1e6:.2f} MB of row data")


# ---------------------------------------------------------------- in a real browser


def _chosen(demo_report):
    """The demo's chosen rows: {row: {"shap": waterfall data, "lime": LIME data, ...}}."""
    report = json.loads(demo_report.with_suffix(".json").read_text())
    local = next(s for s in report["sections"] if s["id"] == "local")
    chosen = {}
    for b in local["blocks"]:
        if b["kind"] == "figure":
            kind = (
                "shap" if "shap_values" in b["data"] else "lime" if "weights" in b["data"] else "cf"
            )
            chosen.setdefault(b["data"]["row"], {})[kind] = b["data"]
    return chosen


def test_demo_report_embeds_every_explained_row_and_the_chosen_rows_details(demo_report):
    page = demo_report.read_text()
    got = _embedded(page)
    report = json.loads(demo_report.with_suffix(".json").read_text())
    assert len(got["rows"]) == min(report["meta"]["rows"], 1000)
    by_row = {item["row"]: item for item in got["rows"]}
    chosen = _chosen(demo_report)
    assert set(chosen) <= set(by_row) and set(got["local"]) == {str(r) for r in chosen}
    for row, want in chosen.items():
        assert _close(by_row[row]["shap"], want["shap"]["shap_values"])
        assert _close(by_row[row]["base"], want["shap"]["base_value"])
        assert _close(by_row[row]["fx"], want["shap"]["model_output"])
        lime = got["local"][str(row)]["lime"]
        assert lime["conditions"] == want["lime"]["conditions"]
        assert _close(lime["weights"], want["lime"]["weights"])
        assert "anchor" in got["local"][str(row)]
    # the rows' labels and errors as the model and the data say
    errors = [item for item in got["rows"] if item["error"]]
    assert errors and all(item["y"] != item["pred"] for item in errors)
    assert all(item["y"] == item["pred"] for item in got["rows"] if not item["error"])
    assert {item["row"] for item in got["rows"] if item["confident"]} <= {i["row"] for i in errors}


class _DevTools:
    """A page of headless chromium driven over the DevTools protocol (a websocket)."""

    def __init__(self, profile):
        websocket = requires("websocket")  # websocket-client
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.next_id, self.events = 0, []
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert self.proc.poll() is None and time.monotonic() < deadline, (
                "chromium did not start"
            )
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method):
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def load(self, path):
        """Open ``path`` (file://) and wait for its load event; the page's console errors,
        exceptions and policy violations are collected afresh."""
        self.events = []
        self.call("Page.navigate", url=path.as_uri())
        self.wait_for("Page.loadEventFired")

    def problems(self):
        """Policy violations, console errors and uncaught exceptions of the loaded page."""
        return self.evaluate("window.__violations") + [
            e["params"]["entry"]["text"]
            for e in self.events
            if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
        ] + [
            json.dumps(e["params"]) for e in self.events
            if e.get("method") == "Runtime.exceptionThrown"
        ]  # fmt: skip

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


# Installed before the page's own scripts (DevTools scripts are not subject to its
# policy): records every Content-Security-Policy violation.
WATCH = """window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});"""

PICK = """(function (row) {
  var box = document.getElementById("whybox-row");
  box.value = String(row);
  var t0 = performance.now();
  box.dispatchEvent(new Event("change"));
  var ms = performance.now() - t0;
  var bars = Array.from(document.querySelectorAll("#whybox-waterfall rect[data-shap]"));
  var lime = Array.from(document.querySelectorAll("#whybox-local rect[data-lime]"));
  return {ms: ms, lime: lime.map(function (b) {
            return [b.getAttribute("data-condition"), Number(b.getAttribute("data-lime"))]; }),
          drawn: document.getElementById("whybox-waterfall").getAttribute("data-row"),
          tips: Array.from(document.querySelectorAll("#whybox-waterfall title"))
            .map(function (t) { return t.textContent; }),
          bars: bars.map(function (b) {
            return [Number(b.getAttribute("data-feature")), b.getAttribute("data-name"),
                    Number(b.getAttribute("data-shap"))];
          })};
})(%d)"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        missing("chromium is not installed (apt-get install chromium)")
    page = _DevTools(tmp_path_factory.mktemp("chromium") / "profile")
    try:
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
        yield page
    finally:
        page.close()


@pytest.mark.browser
def test_picking_a_row_draws_its_waterfall_in_chromium(demo_report, browser):
    report = json.loads(demo_report.with_suffix(".json").read_text())
    local = next(s for s in report["sections"] if s["id"] == "local")
    figure = next(
        b for b in local["blocks"] if b["kind"] == "figure" and "shap_values" in b["data"]
    )
    row, want = figure["data"]["row"], figure["data"]
    browser.load(demo_report)
    assert browser.evaluate('document.getElementById("whybox-explore").hidden') is False
    picked = browser.evaluate(PICK % row)
    # a header click sorts its table: the importance table by "SHAP rank"
    ranks = browser.evaluate("""(function () {
      var th = document.querySelector("#importance table th:nth-child(3)");
      th.click();
      return [th.textContent, th.getAttribute("data-sort"),
              Array.from(th.closest("table").tBodies[0].rows)
                .map(function (r) { return Number(r.cells[2].textContent); })];
    })()""")
    # a filter box above a longer table keeps the rows holding its text
    shown = browser.evaluate("""(function () {
      var table = document.querySelector("#importance table");
      var box = table.previousElementSibling;
      box.value = "worst";
      box.dispatchEvent(new Event("input"));
      return Array.from(table.tBodies[0].rows).filter(function (r) { return !r.hidden; })
        .map(function (r) { return r.cells[0].textContent; });
    })()""")
    assert browser.problems() == []
    assert shown and all("worst" in name for name in shown), shown
    assert picked["drawn"] == str(row)
    names = want["feature_names"]
    assert len(picked["bars"]) == len(names) <= 40  # every feature, one bar each
    for feature, name, value in picked["bars"]:
        assert name == names[feature]
        assert _close(value, want["shap_values"][feature]), (name, value)
    assert any(names[0] in tip for tip in picked["tips"])  # full names in the tooltips
    lime = _chosen(demo_report)[row]["lime"]
    weights = dict(zip(lime["conditions"], lime["weights"], strict=True))
    assert len(picked["lime"]) == len(weights)
    for condition, value in picked["lime"]:
        assert _close(value, weights[condition]), condition
    assert ranks[:2] == ["SHAP rank", "asc"] and ranks[2] == sorted(ranks[2]), ranks
    print(f"redraw of row {row} in chromium: {picked['ms']:.1f} ms")
    assert picked["ms"] < 100


SELECT = """(function (value) {
  var f = document.getElementById("whybox-filter");
  f.value = value;
  var t0 = performance.now();
  f.dispatchEvent(new Event("change"));
  var ms = performance.now() - t0;
  return [Array.from(f.options).map(function (o) { return o.value; }),
          Array.from(document.getElementById("whybox-rowlist").options)
            .map(function (o) { return Number(o.value); }),
          document.getElementById("whybox-waterfall").getAttribute("data-row"), ms];
})(%s)"""


@pytest.mark.browser
def test_filters_groups_long_names_and_many_features_in_chromium(browser, tmp_path):
    n, p = 1000, 45
    long_names = [f"</script> a very long feature name that the bars shorten, number {j}"
                  for j in range(p)]  # fmt: skip
    ex = _explanation(n=n, p=p, names=long_names, seed=3)
    rows = np.arange(n) * 3 + 5
    error, confident = np.arange(n) % 3 == 0, np.arange(n) % 6 == 0
    group = np.where(np.arange(n) < 20, "a:1", "b")
    payload = row_payload(
        ex, rows, y=["yes"] * n, pred=["no"] * n, is_error=error, is_confident_error=confident,
        groups=[[g] for g in group], group_names=["site"],
    )  # fmt: skip
    page = tmp_path / "synthetic.html"
    page.write_text(_report(payload).to_html())
    browser.load(page)
    options, listed, drawn, _ = browser.evaluate(SELECT % '"confident"')
    _, everything, _, ms = browser.evaluate(SELECT % '"all"')  # refills the list of 1000
    assert everything == list(rows)
    print(f"filter 'all' ({n} rows listed) and redraw in chromium: {ms:.1f} ms")
    assert ms < 100
    assert options == ["all", "error", "confident", "group:0:a:1", "group:0:b"]
    assert listed == list(rows[confident]) and drawn == str(rows[confident][0])
    assert browser.evaluate(SELECT % '"error"')[1] == list(rows[error])
    assert browser.evaluate(SELECT % '"group:0:a:1"')[1] == list(rows[group == "a:1"])
    i = 7
    picked = browser.evaluate(PICK % rows[i])
    assert browser.problems() == []
    want = np.asarray(payload["rows"][i]["shap"])
    order = np.argsort(-np.abs(want), kind="stable")
    bars = {f: v for f, _, v in picked["bars"]}
    assert len(bars) == 40 and set(bars) == set(order[:39]) | {-1}  # 39 + "6 other features"
    for f in order[:39]:
        assert bars[f] == want[f]
    assert np.isclose(bars[-1], want[order[39:]].sum())
    assert any(long_names[order[0]] in tip for tip in picked["tips"])
    print(f"redraw of row {rows[i]} ({p} features) in chromium: {picked['ms']:.1f} ms")
    assert picked["ms"] < 100
    # a row that was not explained: nothing drawn anew, the reader is told
    browser.evaluate(PICK % 4)
    assert "was not explained" in browser.evaluate(
        'document.getElementById("whybox-rowinfo").textContent'
    )


@pytest.mark.browser
def test_the_policy_blocks_any_other_script_in_chromium(browser, tmp_path):
    page = tmp_path / "injected.html"
    html_text = _report(row_payload(_explanation(), range(20))).to_html()
    page.write_text(html_text.replace("</main>", "<script>window.injected = 1;</script></main>"))
    browser.load(page)
    assert browser.evaluate("typeof window.injected") == "undefined"
    assert browser.evaluate('document.getElementById("whybox-explore").hidden') is False
    assert any("script-src" in v for v in browser.evaluate("window.__violations"))
