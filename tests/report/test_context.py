"""The audit context: row positions in the explanation, and the audit's explainer settings."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import whybox
from whybox.adapters import adapt_data, adapt_model
from whybox.report._context import KERNEL_EVALS, AuditContext


def _context():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (X.a > 0).astype(int).to_numpy()
    m = adapt_model(LogisticRegression().fit(X, y))
    data = m.check_data(adapt_data(X))
    return AuditContext(
        model=m, data=data, y=y, pred=m.predict_label(data.values), rows=(3, 7),
        class_names=None, display={}, random_state=0, rng=np.random.default_rng(0),
        explained=np.array([1, 3, 7, 20]), background=data.take(np.arange(10)),
    )  # fmt: skip


def test_positions_map_rows_to_the_explanation():
    assert _context().positions == {1: 0, 3: 1, 7: 2, 20: 3}


def test_explain_uses_the_audit_settings_and_replace_keeps_the_rest():
    context = _context()
    rows = context.data.take([3, 7])
    ex = context.explain(rows)
    want = whybox.explain(
        context.model, rows, background=context.background, random_state=0,
        max_evals=max(KERNEL_EVALS, 4 * 3), progress=False,
    )  # fmt: skip
    np.testing.assert_array_equal(ex.values, want.values)
    changed = context.replace(units="log-odds")
    assert changed.units == "log-odds" and changed.rows == context.rows
    assert context.units == ""
    assert context.task == "classification" and context.inner_progress is False
