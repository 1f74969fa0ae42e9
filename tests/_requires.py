"""Optional test dependencies, required per test.

A test that needs an optional library (xgboost, shap, torch, captum, ...) asks for it
itself, so a missing library switches off only the tests that use it:

- ``requires("shap")`` imports and returns the module, or skips the test;
- ``xgb = lazy("xgboost")`` at module level gives a stand-in that imports the library on
  first attribute access, i.e. inside the first test that uses it, and skips that test
  when the library is missing; tests that never touch it still run.
- ``missing(reason)`` for any other missing component (e.g. the Chromium binary);
- ``installed("xgboost")`` for set-up that only builds what the installed libraries can.

With ``WHYBOX_REQUIRE_ALL=1`` (CI sets it) a missing component fails the test instead:
the reference libraries are part of the test set-up there, and a skip would hide that
a comparison never ran. The hooks below (imported by ``conftest.py``) do the same for a
plain ``pytest.importorskip``, in a test or at module level.

Only a missing module counts as missing: an installed library that fails to import
(a broken install, a missing dependency of its own) is an error, never a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, NoReturn

import pytest

REQUIRE_ALL = "WHYBOX_REQUIRE_ALL"
# The start of the reason pytest.importorskip gives when the module cannot be imported.
_IMPORTORSKIP_REASON = "could not import "


def require_all() -> bool:
    """Whether a missing component fails (``WHYBOX_REQUIRE_ALL=1``) instead of skipping."""
    return os.environ.get(REQUIRE_ALL, "") == "1"


def missing(reason: str) -> NoReturn:
    """Skip the current test (or module) for a missing component; fail under require-all."""
    if require_all():
        pytest.fail(
            f"{reason} ({REQUIRE_ALL}=1: every optional component is required)", pytrace=False
        )
    pytest.skip(reason, allow_module_level=True)


def requires(name: str) -> ModuleType:
    """Import module ``name`` for the current test, or skip it (fail under require-all)."""
    if not installed(name):
        missing(f"needs {name}, which is not installed")
    return importlib.import_module(name)


def installed(name: str) -> bool:
    """Whether module ``name`` imports; any import error other than its absence is raised."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
            raise
        return False
    return True


class lazy:  # noqa: N801 - used like a module name: ``xgb = lazy("xgboost")``
    """A module-level stand-in for an optional library, imported on first use."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # copy, pickle and inspect probe dunders
            raise AttributeError(attribute)
        return getattr(requires(self._name), attribute)

    def __repr__(self) -> str:
        return f"lazy({self._name!r})"


# ------------------------------------------------------------------ hooks (conftest.py)
def _missing_module_reason(skip: BaseException | None) -> str | None:
    """The reason of a ``pytest.importorskip`` skip for a missing module, else None."""
    if isinstance(skip, pytest.skip.Exception):
        reason = str(skip.msg)
        if reason.startswith(_IMPORTORSKIP_REASON):
            return reason
    return None


def _as_failure(report: pytest.TestReport | pytest.CollectReport, reason: str) -> None:
    report.outcome = "failed"
    report.longrepr = f"{reason} ({REQUIRE_ALL}=1: every optional component is required)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if require_all() and report.skipped and call.excinfo is not None:
        reason = _missing_module_reason(call.excinfo.value)
        if reason is not None:
            _as_failure(report, reason)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport:
    report = yield
    if require_all() and report.skipped and isinstance(report.longrepr, tuple):
        # a module-level skip: longrepr is (path, line, "Skipped: <reason>")
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if reason.startswith(_IMPORTORSKIP_REASON):
            _as_failure(report, reason)
    return report
