"""The demo audit's report, made once per test process for the tests that read or render it."""

from __future__ import annotations

import pytest

from whybox.cli import main


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory):
    """``whybox audit --demo`` written to a temporary folder: the HTML path (the JSON beside)."""
    out = tmp_path_factory.mktemp("demo") / "report.html"
    try:
        main(["audit", "--demo", "--out", str(out), "--quiet"])
    except SystemExit as exc:
        assert exc.code == 0
    return out
