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


def test_training_rows_take_the_model_column_order_and_may_lack_split_off_attributes(table):
    import pandas as pd

    from whybox.adapters import adapt_data, adapt_model
    from whybox.report._inputs import check_train

    model = LogisticRegression().fit(table[["age", "debt"]], table["label"])
    m, audited = adapt_model(model), adapt_data(table[["age", "debt"]])
    # the same columns in another order are the same columns
    train, y_train = check_train(m, audited, table[["debt", "age"]], table["label"])
    assert train.feature_names == ("age", "debt")
    np.testing.assert_array_equal(train.values, table[["age", "debt"]].to_numpy())
    np.testing.assert_array_equal(y_train, table["label"].to_numpy())
    # a sensitive attribute split off X (not a model input) may be in X_train or not
    with_group = table[["age", "debt"]].assign(group="a")
    train, _ = check_train(m, audited, with_group, None, ignored=["group"])
    assert train.feature_names == ("age", "debt")
    # an array of the model's width is read by position, like X
    values = table[["age", "debt"]].to_numpy()
    m_array = adapt_model(LogisticRegression().fit(values, table["label"]))
    train, _ = check_train(m_array, adapt_data(values), values[:7], None)
    assert train.n_samples == 7
    with pytest.raises(InputError, match="it lacks 'x1'"):
        check_train(m_array, adapt_data(values), values[:, :1], None)
    with pytest.raises(InputError, match="y_train has 2 missing values"):
        check_train(m, audited, table[["age", "debt"]], pd.Series([np.nan] * 2 + [1] * (N - 2)))
    assert check_train(m, audited, None, None) == (None, None)
