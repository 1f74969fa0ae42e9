"""The audit's input checks as a library call (the CLI's are in tests/test_cli_errors.py)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests._cli import small_table
from whybox import InputError
from whybox.report import audit

N = 60


@pytest.fixture(scope="module")
def table():
    return small_table(N)


def test_library_audit_refuses_one_class(table):
    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    with pytest.raises(InputError, match="single class"):
        audit(model, table[["age", "debt"]], np.zeros(N, dtype=int), progress=False)


def test_library_audit_refuses_a_constant_regression_target(table):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(table[["age", "debt"]], table["debt"])
    with pytest.raises(InputError, match=r"^the target is constant \(2.5 in all 60 rows\)"):
        audit(model, table[["age", "debt"]], np.full(N, 2.5), progress=False)


def test_library_rows_negative_duplicate_or_empty_are_refused(table):
    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    X, y = table[["age", "debt"]], table["label"]
    with pytest.raises(InputError, match="between 0 and 59, got -1"):
        audit(model, X, y, rows=[-1], progress=False)
    with pytest.raises(InputError, match="rows lists row 3 twice"):
        audit(model, X, y, rows=[3, 3], progress=False)
    with pytest.raises(InputError, match="rows is empty"):
        audit(model, X, y, rows=[], progress=False)


def test_continuous_sensitive_in_python_suggests_pd_cut(table):
    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    with pytest.raises(InputError, match=r"is continuous .*=pd\.cut\(X\['age'\]") as info:
        audit(
            model, table[["age", "debt"]], table["label"], sensitive_features="age", progress=False
        )
    assert "--sensitive" not in str(info.value)


def test_library_audit_closes_its_progress_bar_when_a_step_fails(monkeypatch, table):
    import tqdm

    import whybox.report._audit as audit_module

    def broken(*args, **kwargs):
        raise RuntimeError("a step failed")

    monkeypatch.setattr(audit_module, "permutation_importance", broken)
    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    try:
        audit(model, table[["age", "debt"]], table["label"], progress=True)
    except RuntimeError as exc:
        # where the caller prints the error, while the failed call's frames still live
        open_bars = [b for b in tqdm.tqdm._instances if b.desc == "whybox audit"]
        assert str(exc) == "a step failed" and open_bars == []
    else:
        pytest.fail("the broken step did not raise")
