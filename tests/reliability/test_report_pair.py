"""The HTML and JSON reports are written as a pair, even when the writer is killed.

Each case runs ``whybox audit`` in a child process (``_pair_runner.py``) over an old
pair and stops it at one step: while writing a temporary file, or before or after one
of the two renames. The guarantee checked (see ``whybox.io._outputs``):

- controlled exits (an OSError, Ctrl-C, SIGTERM) leave the old pair or the new pair,
  never a mix, and no temporary file;
- SIGKILL before the JSON's rename leaves the old pair untouched;
- SIGKILL between the renames leaves the new JSON beside the old HTML, which
  ``pair_matches`` reports, and the next write (or ``recover_pair``) completes it;
- the next write removes what a killed writer left behind.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from whybox.io import pair_matches, read_report_id, recover_pair, write_pair
from whybox.report._report import Report, Section, Text

RUNNER = Path(__file__).with_name("_pair_runner.py")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pair_inputs")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["label"] = (frame.a + 0.5 * rng.normal(size=60) > 0).astype(int)
    frame.to_csv(d / "data.csv", index=False)
    sio.dump(LogisticRegression().fit(frame[["a", "b"]], frame.label), d / "lr.skops")
    return d


def stand_in(mark):
    return Report("stand-in", {"subtitle": mark}, (Section("s", "S", (Text(mark),)),))


@pytest.fixture
def old_pair(tmp_path):
    html, js = stand_in("old").save(tmp_path / "r.html")
    return html, js, html.read_bytes(), js.read_bytes()


def run(inputs, out, step, action="kill", mark="new"):
    cmd = [sys.executable, str(RUNNER), step, action, mark, "--", "audit",
           "--model", str(inputs / "lr.skops"), "--data", str(inputs / "data.csv"),
           "--target", "label", "--out", str(out), "--quiet"]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def temps(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".whybox-"))


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def assert_old(old_pair):
    html, js, html_bytes, js_bytes = old_pair
    assert html.read_bytes() == html_bytes
    assert js.read_bytes() == js_bytes
    assert pair_matches(html, js)


def assert_new(html, js):
    assert pair_matches(html, js)
    assert "new" in html.read_text() and '"subtitle": "new"' in js.read_text()


def test_sigkill_while_writing_leaves_the_old_pair(inputs, tmp_path, old_pair):
    html, js = old_pair[:2]
    proc = run(inputs, html, "write-2")  # the JSON's temporary file done, the HTML's half
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_old(old_pair)
    assert len(temps(tmp_path)) == 2  # what SIGKILL leaves ...
    proc = run(inputs, html, "none")
    assert proc.returncode == 0, proc.stderr
    assert_new(html, js)
    assert names(tmp_path) == ["r.html", "r.json"]  # ... the next run removes


def test_sigkill_just_before_the_commit_leaves_the_old_pair(inputs, tmp_path, old_pair):
    proc = run(inputs, tmp_path / "r.html", "replace-1-before")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_old(old_pair)
    assert temps(tmp_path)
    assert not recover_pair(tmp_path / "r.html", tmp_path / "r.json")
    assert temps(tmp_path) == []
    assert_old(old_pair)


def test_sigkill_between_the_renames_is_detected_and_completed(inputs, tmp_path, old_pair):
    html, js = old_pair[:2]
    proc = run(inputs, html, "replace-1-after")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # the new JSON beside the old HTML: a mixed pair, and it says so
    assert html.read_bytes() == old_pair[2]
    assert js.read_bytes() != old_pair[3]
    assert read_report_id(js) != read_report_id(html)
    assert not pair_matches(html, js)
    # the new HTML was complete: the next run to these paths finishes the interrupted
    # write first, even when it fails itself
    from whybox.cli import main

    with pytest.raises(SystemExit) as info:
        main(["audit", "--model", str(inputs / "lr.skops"), "--data", str(inputs / "data.csv"),
              "--target", "no such column", "--out", str(html), "--quiet"])  # fmt: skip
    assert info.value.code == 2
    assert_new(html, js)
    assert temps(tmp_path) == []


def test_sigkill_after_both_renames_leaves_the_new_pair(inputs, tmp_path, old_pair):
    html, js = old_pair[:2]
    proc = run(inputs, html, "replace-2-after")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_new(html, js)
    recover_pair(html, js)
    assert_new(html, js)
    assert temps(tmp_path) == []


def test_sigterm_between_the_renames_leaves_the_old_pair(inputs, tmp_path, old_pair):
    proc = run(inputs, tmp_path / "r.html", "replace-1-after", "term")
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.strip() == "whybox: terminated"
    assert_old(old_pair)  # the new JSON was in place: the old one is back
    assert names(tmp_path) == ["r.html", "r.json"]


@pytest.mark.parametrize(
    ("step", "action", "code"),
    [
        ("write-1", "raise", 2),
        ("write-2", "interrupt", 130),
        ("replace-1-before", "raise", 2),
        ("replace-1-after", "raise", 2),  # the new JSON is in place: the old one is put back
        ("replace-1-after", "interrupt", 130),
        ("replace-2-before", "raise", 2),
        ("replace-2-before", "interrupt", 130),
    ],
)
def test_controlled_exits_leave_the_old_pair_and_no_temporary_file(
    inputs, tmp_path, old_pair, monkeypatch, capsys, step, action, code
):
    from tests.reliability._pair_runner import install
    from whybox.cli import main

    out = tmp_path / "r.html"
    install(step, action, "new", out, monkeypatch.setattr)
    with pytest.raises(SystemExit) as info:
        main(["audit", "--model", str(inputs / "lr.skops"), "--data", str(inputs / "data.csv"),
              "--target", "label", "--out", str(out), "--quiet"])  # fmt: skip
    assert info.value.code == code
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert_old(old_pair)
    assert names(tmp_path) == ["r.html", "r.json"]


def test_a_first_write_killed_between_the_renames(inputs, tmp_path):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    assert run(inputs, html, "replace-1-after").returncode == -signal.SIGKILL
    assert js.exists() and not html.exists() and not pair_matches(html, js)
    assert recover_pair(html, js)
    assert_new(html, js)


def test_a_first_write_that_fails_leaves_nothing(tmp_path, monkeypatch):
    from tests.reliability._pair_runner import install

    install("replace-2-before", "raise", "new", tmp_path / "r.html", monkeypatch.setattr)
    with pytest.raises(OSError, match="No space left"):
        stand_in("new").save(tmp_path / "r.html")
    assert names(tmp_path) == []


def test_the_real_audit_killed_between_the_renames(inputs, tmp_path, old_pair):
    html, js = old_pair[:2]
    proc = run(inputs, html, "replace-1-after", mark="real")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert html.read_bytes() == old_pair[2]
    assert not pair_matches(html, js)
    assert recover_pair(html, js)
    assert pair_matches(html, js)
    assert '"sections"' in js.read_text() and 'id="performance"' in html.read_text()
    assert temps(tmp_path) == []


def test_temporary_files_of_a_live_writer_are_left_alone(tmp_path):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = tmp_path / f".whybox-{live.pid}-abc123.r.html.tmp"
        mine.write_text("being written")
        write_pair(html, "<html>", js, "{}")
        assert mine.read_text() == "being written"
    finally:
        live.kill()
        live.wait()
    recover_pair(html, js)  # its writer is gone now
    assert not mine.exists()


def test_write_pair_refuses_one_file_for_both(tmp_path):
    from whybox import InputError

    (tmp_path / "r.html").write_text("old")
    os.link(tmp_path / "r.html", tmp_path / "r.json")  # two names, one file
    with pytest.raises(InputError, match="must be two files"):
        write_pair(tmp_path / "r.html", "a", tmp_path / "r.json", "b")
    assert (tmp_path / "r.html").read_text() == "old"
    assert names(tmp_path) == ["r.html", "r.json"]
