"""The audit's quality section explains nothing twice, and what it reuses equals a full
recomputation with the public functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from whybox.adapters import adapt_data, adapt_model
from whybox.evaluate import faithfulness, model_randomization, quality, seed_stability
from whybox.lime import LimeTabularExplainer
from whybox.report._context import AuditContext
from whybox.report._section_quality import _SANITY_ROWS, quality_row, quality_section

N_ROWS = 400
ROWS = (3, 50, 200)


class CountingContext(AuditContext):
    """An audit context that counts the rows its explainer is asked for."""

    def explain(self, rows, model=None, progress=False):
        self.__dict__.setdefault("asked", []).append(len(rows))
        return super().explain(rows, model, progress)


def _context(progress: bool = False) -> CountingContext:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(N_ROWS + 300, 4)), columns=["a", "b", "c", "d"])
    X["b"] = X["b"].where(rng.random(len(X)) > 0.1)  # missing values the model reads
    y = ((X["a"] + 0.5 * X["c"].fillna(0) + rng.normal(0, 0.5, len(X))) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    model.fit(X.iloc[N_ROWS:], y.iloc[N_ROWS:])
    m = adapt_model(model)
    data = m.check_data(adapt_data(X.iloc[:N_ROWS].reset_index(drop=True)))
    y_test = y.iloc[:N_ROWS].to_numpy()
    context = CountingContext(
        model=m, data=data, y=y_test, pred=m.predict_label(data.values), rows=ROWS,
        class_names=None, display={"0": "0", "1": "1"}, random_state=0,
        rng=np.random.default_rng(0), progress=progress, explained=np.arange(N_ROWS),
    )  # fmt: skip
    ex = AuditContext.explain(context, data)
    lime = LimeTabularExplainer(m, context.reference, random_state=0, progress=False)(
        data.take(list(ROWS))
    )
    return context.replace(explanation=ex, lime=lime, units="log-odds of '1'")


@pytest.fixture(scope="module")
def done():
    context = _context()
    section = quality_section(context)
    return context, section


def test_nothing_is_explained_twice(done):
    """The SHAP values are recomputed only for the stability neighbours (20 rows and 10
    neighbours each) and for the refit model of the sanity check (its sample): not for
    the original model's sample (the audit's values are reused)."""
    context, _ = done
    assert context.asked == [20 * 11, _SANITY_ROWS]


def test_reused_deletion_curves_equal_a_full_recomputation(done):
    context, section = done
    results = section.results["quality"]
    curves, shap = results["faithfulness"], results["shap"]
    # the public quality() on a fresh explanation of the same rows
    fresh = AuditContext.explain(context, context.data)
    quality(
        context.model, fresh, background=context.reference,
        explain_fn=lambda rows: AuditContext.explain(context, rows),
        n_steps=10, n_random=10, random_state=0,
    )  # fmt: skip
    for key in ("additivity", "faithfulness", "stability", "params"):
        assert fresh.quality[key] == shap[key]
    # the curves drawn: faithfulness() of quality's rows with quality's generator
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(N_ROWS, 200, replace=False))
    direct = faithfulness(
        context.model, fresh[rows], background=context.reference, n_steps=10, n_random=10,
        random_state=rng,
    )  # fmt: skip
    for field in ("deletion", "insertion", "aopc", "aopc_random", "random_deletion_curves"):
        np.testing.assert_array_equal(getattr(curves, field), getattr(direct, field))
    assert {k: v for k, v in shap["faithfulness"].items() if k != "n_rows"} == curves.summary()


def test_reused_lime_run_equals_a_full_recomputation(done):
    context, section = done
    seeds = section.results["quality"]["lime_seed_stability"]
    full = seed_stability(
        lambda s: LimeTabularExplainer(context.model, context.reference, random_state=s),
        context.data.take(list(ROWS)), seeds=(0, 1, 2), top_k=4,
    )  # fmt: skip
    assert seeds.summary() == full.summary()
    np.testing.assert_array_equal(seeds.values, full.values)


def test_sanity_check_on_a_stated_sample_equals_a_full_recomputation(done):
    context, section = done
    sanity = context.explanation.quality["sanity"]
    assert sanity["params"]["n_rows"] == _SANITY_ROWS
    assert f"on a random sample of {_SANITY_ROWS} of the {N_ROWS} explained rows" in (
        section.summary
    )
    picked = np.sort(np.random.default_rng(0).choice(N_ROWS, _SANITY_ROWS, replace=False))
    X = pd.DataFrame(
        context.data.values[picked], columns=list(context.data.feature_names)
    ).infer_objects()
    full = model_randomization(
        context.model.estimator, lambda model, rows: AuditContext.explain(context, rows, model),
        X, y=context.y[picked], kind="labels", random_state=0,
    )  # fmt: skip
    assert full.to_dict() == sanity


def test_model_randomization_reuses_a_given_explanation_exactly(done):
    context, _ = done
    X = context.data.take(np.arange(60))
    frame = pd.DataFrame(X.values, columns=list(X.feature_names)).infer_objects()

    def explain_fn(model, rows):
        return AuditContext.explain(context, rows, model)

    given = model_randomization(
        context.model.estimator, explain_fn, frame, explanation=context.explanation[:60],
        y=context.y[:60], kind="labels",
    )  # fmt: skip
    full = model_randomization(
        context.model.estimator, explain_fn, frame, y=context.y[:60], kind="labels"
    )
    assert given.to_dict() == full.to_dict()
    with pytest.raises(Exception, match="explanation has 10 rows but X has 60"):
        model_randomization(
            context.model.estimator, explain_fn, frame, explanation=context.explanation[:10],
            y=context.y[:60], kind="labels",
        )  # fmt: skip


def test_progress_bar_counts_the_checks(capsys, monkeypatch):
    context = _context(progress=True)
    bars = []
    make_bar = AuditContext.bar

    def recording_bar(self, total, desc, unit="it"):
        bars.append(make_bar(self, total, desc, unit))
        return bars[-1]

    monkeypatch.setattr(CountingContext, "bar", recording_bar)
    quality_section(context)
    assert [(b.desc, b.n, b.total) for b in bars] == [("quality checks", 5, 5)]
    assert "quality checks" in capsys.readouterr().err  # on stderr when progress is on


def test_quality_row_without_a_defined_lipschitz_estimate(done):
    context, _ = done
    ex = context.explanation
    q = dict(ex.quality)
    q["stability"] = dict(q["stability"], median_estimate=None, max_estimate=None)
    ex_copy = ex[:]
    ex_copy.quality.clear()
    ex_copy.quality.update(q)
    assert quality_row("SHAP", ex_copy)[4] == "Lipschitz not defined"
