"""The interpretable challengers: scikit-learn's metrics, the paired bootstrap, interpret absent."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import whybox.glassbox._challenger as challenger_module
from tests._requires import requires
from whybox import InputError
from whybox.adapters import adapt_model
from whybox.glassbox import Challengers, challengers, from_ebm, is_glass_box

FAST_EBM = {"outer_bags": 1, "max_rounds": 60, "interactions": 1}


@pytest.fixture(autouse=True)
def fast_ebm(monkeypatch):
    """A one-bag EBM with few rounds: the tests check the wiring, not the EBM's accuracy."""
    monkeypatch.setattr(challenger_module, "EBM_SETTINGS", dict(FAST_EBM))


def _mixed(n=360, seed=0, regression=False):
    """Numbers with missing values, a text column with a level unseen in training."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.uniform(0, 10, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    X.loc[rng.random(n) < 0.1, "b"] = np.nan
    z = 1.5 * X.a - X.b.fillna(0) + 0.3 * X.c + (X.colour == "red") * 1.2 - 1.5
    z = z + rng.normal(scale=0.8, size=n)
    y = z.to_numpy() if regression else np.where(z > 0, "yes", "no")
    cut = 2 * n // 3
    train, test = slice(0, cut), slice(cut, n)
    X_test = X.iloc[test].reset_index(drop=True)
    X_test.loc[0, "colour"] = "purple"  # unseen in training
    prep = ColumnTransformer(
        [("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough"
    )
    est = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
    model = make_pipeline(prep, est(max_iter=30, random_state=0))
    model.fit(X.iloc[train], y[train])
    return model, X.iloc[train].reset_index(drop=True), y[train], X_test, y[test]


@pytest.fixture(scope="module")
def binary():
    requires("interpret")
    model, X_train, y_train, X, y = _mixed()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(challenger_module, "EBM_SETTINGS", dict(FAST_EBM))
        result = challengers(model, X_train, y_train, X, y, random_state=3, n_bootstrap=300)
    return model, X_train, y_train, X, y, result


def test_binary_metrics_equal_sklearn_on_each_models_own_predictions(binary):
    model, _, _, X, y, result = binary
    positions = (y == "yes").astype(int)  # the model's classes are ["no", "yes"]
    table = result.table
    assert list(table.index) == [
        "audited model (Pipeline)", "EBM", "L1 logistic regression", "decision tree (depth 3)",
    ]  # fmt: skip
    audited = table.iloc[0]
    assert audited["accuracy"] == pytest.approx(metrics.accuracy_score(y, model.predict(X)))
    assert audited["ROC AUC"] == pytest.approx(
        metrics.roc_auc_score(positions, model.predict_proba(X)[:, 1])
    )
    for name, est in result.estimators.items():
        pred, proba = est.predict(X), est.predict_proba(X)
        row = table.loc[name]
        assert row["accuracy"] == pytest.approx(metrics.accuracy_score(positions, pred))
        assert row["balanced accuracy"] == pytest.approx(
            metrics.balanced_accuracy_score(positions, pred)
        )
        assert row["ROC AUC"] == pytest.approx(metrics.roc_auc_score(positions, proba[:, 1]))
        assert row["log loss"] == pytest.approx(metrics.log_loss(positions, proba))
        gap = 100 * (audited["accuracy"] - row["accuracy"])
        assert row["gap"] == pytest.approx(gap)
        assert row["fit seconds"] > 0


def test_sizes_are_what_a_reader_reads(binary):
    *_, result = binary
    table, est = result.table, result.estimators
    ebm = est["EBM"]
    assert table.loc["EBM", "size"] == len(ebm.term_features_)
    assert table.loc["EBM", "size unit"] == "terms"
    assert result.params["EBM"]["outer_bags"] == 1 and "reduced" in result.params["EBM"]
    linear = est["L1 logistic regression"][-1]
    assert table.loc["L1 logistic regression", "size"] == np.count_nonzero(linear.coef_)
    assert result.params["L1 logistic regression"]["C"] in challenger_module.LINEAR_CS
    tree = est["decision tree (depth 3)"][-1]
    assert tree.get_depth() <= 3
    assert table.loc["decision tree (depth 3)", "size"] == tree.get_n_leaves()


def test_bootstrap_intervals_cover_the_gap_and_repeat_with_the_seed(binary):
    model, X_train, y_train, X, y, result = binary
    rows = result.table[result.table.role == "challenger"]
    assert (rows["gap low"] <= rows["gap"]).all() and (rows["gap"] <= rows["gap high"]).all()
    assert (rows["gap low"] < rows["gap high"]).all()
    acc = result.table["accuracy"]
    assert ((result.table["accuracy low"] <= acc) & (acc <= result.table["accuracy high"])).all()
    again = challengers(model, X_train, y_train, X, y, random_state=3, n_bootstrap=300)
    keep = [c for c in result.table.columns if c != "fit seconds"]
    pd.testing.assert_frame_equal(again.table[keep], result.table[keep])
    other = challengers(model, X_train, y_train, X, y, random_state=4, n_bootstrap=300)
    assert not np.array_equal(other.table["gap low"], result.table["gap low"])


def test_the_interval_is_the_paired_bootstrap_of_the_rows(binary):
    """With one held-out row per replicate drawn the same for all models, a replicate's gap
    is the difference of the models' correctness on the drawn rows (brute force)."""
    model, X_train, y_train, X, y, result = binary
    small = challengers(
        model, X_train, y_train, X, y, random_state=5, n_bootstrap=400, confidence_level=0.5
    )
    positions = (y == "yes").astype(int)
    audited_ok = model.predict(X) == y
    tree_ok = small.estimators["decision tree (depth 3)"].predict(X) == positions
    rng = np.random.default_rng(5)
    rng.integers(2**31 - 1)  # the challengers' seed, drawn first
    gaps = [
        100 * (audited_ok[i].mean() - tree_ok[i].mean())
        for i in rng.integers(0, len(y), size=(400, len(y)))
    ]
    row = small.table.loc["decision tree (depth 3)"]
    assert row["gap low"] == pytest.approx(np.percentile(gaps, 25))
    assert row["gap high"] == pytest.approx(np.percentile(gaps, 75))


