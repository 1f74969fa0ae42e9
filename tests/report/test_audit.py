"""The audit as a library call: multi-class and regression models, class names, rows."""

import contextlib
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import Ridge

from whybox import InputError, audit
from whybox.inspection import top_interaction_pairs

SECTIONS = [
    "performance", "confusion", "errors", "failures", "importance", "shap", "effects", "local",
    "quality",
]  # fmt: skip


def _section(report, sid):
    return next(s for s in report.sections if s.id == sid)


def _waterfalls(report):
    return [b for b in _section(report, "local").blocks if "shap_values" in getattr(b, "data", {})]


@pytest.fixture(scope="module")
def wine():
    data = load_wine(as_frame=True)
    X, y = data.data, data.target
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X[::2], y[::2])
    return model, X[1::2].reset_index(drop=True), y[1::2].to_numpy()


def test_multiclass_audit_uses_class_names_everywhere(wine):
    model, X, y = wine
    names = ["barolo", "grignolino", "barbera"]
    report = audit(model, X, y, class_names=names, progress=False)
    assert [s.id for s in report.sections] == SECTIONS
    ex = report.results["explanation"]
    assert ex.output_names == tuple(names)
    assert ex.method == "tree_path_dependent"
    # float64 TreeSHAP against the forest's float64 probabilities: measured 2.2e-15
    assert np.max(ex.additivity_error) <= 1e-12
    # each waterfall explains the predicted class, named as the user named it
    pred = model.predict(X)
    for block in _waterfalls(report):
        row = block.data["row"]
        assert block.data["output"] == names[pred[row]]
        f_x = block.data["base_value"] + np.sum(block.data["shap_values"])
        assert np.isclose(f_x, block.data["model_output"], atol=1e-9)
    # beside each waterfall, LIME for the same row and output, in probability units
    blocks = _section(report, "local").blocks
    lime_blocks = [b for b in blocks if "local_r2" in getattr(b, "data", {})]
    assert [b.data["row"] for b in lime_blocks] == [b.data["row"] for b in _waterfalls(report)]
    for block in lime_blocks:
        assert block.data["output"] == names[pred[block.data["row"]]]
        assert block.data["output_space"] == "probability"
        assert 0.0 <= block.data["local_r2"] <= 1.0
        assert len(block.data["conditions"]) == len(block.data["weights"]) > 0
    # and the anchor rule of the same row, predicting the same class
    tables = [b for b in blocks if b.title.endswith(": anchor")]
    assert len(tables) == len(lime_blocks)
    for table, block in zip(tables, lime_blocks, strict=True):
        rule, then, precision, coverage = table.rows[0][:4]
        assert then == block.data["output"]
        assert 0.0 < coverage <= 1.0 and 0.0 <= precision <= 1.0
    cases = _section(report, "errors").blocks[0]
    assert {r[2] for r in cases.rows} <= set(names)  # true class column in display names
    json.loads(report.to_json())  # strict JSON throughout


def test_multiclass_waterfall_output_matches_model_margin(wine):
    model, X, y = wine
    report = audit(model, X, y, rows=[0, 3], progress=False)
    raw = model.decision_function(X)
    for block in _waterfalls(report):
        r, k = block.data["row"], list(map(str, model.classes_)).index(block.data["output"])
        np.testing.assert_allclose(block.data["model_output"], raw[r, k], atol=1e-9)


