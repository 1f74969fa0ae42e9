"""The audit of a glass-box model shows its shape functions as its global view, says they are
the model, and takes its SHAP values from the exact term contributions."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tests._requires import requires
from whybox import audit
from whybox.glassbox import from_pygam, shape_functions
from whybox.report._section_glassbox import glassbox_section


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(size=n),
            "c": rng.choice(["x", "y", "z"], size=n),
            "d": rng.normal(size=n),
        }
    ), rng


@pytest.fixture(scope="module")
def ebm_report():
    glassbox = requires("interpret.glassbox")
    X, rng = _frame(400)
    y = (X["a"] + X["b"] * (X["c"] == "x") + rng.normal(size=400) * 0.3 > 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ebm = glassbox.ExplainableBoostingClassifier(
            interactions=2, outer_bags=2, max_rounds=100, random_state=0
        ).fit(X[:300], y[:300])
        report = audit(ebm, X[300:], y[300:], X_train=X[:300], y_train=y[:300], progress=False)
    return ebm, report


def test_ebm_audit_shows_the_shape_functions_as_the_model(ebm_report):
    ebm, report = ebm_report
    ids = [s.id for s in report.sections]
    assert ids.index("glassbox") < ids.index("importance")  # the global view comes first
    section = report.section("glassbox")
    texts = [b.text for b in section.blocks if b.kind == "text"]
    assert "ARE the model, not an approximation of it" in texts[0]
    assert "the model, not an approximation" in section.summary
    shapes = report.results["shape_functions"]
    np.testing.assert_allclose(shapes.importances, ebm.term_importances(), rtol=1e-12, atol=0)
    figure = next(b for b in section.blocks if b.kind == "figure" and "importances" in b.title)
    np.testing.assert_allclose(figure.data["importance"], ebm.term_importances(), rtol=1e-12)
    table = next(b for b in section.blocks if b.kind == "table")
    assert table.rows[0][0] == ebm.term_names_[int(np.argmax(ebm.term_importances()))]
    # the local view: the SHAP values are the exact term contributions, and the text says so
    assert report.meta["explainer"].startswith("additive")
    assert "exact term contributions" in texts[-1]
    assert report.meta["explainer"] in texts[-1]
    json.loads(report.to_json())  # the section's numbers are strict JSON


def test_gam_audit_weighs_the_terms_by_the_training_rows():
    pygam = requires("pygam")
    X, rng = _frame(300, seed=1)
    X["c"] = rng.integers(1, 4, size=300).astype(float)
    y = np.sin(X["a"]) + X["b"] ** 2 + 0.5 * X["c"] + X["d"] * X["b"] + rng.normal(size=300) * 0.1
    gam = pygam.LinearGAM(pygam.s(0) + pygam.s(1) + pygam.f(2) + pygam.te(1, 3, n_splines=5)).fit(
        X[:200].to_numpy(), y[:200]
    )
    model = from_pygam(gam, feature_names=list(X.columns))
    report = audit(
        model, X[200:], y[200:].to_numpy(), X_train=X[:200], y_train=y[:200].to_numpy(),
        progress=False,
    )  # fmt: skip
    section = report.section("glassbox")
    assert "LinearGAM" in section.summary and "1 pair)" in section.blocks[0].text
    shapes = report.results["shape_functions"]
    expected = shape_functions(model, X[:200])  # every training row (fewer than 1000)
    np.testing.assert_allclose(shapes.importances, expected.importances, rtol=1e-12, atol=0)
    assert "exact term contributions" in section.blocks[-1].text


def test_no_section_for_a_black_box():
    model = SimpleNamespace(estimator=LogisticRegression())
    assert glassbox_section(SimpleNamespace(model=model)) is None


def test_multiclass_ebm_one_overview_per_class_with_display_names():
    glassbox = requires("interpret.glassbox")
    X, rng = _frame(300, seed=2)
    y = np.digitize(X["a"] + X["b"] * (X["c"] == "x") + rng.normal(size=300) * 0.3, [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ebm = glassbox.ExplainableBoostingClassifier(
            interactions=1, outer_bags=2, max_rounds=50, random_state=0
        ).fit(X[:200], y[:200])
        report = audit(
            ebm, X[200:], y[200:], X_train=X[:200], y_train=y[:200], progress=False,
            class_names=["lo", "mid", "hi"],
        )  # fmt: skip
    section = report.section("glassbox")
    titles = [b.title for b in section.blocks if b.kind == "figure"]
    assert [t for t in titles if t.startswith("Shape functions")] == [
        f"Shape functions of the top {min(6, len(ebm.term_names_))} terms ({c})"
        for c in ("lo", "mid", "hi")
    ]
    overview = next(b for b in section.blocks if b.kind == "figure" and "(mid)" in b.title)
    best = report.results["shape_functions"].top(1)[0]
    i = list(ebm.term_names_).index(best.name)
    inner = tuple(slice(1, -1) for _ in best.features)
    scores = np.asarray(ebm.term_scores_[i])[(*inner, 1)]  # class "mid", the value bins
    np.testing.assert_array_equal(overview.data[best.name]["scores"], scores)
    np.testing.assert_allclose(
        report.results["shape_functions"].importances, ebm.term_importances(), rtol=1e-12
    )
