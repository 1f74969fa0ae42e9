"""TreeSHAP against the model libraries' OWN calls, on the settings whybox once ignored.

Every comparison is with the library: XGBoost ``pred_contribs`` / ``pred_interactions``
and ``predict(output_margin=True)``, LightGBM ``pred_contrib`` and ``raw_score``,
CatBoost ``ShapValues`` and ``RawFormulaVal``, scikit-learn ``decision_function``.
XGBoost computes in float32: its tolerances are derived from float32's epsilon, the
number of trees and the size of the margin (issue #19, items 7, 8 and 9).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests._requires import lazy
from whybox._explanation import Explanation
from whybox.adapters import adapt_model
from whybox.adapters._model import library_prediction
from whybox.evaluate import quality
from whybox.shapley.tree import TreeExplainer

xgb = lazy("xgboost")
lgb = lazy("lightgbm")
catboost = lazy("catboost")

EPS32 = float(np.finfo(np.float32).eps)


def _f32_tol(n_trees: int, scale: float) -> float:
    """XGBoost adds n_trees float32 terms (leaves or contributions): each addition rounds
    by at most half an ulp of a partial sum; partial sums are taken at 2 x ``scale``."""
    return (n_trees + 1) * EPS32 * scale


def _contribs(out: np.ndarray, n: int, p: int) -> np.ndarray:
    """A library's (n, k, p+1) or (n, p+1) contributions as whybox's (n, p+1, k)."""
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 2:
        return out.reshape(n, p + 1, 1)
    return out.transpose(0, 2, 1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, p = 500, 5
    X = rng.normal(size=(n, p))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1] * X[:, 2]) + rng.normal(0, 0.7, n)) > 0
    y3 = np.digitize(np.nan_to_num(X[:, 0]) + rng.normal(0, 0.5, n), [-0.5, 0.5])
    yr = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 3]) + rng.normal(0, 0.3, n)
    return X, y.astype(int), y3, yr


def _check_xgb(model, X, *, interactions: bool = False) -> None:
    """TreeSHAP values, base + sum and whybox's own margin against XGBoost's own calls."""
    n, p = X.shape
    ex = TreeExplainer(model)(X)
    missing = getattr(model, "missing", np.nan)
    try:  # the wrapper's predict stops at best_iteration after early stopping
        rng_ = (0, model.best_iteration + 1)
    except AttributeError:
        rng_ = (0, 0)
    booster = model.get_booster()
    dm = xgb.DMatrix(X, missing=missing)
    ref = _contribs(booster.predict(dm, pred_contribs=True, iteration_range=rng_), n, p)
    margin = np.asarray(model.predict(X, output_margin=True), dtype=np.float64).reshape(n, -1)
    n_trees = len(booster.get_dump())
    tol = _f32_tol(n_trees, float(np.abs(ref).sum(axis=1).max()))
    np.testing.assert_allclose(ex.values, ref[:, :p, :], rtol=0, atol=tol)
    np.testing.assert_allclose(ex.base_values, ref[:, p, :], rtol=0, atol=tol)
    total = ex.base_values + ex.values.sum(axis=1)
    np.testing.assert_allclose(total, margin, rtol=0, atol=tol)
    # whybox's call of the model (DMatrix) is the library's own predict (in-place)
    np.testing.assert_allclose(adapt_model(model).predict(X, "raw"), margin, rtol=0, atol=tol)
    if interactions:
        inter = TreeExplainer(model).interaction_values(X[:40])
        ref_i = np.asarray(
            booster.predict(xgb.DMatrix(X[:40], missing=missing), pred_interactions=True,
                            iteration_range=rng_), dtype=np.float64,
        )  # fmt: skip
        if ref_i.ndim == 3:  # (n, p+1, p+1) for one output, (n, k, p+1, p+1) for k
            ref_i = ref_i[:, None]
        ref_i = ref_i[:, :, :p, :p].transpose(0, 2, 3, 1)
        np.testing.assert_allclose(inter.values, ref_i, rtol=0, atol=tol)


# ---------------------------------------------------------------------- item 7: missing=
def test_xgboost_missing_value_is_read_as_missing(data):
    X, y, _, _ = data
    X = np.where(np.isnan(X), 1e-8, X)  # the user's missing marker instead of NaN
    # equal to the marker in float32 (as XGBoost compares), not in float64
    X[::7, 1] = 1e-8 * (1 + 1e-9)
    assert np.float32(X[0, 1]) == np.float32(1e-8) and X[0, 1] != 1e-8
    model = xgb.XGBClassifier(n_estimators=30, max_depth=4, missing=1e-8).fit(X, y)
    _check_xgb(model, X, interactions=True)


def test_xgboost_missing_value_regressor_multiclass(data):
    X, _, y3, yr = data
    X = np.where(np.isnan(X), -999.0, X)
    _check_xgb(xgb.XGBRegressor(n_estimators=20, max_depth=3, missing=-999.0).fit(X, yr), X)
    _check_xgb(xgb.XGBClassifier(n_estimators=10, max_depth=3, missing=-999.0).fit(X, y3), X)


# ---------------------------------------------------------------------- item 8: early stopping
def _early(model, X, y):
    model.fit(X[:350], y[:350], eval_set=[(X[350:], y[350:])], verbose=False)
    rounds = model.get_booster().num_boosted_rounds()
    assert model.best_iteration + 1 < rounds  # early stopping kept fewer rounds than trained
    return model


def test_xgboost_early_stopping_binary_and_regression(data):
    X, y, _, yr = data
    kw = dict(n_estimators=300, learning_rate=0.5, early_stopping_rounds=3)
    _check_xgb(_early(xgb.XGBClassifier(max_depth=3, **kw), X, y), X, interactions=True)
    _check_xgb(_early(xgb.XGBRegressor(max_depth=2, **kw), X, yr), X)


def test_xgboost_early_stopping_multiclass_with_parallel_trees(data):
    X, _, y3, _ = data
    model = xgb.XGBClassifier(
        n_estimators=300, max_depth=3, learning_rate=0.5, num_parallel_tree=2,
        subsample=0.8, colsample_bynode=0.8, early_stopping_rounds=3,
    )  # fmt: skip
    _check_xgb(_early(model, X, y3), X)


def test_xgboost_dart_with_early_stopping(data):
    X, y, _, _ = data
    model = xgb.XGBClassifier(
        booster="dart", n_estimators=100, max_depth=3, learning_rate=0.5, rate_drop=0.2,
        early_stopping_rounds=3, random_state=0,
    )  # fmt: skip
    _check_xgb(_early(model, X, y), X)


def test_xgboost_random_forest(data):
    X, y, y3, _ = data
    _check_xgb(xgb.XGBRFClassifier(n_estimators=8, max_depth=4, random_state=0).fit(X, y), X)
    _check_xgb(xgb.XGBRFClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y3), X)


def test_xgboost_raw_booster_uses_every_round(data):
    """Booster.predict ignores best_iteration (unlike the wrapper): so does whybox."""
    X, y, _, _ = data
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5},
        xgb.DMatrix(X[:350], label=y[:350]), num_boost_round=200,
        evals=[(xgb.DMatrix(X[350:], label=y[350:]), "valid")], early_stopping_rounds=3,
        verbose_eval=False,
    )  # fmt: skip
    assert booster.best_iteration + 1 < booster.num_boosted_rounds()
    n, p = X.shape
    ex = TreeExplainer(booster)(X)
    ref = _contribs(booster.predict(xgb.DMatrix(X), pred_contribs=True), n, p)
    tol = _f32_tol(len(booster.get_dump()), float(np.abs(ref).sum(axis=1).max()))
    np.testing.assert_allclose(ex.values, ref[:, :p, :], rtol=0, atol=tol)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)), margin,
                               rtol=0, atol=tol)  # fmt: skip


def _check_float64(ex, ref_contribs, margin, p) -> None:
    scale = float(np.abs(ref_contribs).sum(axis=1).max())
    tol = 1e-12 * scale
    np.testing.assert_allclose(ex.values, ref_contribs[:, :p, :], rtol=0, atol=tol)
    np.testing.assert_allclose(ex.base_values + ex.values.sum(axis=1), margin, rtol=0, atol=tol)


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")
def test_lightgbm_early_stopping_sklearn_and_kept_booster(data):
    """LightGBM predicts with best_iteration by default: the wrapper's booster is cut at
    it, a booster trained with keep_training_booster=True keeps every tree but its
    predict (and pred_contrib) still stops at best_iteration."""
    X, y, y3, _ = data
    n, p = X.shape
    stop = [lgb.early_stopping(3, verbose=False)]
    for yy in (y, y3):
        model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.5, num_leaves=8,
                                   verbose=-1, n_jobs=1)  # fmt: skip
        model.fit(X[:350], yy[:350], eval_set=[(X[350:], yy[350:])], callbacks=stop)
        assert model.best_iteration_ < 300
        k = 1 if yy is y else 3
        ref = np.asarray(model.predict(X, pred_contrib=True)).reshape(n, k, p + 1)
        ref = ref.transpose(0, 2, 1)
        margin = np.asarray(model.predict(X, raw_score=True)).reshape(n, k)
        _check_float64(TreeExplainer(model)(X), ref, margin, p)
    booster = lgb.train(
        {"objective": "binary", "learning_rate": 0.5, "num_leaves": 8, "verbose": -1, "num_threads": 1},
        lgb.Dataset(X[:350], y[:350]), num_boost_round=300,
        valid_sets=[lgb.Dataset(X[350:], y[350:])], callbacks=stop, keep_training_booster=True,
    )  # fmt: skip
    assert 0 < booster.best_iteration < booster.current_iteration()
    ref = np.asarray(booster.predict(X, pred_contrib=True)).reshape(n, p + 1, 1)
    margin = np.asarray(booster.predict(X, raw_score=True)).reshape(n, 1)
    _check_float64(TreeExplainer(booster)(X), ref, margin, p)


def test_catboost_use_best_model_shrinks_the_model(data):
    X, y, _, _ = data
    model = catboost.CatBoostClassifier(
        iterations=300, depth=3, learning_rate=0.5, od_type="Iter", od_wait=3,
        use_best_model=True, verbose=False, random_seed=0, thread_count=1,
    )  # fmt: skip
    model.fit(X[:350], y[:350], eval_set=(X[350:], y[350:]))
    assert model.tree_count_ < 300
    n, p = X.shape
    ref = np.asarray(model.get_feature_importance(catboost.Pool(X), type="ShapValues"))
    margin = model.predict(X, prediction_type="RawFormulaVal").reshape(n, 1)
    _check_float64(TreeExplainer(model)(X), ref.reshape(n, p + 1, 1), margin, p)


def test_sklearn_gradient_boosting_early_stopping(data):
    from sklearn.ensemble import GradientBoostingClassifier

    X, y, _, _ = data
    X = np.nan_to_num(X)
    model = GradientBoostingClassifier(
        n_estimators=500, learning_rate=0.5, max_depth=2, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert model.n_estimators_ < 500
    ex = TreeExplainer(model)(X)
    margin = model.decision_function(X)[:, None]
    total = ex.base_values + ex.values.sum(axis=1)
    np.testing.assert_allclose(total, margin, rtol=0, atol=1e-12 * np.abs(margin).max())


# ---------------------------------------------------------------------- item 9: the check
def _full_model_explanation(model, X) -> Explanation:
    """What whybox used to return for an early-stopped model: every tree's values, and a
    model output computed the same (wrong) way, so its own additivity passes."""
    n, p = X.shape
    ref = _contribs(model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True), n, p)
    return Explanation(
        values=ref[:, :p, :], base_values=ref[:, p, :], data=X,
        feature_names=tuple(f"x{i}" for i in range(p)), output_names=("1",),
        output_space="raw", method="tree_path_dependent", model_output=ref.sum(axis=1),
    )  # fmt: skip


def test_quality_fails_values_that_miss_the_library_prediction(data):
    X, y, _, _ = data
    model = xgb.XGBClassifier(n_estimators=300, learning_rate=0.5, max_depth=3,
                              early_stopping_rounds=3)  # fmt: skip
    _early(model, X, y)
    bad = _full_model_explanation(model, X[:200])
    assert np.nanmax(bad.additivity_error) < 1e-5  # whybox's own check cannot see it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quality(model, bad, random_state=0).quality
    lib = q["additivity"]["library"]
    assert lib["judged"] and not lib["passes"] and lib["max_error"] > 0.01
    assert lib["call"] == "XGBClassifier.predict(X, output_margin=True)"
    assert not q["additivity"]["passes"] and not q["passes"]
    # the true explanation passes the same check, within XGBoost's float32 rounding
    good = quality(model, TreeExplainer(model)(X[:200]), random_state=0).quality
    assert good["additivity"]["library"]["passes"] and good["additivity"]["passes"]
    assert good["additivity"]["library"]["max_error"] <= good["additivity"]["library"]["tolerance"]


@pytest.mark.parametrize("kind", ["lightgbm", "catboost", "sklearn_gb", "sklearn_rf"])
def test_library_prediction_is_the_library_call(data, kind):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    X, _, y3, _ = data
    Xf = np.nan_to_num(X)
    if kind == "lightgbm":
        model = lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y3)
        want, call = model.predict(X, raw_score=True), "LGBMClassifier.predict(X, raw_score=True)"
    elif kind == "catboost":
        model = catboost.CatBoostClassifier(iterations=5, verbose=False, thread_count=1)
        model.fit(X, y3)
        want = model.predict(X, prediction_type="RawFormulaVal")
        call = 'CatBoostClassifier.predict(X, prediction_type="RawFormulaVal")'
    elif kind == "sklearn_gb":
        X = Xf
        model = GradientBoostingClassifier(n_estimators=5).fit(X, y3)
        want, call = model.decision_function(X), "GradientBoostingClassifier.decision_function(X)"
    else:
        X = Xf
        model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y3)
        want, call = model.predict_proba(X), "RandomForestClassifier.predict_proba(X)"
    lib = library_prediction(model, X, adapt_model(model).native_space)
    np.testing.assert_array_equal(lib.values, want)
    assert lib.call == call and lib.rounding == 0.0
    ex = TreeExplainer(model)(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quality(model, ex, random_state=0, max_samples=50).quality["additivity"]["library"]
    assert q["judged"] and q["passes"] and q["max_error"] < 1e-12 * max(1.0, np.abs(want).max())


def test_audit_quality_section_flags_a_library_mismatch(data):
    from whybox.report._section_quality import _library_warning, _provenance

    X, y, _, _ = data
    model = xgb.XGBClassifier(n_estimators=300, learning_rate=0.5, max_depth=3,
                              early_stopping_rounds=3)  # fmt: skip
    _early(model, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = quality(model, _full_model_explanation(model, X[:200]), random_state=0)
    rows = dict(_provenance(bad, "log-odds").rows)
    assert rows["the library's own prediction"] == "XGBClassifier.predict(X, output_margin=True)"
    assert rows["max difference of base value + values from it"].endswith("; FAILS)")
    assert _library_warning(bad).startswith("FAILS: the SHAP values do not add up")
    good = quality(model, TreeExplainer(model)(X[:200]), random_state=0)
    assert dict(_provenance(good, "log-odds").rows)[
        "max difference of base value + values from it"
    ].endswith("; ok)")
    assert _library_warning(good) == ""


@pytest.mark.parametrize("boosting", ["gbdt", "dart", "rf"])
def test_lightgbm_boosting_types_multiclass(data, boosting):
    X, _, y3, _ = data
    n, p = X.shape
    params = dict(n_estimators=8, num_leaves=8, verbose=-1, n_jobs=1, boosting_type=boosting)
    if boosting == "rf":
        params |= dict(bagging_freq=1, bagging_fraction=0.7)
    model = lgb.LGBMClassifier(**params).fit(X, y3)
    ref = np.asarray(model.predict(X, pred_contrib=True)).reshape(n, 3, p + 1)
    margin = np.asarray(model.predict(X, raw_score=True))
    _check_float64(TreeExplainer(model)(X), ref.transpose(0, 2, 1), margin, p)


def test_xgboost_interventional_honours_missing_value(data):
    X, y, _, _ = data
    X = np.where(np.isnan(X), 1e-8, X)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, missing=1e-8).fit(X, y)
    ex = TreeExplainer(model, background=X[:50], feature_perturbation="interventional")(X)
    margin = model.predict(X, output_margin=True).astype(np.float64)
    background = model.predict(X[:50], output_margin=True).astype(np.float64)
    tol = _f32_tol(20, float(np.abs(margin).max()) + float(np.abs(ex.values).sum(1).max()))
    np.testing.assert_allclose(ex.base_values[:, 0], background.mean(), rtol=0, atol=tol)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)), margin,
                               rtol=0, atol=tol)  # fmt: skip


@pytest.mark.parametrize("classes", [2, 3])
def test_library_check_of_xgboost_probabilities(data, classes):
    """Probabilities from float32 margins: judged within XGBoost's derived rounding."""
    from whybox import explain

    X, y, y3, _ = data
    model = xgb.XGBClassifier(n_estimators=30, max_depth=3).fit(X, y if classes == 2 else y3)
    ex = explain(model, X[:20], background=X[:30], output="probability", method="exact")
    lib = library_prediction(model, X[:20], "probability")
    assert lib.call == "XGBClassifier.predict_proba(X)" and lib.rounding < 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quality(model, ex, random_state=0, max_samples=20).quality["additivity"]["library"]
    assert q["judged"] and q["passes"], q