def test_regression_audit_has_no_confusion_section():
    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    model = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    report = audit(model, X, y, progress=False)
    assert [s.id for s in report.sections] == [s for s in SECTIONS if s != "confusion"]
    perf = dict(_section(report, "performance").blocks[0].rows)
    assert perf["R²"] == pytest.approx(model.score(X, y), abs=1e-3)
    ex = report.results["explanation"]
    assert ex.method == "tree_path_dependent"
    # float64 sums of leaf values of order 100 (diabetes target): a few ulps of the
    # largest, measured 1.4e-13; bound 1e-12 relative to the largest prediction
    assert np.max(ex.additivity_error) <= 1e-12 * np.abs(ex.model_output).max()
    # default rows: the largest, smallest and median absolute error
    err = np.abs(model.predict(X) - y)
    rows = [b.data["row"] for b in _waterfalls(report)]
    assert rows[0] == int(np.argmax(err)) and rows[1] == int(np.argmin(err))
    failures = report.results["failures"]
    assert "calibration" not in failures and "residuals" in failures
    titles = [b.title for b in _section(report, "failures").blocks if hasattr(b, "title")]
    assert "Residuals by feature" in titles and "Global surrogate tree" in titles
    # the SHAP values pass Adebayo's data randomisation test: a clone refitted on
    # permuted labels gets a different ranking of |SHAP values|
    sanity = ex.quality["sanity"]
    assert sanity["kind"] == "labels" and sanity["passes"] and sanity["final_similarity"] < 0.5
    assert "Sanity check (Adebayo et al. 2018)" in _section(report, "quality").summary
    # a forest: its MDI is shown beside permutation and SHAP importance
    comparison = report.results["importance_comparison"]
    np.testing.assert_array_equal(comparison.mdi, model.feature_importances_)
    assert "SHAP interaction values" in [
        b.title for b in _section(report, "effects").blocks if hasattr(b, "title")
    ]


def test_non_tree_model_gets_interventional_shap_with_a_background():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)), columns=list("abcd"))
    y = X.to_numpy() @ np.array([3.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.1, 150)
    model = Ridge(alpha=1e-6).fit(X, y)
    report = audit(model, X, y, progress=False)
    ex = report.results["explanation"]
    assert ex.method == "linear_interventional" and ex.params["background_rows"] == 100
    assert np.max(ex.additivity_error) <= 1e-9
    # linear model, interventional SHAP: phi_j = coef_j * (x_j - mean of the background's
    # x_j), so the difference of two rows' values is coef_j * (their difference in x_j)
    phi = ex.values[:, :, 0]
    np.testing.assert_allclose(
        phi - phi[0], (X.to_numpy() - X.to_numpy()[0]) * model.coef_, atol=1e-9
    )
    quality = dict(_section(report, "quality").blocks[0].rows)
    assert quality["background rows"] == 100
    importance = _shap_order(report)
    assert importance[:2] == ["a", "b"] and importance[-1] == "d"
    # a Ridge model has no impurity importance: the comparison says so
    comparison = report.results["importance_comparison"]
    assert comparison.mdi is None and "no feature_importances_" in comparison.mdi_source


def _shap_order(report):
    """Features by mean |SHAP| as the importance-comparison figure's data holds them."""
    data = _section(report, "importance").blocks[0].data
    order = np.argsort(-np.asarray(data["shap"]), kind="stable")
    return [data["feature_names"][i] for i in order]


def test_audit_input_errors(wine):
    model, X, y = wine
    with pytest.raises(InputError, match="y has 5 values but X has 89 rows"):
        audit(model, X, y[:5], progress=False)
    with pytest.raises(InputError, match="rows must be row positions between 0 and 88"):
        audit(model, X, y, rows=[89], progress=False)
    with pytest.raises(InputError, match="labels .* that the model does not predict"):
        audit(model, X, np.where(y == 0, 7, y), progress=False)


def test_tree_model_with_categorical_splits_is_audited_with_tree_shap():
    # scikit-learn's HistGradientBoosting treats pandas categories as categorical
    # splits, which TreeExplainer follows through the model's own category encoding.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=300),
            "b": rng.normal(size=300),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], 300)),
        }
    )
    y = ((X.a > 0) ^ (X.c == "y")).astype(int).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    report = audit(model, X, y, progress=False)
    ex = report.results["explanation"]
    assert ex.method == "tree_path_dependent" and ex.feature_names == ("a", "b", "c")
    assert np.max(ex.additivity_error) <= 1e-9
    assert _shap_order(report)[-1] == "b"
    # a tree model: SHAP interaction values in "Feature effects", the planted a x c first
    matrix = report.results["effects"]["shap_interaction_matrix"]
    pairs = top_interaction_pairs(matrix, top_k=1)
    assert {pairs.feature_1[0], pairs.feature_2[0]} == {"a", "c"}
    # the category's effects read as levels, not as a curve
    captions = {
        b.title: b.caption for b in _section(report, "effects").blocks if hasattr(b, "title")
    }
    assert captions["Partial dependence and ICE: c"].startswith("'c' is categorical: one point")
    assert captions["Accumulated local effects: c"].startswith("levels ordered by how alike")
    assert "is not strongly correlated" in captions["Partial dependence and ICE: a"]