def test_multiclass_metrics_are_sklearns():
    data = load_wine(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X[::2], y[::2])
    result = challengers(model, X[::2], y[::2], X[1::2], y[1::2], n_bootstrap=100)
    X_test, y_test = X[1::2], y[1::2]
    assert "ROC AUC (one-vs-rest)" in result.table.columns
    for name, est in result.estimators.items():
        proba = est.predict_proba(X_test)
        row = result.table.loc[name]
        assert row["accuracy"] == pytest.approx(metrics.accuracy_score(y_test, est.predict(X_test)))
        assert row["ROC AUC (one-vs-rest)"] == pytest.approx(
            metrics.roc_auc_score(y_test, proba, multi_class="ovr")
        )
        assert row["log loss"] == pytest.approx(metrics.log_loss(y_test, proba))


def test_regression_r2_and_mae_are_sklearns():
    model, X_train, y_train, X, y = _mixed(regression=True)
    result = challengers(model, X_train, y_train, X, y, n_bootstrap=200)
    assert result.metric == "R²" and result.task == "regression"
    assert result.table.iloc[0]["R²"] == pytest.approx(metrics.r2_score(y, model.predict(X)))
    assert "L1 linear regression (lasso)" in result.estimators
    for name, est in result.estimators.items():
        pred = est.predict(X)
        row = result.table.loc[name]
        assert row["R²"] == pytest.approx(metrics.r2_score(y, pred))
        assert row["mean absolute error"] == pytest.approx(metrics.mean_absolute_error(y, pred))
        assert row["gap"] == pytest.approx(100 * (result.table.iloc[0]["R²"] - row["R²"]))
        assert row["gap low"] <= row["gap"] <= row["gap high"]


