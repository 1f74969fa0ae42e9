"""The missing-library switch: a skip by default, a failure under WHYBOX_REQUIRE_ALL=1.

Each test runs a small pytest session (pytester) whose conftest loads the hooks of
``tests/_requires.py``, on test files that ask for a module that does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._requires import REQUIRE_ALL, installed, lazy, requires

ABSENT = "whybox_test_module_that_does_not_exist"

PER_TEST = f"""
import pytest
from _requires import lazy, missing, requires

absent = lazy("{ABSENT}")
json = lazy("json")


def test_requires():
    requires("{ABSENT}")


def test_requires_submodule():
    requires("{ABSENT}.sub")


def test_lazy_module_attribute():
    absent.Anything


def test_importorskip():
    pytest.importorskip("{ABSENT}")


def test_missing_program():
    missing("needs chromium")


def test_present_modules_run():
    assert requires("json").dumps(1) == "1"
    assert json.loads("[2]") == [2]


def test_lazy_module_unused():
    assert True


def test_other_skips_stay_skips():
    pytest.skip("not about a missing library")
"""

MODULE_LEVEL_HELPER = f"""
from _requires import requires

requires("{ABSENT}")


def test_never_collected():
    pass
"""

MODULE_LEVEL_IMPORTORSKIP = f"""
import pytest

pytest.importorskip("{ABSENT}")


def test_never_collected():
    pass
"""


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    tests_dir = str(Path(__file__).parent)
    pytester.makeconftest(
        f"import sys\nsys.path.insert(0, {tests_dir!r})\n"
        "from _requires import pytest_make_collect_report, pytest_runtest_makereport\n"
    )
    pytester.makepyfile(
        test_per_test=PER_TEST,
        test_module_helper=MODULE_LEVEL_HELPER,
        test_module_importorskip=MODULE_LEVEL_IMPORTORSKIP,
    )
    return pytester


def test_missing_modules_skip_only_their_tests_by_default(session, monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    result = session.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=8)
    result.stdout.fnmatch_lines([f"*needs {ABSENT}, which is not installed*"])


def test_missing_modules_fail_under_require_all(session, monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL, "1")
    result = session.runpytest("-rfEs", "-p", "no:cacheprovider", "--continue-on-collection-errors")
    # 5 missing per test, 2 modules that cannot be collected; the unrelated skip stays
    result.assert_outcomes(passed=2, failed=5, errors=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_module_helper.py*",
            f"needs {ABSENT}, which is not installed ({REQUIRE_ALL}=1*",
            "*ERROR collecting test_module_importorskip.py*",
            f"could not import '{ABSENT}'*({REQUIRE_ALL}=1*",
            "*_ test_requires _*",
            f"needs {ABSENT}, which is not installed ({REQUIRE_ALL}=1*",
            "*_ test_requires_submodule _*",
            f"needs {ABSENT}.sub, which is not installed ({REQUIRE_ALL}=1*",
            "*_ test_lazy_module_attribute _*",
            f"needs {ABSENT}, which is not installed ({REQUIRE_ALL}=1*",
            "*_ test_importorskip _*",
            f"could not import '{ABSENT}'*({REQUIRE_ALL}=1*",
            "*_ test_missing_program _*",
            f"needs chromium ({REQUIRE_ALL}=1*",
            "SKIPPED *not about a missing library",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("value", ["0", ""])
def test_other_values_of_the_switch_skip(session, monkeypatch, value):
    monkeypatch.setenv(REQUIRE_ALL, value)
    session.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=8)


def test_a_broken_install_is_an_error_not_a_skip(pytester, monkeypatch):
    # a module that exists but whose own import fails for a missing dependency
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    pytester.makepyfile(broken_lib="import whybox_dependency_that_does_not_exist\n")
    pytester.syspathinsert()
    for check in (requires, installed):
        with pytest.raises(ModuleNotFoundError, match="whybox_dependency_that_does_not_exist"):
            check("broken_lib")


def test_installed():
    assert installed("json") and installed("os.path")
    assert not installed(ABSENT) and not installed(f"{ABSENT}.sub")


def test_lazy_imports_on_first_use_only():
    stand_in = lazy(ABSENT)  # creating it imports nothing
    assert repr(stand_in) == f"lazy({ABSENT!r})"
    with pytest.raises(AttributeError):
        stand_in.__wrapped__  # dunder probes (copy, inspect) do not import  # noqa: B018
    assert lazy("math").sqrt(4.0) == 2.0