# --------------------------------------------------- training data as the background


@pytest.fixture(scope="module")
def shifted():
    """A binary classifier that needs a background (k-NN: exact SHAP on 3 features), its
    held-out rows, and training rows shifted from them by +1.5 in every column."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    columns = ["a", "b", "c"]
    X_train = pd.DataFrame(rng.normal(size=(90, 3)) + 1.5, columns=columns)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=columns)

    def label(frame):
        return (frame.a + frame.b + rng.normal(0, 0.3, len(frame)) > 1.5).astype(int).to_numpy()

    y_train, y = label(X_train), label(X)
    model = KNeighborsClassifier(7).fit(pd.concat([X_train, X]), np.concatenate([y_train, y]))
    return model, X, y, X_train, y_train


@pytest.fixture(scope="module")
def shifted_reports(shifted):
    model, X, y, X_train, y_train = shifted
    shown, quiet = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(shown):
        with_train = audit(model, X, y, X_train=X_train, y_train=y_train, progress=True)
    with contextlib.redirect_stderr(quiet):
        without = audit(model, X, y, progress=False)
    return with_train, without, shown.getvalue(), quiet.getvalue()


def test_the_training_rows_are_the_shap_background(shifted, shifted_reports):
    model, X, y, X_train, _ = shifted
    with_train, without, *_ = shifted_reports
    # interventional SHAP: the base value is the mean prediction over the background, all
    # 90 training rows (fewer than 100), by the model's own predict_proba
    ex = with_train.results["explanation"]
    assert ex.method == "exact" and ex.params["background_rows"] == 90
    np.testing.assert_allclose(
        ex.base_values[:, 0], model.predict_proba(X_train)[:, 1].mean(), rtol=0, atol=1e-12
    )
    assert np.max(ex.additivity_error) <= 1e-12
    # without training rows the audited rows stood in: the base value moves with the shift
    ex = without.results["explanation"]
    np.testing.assert_allclose(
        ex.base_values[:, 0], model.predict_proba(X)[:, 1].mean(), rtol=0, atol=1e-12
    )
    assert abs(ex.base_values[0, 0] - model.predict_proba(X_train)[:, 1].mean()) > 0.1
    assert with_train.meta["background"] == "training data"
    assert with_train.meta["SHAP background rows"] == 90 and with_train.meta["training rows"] == 90
    assert without.meta["background"] == "audited rows" and without.meta["training rows"] == 0
    assert json.loads(with_train.to_json())["meta"]["background"] == "training data"


def test_lime_effects_and_counterfactuals_read_the_training_rows(shifted, shifted_reports):
    from whybox.counterfactuals import CounterfactualExplainer
    from whybox.inspection import partial_dependence

    model, X, _, X_train, _ = shifted
    with_train, without, *_ = shifted_reports
    assert with_train.results["lime"].params["background_rows"] == 90
    assert without.results["lime"].params["background_rows"] == 60
    # PD/ICE over the training rows (all 90, fewer than the 500 the section averages):
    # the same grid and curves as the library's call on X_train
    for feat, effects in with_train.results["effects"].items():
        if feat in ("h_statistic", "shap_interaction_matrix"):
            continue
        own = partial_dependence(model, X_train, feat, kind="both", grid_resolution=20)
        got = effects["partial_dependence"]
        np.testing.assert_array_equal(got.grid_values[0], own.grid_values[0])
        np.testing.assert_array_equal(got.average, own.average)
        assert got.grid_values[0].min() >= X_train[feat].min()
    # the counterfactuals: the library's own call with the training rows as background
    rows = [b.data["row"] for b in _waterfalls(with_train)]
    own = CounterfactualExplainer(model, X_train, random_state=0)(X.iloc[rows], n_counterfactuals=3)
    changes = with_train.results["counterfactuals"].to_frame()
    assert len(changes)
    pd.testing.assert_frame_equal(changes, own.to_frame())
    for feat, old, new in zip(changes.feature, changes.original, changes.new, strict=True):
        assert min(old, X_train[feat].min()) <= new <= max(old, X_train[feat].max())


def test_training_performance_is_shown_beside_the_held_out(shifted, shifted_reports):
    from sklearn.metrics import accuracy_score

    model, X, y, X_train, y_train = shifted
    with_train, without, *_ = shifted_reports
    perf = next(s for s in with_train.sections if s.id == "performance")
    table = perf.blocks[1]
    assert table.title == "Training and held-out performance"
    rows = {r[0]: r[1:] for r in table.rows}
    train_acc, held_acc, gap = rows["accuracy"]
    assert train_acc == pytest.approx(accuracy_score(y_train, model.predict(X_train)), abs=5e-5)
    assert held_acc == pytest.approx(accuracy_score(y, model.predict(X)), abs=5e-5)
    assert gap == pytest.approx(train_acc - held_acc, abs=1e-3)
    assert len(next(s for s in without.sections if s.id == "performance").blocks) == 1


def test_the_report_says_when_the_audited_rows_stood_in(shifted_reports):
    with_train, without, *_ = shifted_reports
    assert with_train.notes == () and json.loads(with_train.to_json())["notes"] == []
    assert "No training data was given" not in with_train.to_html()
    (note,) = without.notes
    assert note.startswith("No training data was given") and "SHAP background (60 rows)" in note
    assert json.loads(without.to_json())["notes"] == [note]
    html = without.to_html()
    assert html.index("No training data was given") < html.index("About this audit")


def test_training_rows_are_checked_before_any_work(shifted):
    model, X, y, X_train, y_train = shifted
    with pytest.raises(InputError, match=r"X_train must hold the columns of X .* it lacks 'c'"):
        audit(model, X, y, X_train=X_train.drop(columns="c"), progress=False)
    with pytest.raises(InputError, match=r"it has 'd' that X has not"):
        audit(model, X, y, X_train=X_train.assign(d=1.0), progress=False)
    with pytest.raises(InputError, match=r"'b' is text or categorical in X_train but numeric"):
        audit(model, X, y, X_train=X_train.assign(b=X_train.b.astype(str)), progress=False)
    with pytest.raises(InputError, match=r"y_train must hold one target value per row of X_train"):
        audit(model, X, y, X_train=X_train, y_train=y_train[:5], progress=False)
    with pytest.raises(InputError, match="y_train was given without X_train"):
        audit(model, X, y, y_train=y_train, progress=False)
    with pytest.raises(InputError, match="labels .* that the model does not predict"):
        audit(model, X, y, X_train=X_train, y_train=y_train + 5, progress=False)
    # a sensitive attribute that X holds but the model does not take may be in X_train or not
    grouped = X.assign(grp=np.where(X.a > 0, "p", "q"))
    for train in (X_train.drop(columns="c"), X_train.drop(columns="c").assign(grp="p")):
        with pytest.raises(InputError, match=r"X_train must hold .* but it lacks 'c'; give") as err:
            audit(model, grouped, y, X_train=train, sensitive_features="grp", progress=False)
        assert "grp" not in str(err.value)


def test_progress_shows_inside_long_steps_with_an_eta(shifted_reports):
    *_, shown, quiet = shifted_reports
    assert quiet == ""
    assert "whybox audit" in shown
    # bars inside the steps: the effects plotted, the rows anchored, the counterfactuals
    # and figures, with a total (n/total) and, once a unit is done, the time left
    # ("elapsed<remaining")
    assert "anchor of row" in shown
    for desc in ("feature effects", "local explanations"):
        assert re.search(desc + r": .*\d+/\d+ \[\d\d:\d\d<\d\d:\d\d", shown), desc