def test_without_interpret_the_ebm_is_absent_with_the_reason(monkeypatch):
    real_import = builtins.__import__

    def no_interpret(name, *args, **kwargs):
        if name == "interpret" or name.startswith("interpret."):
            raise ModuleNotFoundError(f"No module named {name!r}", name="interpret")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_interpret)
    model, X_train, y_train, X, y = _mixed(n=200)
    result = challengers(model, X_train, y_train, X, y, n_bootstrap=50)
    assert "EBM" not in result.table.index and "EBM" not in result.estimators
    assert "interpret is not installed" in result.absent["EBM"]
    assert list(result.table.role) == ["audited", "challenger", "challenger"]


def test_result_round_trips_through_strict_json(binary):
    *_, result = binary
    text = result.to_json()
    back = Challengers.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(back.table, result.table, check_dtype=False)
    assert back.absent == result.absent and back.best == result.best
    assert result.best in ("EBM", "L1 logistic regression", "decision tree (depth 3)")


def test_bad_targets_are_refused_in_one_sentence():
    model, X_train, y_train, X, y = _mixed(n=200)
    with pytest.raises(InputError, match=r"y must be 1-D with one target per row of X"):
        challengers(model, X_train, y_train, X, y[:-1])
    with pytest.raises(InputError, match=r"y_train holds labels \['maybe'\]"):
        challengers(model, X_train, np.where(y_train == "yes", "maybe", y_train), X, y)
    with pytest.raises(InputError, match=r"n_bootstrap"):
        challengers(model, X_train, y_train, X, y, n_bootstrap=0)


def test_glass_boxes_are_recognised():
    interpret = requires("interpret")
    model, X_train, y_train, *_ = _mixed(n=120)
    ebm = interpret.glassbox.ExplainableBoostingClassifier(**FAST_EBM).fit(X_train, y_train)
    assert is_glass_box(ebm).startswith("an EBM")
    assert is_glass_box(adapt_model(ebm)).startswith("an EBM")
    assert is_glass_box(from_ebm(ebm)) == "an additive model (ExplainableBoostingClassifier)"
    assert is_glass_box(model) is None


def test_a_pygam_gam_is_a_glass_box():
    pygam = requires("pygam")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    gam = pygam.LinearGAM(pygam.s(0) + pygam.s(1)).fit(X, X[:, 0] + rng.normal(size=80))
    assert is_glass_box(gam) == "a GAM (LinearGAM, pyGAM)"


def test_a_challenger_that_cannot_be_fitted_is_left_out_with_the_error(monkeypatch):
    def fail(*args):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(challenger_module, "_fit_tree", fail)
    model, X_train, y_train, X, y = _mixed(n=150)
    result = challengers(model, X_train, y_train, X, y, n_bootstrap=50)
    assert result.absent["decision tree (depth 3)"] == "fitting it failed (ValueError: boom)."
    assert "decision tree (depth 3)" not in result.table.index
    assert "L1 logistic regression" in result.table.index


def test_beyond_max_train_rows_the_challengers_fit_a_seeded_sample(monkeypatch):
    monkeypatch.setattr(challenger_module, "MAX_TRAIN_ROWS", 100)
    model, X_train, y_train, X, y = _mixed(n=240)
    result = challengers(model, X_train, y_train, X, y, n_bootstrap=50)
    assert (result.n_train, result.n_train_given) == (100, 160)
    tree = result.estimators["decision tree (depth 3)"][-1]
    assert tree.tree_.n_node_samples[0] == 100
    again = challengers(model, X_train, y_train, X, y, n_bootstrap=50)
    assert again.table.loc["decision tree (depth 3)", "accuracy"] == pytest.approx(
        result.table.loc["decision tree (depth 3)", "accuracy"]
    )
