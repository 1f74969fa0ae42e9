"""The audit's "What would an interpretable model cost?" section: present, or absent with its reason."""

from __future__ import annotations

import builtins
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import whybox.glassbox._challenger as challenger_module
from tests._requires import requires
from whybox import audit
from whybox.adapters import adapt_data, adapt_model
from whybox.glassbox import Challengers
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Table, Text
from whybox.report._section_challenger import (
    TITLE,
    challenger_notes,
    challenger_section,
    challenger_skipped,
)

FAST_EBM = {"outer_bags": 1, "max_rounds": 60, "interactions": 1}


@pytest.fixture(autouse=True)
def fast_ebm(monkeypatch):
    monkeypatch.setattr(challenger_module, "EBM_SETTINGS", dict(FAST_EBM))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(240, 3)), columns=["a", "b", "c"])
    y = np.where(X.a + 0.5 * X.b + rng.normal(scale=0.5, size=240) > 0, "yes", "no")
    model = LogisticRegression().fit(X[:160], y[:160])
    return model, X[:160], y[:160], X[160:].reset_index(drop=True), y[160:]


def _context(model, X, y, X_train=None, y_train=None):
    m = adapt_model(model)
    values = m.check_data(adapt_data(X))
    train = None if X_train is None else m.check_data(adapt_data(X_train), name="X_train")
    return AuditContext(
        model=m, data=values, y=np.asarray(y), pred=m.predict_label(values.values), rows=(0,),
        class_names=None, display={}, random_state=0, rng=np.random.default_rng(0),
        train=train, y_train=None if y_train is None else np.asarray(y_train),
    )  # fmt: skip


def test_with_training_data_the_section_shows_table_plot_and_the_gap(data):
    model, X_train, y_train, X, y = data
    section = challenger_section(_context(model, X, y, X_train, y_train))
    assert section.id == "challenger" and section.title == TITLE
    result = section.results["challengers"]
    assert isinstance(result, Challengers)
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    names = [r[0] for r in table.rows]
    assert names[0] == "audited model (LogisticRegression)" and len(names) == 4
    assert table.columns[1] == "accuracy"
    accuracy = dict(zip(names, (r[1] for r in table.rows), strict=True))
    assert accuracy[names[0]] == pytest.approx(np.mean(model.predict(X) == y), abs=5e-5)
    (figure,) = [b for b in section.blocks if isinstance(b, Figure)]
    assert figure.data["models"] == names and figure.data["metric"] == "accuracy"
    # the sentence: the best challenger's gap in points and its interval, as the result has them
    best = result.table.loc[result.best]
    assert section.summary.startswith(
        f"The best interpretable model, a{'n' * (result.best[0] != 'd')} {result.best}"
    )
    interval = f"interval of the gap {best['gap low']:+.1f} to {best['gap high']:+.1f} points"
    assert interval in section.summary
    gap = round(float(best["gap"]), 1)
    if gap != 0:
        assert f"{abs(gap):.1f} points of accuracy" in section.summary
    assert isinstance(section.blocks[0], Text) and section.blocks[0].text == section.summary


def test_without_training_data_the_section_is_absent_and_the_note_says_why(data):
    model, X_train, y_train, X, y = data
    context = _context(model, X, y)
    assert challenger_section(context) is None
    reason = challenger_skipped(context)
    assert "no training data" in reason and TITLE in reason
    # joined to the note on the missing training data, the same cause
    assert challenger_notes(context, ("No training data was given.",)) == (
        f"No training data was given. {reason}",
    )
    no_targets = _context(model, X, y, X_train)
    assert challenger_section(no_targets) is None
    assert "no training targets" in challenger_skipped(no_targets)
    assert challenger_notes(_context(model, X, y, X_train, y_train), ()) == ()


def test_without_interpret_the_ebm_row_is_absent_and_the_section_says_why(data, monkeypatch):
    model, X_train, y_train, X, y = data
    real_import = builtins.__import__

    def no_interpret(name, *args, **kwargs):
        if name == "interpret" or name.startswith("interpret."):
            raise ModuleNotFoundError(f"No module named {name!r}", name="interpret")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_interpret)
    section = challenger_section(_context(model, X, y, X_train, y_train))
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    assert [r[0] for r in table.rows][1:] == ["L1 logistic regression", "decision tree (depth 3)"]
    texts = [b.text for b in section.blocks if isinstance(b, Text)]
    assert any(t.startswith("EBM left out: interpret is not installed") for t in texts)
    assert "No EBM: interpret is not installed" in section.summary


def test_a_glass_box_model_is_not_challenged(data):
    interpret = requires("interpret")
    _, X_train, y_train, X, y = data
    ebm = interpret.glassbox.ExplainableBoostingClassifier(**FAST_EBM).fit(X_train, y_train)
    context = _context(ebm, X, y, X_train, y_train)
    assert challenger_section(context) is None
    reason = challenger_skipped(context)
    assert re.search(r"itself an EBM \(ExplainableBoostingClassifier\)", reason)
    assert challenger_notes(context, ()) == (reason,)


def test_the_audit_runs_the_section_after_performance_with_training_data(data):
    model, X_train, y_train, X, y = data
    report = audit(model, X, y, X_train=X_train, y_train=y_train, progress=False)
    ids = [s.id for s in report.sections]
    assert ids[:2] == ["performance", "challenger"]
    assert isinstance(report.results["challengers"], Challengers)
    assert report.notes == ()
    without = audit(model, X, y, progress=False)
    assert "challenger" not in [s.id for s in without.sections]
    (note,) = without.notes
    assert note.startswith("No training data was given") and note.endswith(
        "to fit the interpretable challengers on."
    )


def test_when_no_challenger_can_be_fitted_the_section_says_so(data, monkeypatch):
    model, X_train, y_train, X, y = data

    def fail(*args):
        raise ValueError("boom")

    for fitter in ("_fit_ebm", "_fit_linear", "_fit_tree"):
        monkeypatch.setattr(challenger_module, fitter, fail)
    section = challenger_section(_context(model, X, y, X_train, y_train))
    assert section.summary.startswith("No interpretable challenger could be fitted")
    assert "decision tree (depth 3): fitting it failed (ValueError: boom)." in section.summary
